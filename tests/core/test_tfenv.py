"""TensorFlow's native start-up lines stay off the user's terminal; anything else written then still shows."""

from __future__ import annotations

import subprocess
import sys

from studio.core import tfenv


def test_native_noise_is_filtered_and_other_lines_kept():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.0  42 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
        "E0000 00:00:1.0  42 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
        "something the user must see\n"
    )
    assert tfenv._without_noise(text) == "something the user must see\n"


def test_import_writes_no_cuda_lines_to_stderr():
    code = (
        "import os\n"
        "from studio.core.tfenv import load_tf\n"
        "tf, _ = load_tf()\n"
        "tf.constant([1.0]) * 2\n"
        "os.write(2, b'kept line\\n')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "kept line" in out.stderr
    for noise in ("cuInit", "cudart_stub", "absl::InitializeLog", "CUDA error"):
        assert noise not in out.stderr, out.stderr


def test_lines_written_during_a_failed_import_are_all_written_back():
    code = (
        "import os\n"
        "from studio.core import tfenv\n"
        "try:\n"
        "    with tfenv._quiet_native_start():\n"
        "        os.write(2, b'I0000 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
        "        raise ImportError('broken install')\n"
        "except ImportError:\n"
        "    pass\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "cudart_stub" in out.stderr
