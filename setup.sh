#!/usr/bin/env bash
# Install pynmsnn and its test tools into the current Python; safe to run again.
#   bash setup.sh             package + test extras
#   bash setup.sh test,bench  also the benchmark's peers (snnTorch)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
EXTRAS=${1:-test}
STAMP=".setup-done-${EXTRAS//,/-}"

# An unpinned torch pulls the newest release with gigabytes of CUDA packages;
# this pin takes the CPU build. An installed torch is kept as it is.
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi

# A second run skips pip unless setup.py changed since the last install.
if [ ! -f "$STAMP" ] || [ setup.py -nt "$STAMP" ] || ! "$PYTHON" -c "import pynmsnn" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet -e ".[${EXTRAS}]"
    touch "$STAMP"
fi

# pyenv installs console scripts behind shims that need a rehash to appear.
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi
