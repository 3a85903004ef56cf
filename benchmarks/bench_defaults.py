"""Do the default estimators learn as well as scikit-learn's MLP with its defaults?

Cross-validates ``SNNClassifier()`` and ``SNNRegressor()`` with default parameters
(on the raw data: they scale it themselves) against
``make_pipeline(StandardScaler(), MLPClassifier())`` and, for regression,
``TransformedTargetRegressor(make_pipeline(StandardScaler(), MLPRegressor()),
transformer=StandardScaler())``, all with ``random_state=0`` and the same 5 folds.

    python benchmarks/bench_defaults.py                 # the table in README.rst
    python benchmarks/bench_defaults.py --set learning_rate_init=0.005 n_steps=16

``--set`` overrides parameters of both spiking estimators, to compare candidate
defaults. Results go to ``benchmarks/results/defaults.json`` and ``.rst``.
"""

import argparse
import ast
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pynmsnn
from pynmsnn import SNNClassifier, SNNRegressor

from bench_engine import rst_table  # this folder's shared report helpers

RESULTS = Path(__file__).parent / "results"

CLASSIFICATION = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
}
REGRESSION = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(n_samples=5000, noise=0.5, random_state=0),
}


def mlp_classifier():
    return make_pipeline(StandardScaler(), MLPClassifier(random_state=0))


def mlp_regressor():
    return TransformedTargetRegressor(
        make_pipeline(StandardScaler(), MLPRegressor(random_state=0)), transformer=StandardScaler()
    )


def cross_validated(estimator, X, y, folds):
    """Mean test score over the folds and mean fit time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = cross_validate(estimator, X, y, cv=folds)
    return float(np.mean(result["test_score"])), float(np.mean(result["fit_time"]))


def run(overrides, datasets):
    rows = []
    tasks = [(name, load, True) for name, load in CLASSIFICATION.items()]
    tasks += [(name, load, False) for name, load in REGRESSION.items()]
    for name, load, is_classification in tasks:
        if datasets and name not in datasets:
            continue
        X, y = load()
        if is_classification:
            folds = StratifiedKFold(5, shuffle=True, random_state=0)
            snn, mlp, metric = SNNClassifier(random_state=0, **overrides), mlp_classifier(), "accuracy"
        else:
            folds = KFold(5, shuffle=True, random_state=0)
            snn, mlp, metric = SNNRegressor(random_state=0, **overrides), mlp_regressor(), "R2"
        snn_score, snn_time = cross_validated(snn, X, y, folds)
        mlp_score, mlp_time = cross_validated(mlp, X, y, folds)
        row = dict(dataset=name, metric=metric, rows=len(X), pynmsnn=snn_score, mlp=mlp_score,
                   difference=snn_score - mlp_score, pynmsnn_fit_s=snn_time, mlp_fit_s=mlp_time)
        rows.append(row)
        print(f"{name:<14} {metric:<8} pynmsnn {snn_score:.4f} ({snn_time:5.2f} s/fit)   "
              f"MLP {mlp_score:.4f} ({mlp_time:5.2f} s/fit)   difference {snn_score - mlp_score:+.4f}", flush=True)
    return rows


def digits_fit_time():
    """Seconds for SNNClassifier().fit on all of digits (the quick-start promise)."""
    X, y = load_digits(return_X_y=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SNNClassifier(random_state=0).fit(X, y)
    return time.perf_counter() - start, model.n_iter_


def to_rst(rows, fit_seconds, epochs, command):
    header = ("dataset", "metric", "pynmsnn", "MLP", "difference", "pynmsnn s/fit", "MLP s/fit")
    lines = [[r["dataset"], r["metric"], f"{r['pynmsnn']:.4f}", f"{r['mlp']:.4f}", f"{r['difference']:+.4f}",
              f"{r['pynmsnn_fit_s']:.2f}", f"{r['mlp_fit_s']:.2f}"] for r in rows]
    out = [rst_table(header, lines), "", f"``SNNClassifier().fit`` on all 1,797 digits rows: {fit_seconds:.1f} s ({epochs} epochs).",
            f"5-fold cross-validation, {torch.get_num_threads()} torch threads, {platform.machine()} CPU with "
            f"2 cores, torch {torch.__version__}, pynmsnn {pynmsnn.__version__}. Made by ``{command}``."]
    return "\n".join(out)


def parse_overrides(pairs):
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override SNN parameters")
    parser.add_argument("--datasets", nargs="*", choices=[*CLASSIFICATION, *REGRESSION], help="default: all")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's default)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set)
    command = " ".join(["python benchmarks/bench_defaults.py", *sys.argv[1:]])
    rows = run(overrides, args.datasets)
    fit_seconds, epochs = digits_fit_time()
    print(f"SNNClassifier().fit on digits: {fit_seconds:.2f} s ({epochs} epochs)")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    table = to_rst(rows, fit_seconds, epochs, command)
    (args.output_dir / "defaults.rst").write_text(table + "\n")
    (args.output_dir / "defaults.json").write_text(json.dumps(
        dict(rows=rows, digits_fit_seconds=fit_seconds, digits_epochs=epochs, overrides=overrides,
             command=command, torch=torch.__version__, threads=torch.get_num_threads()), indent=2))
    print(table)


if __name__ == "__main__":
    main()
