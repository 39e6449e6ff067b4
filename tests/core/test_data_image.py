"""Image import: good folders, every kind of bad file from issue 2 item 3, the split, and the decoder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datagen import (
    make_image_folder,
    rgb_array,
    write_empty,
    write_mode_image,
    write_text_as_image,
    write_truncated,
)
from studio.core.data import import_data, read_labelled, sample_path, split_samples
from studio.core.data.image import check_image, load_image
from studio.core.errors import Cancelled, ConfigError, DatasetError
from studio.core.project import Project
from studio.core.reporter import NullReporter, RecordingReporter


def skipped_reasons(result) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in result.to_json()["skipped"]}


# ---------------------------------------------------------------------------------------------- happy path
def test_import_writes_manifest_summary_and_stratified_split(
    image_project: Project, image_folder: Path
) -> None:
    rep = RecordingReporter()
    result = import_data(image_project, image_folder, reporter=rep)
    out = result.to_json()
    assert out["classes"] == {"a": 6, "b": 6}
    assert out["skipped"] == [] and out["warnings"] == []
    assert out["splits"]["val"] == {"a": 1, "b": 1}
    assert out["splits"]["train"] == {"a": 5, "b": 5}
    assert out["channels"] == 3
    manifest = image_project.load_manifest()
    assert manifest["classes"] == ["a", "b"]
    assert manifest["roots"][0]["path"] == str(image_folder)
    assert len(manifest["samples"]) == 12
    assert all(sample_path(image_project, manifest, s).exists() for s in manifest["samples"])
    reopened = Project.open(image_project.path)
    assert reopened.data["data"]["counts"] == {"a": 6, "b": 6}
    assert reopened.data["data"]["n_samples"] == 12
    assert any(kind == "progress" and v[0] == 1.0 for kind, v in rep.events)
    json.dumps(out)  # the CLI prints it


def test_split_is_seeded_and_frozen_on_reopen(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "d", {"x": 20, "y": 15})
    p1 = Project.create(tmp_path / "p1", "image")
    p2 = Project.create(tmp_path / "p2", "image")
    p3 = Project.create(tmp_path / "p3", "image")
    import_data(p1, folder, seed=7)
    import_data(p2, folder, seed=7)
    import_data(p3, folder, seed=8)
    s1 = p1.load_manifest()["samples"]
    assert s1 == p2.load_manifest()["samples"]
    assert [s["split"] for s in s1] != [s["split"] for s in p3.load_manifest()["samples"]]
    # Re-opening reads the stored split; nothing is reshuffled.
    assert Project.open(p1.path).load_manifest()["samples"] == s1
    paths, labels, ids = split_samples(Project.open(p1.path), "val")
    assert len(paths) == len(ids) == 4 + 3 and labels.dtype == np.int64
    assert set(labels.tolist()) == {0, 1} and all(Path(p).is_file() for p in paths)
    assert not set(paths) & set(split_samples(p1, "train")[0])
    with pytest.raises(ConfigError, match="unknown split"):
        split_samples(p1, p1.load_manifest(), "val")  # the old, swapped argument order fails loudly


def test_test_split_fraction(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"x": 10, "y": 10})
    out = import_data(image_project, folder, val_split=0.2, test_split=0.2).to_json()
    assert out["splits"]["test"] == {"x": 2, "y": 2}
    assert out["splits"]["val"] == {"x": 2, "y": 2}
    assert out["splits"]["train"] == {"x": 6, "y": 6}


def test_every_class_with_two_images_gets_a_validation_sample(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"x": 2, "y": 30, "z": 1})
    out = import_data(image_project, folder, val_split=0.1).to_json()
    assert out["splits"]["val"]["x"] == 1 and out["splits"]["train"]["x"] == 1
    assert out["splits"]["val"]["z"] == 0 and out["splits"]["train"]["z"] == 1


def test_separate_test_folder(tmp_path: Path, image_project: Project) -> None:
    train = make_image_folder(tmp_path / "train", {"a": 6, "b": 6})
    test = make_image_folder(tmp_path / "test", {"a": 2, "b": 3}, seed=5)
    out = import_data(image_project, train, test_source=test).to_json()
    assert out["splits"]["test"] == {"a": 2, "b": 3}
    manifest = image_project.load_manifest()
    assert len(manifest["roots"]) == 2
    tests = [s for s in manifest["samples"] if s["split"] == "test"]
    assert all(s["root"] == 1 for s in tests)
    assert all(sample_path(image_project, manifest, s).parent.parent == test for s in tests)


def test_test_folder_with_unknown_class_is_an_error(tmp_path: Path, image_project: Project) -> None:
    train = make_image_folder(tmp_path / "train", {"a": 6, "b": 6})
    test = make_image_folder(tmp_path / "test", {"a": 2, "zebra": 2})
    with pytest.raises(DatasetError, match="zebra"):
        import_data(image_project, train, test_source=test)
    assert not image_project.has_data()


def test_non_ascii_and_spaced_names(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "données à voir", {"chat noir": 5, "狗": 5})
    (folder / "chat noir" / "chat noir_000.png").rename(folder / "chat noir" / "été 1 (copie).png")
    out = import_data(image_project, folder).to_json()
    assert out["classes"] == {"chat noir": 5, "狗": 5}
    manifest = image_project.load_manifest()
    assert any(s["path"] == "chat noir/été 1 (copie).png" for s in manifest["samples"])
    raw = image_project.manifest_path.read_text(encoding="utf-8")
    assert "été 1 (copie).png" in raw
    for s in manifest["samples"]:
        assert load_image(sample_path(image_project, manifest, s), 8, 3).shape == (8, 8, 3)


def test_project_moved_together_with_its_data_still_finds_images(tmp_path: Path) -> None:
    base = tmp_path / "bundle"
    folder = make_image_folder(base / "data", {"a": 5, "b": 5})
    project = Project.create(base / "proj", "image")
    import_data(project, folder)
    moved = tmp_path / "elsewhere"
    shutil.move(str(base), str(moved))
    reopened = Project.open(moved / "proj")
    manifest = reopened.load_manifest()
    path = sample_path(reopened, manifest, manifest["samples"][0])
    assert path.exists() and str(path).startswith(str(moved))


def test_nested_folders_inside_a_class_belong_to_it(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"a": 5, "b": 5})
    sub = folder / "a" / "day2"
    sub.mkdir()
    Image.fromarray(rgb_array()).save(sub / "extra.png")
    out = import_data(image_project, folder).to_json()
    assert out["classes"]["a"] == 6


# ---------------------------------------------------------------------------------------------- bad files
def test_bad_files_are_skipped_with_reasons(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"a": 6, "b": 6})
    write_empty(folder / "a" / "empty.png")
    write_truncated(folder / "a" / "cut.png", "PNG")
    write_truncated(folder / "b" / "cut.jpg", "JPEG")
    write_text_as_image(folder / "b" / "notes.jpg")
    (folder / "b" / "readme.txt").write_text("hello")
    (folder / "a" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "a" / "._a_000.png").write_bytes(b"\x00\x05\x16\x07")
    (folder / "b" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (folder / "b" / "desktop.ini").write_text("[.ShellClassInfo]")
    (folder / "__MACOSX" / "a").mkdir(parents=True)
    (folder / "__MACOSX" / "a" / "._x.png").write_bytes(b"junk")
    (folder / ".hidden").mkdir()
    Image.fromarray(rgb_array()).save(folder / "loose.png")
    result = import_data(image_project, folder)
    reasons = skipped_reasons(result)
    assert reasons["a/empty.png"].startswith("empty file")
    assert "truncated" in reasons["a/cut.png"]
    assert "truncated" in reasons["b/cut.jpg"]
    assert "text file" in reasons["b/notes.jpg"]
    assert "not an image file" in reasons["b/readme.txt"]
    assert "system file" in reasons["a/.DS_Store"]
    assert "hidden" in reasons["a/._a_000.png"]
    assert "system file" in reasons["b/Thumbs.db"]
    assert "system file" in reasons["b/desktop.ini"]
    assert "system folder" in reasons["__MACOSX"]
    assert "hidden" in reasons[".hidden"]
    assert "not in a class folder" in reasons["loose.png"]
    assert result.to_json()["classes"] == {"a": 6, "b": 6}
    assert "__MACOSX" not in result.manifest["classes"]
    assert any("skipped" in w for w in result.warnings)


def test_check_image_detects_truncated_jpeg_even_when_only_the_end_is_missing(tmp_path: Path) -> None:
    path = write_truncated(tmp_path / "x.jpg", "JPEG", keep=0.97, size=(200, 150))
    assert not check_image(path).ok
    good = tmp_path / "good.jpg"
    Image.fromarray(rgb_array(200, 150)).save(good)
    assert check_image(good).ok


def test_only_one_class_is_an_error_naming_it(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"only": 6})
    (folder / "empty").mkdir()
    with pytest.raises(DatasetError) as err:
        import_data(image_project, folder)
    text = str(err.value)
    assert "found only 1 class folder with images: 'only'" in text
    assert "a class is a sub-folder of images" in text
    assert not image_project.has_data()


def test_images_directly_in_the_folder_explain_class_folders(tmp_path: Path, image_project: Project) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(rgb_array(seed=i)).save(folder / f"img{i}.png")
    with pytest.raises(DatasetError, match="4 image.*directly in the folder"):
        import_data(image_project, folder)


def test_missing_folder_and_file_source(tmp_path: Path, image_project: Project) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        import_data(image_project, tmp_path / "nope")
    f = tmp_path / "file.png"
    Image.fromarray(rgb_array()).save(f)
    with pytest.raises(DatasetError, match="got a file"):
        import_data(image_project, f)


def test_a_class_of_only_broken_files_does_not_count(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"a": 6})
    write_empty(folder / "b" / "x.png")
    write_text_as_image(folder / "b" / "y.png")
    with pytest.raises(DatasetError, match="only 1 class"):
        import_data(image_project, folder)


def test_warnings_small_imbalanced_empty_and_duplicates(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"big": 30, "tiny": 3, "ok": 6})
    (folder / "empty class").mkdir()
    shutil.copy(folder / "big" / "big_000.png", folder / "ok" / "copy.png")
    warnings = import_data(image_project, folder).warnings
    text = "\n".join(warnings)
    assert "Class 'tiny' has only 3 images" in text
    assert "imbalanced" in text and "'big' has 30" in text and "'tiny' only 3" in text
    assert "Folder 'empty class' has no usable images" in text
    assert "identically under two different labels" in text and "big/big_000.png" in text
    assert "one image cannot be both 'big' and 'ok'" in text
    # The same warnings are stored for the GUI and `studio info`.
    assert image_project.load_manifest()["warnings"] == warnings


def test_duplicate_within_one_label_is_not_a_label_clash(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"a": 6, "b": 6})
    shutil.copy(folder / "a" / "a_000.png", folder / "a" / "again.png")
    assert not any("two different labels" in w for w in import_data(image_project, folder).warnings)


def test_all_pixel_formats_import_and_decode(tmp_path: Path, image_project: Project) -> None:
    folder = tmp_path / "formats"
    files = {
        "grey.png": "L",
        "rgb.jpg": "RGB",
        "rgba.png": "RGBA",
        "pal.png": "P",
        "deep.png": "I;16",
        "cmyk.jpg": "CMYK",
        "bits.bmp": "1",
        "la.png": "LA",
        "rgb.BMP": "RGB",
        "anim.gif": "P",
        "deep.tif": "I;16",
        "rgb.TIFF": "RGB",
        "grey.JPEG": "L",
    }
    for name, mode in files.items():
        write_mode_image(folder / "a" / name, mode)
        write_mode_image(folder / "b" / name, mode, size=(40, 10))
    out = import_data(image_project, folder).to_json()
    assert out["skipped"] == []
    assert out["classes"] == {"a": len(files), "b": len(files)}
    assert out["channels"] == 3
    manifest = image_project.load_manifest()
    for s in manifest["samples"]:
        for channels in (1, 3):
            arr = load_image(sample_path(image_project, manifest, s), 12, channels)
            assert arr.shape == (12, 12, channels) and arr.dtype == np.uint8


def test_channels_is_one_only_when_every_image_is_grey(tmp_path: Path) -> None:
    grey = make_image_folder(tmp_path / "g", {"a": 5, "b": 5}, grey=True)
    write_mode_image(grey / "a" / "deep.png", "I;16")
    p = Project.create(tmp_path / "p", "image")
    assert import_data(p, grey).to_json()["channels"] == 1
    write_mode_image(grey / "b" / "colour.png", "RGB")
    assert import_data(p, grey).to_json()["channels"] == 3


# ---------------------------------------------------------------------------------------------- decoder
def test_load_image_16_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.full((10, 10), 40000, np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    out = load_image(tmp_path / "d.png", 10, 1)
    assert out.shape == (10, 10, 1)
    assert abs(int(out[0, 0, 0]) - 40000 // 256) <= 1


def test_load_image_composites_alpha_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent on the left half
    rgba[:, 4:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png", 8, 3)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 7].tolist() == [255, 0, 0]


def test_load_image_palette_transparency_on_white(tmp_path: Path) -> None:
    img = Image.new("P", (6, 6), 0)
    img.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    img.paste(1, (3, 0, 6, 6))
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png", 6, 3)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 5].tolist() == [0, 200, 0]


def test_load_image_cmyk_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    out = load_image(tmp_path / "c.jpg", 8, 3).astype(int)
    assert out[4, 4, 0] > 200 and out[4, 4, 1] < 60 and out[4, 4, 2] < 60


def test_load_image_applies_exif_orientation(tmp_path: Path) -> None:
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # white left half of a landscape image
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "r.jpg", 20, 1)
    # After rotating clockwise the white half is at the top.
    assert out[:5].mean() > 200 and out[-5:].mean() < 50


def test_load_image_squashes_without_cropping(tmp_path: Path) -> None:
    arr = np.zeros((10, 40, 3), np.uint8)
    arr[:, :4] = 255  # a white stripe at the very left border must survive
    Image.fromarray(arr).save(tmp_path / "wide.png")
    out = load_image(tmp_path / "wide.png", 20, 1)
    assert out[:, 0].mean() > 200
    assert out[:, -1].mean() < 10


def test_load_image_errors_name_the_file(tmp_path: Path) -> None:
    bad = write_text_as_image(tmp_path / "fake.png")
    with pytest.raises(DatasetError) as err:
        load_image(bad, 8, 3)
    assert "fake.png" in str(err.value)
    with pytest.raises(DatasetError, match="not found"):
        load_image(tmp_path / "gone.png", 8, 3)


# ---------------------------------------------------------------------------------------------- consistency
def test_failed_import_keeps_previous_manifest_and_runs(tmp_path: Path, image_project: Project) -> None:
    good = make_image_folder(tmp_path / "good", {"a": 5, "b": 5})
    import_data(image_project, good)
    before = image_project.manifest_path.read_bytes()
    run = image_project.runs_dir / "run-1"
    run.mkdir(parents=True)
    (run / "model.json").write_text("{}")
    (run / "weights.h5").write_bytes(b"x")
    bad = make_image_folder(tmp_path / "bad", {"a": 5})
    with pytest.raises(DatasetError):
        import_data(image_project, bad)
    assert image_project.manifest_path.read_bytes() == before
    # A successful re-import replaces the data, keeps runs and says they are stale.
    again = make_image_folder(tmp_path / "again", {"a": 5, "b": 5, "c": 5})
    result = import_data(image_project, again)
    assert image_project.load_manifest()["classes"] == ["a", "b", "c"]
    assert run.exists()
    assert any("already has trained models" in w for w in result.warnings)
    assert Project.open(image_project.path).data["data"]["classes"] == ["a", "b", "c"]


def test_cancel_leaves_project_untouched(tmp_path: Path, image_project: Project) -> None:
    folder = make_image_folder(tmp_path / "d", {"a": 5, "b": 5})
    rep = NullReporter()
    rep.cancel()
    with pytest.raises(Cancelled):
        import_data(image_project, folder, reporter=rep)
    assert not image_project.has_data()
    assert not (image_project.data_dir / "manifest.json").exists()


def test_bad_fractions_and_sensor_options_rejected(image_project: Project, image_folder: Path) -> None:
    with pytest.raises(ConfigError):
        import_data(image_project, image_folder, val_split=1.2)
    with pytest.raises(ConfigError):
        import_data(image_project, image_folder, val_split=0.5, test_split=0.5)
    with pytest.raises(DatasetError, match="sensor projects only"):
        import_data(image_project, image_folder, window=32)


def test_read_labelled_images(tmp_path: Path, image_project: Project, image_folder: Path) -> None:
    import_data(image_project, image_folder)
    extra = make_image_folder(tmp_path / "fresh", {"b": 2, "a": 3}, seed=3)
    write_empty(extra / "a" / "broken.png")
    items = read_labelled(image_project, extra)
    assert sorted(lab for _, lab in items) == [0, 0, 0, 1, 1]
    assert all(p.is_absolute() and p.exists() for p, _ in items)
    wrong = make_image_folder(tmp_path / "wrong", {"a": 2, "cat": 2})
    with pytest.raises(DatasetError, match="'cat'"):
        read_labelled(image_project, wrong)


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_import_json_and_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    folder = make_image_folder(tmp_path / "d", {"a": 5, "b": 5})
    proj = tmp_path / "p"
    assert main(["new", str(proj), "--task", "image", "--json"]) == 0
    capsys.readouterr()
    assert main(["import", str(proj), str(folder), "--json", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"] == {"a": 5, "b": 5} and out["splits"]["val"] == {"a": 1, "b": 1}
    one = make_image_folder(tmp_path / "one", {"solo": 5})
    assert main(["import", str(proj), str(one), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "only 1 class" in err[0]
    assert "Traceback" not in err[0]
