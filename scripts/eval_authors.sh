#!/usr/bin/env bash
# The authors' evaluation setup (TroL: beam 5 + fp16 + 4/8-bit; Phantom: beam 3 + bf16 + 8-bit; batch 1) and
# their scoring, next to our default run:  MODEL=... DATA_ROOT=... bash scripts/eval_authors.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/eval-authors} BATCH_SIZE=${BATCH_SIZE:-1} exec bash scripts/eval_all.sh --settings authors \
  --scoring authors "$@"
