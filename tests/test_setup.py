"""The repository's set-up promises: layout, two-command quick start, CI runs README's test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.rst").read_text()


def test_layout():
    for path in ["pynmsnn", "examples", "tests", "figures", "benchmarks", "setup.py", "setup.sh", "README.rst", ".ci/run"]:
        assert (ROOT / path).exists(), path


def quick_start_commands():
    section = README.split("Quick start", 1)[1].split("In Python", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def test_quick_start_is_exactly_two_commands_that_each_install_first():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert all(command.startswith("bash setup.sh && ") for command in commands)
    assert commands[0].endswith("pynmsnn demo")
    assert "pytest" in commands[1]


def test_ci_runs_exactly_readmes_test_command():
    test_command = quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_setup_sh_pins_the_cpu_torch_and_installs_it_only_when_missing():
    script = (ROOT / "setup.sh").read_text()
    assert 'pip install --quiet "torch==2.13.0"' in script
    guard = script.index('if ! "$PYTHON" -c "import torch"')
    assert guard < script.index("torch==2.13.0")
    assert '-e ".[${EXTRAS}]"' in script


def test_setup_py_asks_for_a_torch_range_the_installed_torch_satisfies():
    torch = pytest.importorskip("torch")
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    requirement = re.search(r'"torch([^"]*)"', (ROOT / "setup.py").read_text()).group(1)
    assert requirement and "==" not in requirement
    assert Version(torch.__version__.split("+")[0]) in SpecifierSet(requirement)


def test_readme_examples_run(monkeypatch):
    """The README's Python examples are doctests that pass."""
    import doctest

    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(ROOT / "README.rst"), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5
    assert result.failed == 0


def test_package_exports_are_sorted_and_complete():
    import pynmsnn

    assert pynmsnn.__all__ == sorted(pynmsnn.__all__)
    for name in ["SNNClassifier", "SNNRegressor", "load", "save"]:
        assert name in pynmsnn.__all__ and hasattr(pynmsnn, name)
