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
#   QUICKSTART_CURRICULUM="retrieval:43,existence*60+retrieval*25+mc*15:57"   phases in % of steps, in order
#   QUICKSTART_VISION_STEPS=300      steps of vision-tower pretraining on the scenes first (0: off)
#   QUICKSTART_SET="key=value ..."   extra train.py --set overrides (appended last, so they win)
#   QUICKSTART_SKIP_SETUP=1          use the current .venv as is
#   QUICKSTART_FIGURES=figures       where the figures go ("" to skip them)
#   OMP_NUM_THREADS=1                on a machine busy with other work: one torch thread per process avoids
#                                    thread oversubscription (measured: 2 threads were 3-8x slower under load 8)
#   PYTHON=...                       interpreter (default .venv/bin/python)
# The whole script is one { ... } block: bash reads it completely before running any of it, so editing this
# file while a quickstart runs does not change (or break) the running one.
{
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=trol-phantom
case "${1:-}" in
  "") ;;
  --plain) MODE=plain ;;
  --compare) MODE=compare ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
  *) echo "quickstart: unknown argument '$1' (use --plain, --compare or nothing)" >&2; exit 2 ;;
esac

# ---- the tuned recipe (measured: docs/quickstart.md) ---------------------------------------------------------
STEPS=${QUICKSTART_STEPS:-1400}
N_TRAIN=${QUICKSTART_N_TRAIN:-12000}
N_EVAL=${QUICKSTART_N_EVAL:-50}
BATCH=${QUICKSTART_BATCH:-32}
LR=${QUICKSTART_LR:-1e-3}
# The curriculum, in shares of the steps (percent): questions that find an object by one attribute and name the
# other ("What colour is the circle?"), then existence questions with those retrieval questions kept in (and some
# MMBench-layout ones). The vision tower is pretrained first on the scenes' per-quadrant colours and shapes
# (trainer/vision_pretrain.py, the stand-in for a pretrained encoder). Together they let the model bind colour
# and shape to one object (docs/quickstart.md, "Diagnosis" 5).
CURRICULUM=${QUICKSTART_CURRICULUM:-"retrieval:43,existence*60+retrieval*25+mc*15:57"}
VISION_STEPS=${QUICKSTART_VISION_STEPS:-300}
TUNED=(
  "lr=$LR" "min_lr=1e-4" "warmup_steps=30" "betas=[0.9,0.98]" "weight_decay=0.01" "micro_batch_size=$BATCH"
  "grad_accum=1"
  "vision_pretrain_steps=$VISION_STEPS"
  "data.max_length=96" "data.shuffle=false" "tracker=none" "save_every=0"
)
OUT=${QUICKSTART_OUT:-runs/quickstart}
FIGURES=${QUICKSTART_FIGURES-figures}
DATA="$OUT/data"
START=$(date +%s)

stamp() {
  local now; now=$(date +%s)
  printf '[quickstart %3dm%02ds] %s\n' $(((now - START) / 60)) $(((now - START) % 60)) "$*"
}

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
TORCH_INFO=$($PY -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())')
stamp "machine: $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $TORCH_INFO"

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
  # the first question of the POPE split on its image, in the evaluation's prompt (the label printed beside it)
  local ask
  mapfile -t ask < <($PY -c 'import json, sys; r = json.loads(open(sys.argv[1]).readline())
print(r["image"]); print(r["text"]); print(r["label"])' "$DATA/eval/POPE/coco_pope_random.json")
  stamp "demo question: \"${ask[1]}\" (the split's answer: ${ask[2]})"
  $PY demo.py --model "$run" --image "$DATA/eval/coco2014/val2014/${ask[0]}" \
    --question "${ask[1]}"$'\n'"Answer the question using a single word or phrase." --max-new-tokens 16 --device cpu
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
exit
}
