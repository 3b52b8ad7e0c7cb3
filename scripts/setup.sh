#!/usr/bin/env bash
# Create .venv/ in the project root (when missing) and install everything from requirements*.txt.
#
# On a CPU machine torch is pinned to the 2.13.0 CPU build (see ../shared/spec/env.md §1.1: without the pin a
# package asking for torch can pull a multi-GB CUDA build). On a GPU machine set TORCH_SPEC to the build you
# want, e.g. TORCH_SPEC="torch" to keep what the index serves.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
STAMP=.venv/.installed

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

want=$(cat requirements.txt requirements-dev.txt constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want-$TORCH_SPEC" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi

pip_install() { .venv/bin/python -m pip install --disable-pip-version-check -q "$@"; }
echo "setup: installing $TORCH_SPEC"
pip_install "$TORCH_SPEC"
echo "setup: installing requirements.txt and requirements-dev.txt"
constraints=()
[ -f constraints.txt ] && constraints=(-c constraints.txt)
pip_install "$TORCH_SPEC" -r requirements.txt -r requirements-dev.txt "${constraints[@]}"
echo "$want-$TORCH_SPEC" > "$STAMP"
echo "setup: done ($(du -sh .venv | cut -f1) in .venv)"
