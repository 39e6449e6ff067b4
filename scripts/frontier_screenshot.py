#!/usr/bin/env python3
"""Screenshot of the live search frontier widget, drawn from a real search's points.

    QT_QPA_PLATFORM=offscreen python scripts/frontier_screenshot.py PROJECT [--out docs/screenshots/11-search-frontier.png]
        [--live N]

Reads ``PROJECT/search/search.json`` (written by ``studio search``) and feeds its points to
:class:`studio.gui.widgets.frontier.FrontierView` one by one, as the search reported them. ``--live N`` stops
after N points with Stop enabled (the view while a search runs); otherwise the finished view is shown with
the most accurate fitting point selected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "11-search-frontier.png"))
    ap.add_argument("--live", type=int, default=None)
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from studio.core.targets import MCU_CODE_RESERVE, get_target
    from studio.gui.widgets.frontier import FrontierView

    app = QApplication.instance() or QApplication([])
    result = json.loads((Path(args.project) / "search" / "search.json").read_text())
    target = get_target(result["config"]["target"])
    view = FrontierView()
    view.resize(900, 520)
    limit = (target.flash_bytes - (MCU_CODE_RESERVE if target.mcu else 0)) / 1024
    view.set_limit(limit, f"{target.id}: {limit:.0f} KB for the model")
    points = result["points"][: args.live] if args.live else result["points"]
    view.set_running(bool(args.live))
    for p in points:
        view.add_point(p)
    fitting = [p for p in view.frontier() if p.get("fits")]
    if fitting:
        view.select(max(fitting, key=lambda p: p["accuracy"])["id"])
    view.show()
    app.processEvents()  # one paint before grabbing (a script, not the app: no event loop runs here)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    view.grab().save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
