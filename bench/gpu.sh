#!/usr/bin/env bash
# Training throughput on a machine with a GPU: Studio on the GPU(s) vs the same run on the CPU only, plus
# `--distribute mirrored` (tf.distribute.MirroredStrategy over all local GPUs, batch per replica) and a plain
# tf_keras model.fit on the GPU as the reference. Prints each as JSON and a summary table.
#
#   bench/gpu.sh                               # MobileNetV2 (registry default width 0.35), 96 px, 2,000 generated images, 5 epochs
#   bench/gpu.sh --arch compact_cnn --size 64  # any option of `python -m bench.train_throughput`
#   PYTHON=/path/to/venv/bin/python bench/gpu.sh
#
# Needs a TensorFlow build that sees the GPU (`pip install tensorflow[and-cuda]` on Linux). Samples/s are
# measured after the first epoch (tracing, cuDNN autotuning) as in `python -m bench`'s training section.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
ARGS=(--arch mobilenetv2 --size 96 --per-class 500 --batch 32 --epochs 5 "$@")
WORK="$(mktemp -d -t studio-gpu-bench-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" STUDIO_QUIET=1

echo "== devices"
(command -v nvidia-smi >/dev/null && nvidia-smi -L) || echo "nvidia-smi not found"
"$PY" -c "import tensorflow as tf; print('TensorFlow', tf.__version__, 'GPUs:', tf.config.list_physical_devices('GPU'))"
# STUDIO_GPU_BENCH_ALLOW_CPU=1 runs the script anyway (to check the script itself on a CPU-only machine).
if [ "${STUDIO_GPU_BENCH_ALLOW_CPU:-0}" != "1" ]; then
  "$PY" -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 3)" || {
    echo "TensorFlow sees no GPU here: the GPU figures would be CPU figures. Stopping." >&2; exit 3; }
fi

run() {  # label, then env/args
  local label="$1"; shift
  echo "== $label" >&2
  local out
  out="$("$@" "${ARGS[@]}" --workdir "$WORK" | tail -n 1)"
  echo "$out"
  printf '%s\t%s\n' "$label" "$out" >> "$WORK/results.tsv"
}

run "studio GPU"                    "$PY" -m bench.train_throughput --mode studio
run "studio CPU only"               env CUDA_VISIBLE_DEVICES="" "$PY" -m bench.train_throughput --mode studio
run "studio --distribute mirrored"  "$PY" -m bench.train_throughput --mode studio --distribute mirrored
run "plain tf_keras fit GPU"        "$PY" -m bench.train_throughput --mode keras

"$PY" - "$WORK/results.tsv" <<'EOF'
import json, sys
rows = [line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1])]
res = {label: json.loads(js) for label, js in rows}
print()
print(f"{'run':<32} {'GPUs seen':>9} {'samples/s':>10}  vs CPU")
cpu = res["studio CPU only"]["samples_per_s"]
for label, r in res.items():
    print(f"{label:<32} {r['gpus']:>9} {r['samples_per_s']:>10.1f}  {r['samples_per_s'] / cpu:6.2f}x")
g, k = res["studio GPU"]["samples_per_s"], res["plain tf_keras fit GPU"]["samples_per_s"]
m = res["studio --distribute mirrored"]["samples_per_s"]
print(f"\nStudio / plain Keras on GPU: {g / k:.3f}   mirrored / single GPU: {m / g:.2f}x "
      f"({res['studio --distribute mirrored']['gpus']} GPU(s) visible)")
EOF
