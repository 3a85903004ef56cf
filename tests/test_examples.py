"""Every example script runs, writes its figure and reaches its score; both notebooks run end to end."""

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIGURES = ROOT / "figures"
# The CPU is shared: one torch thread per example runs as fast as two and
# leaves the other core to the rest of the suite.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# script -> (figure it writes, {printed score pattern: lowest acceptable value})
SCRIPTS = {
    "plot_classification_quickstart.py": ("classification_quickstart.png", {r"test accuracy: ([\d.]+)": 0.85}),
    "plot_regression.py": ("regression.png", {r"test R2 SNNRegressor: +([\d.]+)": 0.2}),
    "plot_pipeline_gridsearch.py": ("pipeline_gridsearch.png", {r"test accuracy: ([\d.]+)": 0.8}),
    "plot_encoders.py": ("encoders.png", {r"test accuracy ([\d.]+)": 0.8}),
    "plot_four_letters.py": ("four_letters.png", {r"test accuracy: ([\d.]+)": 0.85}),
    "plot_energy_tradeoff.py": ("energy_tradeoff.png", {r"picks .*: test accuracy ([\d.]+)": 0.85}),
    "plot_anytime.py": ("anytime_digits.png", {r"test accuracy: ([\d.]+) after 25 steps": 0.9}),
    # Exported with reset='zero', re-run by NIR's equations, snnTorch and Norse: every row the same.
    "plot_nir_export.py": ("nir_export.png", {r"test accuracy: ([\d.]+)": 0.9,
                                              r"same spike counts on ([\d.]+)% of": 100.0}),
    "plot_imbalanced.py": ("imbalanced.png", {r"class_weight='balanced': .*rare-class recall ([\d.]+)": 0.5}),
    "plot_saved_pipeline.py": ("saved_pipeline.png", {r"test accuracy: ([\d.]+)": 0.85}),
}
NOTEBOOKS = {
    "classification_poc.ipynb": {r"^test accuracy: ([\d.]+)": 0.9},
    "regression_poc.ipynb": {r"test R2 SNNRegressor: ([\d.]+)": 0.7},
}


def assert_scores(text, bounds):
    """Each pattern is printed at least once, and every value it matches reaches its bound."""
    for pattern, lowest in bounds.items():
        values = [float(v) for v in re.findall(pattern, text, flags=re.MULTILINE)]
        assert values, f"{pattern!r} not printed in:\n{text}"
        assert min(values) >= lowest, f"{pattern!r} gave {values}, below {lowest}"


def test_every_example_script_is_listed():
    """A new example cannot slip past the tests below."""
    assert sorted(p.name for p in EXAMPLES.glob("plot_*.py")) == sorted(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_example_script_writes_its_figure(script, tmp_path):
    figure, bounds = SCRIPTS[script]
    env = {**os.environ, "MPLBACKEND": "Agg", **ONE_THREAD}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--output-dir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [figure]
    image = matplotlib.image.imread(tmp_path / figure)
    assert image.shape[0] >= 400 and image.shape[1] >= 800
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert_scores(result.stdout, bounds)
    assert (FIGURES / figure).stat().st_size > 10_000  # the committed copy is there
    if script == "plot_saved_pipeline.py":
        assert "command-line predictions equal the Pipeline's in Python: True" in result.stdout
    if script == "plot_four_letters.py":
        # Each letter's own output neuron is the one that spikes most for it.
        winners = re.search(r"most spikes per letter: (.*)", result.stdout).group(1)
        pairs = re.findall(r"'(\w)' -> neuron (\w)", winners)
        assert len(pairs) == 4 and all(shown == neuron for shown, neuron in pairs), winners


def cell_outputs(notebook):
    """All stdout text and the MIME types of every rich output of a notebook."""
    text, mimetypes = [], []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                text.append(output.text)
            mimetypes.extend(output.get("data", {}))
    return "".join(text), mimetypes


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_end_to_end(name, tmp_path, monkeypatch):
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    for cell in notebook.cells:  # run from a clean slate, not from stored outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # The kernel inherits the environment: the inline backend, one torch thread.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text, mimetypes = cell_outputs(notebook)
    assert_scores(text, NOTEBOOKS[name])
    assert mimetypes.count("image/png") >= 4  # each display drew its figure


def test_notebooks_match_their_builder():
    """The committed notebooks are what build_notebooks.py writes."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(EXAMPLES))
    for name, cells in build_notebooks.NOTEBOOKS.items():
        committed = nbformat.read(EXAMPLES / name, as_version=4)
        built = build_notebooks.build(cells)
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells]
