#!/usr/bin/env bash
# Install pynmsnn and its test tools; safe to run again.
#   bash setup.sh                      package + test extras
#   bash setup.sh test,bench           also the benchmark's peers (snnTorch)
#   bash setup.sh run pynmsnn demo     install, then run a command (in the folder it was
#                                      called from) with the installed package
#   bash setup.sh test,bench run python benchmarks/bench_engine.py
# It installs into the virtual environment that is active, or else into .venv,
# which it makes with python3 (or $PYTHON): Debian's and Ubuntu's own Python
# refuses pip installs (PEP 668). torch comes from pip's package index, or from
# $TORCH_INDEX_URL (https://download.pytorch.org/whl/cpu: the CPU build on Linux).
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")"
HERE=$PWD
PYTHON=${PYTHON:-python3}
TORCH_PIN="torch==2.13.0"
TORCH_MIN=2.4  # as pyproject.toml asks: fused Adam on the CPU
EXTRAS=test
USAGE="usage: bash setup.sh [EXTRAS] [run COMMAND...], e.g. bash setup.sh run pynmsnn demo"

say() { echo "setup.sh: $*"; }
fail() { echo "setup.sh: error: $*" >&2; exit 1; }

if [ $# -gt 0 ] && [ "$1" != run ]; then
    EXTRAS=$1
    shift
fi
if [ $# -gt 0 ]; then
    [ "$1" = run ] || fail "unexpected '$1'; $USAGE"
    shift
    [ $# -gt 0 ] || fail "'run' needs a command; $USAGE"
fi
STAMP=".setup-done-${EXTRAS//,/-}"

command -v "$PYTHON" >/dev/null 2>&1 ||
    fail "no '$PYTHON' on PATH; install Python 3.10 or newer (Debian/Ubuntu: sudo apt install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    fail "pynmsnn needs Python 3.10 or newer, and '$PYTHON' is $("$PYTHON" -V 2>&1); point PYTHON at a newer one: PYTHON=/path/to/python3 bash setup.sh"

# Whether a Python is an environment of the user's own: a virtual environment,
# or the conda environment that is active.
own_environment() {
    "$1" -c 'import os, sys; sys.exit(not (sys.prefix != sys.base_prefix or os.environ.get("CONDA_PREFIX") == sys.prefix))'
}

# Whether a Python has a torch this package runs on.
has_torch() {
    "$1" -I -c "import sys, torch; v = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2]); \
sys.exit(not (tuple(map(int, '$TORCH_MIN'.split('.'))) <= v < (3,)))" 2>/dev/null
}

make_venv() {
    # A torch the Python already has is used, not downloaded again.
    local site=""
    if has_torch "$PYTHON"; then
        site="--system-site-packages"
    fi
    say "making a virtual environment in .venv with $("$PYTHON" -c 'import sys; print(sys.executable)')${site:+, seeing its torch ($site)}"
    if ! "$PYTHON" -m venv $site .venv; then
        rm -rf .venv
        fail "'$PYTHON -m venv' failed; on Debian/Ubuntu install python3-venv (sudo apt install python3-venv), then run bash setup.sh again"
    fi
}

if own_environment "$PYTHON"; then
    PY=$("$PYTHON" -c 'import sys; print(sys.executable)')
    ENV_DIR=$("$PYTHON" -c 'import sys; print(sys.prefix)')
else
    if [ ! -x .venv/bin/python ]; then
        make_venv
    fi
    PY=$HERE/.venv/bin/python
    ENV_DIR=$HERE/.venv
fi

# An unpinned torch pulls the newest release, from PyPI on Linux with gigabytes
# of CUDA packages; this pin takes what the index offers for 2.13.0. A torch of
# 2.4 or newer that is already there is kept as it is.
if ! has_torch "$PY"; then
    say "installing $TORCH_PIN into $ENV_DIR${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL}"
    "$PY" -m pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_PIN"
fi

# How this folder's pynmsnn stands in the environment. It prints whether the C
# kernel is built; exit status 0: built; 1: not built, though a compiler and the
# Python headers are here (an install may build it); 3: not built, and no
# compiler or no headers; 2: another pynmsnn, or none, imports.
installed_state() {
    (cd / && "$PY" -I -c "import os, sys
try:
    import pynmsnn
    from pynmsnn._engine_info import kernel_missing_reason, kernel_summary
except Exception:
    sys.exit(2)
if os.path.realpath(os.path.dirname(pynmsnn.__file__)) != os.path.realpath(sys.argv[1]):
    sys.exit(2)
print(kernel_summary())
reason = kernel_missing_reason()
sys.exit(0 if reason is None else 3 if reason.startswith(('no C compiler', 'no Python headers')) else 1)" \
        "$HERE/pynmsnn") 2>/dev/null
}

# A second run skips pip unless the packaging changed, the environment is
# another, or the C kernel is missing where it can be built now.
STATE=0
SUMMARY=$(installed_state) || STATE=$?
if [ "$(cat "$STAMP" 2>/dev/null)" != "$ENV_DIR" ] || [ setup.py -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] ||
    [ "$STATE" = 1 ] || [ "$STATE" = 2 ]; then
    mkdir -p build
    LOG=build/setup-pip.log
    say "installing pynmsnn[$EXTRAS] into $ENV_DIR (pip's output: $LOG)"
    if ! "$PY" -m pip install -e ".[${EXTRAS}]" >"$LOG" 2>&1; then
        tail -n 30 "$LOG" >&2
        fail "pip could not install pynmsnn (the end of its output is above; all of it in $LOG)"
    fi
    # Norse, for the NIR round-trip tests, depends on torchvision, which would pull
    # another torch with CUDA packages: it is installed without its dependencies
    # (those it imports, nir and nirtorch, come with the test extra).
    if [[ ",$EXTRAS," == *",test,"* ]] && ! "$PY" -c "import norse" >/dev/null 2>&1; then
        say "installing norse==1.1.0 without its dependencies (torchvision would replace torch)"
        if ! "$PY" -m pip install --no-deps "norse==1.1.0" >>"$LOG" 2>&1; then
            tail -n 30 "$LOG" >&2
            fail "pip could not install norse (the end of its output is above; all of it in $LOG)"
        fi
    fi
    # RealMLP-TD for the tabular benchmark: pytabkit and the Lightning packages it
    # imports depend on torch, and a resolver may replace it: none of their dependencies.
    if [[ ",$EXTRAS," == *",bench,"* ]] && ! "$PY" -c "import pytabkit" >/dev/null 2>&1; then
        say "installing pytabkit==1.8.0 without its dependencies (keeps this torch)"
        if ! "$PY" -m pip install --no-deps "pytabkit==1.8.0" "pytorch-lightning==2.6.6" "torchmetrics==1.9.0" \
            "lightning-utilities==0.15.3" >>"$LOG" 2>&1; then
            tail -n 30 "$LOG" >&2
            fail "pip could not install pytabkit (the end of its output is above; all of it in $LOG)"
        fi
    fi
    echo "$ENV_DIR" >"$STAMP"
    STATE=0
    SUMMARY=$(installed_state) || STATE=$?
    [ "$STATE" != 2 ] || fail "pip installed pynmsnn, but $PY does not import it from $HERE (see $LOG)"
fi

# pyenv installs console scripts behind shims that need a rehash to appear.
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi

say "$SUMMARY"
if [ "$STATE" = 1 ]; then
    say "the compiler ran but failed: its errors are in build/setup-pip.log"
fi

if [ $# -gt 0 ]; then
    export PATH="$ENV_DIR/bin:$PATH"
    if [ "$ENV_DIR" = "$HERE/.venv" ]; then
        export VIRTUAL_ENV="$ENV_DIR"
    fi
    cd "$CALLER_DIR"
    exec "$@"
fi
if [ "$ENV_DIR" = "$HERE/.venv" ]; then
    say "installed in .venv: run commands with 'bash setup.sh run COMMAND', or 'source .venv/bin/activate' first"
fi
