#!/usr/bin/env bash
# The README's test command: set up .venv/ if needed, then run the whole suite on the CPU.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k conformance`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f scripts/install_system_deps.sh ]; then
  bash scripts/install_system_deps.sh
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
export TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q --timeout=1800 "$@"
