#!/usr/bin/env bash
# Build the Linux (or macOS) bundle and prove it works: the frozen `studio --selftest` (tiny model, one training
# step, pruning, int8 conversion, LiteRT and TFLite-Micro inference, an export bundle and its harness), plus a
# sample import from the bundled data. Prints the bundle size and the time each part took. Exit code 0 = pass.
#
#   packaging/smoke.sh              # build, then test
#   SMOKE_SKIP_BUILD=1 packaging/smoke.sh   # test an existing dist/studio
#
# Not part of the fast test-suite: a clean build takes 5-15 minutes and ~2 GB of disk.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
t0=$(date +%s)
if [ -z "${SMOKE_SKIP_BUILD:-}" ]; then
  "$ROOT/packaging/build.sh"
fi
t1=$(date +%s)

BUNDLE="$ROOT/dist/studio"
EXE="$BUNDLE/studio"
[ -x "$EXE" ] || { echo "smoke: $EXE is missing" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Run from an empty folder with no source tree in reach, as a user would.
export STUDIO_HOME="$WORK/home" QT_QPA_PLATFORM=offscreen STUDIO_OFFLINE=1
unset STUDIO_ROOT PYTHONPATH
cd "$WORK"

echo "== studio --version"
"$EXE" --version

echo "== studio --selftest"
t2=$(date +%s)
"$EXE" --selftest
t3=$(date +%s)

echo "== sample import from the bundled data"
SAMPLES="$BUNDLE/_internal/samples"
[ -d "$SAMPLES" ] || SAMPLES="$BUNDLE/samples"
"$EXE" new "$WORK/img" --task image
"$EXE" import "$WORK/img" "$SAMPLES/inspection/data" >/dev/null
"$EXE" new "$WORK/vib" --task sensor
"$EXE" import "$WORK/vib" "$SAMPLES/vibration/data" >/dev/null
echo "sample imports ok"

echo "== worker process (the window's TensorFlow process: studio --worker, JSON lines on stdin/stdout)"
out=$( (printf '{"type":"query","id":1,"job":"update","project":null,"request":{}}\n'; sleep 60; printf '{"type":"quit"}\n') \
      | "$EXE" --worker 2>/dev/null | head -c 100000)
echo "$out" | grep -q '"type":"hello"' || { echo "smoke: the worker did not say hello" >&2; exit 1; }
echo "$out" | grep -q '"type":"ready","tensorflow":"' || { echo "smoke: the worker did not load TensorFlow" >&2; exit 1; }
echo "$out" | grep -q '"id":1' || { echo "smoke: the worker did not answer a query" >&2; exit 1; }
echo "worker ok"

echo "== windowed executable"
[ -x "$BUNDLE/studio-gui" ] || { echo "smoke: studio-gui is missing" >&2; exit 1; }
echo "studio-gui present"

size_mb=$(du -sm "$BUNDLE" | cut -f1)
echo
echo "smoke: PASS"
echo "smoke: bundle $BUNDLE: ${size_mb} MB ($(find "$BUNDLE" -type f | wc -l) files)"
echo "smoke: build $((t1 - t0)) s, selftest $((t3 - t2)) s, total $(( $(date +%s) - t0 )) s"
