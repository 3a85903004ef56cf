"""The engine says which of its paths run on this machine, and a fit without the C kernel says how to get it."""

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import pynmsnn
from pynmsnn import _engine_info
from pynmsnn._engine_info import KERNEL_FIX, KernelMissingWarning, engine_paths, warn_if_kernel_missing
from pynmsnn.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_kernel(monkeypatch):
    """The C kernel is missing, as where it was never built; the once-only warning is re-armed.

    (The subprocess test below blocks the import itself.)"""
    from pynmsnn import _kernels

    monkeypatch.setattr(_kernels, "HAVE_C_SCAN", False)
    monkeypatch.setattr(_kernels, "HAVE_EVENT_KERNEL", False)
    _engine_info._warn_once.cache_clear()
    yield
    _engine_info._warn_once.cache_clear()


def by_name(paths):
    return {path.name: path for path in paths}


def test_with_the_kernel_every_c_path_is_on_and_fit_says_nothing():
    """Where the kernel is built, the report says so and warn_if_kernel_missing stays quiet."""
    pytest.importorskip("pynmsnn._cscan")
    paths = by_name(engine_paths())
    assert paths["C kernel"].active and paths["LIF scan in C"].active
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_kernel_missing("cpu") is False


def test_without_the_kernel_the_report_says_why_and_how_to_fix_it(no_kernel, monkeypatch):
    """No compiler: the kernel and the paths it carries are off, and the report names the fix."""
    monkeypatch.setenv("CC", "/nonexistent/cc")
    paths = by_name(engine_paths())
    assert not paths["C kernel"].active
    assert "no C compiler: '/nonexistent/cc' is not on PATH" in paths["C kernel"].why
    assert not paths["LIF scan in C"].active and not paths["event-driven prediction"].active
    report = _engine_info.engine_report()
    assert "off  C kernel" in report and KERNEL_FIX in report
    assert _engine_info.kernel_summary().startswith("C kernel: NOT built (no C compiler")


def test_missing_headers_are_named(no_kernel, monkeypatch, tmp_path):
    """A compiler but no Python.h: the reason names the header file that is missing."""
    monkeypatch.setenv("CC", sys.executable)  # any program on the system stands in for the compiler
    monkeypatch.setattr(_engine_info.sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    assert _engine_info.kernel_missing_reason() == f"no Python headers: {tmp_path / 'Python.h'} is missing"


def test_cpu_without_avx512_or_bfloat16(monkeypatch):
    """On a CPU without AVX-512 or AVX2 the portable kernel runs; without bfloat16 the matmuls stay float32."""
    pytest.importorskip("pynmsnn._cscan")
    monkeypatch.setattr(_engine_info, "cpu_vector_extension", lambda: None)
    monkeypatch.setattr(_engine_info, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(_engine_info, "cpu_has_int8_dot", lambda: False)
    paths = by_name(engine_paths())
    assert paths["event-driven prediction"].why == "portable kernel: this CPU has no AVX-512 or AVX2"
    assert not paths["bfloat16 spike matmuls"].active
    assert "no native bfloat16" in paths["bfloat16 spike matmuls"].why
    assert not paths["int8 weight gradients"].active


def test_warns_once_per_process_and_not_for_a_gpu(no_kernel):
    """The first CPU fit without the kernel warns with the fix; later ones, and GPU fits, do not."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_if_kernel_missing("cuda") is False
        assert warn_if_kernel_missing("cpu") is True
        assert warn_if_kernel_missing("cpu") is True
    assert [w.category for w in caught] == [KernelMissingWarning]
    assert KERNEL_FIX in str(caught[0].message)


def test_info_without_a_model_lists_the_engine_paths(capsys):
    """``pynmsnn info`` with no model file prints the engine report."""
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pynmsnn {pynmsnn.__version__}, torch ")
    for name in ["C kernel", "event-driven prediction", "bfloat16 spike matmuls", "int8 weight gradients", "CUDA GPU"]:
        assert name in out


NO_KERNEL_FIT = textwrap.dedent("""
    import sys, warnings
    sys.modules["pynmsnn._cscan"] = None  # as on a machine where it was never built
    from sklearn.datasets import load_iris
    from pynmsnn import SNNClassifier, SNNRegressor
    from pynmsnn.cli import main

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SNNClassifier(hidden_layer_sizes=(16,), n_steps=6, max_iter=40, learning_rate_init=0.02,
                            random_state=0).fit(X, y)
        clf.fit(X, y)
        SNNRegressor(hidden_layer_sizes=(8,), n_steps=4, max_iter=2, random_state=0).fit(X, y.astype(float))
    ours = [w for w in caught if w.category.__name__ == "KernelMissingWarning"]
    print("warnings:", len(ours))
    print("warned at:", ours[0].filename == __file__)
    print("message:", ours[0].message)
    print("accuracy:", clf.score(X, y))
    sys.exit(main(["info"]))
""")


def test_a_fit_without_the_kernel_runs_the_torch_loop_and_warns_once(tmp_path):
    """With ``pynmsnn._cscan`` missing, fits still learn, warn once at the user's line, and info says off."""
    script = tmp_path / "fit_without_kernel.py"
    script.write_text(NO_KERNEL_FIT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line and not line[0].isspace())
    assert lines["warnings"] == "1"
    assert lines["warned at"] == "True"
    assert "sudo apt install gcc python3-dev" in lines["message"] and "'pynmsnn info'" in lines["message"]
    assert float(lines["accuracy"]) > 0.8
    assert "off  C kernel" in result.stdout and "on   C kernel" not in result.stdout
