#!/usr/bin/env python3
"""Render the application icon (resources/icons/app.svg) into the formats each platform needs.

    resources/icons/app.png    1024 px (Linux desktop files, Qt window icon, README)
    resources/icons/app.ico    16-256 px (Windows: the .exe, the installer, the taskbar)
    resources/icons/app.icns   16-1024 px (macOS .app bundle)

app.svg is the single source of the design (it is also used directly by the GUI). It is rasterised with QtSvg
(offscreen, no display needed) and Pillow writes the ICO and ICNS containers, so the build machine needs nothing
beyond Studio's own dependencies. The generated files are committed; rerun this after changing app.svg.

    python packaging/make_icons.py
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MASTER = 1024
ICO_SIZES = [16, 20, 24, 32, 40, 48, 64, 128, 256]


def render_svg(svg: Path, size: int) -> Image.Image:
    """Rasterise ``svg`` to a square RGBA Pillow image of ``size`` pixels."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    import io

    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def write_icons(svg: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    master = render_svg(svg, MASTER)
    png, ico, icns = out_dir / "app.png", out_dir / "app.ico", out_dir / "app.icns"
    master.save(png, optimize=True)
    # Small sizes rendered from the vector, not downscaled, stay crisp.
    frames = {s: render_svg(svg, s) for s in ICO_SIZES}
    frames[256].save(ico, sizes=[(s, s) for s in ICO_SIZES], append_images=[frames[s] for s in ICO_SIZES[:-1]])
    master.save(icns)  # Pillow writes every standard ICNS size (16..1024, @2x) from the master
    return [png, ico, icns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write resources/icons/app.{png,ico,icns} from app.svg.")
    parser.add_argument("--svg", default=str(ROOT / "resources" / "icons" / "app.svg"))
    parser.add_argument("--out", default=str(ROOT / "resources" / "icons"))
    args = parser.parse_args(argv)
    for path in write_icons(Path(args.svg), Path(args.out)):
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
