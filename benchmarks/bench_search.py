"""A grid search four ways: GridSearchCV and SNNGridSearchCV, each with n_jobs=1 and n_jobs=2.

The same grid of 12 ``SNNClassifier`` candidates (``decay`` x ``threshold`` x
``learning_rate_init``) on scikit-learn's digits, with the same 5 stratified
folds, for two networks:

* ``small``: ``hidden_layer_sizes=(64,)``, ``n_steps=10``, ``max_iter=10``;
* ``default``: the estimator's defaults (100 neurons, 25 steps, up to 200
  epochs, stopping when the loss stops improving by ``tol``).

Each search runs in this process, one after the other: ``GridSearchCV``
fitting the 60 (candidate, fold) pairs one by one (``n_jobs=1``) or in two
joblib processes (``n_jobs=2``, one torch thread each), and
``SNNGridSearchCV`` training them as stacks (:mod:`pynmsnn.model_selection`)
in this process or split over two. The two processes are started and warmed
up (imports, a tiny fit) before any timing. Reported per configuration: wall
time of ``fit`` (refit included), the speed-up over ``GridSearchCV(n_jobs=1)``,
the best parameters and best score of each search, and whether they agree.

    python benchmarks/bench_search.py                  # both configurations
    python benchmarks/bench_search.py --threads 1      # torch on one thread here
    python benchmarks/bench_search.py --configs small  # one configuration
    python benchmarks/bench_search.py --quick          # smoke run: 2 candidates x 2 folds, 2 epochs, one config

Results go to ``benchmarks/results/search.{json,rst}`` and the figure to
``figures/benchmark_search.png``. The load average before and after is
recorded: on a shared machine, times are inflated and noisy, worst with
several torch threads.
"""

import argparse
import importlib.metadata
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from pynmsnn import SNNClassifier
from pynmsnn.model_selection import SNNGridSearchCV

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

GRID = {"decay": [0.8, 0.9, 0.95], "threshold": [0.5, 1.0], "learning_rate_init": [1e-3, 3e-3]}
CONFIGS = {
    "small": dict(hidden_layer_sizes=(64,), n_steps=10, max_iter=10),
    "default": {},
}
QUICK_GRID = {"decay": [0.8, 0.95]}
QUICK = dict(hidden_layer_sizes=(16,), n_steps=5, max_iter=2)
METHODS = [("GridSearchCV", 1), ("GridSearchCV", 2), ("SNNGridSearchCV", 1), ("SNNGridSearchCV", 2)]
SEARCHES = {"GridSearchCV": GridSearchCV, "SNNGridSearchCV": SNNGridSearchCV}


def make_search(method, n_jobs, settings, grid, folds):
    """The search of one method: the same estimator, grid and folds for all."""
    estimator = SNNClassifier(random_state=0, **settings)
    return SEARCHES[method](estimator, grid, cv=folds, n_jobs=n_jobs)


def _warm_up():
    """Imports and first calls in a worker process, paid once per session."""
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SNNClassifier(hidden_layer_sizes=(8,), n_steps=2, max_iter=1).fit(X[:60], y[:60])
    return os.getpid()


def warm_workers(n_jobs):
    """Start joblib's worker processes and warm them up; returns the seconds it took."""
    start = time.perf_counter()
    joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_warm_up)() for _ in range(4 * n_jobs))
    return time.perf_counter() - start


def run_config(name, settings, grid, methods, X, y):
    """Time every method on one configuration; returns its results."""
    folds = StratifiedKFold(5 if grid is GRID else 2)
    n_fits = len(list(folds.split(X, y))) * int(np.prod([len(v) for v in grid.values()]))
    rows = []
    for method, n_jobs in methods:
        search = make_search(method, n_jobs, settings, grid, folds)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, y)
        seconds = time.perf_counter() - start
        row = {"method": method, "n_jobs": n_jobs, "seconds": seconds, "best_params": search.best_params_,
               "best_score": float(search.best_score_)}
        if method == "SNNGridSearchCV":
            row["batched"] = bool(search.cv_results_["batched"].all())
        rows.append(row)
        print(f"{name:<8} {method:<16} n_jobs={n_jobs}  {seconds:7.2f} s   best {search.best_params_}  "
              f"cv {search.best_score_:.4f}", flush=True)
    baseline = next(r for r in rows if (r["method"], r["n_jobs"]) == ("GridSearchCV", 1))
    for row in rows:
        row["speedup"] = baseline["seconds"] / row["seconds"]
        row["same_best_params"] = row["best_params"] == baseline["best_params"]
        row["best_score_difference"] = row["best_score"] - baseline["best_score"]
    return {"name": name, "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
            "n_fits": n_fits, "results": rows}


def rst_table(header, rows):
    """An RST simple table (also readable as plain text)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    rule = "  ".join("=" * width for width in widths)
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, line(header), rule, *(line(row) for row in rows), rule])


def describe(report):
    """The table and how it was measured, in RST."""
    header = ["config", "search", "n_jobs", "wall (s)", "speed-up", "best score", "same best params"]
    rows = []
    for config in report["configs"]:
        for r in config["results"]:
            rows.append([config["name"], r["method"], r["n_jobs"], f"{r['seconds']:.2f}", f"{r['speedup']:.1f}x",
                         f"{r['best_score']:.4f}", "yes" if r["same_best_params"] else "no"])
    load = report["load_average_before"][0], report["load_average_after"][0]
    text = [
        f"Measured on a {report['machine']}, torch on {report['torch_threads']} thread(s) in the main "
        f"process and one in each of the two worker processes, by ``{report['command']}``; load average "
        f"{load[0]:.1f} before and {load[1]:.1f} after (other processes shared the CPU). Speed-up is over "
        "``GridSearchCV(n_jobs=1)``; each search's wall time includes its refit on all rows.",
        "",
        rst_table(header, rows),
    ]
    return "\n".join(text) + "\n"


def plot(report, path):
    """Wall time of each search, per configuration, with the speed-up over GridSearchCV(n_jobs=1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = report["configs"]
    figure, axes = plt.subplots(1, len(configs), figsize=(5.2 * len(configs), 4.2), squeeze=False)
    colours = ["#9e9e9e", "#616161", "#64b5f6", "#1565c0"]
    for axis, config in zip(axes[0], configs):
        labels = [f"{r['method']}\nn_jobs={r['n_jobs']}" for r in config["results"]]
        seconds = [r["seconds"] for r in config["results"]]
        bars = axis.bar(range(len(seconds)), seconds, color=colours[: len(seconds)])
        axis.bar_label(bars, [f"{s:.1f} s\n{r['speedup']:.1f}x" for s, r in zip(seconds, config["results"])],
                       fontsize=8, padding=2)
        axis.set_xticks(range(len(seconds)), labels, fontsize=8)
        axis.set_ylabel("wall time of fit (s)")
        axis.set_title(f"{config['name']}: {config['n_fits']} fits of SNNClassifier on digits")
        axis.margins(y=0.25)
    figure.suptitle(f"Grid search, one by one vs batched ({report['machine']}, load {report['load_average_before'][0]:.1f})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads in this process")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny grid, folds and networks")
    parser.add_argument("--n-jobs", type=int, nargs="+", default=[1, 2], choices=[1, 2],
                        help="which n_jobs to run (the baseline GridSearchCV n_jobs=1 always runs)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--figure", type=Path, default=ROOT / "figures" / "benchmark_search.png")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [(m, j) for m, j in METHODS if j in args.n_jobs or (m, j) == ("GridSearchCV", 1)]
    X, y = load_digits(return_X_y=True)
    load_before = os.getloadavg()
    print(f"digits {X.shape}, {os.cpu_count()} cores, torch {torch.__version__} on {torch.get_num_threads()} "
          f"thread(s), load average {load_before[0]:.1f}")
    warm_up = warm_workers(2) if 2 in args.n_jobs else None
    _warm_up()
    configs = []
    for name in args.configs[:1] if args.quick else args.configs:
        settings, grid = (QUICK, QUICK_GRID) if args.quick else (CONFIGS[name], GRID)
        configs.append(run_config(name, settings, grid, methods, X, y))
    report = {
        "machine": f"{os.cpu_count()}-core CPU, torch {importlib.metadata.version('torch')}",
        "torch_threads": torch.get_num_threads(),
        "command": " ".join(["python", "benchmarks/bench_search.py", *map(shlex.quote, argv)]),
        "quick": args.quick,
        "grid": QUICK_GRID if args.quick else GRID,
        "worker_warm_up_s": warm_up,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "configs": configs,
    }
    text = describe(report)
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "search.rst").write_text(text)
    (args.output_dir / "search.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    plot(report, args.figure)
    print(f"Wrote {args.output_dir / 'search.json'}, {args.output_dir / 'search.rst'} and {args.figure}.")
    return report


if __name__ == "__main__":
    main()
