"""Packaging: a wheel and a plain ``pip install .`` carry the C kernel and run the demo; the
declared dependencies are what the code imports; install advice names things that exist."""

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What pip needs to build the package: no build products, no environment.
SOURCE_FILES = ["pyproject.toml", "setup.py", "setup.sh", "README.rst", "LICENSE"]
# Import names that differ from the distribution's name.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "distributed": "dask"}
# Imported by the package's optional code but deliberately not declared, with the reason.
UNDECLARED = {"norse": "run_nir's Norse runtime; setup.sh installs it without its dependencies, as its "
                       "torchvision requirement would replace the installed torch"}


def copy_source(target):
    """The package's sources alone, as in a fresh clone: no compiled kernel, no build folder."""
    target.mkdir()
    for name in SOURCE_FILES:
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "pynmsnn", target / "pynmsnn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "*.egg-info"))
    return target


def pip(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=cwd,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def run_installed(site, *command):
    """A command of the pynmsnn installed in ``site`` (a ``pip install --target`` folder), run away from the sources."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run([*command], capture_output=True, text=True, cwd=site.parent, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def check_runs_the_demo_with_its_kernel(site):
    """The installed command runs the demo, and the kernel it reports built is the one in ``site``."""
    out = run_installed(site, str(site / "bin" / "pynmsnn"), "demo", "--max-iter", "2")
    assert re.search(r"accuracy:  0\.\d+", out), out
    out = run_installed(site, sys.executable, "-c", "import pynmsnn._cscan as k; print(k.__file__); "
                        "from pynmsnn.cli import main; main(['info'])")
    assert Path(out.splitlines()[0]).parent == site / "pynmsnn"
    assert "on   C kernel" in out


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return copy_source(tmp_path_factory.mktemp("packaging") / "source")


def test_wheel_holds_the_kernel_and_license_and_runs_the_demo(source):
    """``pip wheel .`` compiles the kernel into the wheel; installed from it, the demo runs."""
    dist = source.parent / "dist"
    pip("wheel", "--no-deps", "--wheel-dir", str(dist), str(source), cwd=source.parent)
    (wheel,) = dist.glob("pynmsnn-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(re.fullmatch(r"pynmsnn/_cscan\..+\.(so|pyd)", name) for name in names), names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: MIT" in metadata and "Requires-Python: >=3.10" in metadata
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)(.*)$", metadata, re.M)
    core = {name for name, rest in requires if "extra ==" not in rest}
    assert core == {"torch", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "tqdm", "joblib"}
    site = source.parent / "wheel-site"
    pip("install", "--no-deps", "--target", str(site), str(wheel), cwd=source.parent)
    check_runs_the_demo_with_its_kernel(site)


def test_plain_pip_install_holds_the_kernel_and_runs_the_demo(source):
    """``pip install .`` (not editable) puts the compiled kernel beside the package and runs the demo."""
    site = source.parent / "plain-site"
    pip("install", "--no-deps", "--target", str(site), str(source), cwd=source.parent)
    assert not list(site.glob("__editable__*"))
    check_runs_the_demo_with_its_kernel(site)


def third_party_imports(folder):
    """Top-level modules imported by the package's code that are neither the standard library nor itself."""
    found = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "pynmsnn"}


def requirement_names(requirements):
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}


def test_declared_dependencies_are_what_the_code_imports():
    """Every module the package imports is declared (optional ones as extras); every dependency is imported."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = requirement_names(project["dependencies"])
    optional = set().union(*(requirement_names(r) for r in project["optional-dependencies"].values()))
    imported = {DISTRIBUTIONS.get(name, name) for name in third_party_imports(ROOT / "pynmsnn")} - set(UNDECLARED)
    assert imported - required <= optional, imported - required - optional
    assert required <= imported, required - imported
    assert "scipy" in required and "seaborn" not in required | optional


def pip_install_advice(text):
    """The distributions named after ``pip install`` in a text, up to a quote, bracket or comma;
    options and local paths left out."""
    names = []
    for command in re.findall(r"pip install ([^`'\n),;]+)", text):
        for word in command.replace('"', " ").split():
            if word.startswith("-") or word in {".", "./"} or word.startswith(("/", ".[", "http")):
                continue
            if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*(\[[a-z,]+\])?([<>=!~]=?[0-9.]+)?", word):
                names.append(re.match(r"[A-Za-z0-9_.-]+", word).group(0))
            else:
                break  # prose after the command
    return names


def test_pip_install_advice_is_read_as_distributions():
    text = """run ``pip install -e ".[dask]"``, `pip install snntorch`, 'pip install --upgrade pynmsnn',
    (pip install "dask[distributed]" dask-ml), pip install torch==2.13.0 --index-url https://x; pip install ."""
    assert pip_install_advice(text) == ["snntorch", "pynmsnn", "dask", "dask-ml", "torch"]


ADVISING = sorted(
    str(path.relative_to(ROOT))
    for folder in ["pynmsnn", "examples", "benchmarks"]
    for path in (ROOT / folder).glob("*.py")
    if "pip install" in path.read_text()
) + ["README.rst"]
KNOWN_WRONG = {}  # file -> why its advice is wrong (strict xfail until fixed)


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[name])) if name in KNOWN_WRONG
    else name
    for name in ADVISING
])
def test_pip_install_advice_names_what_this_project_declares(name):
    """What a message tells users to pip install is torch or a dependency or extra this project declares."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = requirement_names(project["dependencies"]) | set().union(
        *(requirement_names(r) for r in project["optional-dependencies"].values()))
    advised = pip_install_advice((ROOT / name).read_text())
    assert {n.lower() for n in advised} <= declared, set(advised) - declared


def test_system_packages_the_advice_names_exist():
    """The Debian/Ubuntu packages that setup.sh and the kernel's fix tell users to install are in the archive."""
    if shutil.which("apt-cache") is None:
        pytest.skip("no apt-cache: not a Debian or Ubuntu machine")
    from pynmsnn._engine_info import KERNEL_FIX

    text = KERNEL_FIX + (ROOT / "setup.sh").read_text()
    packages = set().union(*(set(m.split()) for m in re.findall(r"sudo apt install ([a-z0-9.+ -]+?)[;)]", text)))
    assert {"gcc", "python3-dev", "python3-venv"} <= packages
    result = subprocess.run(["apt-cache", "show", "--no-all-versions", *sorted(packages)],
                            capture_output=True, text=True, timeout=60)
    shown = set(re.findall(r"^Package: (\S+)$", result.stdout, re.M))
    if not shown:
        pytest.skip("apt knows no packages here (no package lists)")
    assert shown == packages, packages - shown
