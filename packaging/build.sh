#!/usr/bin/env bash
# Build the one-folder app with PyInstaller (Linux and macOS). Output: dist/studio/ (and dist/Studio.app on macOS).
#
#   packaging/build.sh
#
# Environment:
#   PYTHON                 interpreter used to create the build venv (default: python3; 3.11-3.13)
#   STUDIO_BUILD_VENV      the build venv (default: build/venv). An existing venv that already has Studio and
#                          PyInstaller is used as is (set STUDIO_BUILD_REINSTALL=1 to reinstall anyway).
#   STUDIO_WEIGHTS_ARGS    extra arguments for fetch_weights.py, e.g. "--rows 96 128" or "--strict"
#   STUDIO_SKIP_WEIGHTS=1  do not fetch ImageNet weights (the app then downloads them on demand)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${STUDIO_BUILD_VENV:-$ROOT/build/venv}"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  echo "== creating build venv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ -n "${STUDIO_BUILD_REINSTALL:-}" ] || ! "$PY" -c "import studio, PyInstaller, tensorflow, tf_keras" 2>/dev/null; then
  echo "== installing Studio and PyInstaller into $VENV"
  "$PY" -m pip install --quiet --upgrade pip
  "$PY" -m pip install --quiet "pyinstaller>=6.10,<7" -e "$ROOT"
fi

if [ -z "${STUDIO_SKIP_WEIGHTS:-}" ]; then
  echo "== fetching MobileNetV2 ImageNet weights into resources/weights"
  # shellcheck disable=SC2086
  "$PY" packaging/fetch_weights.py ${STUDIO_WEIGHTS_ARGS:-}
fi

echo "== PyInstaller"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/studio.spec

echo "== built $(du -sh "$ROOT/dist/studio" | cut -f1) in dist/studio"
if [ -d "$ROOT/dist/Studio.app" ]; then
  echo "== built $(du -sh "$ROOT/dist/Studio.app" | cut -f1) in dist/Studio.app"
fi
