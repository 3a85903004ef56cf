"""Predict time and memory of a numeric column against a high-cardinality categorical one.

One table has a single float64 column; the others a single categorical column of
5,000 values (a pandas ``category`` column, and the same values as ``object``
strings). For each, an ``SNNClassifier`` with the default network (100 hidden
neurons, ``n_steps=25``) is fitted for one epoch on 10,000 rows, then
``predict`` runs on 100,000 rows in a fresh subprocess per table: the median
time of three calls and the peak resident set above the one before the calls.

A one-hot encoding written out as a dense matrix costs rows x categories
(100,000 x 5,000 float32 values are 2 GB) in memory and time; predict folds a
wide one-hot block into the first layer instead (``pynmsnn/_folding.py``), so
the categorical table should cost about what the numeric one does.

Usage::

    python benchmarks/bench_encoding.py                         # 100,000 rows, 5,000 categories
    python benchmarks/bench_encoding.py --rows 20000 --categories 1000

Writes ``benchmarks/results/encoding.json`` and ``encoding.rst``.
"""

import argparse
import gc
import importlib.metadata
import json
import os
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import (  # noqa: E402
    RESULT_MARKER, engine_revision, peak_mb, reset_peak_memory, resident_mb, rst_table, worker_result,
)

TABLES = ("numeric", "category", "object")
REPEATS = 3


def make_table(kind, n_rows, n_categories, seed):
    """A one-column DataFrame of ``kind`` and a label that depends on it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_categories, n_rows)
    label = codes % 2
    if kind == "numeric":
        return pd.DataFrame({"x": codes / n_categories}), label
    values = np.array([f"v{k:05d}" for k in range(n_categories)], dtype=object)[codes]
    column = pd.Categorical(values) if kind == "category" else values
    return pd.DataFrame({"x": column}), label


def measure(kind, n_rows, n_categories, fit_rows):
    """Fit on ``fit_rows`` rows and time predict on ``n_rows`` in this process."""
    import torch
    from sklearn.exceptions import ConvergenceWarning

    import pynmsnn
    from pynmsnn import SNNClassifier

    X_fit, y_fit = make_table(kind, fit_rows, n_categories, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = SNNClassifier(max_iter=1, random_state=0, device="cpu").fit(X_fit, y_fit)
    X, _ = make_table(kind, n_rows, n_categories, seed=1)
    est.predict(X.iloc[:100])  # warm-up: lazy imports and allocator pools belong to the baseline
    del X_fit, y_fit
    gc.collect()
    baseline = resident_mb()
    peak_was_reset = reset_peak_memory()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        est.predict(X)
        times.append(time.perf_counter() - start)
    peak = peak_mb() - baseline if peak_was_reset and baseline is not None else None
    return {
        "table": kind,
        "rows": n_rows,
        "categories": 0 if kind == "numeric" else n_categories,
        "fit_rows": fit_rows,
        "network_inputs": est.module_.layers[0].in_features,
        "predict_s": statistics.median(times),
        "predict_times_s": times,
        "peak_above_baseline_mb": peak,
        "torch_threads": torch.get_num_threads(),
        "pynmsnn_path": str(Path(pynmsnn.__file__).parent),  # the code measured
    }


def describe(report):
    """The table with a line on how it was measured (RST)."""
    numeric = report["results"][0]["predict_s"]
    header = ["table", "categories", "network inputs", "predict (s)", "vs numeric", "peak above baseline (MB)"]
    rows = [
        [r["table"], f"{r['categories']:,}", f"{r['network_inputs']:,}", f"{r['predict_s']:.3f}",
         f"{r['predict_s'] / numeric:.2f}x",
         "n/a" if r["peak_above_baseline_mb"] is None else f"{r['peak_above_baseline_mb']:,.1f}"]
        for r in report["results"]
    ]
    return (
        f"``SNNClassifier.predict`` on {report['rows']:,} rows of one column (default network: 100 "
        f"hidden neurons, n_steps 25; fitted for one epoch on {report['results'][0]['fit_rows']:,} rows); median of "
        f"{REPEATS} calls, each table in a fresh process; {report['machine']}, "
        f"{report['torch_threads']} torch threads; ``{report['command']}``.\n\n{rst_table(header, rows)}\n"
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--categories", type=int, default=5_000)
    parser.add_argument("--fit-rows", type=int, default=10_000)
    parser.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES))
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument("--worker", choices=TABLES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT_MARKER + json.dumps(measure(args.worker, args.rows, args.categories, args.fit_rows)))
        return None
    tables = ["numeric", *(t for t in args.tables if t != "numeric")]  # the reference comes first
    results = [
        worker_result(
            [sys.executable, str(Path(__file__).resolve()), "--worker", kind,
             "--rows", str(args.rows), "--categories", str(args.categories), "--fit-rows", str(args.fit_rows)],
            f"the {kind} table",
        )
        for kind in tables
    ]
    report = {
        "machine": f"{os.cpu_count()}-core CPU, torch {importlib.metadata.version('torch')}",
        "torch_threads": results[0]["torch_threads"],
        "command": " ".join(["python", "benchmarks/bench_encoding.py", *map(shlex.quote, argv)]),
        "rows": args.rows,
        "pynmsnn_revision": engine_revision(),
        "results": results,
    }
    text = describe(report)
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "encoding.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.output_dir / "encoding.rst").write_text(text)
    return report


if __name__ == "__main__":
    main()
