"""The repository's set-up promises: layout, two-command quick start, CI runs README's test command."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.rst").read_text()


def test_layout():
    for path in ["pynmsnn", "examples", "tests", "figures", "benchmarks", "pyproject.toml", "setup.py", "setup.sh",
                 "LICENSE", "README.rst", ".ci/run"]:
        assert (ROOT / path).exists(), path


def quick_start_commands():
    """The literal commands of README's quick start, before it turns to which torch it takes."""
    section = README.split("Quick start", 1)[1].split("**Which torch.**", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def test_quick_start_is_exactly_two_commands_that_each_install_first():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert all(command.startswith("bash setup.sh run ") for command in commands)
    assert commands[0].endswith("pynmsnn demo")
    assert "pytest" in commands[1]


def test_ci_runs_exactly_readmes_test_command():
    test_command = quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_setup_sh_pins_torch_and_installs_it_only_when_missing_or_too_old():
    script = (ROOT / "setup.sh").read_text()
    assert 'TORCH_PIN="torch==2.13.0"' in script
    guard = script.index('if ! has_torch "$PY"; then')
    assert guard < script.index('"$PY" -m pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_PIN"')
    assert '"$PY" -m pip install -e ".[${EXTRAS}]"' in script


def project():
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def torch_requirement():
    return next(r for r in project()["dependencies"] if r.startswith("torch"))[len("torch"):].split("#")[0].strip()


def test_torch_range_is_what_the_code_needs_and_the_installed_torch_satisfies():
    """A range, not a pin, from 2.4 (fused Adam on the CPU), as setup.sh's own check asks."""
    torch = pytest.importorskip("torch")
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    requirement = SpecifierSet(torch_requirement())
    assert "==" not in str(requirement)
    assert Version("2.4") in requirement and Version("2.3.1") not in requirement
    assert Version(torch.__version__.split("+")[0]) in requirement
    assert "TORCH_MIN=2.4 " in (ROOT / "setup.sh").read_text()
    assert "fused=True" in (ROOT / "pynmsnn" / "_base.py").read_text()


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
