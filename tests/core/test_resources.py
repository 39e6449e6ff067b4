"""studio.resources finds bundled files from a source checkout and from a PyInstaller bundle, and keeps the
user's own files where each platform expects them (or under STUDIO_HOME)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from studio import resources

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_root_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_ROOT", raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)


def test_resource_path_from_source_finds_the_repo_resources() -> None:
    assert resources.app_root() == REPO
    icon = resources.resource_path("icons", "app.png")
    assert icon == REPO / "resources" / "icons" / "app.png"
    assert icon.is_file()
    assert resources.samples_root() == REPO / "samples"


def test_resource_path_inside_a_frozen_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "_internal"
    (bundle / "resources" / "icons").mkdir(parents=True)
    (bundle / "resources" / "icons" / "app.png").write_bytes(b"png")
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert resources.app_root() == bundle
    assert resources.resource_path("icons", "app.png").read_bytes() == b"png"
    assert resources.samples_root() == bundle / "samples"


def test_studio_root_overrides_both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "elsewhere"), raising=False)
    monkeypatch.setenv("STUDIO_ROOT", str(tmp_path))
    assert resources.resource_path("style.qss") == tmp_path / "resources" / "style.qss"


def test_user_data_dir_honours_studio_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    assert resources.user_data_dir() == tmp_path / "home"


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("win32", {"LOCALAPPDATA": "LAD"}, ("LAD", "SmallModelStudio")),
        ("darwin", {}, ("HOME", "Library", "Application Support", "SmallModelStudio")),
        ("linux", {"XDG_DATA_HOME": "XDG"}, ("XDG", "small-model-studio")),
        ("linux", {}, ("HOME", ".local", "share", "small-model-studio")),
    ],
)
def test_user_data_dir_per_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str, env: dict[str, str], expected: tuple[str, ...]
) -> None:
    monkeypatch.delenv("STUDIO_HOME", raising=False)
    monkeypatch.delenv("LOCALAPPDATA", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "HOME"))
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    monkeypatch.setattr(sys, "platform", platform)
    assert resources.user_data_dir() == tmp_path.joinpath(*expected)


def test_platform_icons_are_real_images() -> None:
    from PIL import Image

    with Image.open(resources.resource_path("icons", "app.ico")) as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    with Image.open(resources.resource_path("icons", "app.icns")) as icns:
        assert icns.size == (1024, 1024)
    with Image.open(resources.resource_path("icons", "app.png")) as png:
        assert png.size == (1024, 1024) and png.mode == "RGBA"
