#!/usr/bin/env bash
# Phantom recipe (spec/model.md §12): step 1 = projector + Phantom modules with Phantom Optimization on the curated
# triples (Phantom.json); step 2 = all parameters, 8-bit backbone + Q-LoRA, on the gathered 2.8M mixture.
#   scripts/train_phantom.sh SIZE STEP [train.py args...]   SIZE: 0.5b | 1.8b | 3.8b | 7b   STEP: 1 | 2
# Example: scripts/train_phantom.sh 0.5b 1 --set data.root=/data/Phantom --set init_from=checkpoints/phantom-0.5b-base
# Multi-node: HOSTFILE=hosts scripts/train_phantom.sh 7b 2 --set data.root=/data/Phantom. See scripts/train_launch.sh.
set -euo pipefail
SIZE=${1:?usage: train_phantom.sh SIZE STEP [args]}; STEP=${2:?usage: train_phantom.sh SIZE STEP [args]}; shift 2
source "$(dirname "$0")/train_launch.sh"
launch --preset "phantom-${SIZE}-step${STEP}" "$@"
