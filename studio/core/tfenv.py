"""The one place TensorFlow is imported.

tensorflow-model-optimization only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported. Every core module gets TensorFlow and Keras from :func:`load_tf`, called inside
functions, never at module import: ``import tensorflow`` takes ~7 s and must stay off the start-up path.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import ModuleType

_lock = threading.Lock()
_loaded: tuple[ModuleType, ModuleType] | None = None


def _prepare_environment() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-stable results across runs on CPU


# What TensorFlow's native start-up writes to stderr on every machine without a GPU, past TF_CPP_MIN_LOG_LEVEL
# (absl logging): "Could not find cuda drivers", "failed call to cuInit: ... CUDA error", the oneDNN notice.
# A user of the CLI read "E0000 ... CUDA error" as a failure; these lines say nothing about their work.
_NATIVE_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_platform|cuda_executor|cuda_dnn|cuda_fft|cuda_blas|cpu_feature_guard"
    r"|port\.cc:\d+\] oneDNN|computation placer|Unable to register cu|This TensorFlow binary is optimized"
    r"|To enable the following instructions|rebuild TensorFlow with the appropriate compiler flags"
)


def _without_noise(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not _NATIVE_NOISE.search(line))


@contextlib.contextmanager
def _quiet_native_start() -> Iterator[None]:
    """Hold back TensorFlow's native start-up lines on stderr (file descriptor 2); write the rest back.

    Everything is written back when the import fails. Without a usable stderr (a windowed app) nothing is done.
    """
    fd = 2  # native code writes to the descriptor, whatever sys.stderr is
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(fd)
    except OSError:
        yield
        return
    failed = True
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), fd)
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace")
            rest = text if failed else _without_noise(text)
            if rest:
                os.write(fd, rest.encode("utf-8"))


def load_tf() -> tuple[ModuleType, ModuleType]:
    """Return ``(tensorflow, tf_keras)``, importing them on first use (thread-safe)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            _prepare_environment()
            with _quiet_native_start():
                import tensorflow as tf
                import tf_keras

                tf.config.list_physical_devices()  # the device probe (cuInit) prints at first use, not at import

            tf.get_logger().setLevel("ERROR")
            _loaded = (tf, tf_keras)
    return _loaded


def load_tfmot() -> ModuleType:
    """Return tensorflow_model_optimization (after TensorFlow was set up for Keras 2)."""
    load_tf()
    import tensorflow_model_optimization as tfmot

    return tfmot


def is_loaded() -> bool:
    return _loaded is not None


