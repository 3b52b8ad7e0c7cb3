#!/usr/bin/env bash
# The README's first command. On a fresh machine (2 CPU cores, no GPU, no hub): set up .venv/, generate the
# synthetic visual task, train the `tiny` TroL + Phantom model on it from scratch, evaluate it with eval.py on
# the synthetic POPE-layout and MMBench-layout splits, answer one question with demo.py, draw the figures,
# and end with the line
#     quickstart: pope_accuracy=<0..1> mmbench_accuracy=<0..1>
#
#   bash scripts/quickstart.sh              # TroL + Phantom
#   bash scripts/quickstart.sh --plain      # the same recipe with TroL and Phantom switched off
#   bash scripts/quickstart.sh --compare    # both, plus the comparison table (runs/quickstart/comparison.md)
#
# Environment knobs (defaults are the tuned, measured recipe; see docs/quickstart.md):
#   QUICKSTART_OUT=runs/quickstart   where data, runs and results go
#   QUICKSTART_STEPS, QUICKSTART_N_TRAIN, QUICKSTART_N_EVAL, QUICKSTART_BATCH, QUICKSTART_LR
#   QUICKSTART_CURRICULUM="caption:12,existence:68,mix:20"   phases in percent of the steps, read in order
#   QUICKSTART_SET="key=value ..."   extra train.py --set overrides (appended last, so they win)
#   QUICKSTART_SKIP_SETUP=1          use the current .venv as is
#   QUICKSTART_FIGURES=figures       where the figures go ("" to skip them)
#   OMP_NUM_THREADS=1                on a machine busy with other work: one torch thread per process avoids
#                                    thread oversubscription (measured: 2 threads were 3-8x slower under load 8)
#   PYTHON=...                       interpreter (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=trol-phantom
case "${1:-}" in
  "") ;;
  --plain) MODE=plain ;;
  --compare) MODE=compare ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
  *) echo "quickstart: unknown argument '$1' (use --plain, --compare or nothing)" >&2; exit 2 ;;
esac

# ---- the tuned recipe (measured: docs/quickstart.md) ---------------------------------------------------------
STEPS=${QUICKSTART_STEPS:-1100}
N_TRAIN=${QUICKSTART_N_TRAIN:-3000}
N_EVAL=${QUICKSTART_N_EVAL:-50}
BATCH=${QUICKSTART_BATCH:-32}
LR=${QUICKSTART_LR:-1e-3}
# The curriculum, in shares of the steps (percent): captions, then existence questions, then the full mix
# (docs/quickstart.md: the existence question leaves chance sooner after captions and on its own than in the mix).
CURRICULUM=${QUICKSTART_CURRICULUM:-"caption:12,existence:68,mix:20"}
TUNED=(
  "lr=$LR" "min_lr=1e-5" "warmup_steps=30" "micro_batch_size=$BATCH" "grad_accum=1"
  "data.max_length=96" "data.shuffle=false" "tracker=none" "save_every=0"
)
OUT=${QUICKSTART_OUT:-runs/quickstart}
FIGURES=${QUICKSTART_FIGURES-figures}
DATA="$OUT/data"
START=$(date +%s)

stamp() { local now; now=$(date +%s); printf '[quickstart %3dm%02ds] %s\n' $(((now - START) / 60)) $(((now - START) % 60)) "$*"; }

# ---- 1. environment -----------------------------------------------------------------------------------------
if [ "${QUICKSTART_SKIP_SETUP:-0}" != 1 ]; then
  stamp "setting up .venv"
  if [ -f scripts/setup.sh ]; then
    bash scripts/setup.sh
  elif [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install -q torch==2.13.0 -r requirements.txt
  fi
fi
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
export TOKENIZERS_PARALLELISM=false GRADIO_ANALYTICS_ENABLED=False
SETUP_DONE=$(date +%s)
stamp "machine: $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $($PY -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())')"

# ---- 2. the synthetic task ----------------------------------------------------------------------------------
# the phases in records: exactly STEPS x BATCH records, one epoch, read in order (data.shuffle=false); the last
# phase takes the rounding
phases=()
done_steps=0
IFS=, read -ra parts <<< "$CURRICULUM"
for i in "${!parts[@]}"; do
  kind=${parts[$i]%%:*} share=${parts[$i]#*:}
  n=$((STEPS * share / 100)); [ "$i" -eq $((${#parts[@]} - 1)) ] && n=$((STEPS - done_steps))
  done_steps=$((done_steps + n)); [ "$n" -gt 0 ] && phases+=("$kind:$((n * BATCH))")
done
SPEC=$(IFS=,; echo "${phases[*]}")
stamp "generating the synthetic task ($N_TRAIN training images, $N_EVAL evaluation images; $SPEC) in $DATA"
rm -rf "$DATA"
# one question per record: every question is a first turn, as in the benchmarks, and the records fit
# max_length=96 without truncation
$PY -m loader synthetic --out "$DATA" --seed 0 --n-train "$N_TRAIN" --n-eval "$N_EVAL" --curriculum "$SPEC"

# ---- 3-5. train, evaluate, ask ------------------------------------------------------------------------------
run_variant() {  # NAME [extra --set values...]
  local name=$1; shift
  local run="$OUT/$name" sets=() kv
  for kv in "${TUNED[@]}" "data.synthetic_dir=$DATA" "$@" ${QUICKSTART_SET:-}; do sets+=(--set "$kv"); done
  rm -rf "$run"
  stamp "training $name: $STEPS steps of $BATCH -> $run"
  $PY train.py --preset tiny --output-dir "$run" --max-steps "$STEPS" "${sets[@]}"
  stamp "evaluating $name on the synthetic POPE and MMBench splits"
  $PY eval.py --model "$run/final" --benchmark pope,mmbench-dev-en --data-root "$DATA/eval" \
    --output-dir "$run/eval" --batch-size 32 --device cpu
  stamp "asking $name one question with demo.py"
  local image
  image=$(ls "$DATA"/eval/coco2014/val2014/*.jpg | head -n 1)
  $PY demo.py --model "$run" --image "$image" --question "Describe the image briefly." --max-new-tokens 48 \
    --device cpu
}

VARIANTS=()
case $MODE in
  trol-phantom) VARIANTS=(trol-phantom) ;;
  plain) VARIANTS=(plain) ;;
  compare) VARIANTS=(trol-phantom plain) ;;
esac
for variant in "${VARIANTS[@]}"; do
  if [ "$variant" = plain ]; then
    run_variant plain "model.use_trol=false" "model.use_phantom=false"
  else
    run_variant trol-phantom
  fi
done

# ---- 6. figures and the summary -----------------------------------------------------------------------------
results=() labels=()
for variant in "${VARIANTS[@]}"; do results+=("$OUT/$variant/eval"); labels+=(--label "$variant"); done
if [ -n "$FIGURES" ]; then
  stamp "drawing figures into $FIGURES/"
  runs=(); for variant in "${VARIANTS[@]}"; do runs+=("$OUT/$variant"); done
  $PY scripts/plot_training.py "${runs[@]}" "${labels[@]}" --out "$FIGURES/training_tiny.png" \
    --title "tiny model on the synthetic task"
  $PY scripts/plot_results.py "${results[@]}" "${labels[@]}" --out "$FIGURES/results_tiny.png" \
    --title "tiny model, synthetic POPE / MMBench splits"
  if [ "${VARIANTS[0]}" = trol-phantom ]; then
    $PY scripts/plot_gates.py --model "$OUT/trol-phantom" --data-root "$DATA/eval" --benchmark pope \
      --samples 64 --out "$FIGURES/gates_tiny.png" --title "tiny TroL + Phantom"
  fi
fi
$PY scripts/plot_results.py "${results[@]}" "${labels[@]}" --table "$OUT/comparison.md" >/dev/null
END=$(date +%s)
stamp "done: $(((END - SETUP_DONE) / 60))m$(((END - SETUP_DONE) % 60))s after set-up; comparison in $OUT/comparison.md"
cat "$OUT/comparison.md"
$PY scripts/plot_results.py "${results[0]}" --quickstart-line
