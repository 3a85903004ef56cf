"""The ``pynmsnn`` command: fit, predict, info on CSV files, and one-line errors."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from pynmsnn import load
from pynmsnn.cli import build_parser, detect_task, main

SMALL = ["--hidden-layer-sizes", "16", "--n-steps", "6", "--max-iter", "60", "--learning-rate-init", "0.02"]
SPECIES = ["setosa", "versicolor", "virginica"]


def run_cli(commands, cwd):
    """Run ``python -m pynmsnn ARGS`` for each named command at once, in ``cwd``.

    The commands run side by side because starting Python with torch takes most
    of their time; one torch thread each keeps the shared CPU free.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "pynmsnn", *map(str, args)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, args in commands.items()
    }
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


def assert_one_line_error(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("pynmsnn: warning:")]
    assert len(lines) == 1 and lines[0].startswith("pynmsnn: error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """iris with string labels and a text column; a regression table with a text column."""
    folder = tmp_path_factory.mktemp("cli")
    X, y = load_iris(return_X_y=True, as_frame=True)
    iris = X.set_axis(["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1)
    iris["colour"] = np.where(iris["sepal_length"] > 5.8, "red", "blue")
    iris["species"] = np.array(SPECIES)[y]
    iris.to_csv(folder / "iris.csv", index=False)
    # New rows: no target, columns in another order, and a column the model never saw.
    new = iris.drop(columns="species").iloc[::15, ::-1].assign(note="x")
    new.to_csv(folder / "new.csv", index=False)
    rng = np.random.default_rng(0)
    houses = pd.DataFrame({"area": rng.uniform(0, 1, 200), "age": rng.uniform(-2, 2, 200),
                           "kind": rng.choice(["flat", "house", "villa"], 200)})
    houses["price"] = 3 * houses["area"] + houses["age"] ** 2 + 2 * (houses["kind"] == "villa")
    houses.to_csv(folder / "houses.csv", index=False)
    return folder


ERRORS = {
    "missing-file": (["fit", "missing.csv", "--target", "species"], "'missing.csv' does not exist"),
    "bad-option": (["fit", "iris.csv", "--target", "species", "--n-steps", "many"], "--n-steps: invalid value 'many'"),
}


@pytest.fixture(scope="module")
def runs(folder):
    """Every command run as a subprocess: the fits and the error cases, then the uses of the model."""
    results = run_cli(
        {
            "fit": ["fit", "iris.csv", "--target", "species", "--model", "iris.pnm", "--report", "iris.json", *SMALL],
            "fit houses": ["fit", "houses.csv", "--target", "price", "--report", "houses.json", *SMALL],
            **{name: args for name, (args, _) in ERRORS.items()},
        },
        cwd=folder,
    )
    assert results["fit"].returncode == 0, results["fit"].stderr
    results.update(run_cli(
        {
            "predict": ["predict", "iris.pnm", "iris.csv", "--output", "predictions.csv", "--proba"],
            "info": ["info", "iris.pnm"],
        },
        cwd=folder,
    ))
    return results


def test_fit_classification_saves_model_and_report(runs, folder):
    """fit detects classification of a text target, saves a loadable model and a JSON report."""
    iris_fit = runs["fit"]
    assert "Traceback" not in iris_fit.stderr
    assert "classification" in iris_fit.stdout and "accuracy" in iris_fit.stdout
    report = json.loads((folder / "iris.json").read_text())
    assert report["task"] == "classification" and report["estimator"] == "SNNClassifier"
    assert report["n_train"] == 120 and report["n_test"] == 30
    assert report["classes"] == SPECIES
    assert report["metrics"]["accuracy"] > 0.8 and report["metrics"]["f1_macro"] > 0.75
    assert report["params"]["hidden_layer_sizes"] == [16] and report["params"]["n_steps"] == 6
    model = load(folder / "iris.pnm")
    assert model.n_iter_ == report["n_iter"]
    assert list(model.feature_names_in_) == ["sepal_length", "sepal_width", "petal_length", "petal_width", "colour"]


def test_predict_with_proba_drops_the_target_column(runs, folder):
    """predict writes one row per input row with class labels and a probability column per class."""
    result = runs["predict"]
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(folder / "predictions.csv")
    assert list(out.columns) == ["prediction"] + [f"proba_{s}" for s in SPECIES]
    data = pd.read_csv(folder / "iris.csv")
    assert len(out) == len(data)
    assert set(out["prediction"]) <= set(SPECIES)
    np.testing.assert_allclose(out.iloc[:, 1:].sum(axis=1), 1.0, atol=1e-9)
    assert (out["prediction"] == data["species"]).mean() > 0.8
    # The same labels as the model predicts in Python.
    expected = load(folder / "iris.pnm").predict(data.drop(columns="species"))
    assert list(out["prediction"]) == list(expected)


def test_predict_to_stdout_without_target(runs, folder, capsys, monkeypatch):
    """Data without the target, with columns reordered and an extra column, predicts to stdout."""
    monkeypatch.chdir(folder)
    assert main(["predict", "iris.pnm", "new.csv"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(out.columns) == ["prediction"] and len(out) == 10
    assert set(out["prediction"]) <= set(SPECIES)


def test_info_describes_the_model(runs, folder):
    """info prints the class, versions, features, classes, epochs and parameters."""
    result = runs["info"]
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "SNNClassifier" in text and "model format 1" in text
    assert "sepal_length, sepal_width, petal_length, petal_width, colour" in text
    assert "setosa, versicolor, virginica" in text
    assert "one-hot encoding of colour" in text
    n_iter = json.loads((folder / "iris.json").read_text())["n_iter"]
    assert f"{n_iter} epochs (n_iter_)" in text and "final loss" in text
    assert "hidden_layer_sizes" in text and "(16,)" in text


def test_fit_regression_with_a_text_column(runs, folder):
    """A float target is a regression: the report has R2 and MAE, and the model predicts prices."""
    result = runs["fit houses"]
    assert result.returncode == 0, result.stderr
    assert (folder / "houses.pnm").exists()  # the default name follows the data file
    report = json.loads((folder / "houses.json").read_text())
    assert report["task"] == "regression" and report["estimator"] == "SNNRegressor"
    assert report["metrics"]["r2"] > 0.6 and report["metrics"]["mae"] < 1.0
    assert "R2" in result.stdout


@pytest.mark.parametrize("name", ERRORS)
def test_errors_are_one_line(name, runs):
    """A missing file and a bad option: one line, no traceback, exit status != 0."""
    line = assert_one_line_error(runs[name])
    assert ERRORS[name][1] in line


@pytest.mark.parametrize(
    "args, expected",
    [
        (["fit", "iris.csv", "--target", "kind"], "no column 'kind'"),
        (["info", "iris.csv"], "'iris.csv' is not a pynmsnn model file"),
        (["fit", "iris.csv", "--target", "species", "--n-steps", "0"], "'n_steps' parameter"),
        (["fit", "iris.csv", "--target", "species", "--hidden-layer-sizes", "8,0"], "hidden_layer_sizes"),
        (["fit", "iris.csv", "--target", "species", "--encoder", "morse"], "one of 'current'"),
        (["fit", "houses.csv", "--target", "price", "--readout", "spikes"], "--readout does not apply to regression"),
        (["fit", "iris.csv", "--target", "species", "--task", "regression"], "needs a numeric target"),
        (["fit", "iris.csv", "--target", "species", "--test-size", "1.5"], "--test-size"),
        (["fit", "iris.csv", "--target", "species", "--model", "nowhere/m.pnm"], "does not exist"),
        (["fit", "gappy.csv", "--target", "y"], "2 missing value(s) (CSV lines 3, 5)"),
        (["fit", "holes.csv", "--target", "y"], "NaN in column 'x' (rows with CSV line [13])"),
        (["fit", "words.csv", "--target", "y"], "'unknown' (1 row), which are not numbers (rows with CSV line [7])"),
        (["fit", "iris.csv"], "required: --target"),
        (["predict", "houses.pnm", "iris.csv"], "lacks column(s) 'area', 'age', 'kind'"),
        (["predict", "houses.pnm", "houses.csv", "--proba"], "--proba needs a classifier"),
        (["predict", "missing.pnm", "iris.csv"], "missing.pnm"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_more_errors_in_process(args, expected, runs, folder, capsys, monkeypatch):
    """Each bad input gives exit status != 0 and one clear line on stderr (in-process: fast)."""
    monkeypatch.chdir(folder)
    (folder / "gappy.csv").write_text("x,y\n1,a\n2,\n3,b\n4,\n")
    # Line 13 of holes.csv lacks x, line 7 of words.csv says 'unknown': the lines of the file,
    # though fit sees the rows in the shuffled order of its train/test split.
    rows = [f"{i},{'ab'[i % 2]}" for i in range(20)]
    (folder / "holes.csv").write_text("\n".join(["x,y", *rows[:11], ",a", *rows[12:]]) + "\n")
    (folder / "words.csv").write_text("\n".join(["x,y", *rows[:5], "unknown,a", *rows[6:]]) + "\n")
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("pynmsnn: warning:")]
    assert len(lines) == 1 and lines[0].startswith("pynmsnn: error: ")
    assert expected in lines[0]


def test_fit_on_all_rows_with_test_size_zero(folder, capsys, monkeypatch):
    """--test-size 0 fits on every row and reports no test metrics."""
    monkeypatch.chdir(folder)
    assert main(["fit", "iris.csv", "--target", "species", "--test-size", "0", "--model", "all.pnm",
                 "--report", "all.json", *SMALL[:4], "--max-iter", "3"]) == 0
    report = json.loads((folder / "all.json").read_text())
    assert report["n_train"] == 150 and report["n_test"] == 0 and report["metrics"] == {}
    assert "none (--test-size 0)" in capsys.readouterr().out


def test_options_come_from_the_estimator_parameters():
    """Every estimator parameter but warm_start (and activation, which must be None) is an option."""
    from pynmsnn import SNNClassifier

    args = build_parser().parse_args(
        ["fit", "d.csv", "--target", "y", "--hidden-layer-sizes", "64,32", "--batch-size", "auto",
         "--random-state", "none", "--no-shuffle", "--alpha", "1e-3", "--surrogate", "atan"]
    )
    assert args.hidden_layer_sizes == (64, 32) and args.batch_size == "auto" and args.random_state is None
    assert args.shuffle is False and args.alpha == 1e-3 and args.surrogate == "atan"
    assert build_parser().parse_args(["fit", "d.csv", "--target", "y", "--batch-size", "32"]).batch_size == 32
    help_text = build_parser()._subparsers._group_actions[0].choices["fit"].format_help()
    for name in SNNClassifier().get_params():
        assert (f"--{name.replace('_', '-')}" in help_text) == (name not in ("warm_start", "activation"))
    assert build_parser().parse_args(["demo"]).max_iter == 200  # demo keeps its options


@pytest.mark.parametrize(
    "values, task",
    [
        (["a", "b", "c"] * 20, "classification"),
        ([True, False] * 30, "classification"),
        ([0, 1, 2] * 30, "classification"),
        (list(range(90)), "regression"),  # many distinct integers: counts, not labels
        ([0, 1, 2, 3] * 10, "regression"),  # 4 values in 40 rows: too few rows per value to call labels
        ([0.5, 1.5, 2.0] * 30, "regression"),
    ],
)
def test_detect_task(values, task):
    """Text, bool and few-valued integers are labels; floats and many-valued integers are not."""
    assert detect_task(pd.Series(values))[0] == task


def test_predict_and_info_serve_a_saved_pipeline(folder, capsys, monkeypatch):
    """A Pipeline saved with pynmsnn.save predicts from a CSV as in Python, and info describes it."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from pynmsnn import SNNClassifier, save

    monkeypatch.chdir(folder)
    data = pd.read_csv("iris.csv")
    X, y = data.drop(columns="species"), data["species"]
    encode = make_column_transformer((OneHotEncoder(), ["colour"]), remainder=StandardScaler())
    pipe = make_pipeline(encode, SNNClassifier((16,), n_steps=6, max_iter=60, learning_rate_init=0.02,
                                               random_state=0)).fit(X, y)
    save(pipe, "pipe.pnm")
    assert main(["predict", "pipe.pnm", "new.csv", "--proba"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out))
    new = pd.read_csv("new.csv")
    assert list(out.columns) == ["prediction"] + [f"proba_{s}" for s in SPECIES]
    assert list(out["prediction"]) == list(pipe.predict(new[list(pipe.feature_names_in_)]))
    np.testing.assert_allclose(out.iloc[:, 1:].to_numpy(), pipe.predict_proba(new[list(pipe.feature_names_in_)]))
    assert main(["info", "pipe.pnm"]) == 0
    text = capsys.readouterr().out
    assert "estimator:  Pipeline" in text and "model format 2" in text
    assert "setosa, versicolor, virginica" in text and "OneHotEncoder" in text and "SNNClassifier" in text
