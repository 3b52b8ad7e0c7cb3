#!/usr/bin/env bash
# Shared launcher of scripts/train_{tiny,trol,phantom}.sh (sourced by them; not run directly).
#   LAUNCHER=deepspeed (default) | torchrun | accelerate
#   NGPUS=<processes per node> (default: all visible GPUs, or 1)
#   HOSTFILE=<file>  multi-node: DeepSpeed hostfile ("host slots=N" lines; needs passwordless ssh), or for
#                    torchrun/accelerate: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT on every node
#   MASTER_PORT=29500
# Extra arguments go to train.py (e.g. --set data.root=/data --resume).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python}
if [[ -z "${NGPUS:-}" ]]; then
  NGPUS=$($PY -c "import torch; print(max(torch.cuda.device_count(), 1))")
fi
LAUNCHER=${LAUNCHER:-deepspeed}
MASTER_PORT=${MASTER_PORT:-29500}

launch() {  # launch <train.py args...>
  case "$LAUNCHER" in
    deepspeed)
      if [[ -n "${HOSTFILE:-}" ]]; then
        exec deepspeed --hostfile "$HOSTFILE" --master_port "$MASTER_PORT" train.py "$@"
      elif $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        exec deepspeed --num_gpus "$NGPUS" --master_port "$MASTER_PORT" train.py "$@"
      else  # CPU: gloo processes (spec/env.md §3.2)
        exec deepspeed --num_accelerators "$NGPUS" --master_port "$MASTER_PORT" train.py "$@"
      fi ;;
    torchrun)
      exec $PY -m torch.distributed.run --nproc_per_node "$NGPUS" --nnodes "${NNODES:-1}" \
        --node_rank "${NODE_RANK:-0}" --master_addr "${MASTER_ADDR:-127.0.0.1}" --master_port "$MASTER_PORT" \
        train.py "$@" ;;
    accelerate)  # --multi_gpu goes through torchrun; `--cpu` would start one process only (spec/env.md §3.1)
      exec accelerate launch --multi_gpu --num_processes $((NGPUS * ${NNODES:-1})) --num_machines "${NNODES:-1}" \
        --machine_rank "${NODE_RANK:-0}" --main_process_ip "${MASTER_ADDR:-127.0.0.1}" \
        --main_process_port "$MASTER_PORT" --mixed_precision no --dynamo_backend no train.py "$@" ;;
    *) echo "unknown LAUNCHER=$LAUNCHER (deepspeed | torchrun | accelerate)" >&2; exit 2 ;;
  esac
}
