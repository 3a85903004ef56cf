"""setup.sh, run for real: README's first command where the system's Python refuses pip (PEP 668),
then again inside an environment the user activated, on a machine without a C compiler.

The throwaway environments see the torch of the Python that runs the tests
(``--system-site-packages``, as setup.sh makes them where that Python has one),
so nothing large is downloaded.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_packaging import copy_source

BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable))
# What pip answers in an "externally managed" Python, as Debian's and Ubuntu's is.
REFUSING_PYTHON = """#!/bin/sh
echo "$*" >> "{log}"
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "error: externally-managed-environment" >&2
    exit 1
fi
exec "{base}" "$@"
"""


def clean_environment(path):
    """The caller's environment with ``path`` as PATH and no active environment or Python settings."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHON", "PYTHONHOME", "CC"}}
    env["PATH"] = os.pathsep.join([*path, "/usr/local/bin", "/usr/bin", "/bin"])
    return env


def setup_sh(repo, *args, env):
    result = subprocess.run(["bash", str(repo / "setup.sh"), *args], capture_output=True, text=True, env=env,
                            cwd=repo.parent, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """A fresh copy of the sources, set up with a ``python3`` first on PATH that refuses pip installs."""
    if subprocess.run([str(BASE_PYTHON), "-c", "import torch"], capture_output=True).returncode != 0:
        pytest.skip(f"{BASE_PYTHON} has no torch: a virtual environment made from it would download torch")
    folder = tmp_path_factory.mktemp("setup_sh")
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    log = folder / "python3-calls.log"
    python3 = bin_folder / "python3"
    python3.write_text(REFUSING_PYTHON.format(log=log, base=BASE_PYTHON))
    python3.chmod(0o755)
    repo = copy_source(folder / "repo")
    env = clean_environment([str(bin_folder)])
    first = setup_sh(repo, "run", "pynmsnn", "demo", "--max-iter", "3", env=env)  # README's first command, shortened
    again = setup_sh(repo, "run", "python", "-c", "import os, sys; print('prefix', sys.prefix); print('cwd', os.getcwd())",
                     env=env)
    return repo, log, first, again


def test_readmes_first_command_makes_a_venv_and_builds_the_kernel(refused):
    """Where python3 refuses pip, setup.sh makes .venv, never asks python3's pip, builds the kernel and runs the demo."""
    repo, log, first, _ = refused
    assert "making a virtual environment in .venv" in first
    assert "setup.sh: C kernel: built" in first
    assert "accuracy:" in first
    assert (repo / ".venv" / "bin" / "pynmsnn").exists()
    assert list((repo / "pynmsnn").glob("_cscan.*"))
    assert not [line for line in log.read_text().splitlines() if line.startswith("-m pip")]


def test_a_second_run_is_quick_and_runs_commands_in_the_venv(refused):
    """Run again, setup.sh installs nothing; ``run`` finds the venv's python first on PATH, in the caller's folder."""
    repo, _, _, again = refused
    assert "installing" not in again
    assert f"prefix {repo / '.venv'}" in again
    assert f"cwd {repo.parent}" in again


def test_inside_an_activated_environment_without_a_compiler(refused, tmp_path):
    """An active environment is used, not .venv; with no compiler the kernel is reported missing, with the fix."""
    user_env = refused[0] / ".venv"  # an environment of the user's, outside this second copy
    repo = copy_source(tmp_path / "repo")
    env = clean_environment([str(user_env / "bin")])
    env.update(VIRTUAL_ENV=str(user_env), CC="/nonexistent/cc")
    out = setup_sh(repo, "run", "pynmsnn", "info", env=env)
    assert not (repo / ".venv").exists()
    assert f"installing pynmsnn[test] into {user_env}" in out
    assert "setup.sh: C kernel: NOT built (no C compiler: '/nonexistent/cc' is not on PATH)" in out
    assert "sudo apt install gcc python3-dev" in out
    assert "off  C kernel" in out
    assert not list((repo / "pynmsnn").glob("_cscan.*.so"))
