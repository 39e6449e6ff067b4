#!/usr/bin/env python3
"""Download the MobileNetV2 ImageNet no-top weights into resources/weights/ so the installed app works offline.

Factory PCs are often offline: the build bundles these files, and ``studio.core.weights`` looks in
``resources/weights/`` before Keras's cache and before any download. One file per width the app offers
(0.35, 0.5, 0.75, 1.0) and per trained input resolution (96..224 px); 2-9 MB each, about 100 MB for all.
``--rows`` limits the resolutions (no-top weights load at any input size; the nearest resolution is simply the
best starting point).

Offline, or with the host unreachable, it prints what is missing and exits 0: the app still works without
them (it downloads on demand, or trains from scratch). ``--strict`` makes a missing file an error (release builds).
Uses only the standard library (no TensorFlow import), with a short connect check and per-file timeouts.

    python packaging/fetch_weights.py                 # all widths x all resolutions
    python packaging/fetch_weights.py --rows 96 128   # fewer resolutions, smaller bundle
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.core.weights import BASE_URL, ROWS, weights_filename  # noqa: E402  (the names the app looks for)

try:
    from studio.core.models import REGISTRY

    WIDTHS = tuple(float(w) for w in REGISTRY["mobilenetv2"].allowed["width"])
except (ImportError, KeyError):  # keep the build working if the registry changes shape
    WIDTHS = (0.35, 0.5, 0.75, 1.0)

TIMEOUT_S = 60.0
MIN_BYTES = 500_000  # anything smaller is an error page, not weights


def is_online(url: str, timeout: float = 3.0) -> bool:
    """One bounded TCP connect to the download host (DNS included): never hang a build on a dead network."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _valid_h5(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size < MIN_BYTES:
        return False
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89HDF\r\n\x1a\n"


def fetch(name: str, dest: Path) -> None:
    """Download ``name`` to ``dest`` atomically (a partial download never looks like a weights file)."""
    tmp = dest.with_suffix(".part")
    try:
        with urllib.request.urlopen(BASE_URL + name, timeout=TIMEOUT_S) as resp, open(tmp, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        if not _valid_h5(tmp):
            raise OSError("the download is not an HDF5 weights file")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "resources" / "weights"))
    parser.add_argument("--widths", type=float, nargs="+", default=list(WIDTHS))
    parser.add_argument("--rows", type=int, nargs="+", default=list(ROWS), help="input resolutions (96..224)")
    parser.add_argument("--strict", action="store_true", help="fail when any file cannot be fetched")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = [weights_filename(w, r) for w in args.widths for r in args.rows]
    missing = [n for n in wanted if not _valid_h5(out / n)]
    print(f"fetch_weights: {len(wanted) - len(missing)}/{len(wanted)} already in {out}")
    if missing and not is_online(BASE_URL):
        host = urllib.parse.urlsplit(BASE_URL).hostname
        print(f"fetch_weights: {host} is unreachable (offline?); {len(missing)} file(s) not bundled.")
        print("fetch_weights: the app still works: it downloads weights on demand or trains from scratch.")
        return 1 if args.strict else 0
    failed = []
    for name in missing:
        try:
            fetch(name, out / name)
            digest = hashlib.sha256((out / name).read_bytes()).hexdigest()[:12]
            print(f"  {name}  {(out / name).stat().st_size / 1e6:.1f} MB  sha256 {digest}")
        except (OSError, socket.timeout) as exc:
            failed.append(name)
            print(f"  {name}: failed ({exc})")
    total = sum((out / n).stat().st_size for n in wanted if (out / n).is_file())
    print(f"fetch_weights: {len(wanted) - len(failed)}/{len(wanted)} present, {total / 1e6:.0f} MB")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
