#!/usr/bin/env bash
# The tiny TroL + Phantom model on the synthetic task, on CPU. One process by default; NGPUS=2 (with
# LAUNCHER=torchrun or deepspeed) runs two gloo processes.
#   scripts/train_tiny.sh [OUT] [train.py args...]          e.g. scripts/train_tiny.sh runs/tiny --max-steps 300
set -euo pipefail
OUT=${1:-runs/tiny}; shift || true
if [[ "${NGPUS:-1}" == "1" ]]; then
  cd "$(dirname "$0")/.."
  exec "${PYTHON:-python}" train.py --preset tiny --output-dir "$OUT" "$@"
fi
source "$(dirname "$0")/train_launch.sh"
launch --preset tiny --output-dir "$OUT" "$@"
