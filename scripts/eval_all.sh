#!/usr/bin/env bash
# Evaluate one model on benchmarks, data-parallel over the visible GPUs (or NPROC CPU processes).
#
#   MODEL=runs/tiny/final DATA_ROOT=/data/eval bash scripts/eval_all.sh [extra eval.py flags...]
#
# Environment: MODEL (required), DATA_ROOT (required), BENCHMARKS (default all), OUT (default runs/eval),
# NPROC (default: number of GPUs, 1 without any), PORT (rendezvous port, default 29511), BATCH_SIZE (default 8).
# More than one process goes through `accelerate launch --multi_gpu`, which also starts N CPU processes
# (env.md §3.1: `accelerate launch --cpu --num_processes N` would start only one). Each process takes every
# N-th item; the predictions are gathered once at the end of each benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MODEL:?set MODEL to a model directory or hub id}"
: "${DATA_ROOT:?set DATA_ROOT to the Evaluation_Dataset_Path folder}"
BENCHMARKS=${BENCHMARKS:-all}
OUT=${OUT:-runs/eval}
BATCH_SIZE=${BATCH_SIZE:-8}
PORT=${PORT:-29511}
PYTHON=${PYTHON:-python}
if [[ -z "${NPROC:-}" ]]; then
  NPROC=$( (command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | wc -l) || echo 0)
  [[ "$NPROC" -ge 1 ]] || NPROC=1
fi
ARGS=(eval.py --model "$MODEL" --benchmark "$BENCHMARKS" --data-root "$DATA_ROOT" --output-dir "$OUT"
      --batch-size "$BATCH_SIZE" "$@")
if [[ "$NPROC" -gt 1 ]]; then
  exec "$PYTHON" -m accelerate.commands.launch --multi_gpu --num_processes "$NPROC" --num_machines 1 \
    --mixed_precision no --dynamo_backend no --main_process_port "$PORT" "${ARGS[@]}"
fi
exec "$PYTHON" "${ARGS[@]}"
