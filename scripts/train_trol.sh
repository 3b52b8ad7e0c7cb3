#!/usr/bin/env bash
# TroL recipe (spec/model.md §12): step 1 = vision projector + TroL-Mixers; step 2 = + backbone via Q-LoRA.
#   scripts/train_trol.sh SIZE STEP [train.py args...]      SIZE: 1.8b | 3.8b | 7b   STEP: 1 | 2
# Example, one node with 8 GPUs:   scripts/train_trol.sh 1.8b 1 --set data.root=/data/TroL
# Multi-node (DeepSpeed hostfile): HOSTFILE=hosts scripts/train_trol.sh 7b 2 --set data.root=/data/TroL
# Step 2 starts from runs/trol-SIZE-step1/final (override with --set init_from=DIR). See scripts/train_launch.sh.
set -euo pipefail
SIZE=${1:?usage: train_trol.sh SIZE STEP [args]}; STEP=${2:?usage: train_trol.sh SIZE STEP [args]}; shift 2
source "$(dirname "$0")/train_launch.sh"
launch --preset "trol-${SIZE}-step${STEP}" "$@"
