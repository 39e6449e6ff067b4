"""Import never hangs and never reads outside the data folder (issue 11, "Hangs")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studio.core.data import import_data
from studio.core.data.synth import make_image_folder, make_sensor_folder, make_sensor_single_csv
from studio.core.errors import DatasetError
from studio.core.project import Project

REPO = Path(__file__).resolve().parents[2]


def _reasons(result) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in result.skipped}


def test_a_fifo_named_png_is_skipped_within_seconds(tmp_path: Path) -> None:
    src = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=(20, 16))
    os.mkfifo(src / "a" / "pipe.png")
    os.mkfifo(src / "pipe-at-root")
    project = Project.create(tmp_path / "p", "image")
    t0 = time.monotonic()
    result = import_data(project, src)
    assert time.monotonic() - t0 < 10
    reasons = _reasons(result)
    assert "named pipe" in reasons["a/pipe.png"] and "named pipe" in reasons["pipe-at-root"]
    assert result.classes == {"a": 4, "b": 4}


def test_a_fifo_among_big_images_is_skipped_with_the_thread_pool(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from studio.core.data import image as image_mod

    src = tmp_path / "big"
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (src / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)).save(src / cls / f"{i}.png")
    os.mkfifo(src / "b" / "zz.png")
    sizes = [p.stat().st_size for p in src.rglob("*.png") if p.is_file()]
    assert min(sizes) > image_mod.POOL_MIN_BYTES  # the pooled path is the one exercised
    result = import_data(Project.create(tmp_path / "p", "image"), src)
    assert "named pipe" in _reasons(result)["b/zz.png"]


def test_links_out_of_the_data_folder_are_not_followed(tmp_path: Path) -> None:
    outside = make_image_folder(tmp_path / "elsewhere", {"private": 3, "b": 2}, size=(20, 16))
    src = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=(20, 16))
    os.symlink(outside / "private", src / "c")  # a class folder that is a link to anywhere
    os.symlink(outside / "b" / "0000.png", src / "a" / "linked.png")
    os.symlink(src / "b", src / "alias-inside")  # a link that stays inside: followed
    os.symlink(outside / "b", src / "a" / "nested")  # a linked folder inside a class: not followed
    result = import_data(Project.create(tmp_path / "p", "image"), src)
    reasons = _reasons(result)
    assert "outside the data folder" in reasons["c"] and "outside the data folder" in reasons["a/linked.png"]
    assert "not followed" in reasons["a/nested"]
    assert result.classes == {"a": 4, "alias-inside": 4, "b": 4}


def test_class_names_with_control_characters_are_refused(tmp_path: Path) -> None:
    src = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=(20, 16))
    os.rename(src / "b", src / "b\nc")
    make_image_folder(tmp_path / "more", {"d": 4}, size=(20, 16))
    os.rename(tmp_path / "more" / "d", src / "d")
    result = import_data(Project.create(tmp_path / "p", "image"), src)
    assert "control character" in _reasons(result)["b\nc"]
    assert sorted(result.classes) == ["a", "d"]
    csv = make_sensor_single_csv(tmp_path / "one.csv", ("idle", "shake"), recordings=2, length=64)
    text = csv.read_text().replace(",shake", ',"sha\nke"', 1)
    csv.write_text(text)
    with pytest.raises(DatasetError, match="control character"):
        import_data(Project.create(tmp_path / "s", "sensor"), csv)


def test_fifo_given_as_the_csv_is_one_error(tmp_path: Path) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="named pipe"):
        import_data(Project.create(tmp_path / "s", "sensor"), fifo)
    src = make_sensor_folder(tmp_path / "rec", ("idle", "shake"), recordings=3, length=64)
    os.mkfifo(src / "idle" / "pipe.csv")
    result = import_data(Project.create(tmp_path / "s2", "sensor"), src, window=32)
    assert "named pipe" in _reasons(result)["idle/pipe.csv"]


def test_ctrl_c_stops_a_pooled_import_and_keeps_the_previous_data(tmp_path: Path) -> None:
    """SIGINT while the thread pool checks images: exit 130 within seconds, the project as it was."""
    src = make_image_folder(tmp_path / "images", {"a": 40, "b": 40}, size=(20, 16))
    project = Project.create(tmp_path / "p", "image")
    script = textwrap.dedent(f"""
        import sys, time
        from studio.core.data import image
        image.POOL_MIN_BYTES = 0  # use the pool for these small files
        original = image.check_image
        def slow(path):
            time.sleep(0.3)
            return original(path)
        image.check_image = slow
        print("started", flush=True)
        from studio.cli import main
        sys.exit(main(["import", {str(project.path)!r}, {str(src)!r}]))
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO), STUDIO_QUIET="")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 10
    assert "Traceback" not in err and "stopped" in err
    assert not project.manifest_path.exists() and not project.data_dir.exists()
    assert sorted(p.name for p in project.path.iterdir()) == [".studio.lock", "project.json"]
