"""Peak memory of ``SNNClassifier.predict_proba`` as the number of rows grows.

A 20-128-2 network (``n_steps=25``) is fitted for one epoch on 2,000 rows of
``make_classification`` data; then, in a fresh subprocess per size, X of
10,000, 100,000 and 1,000,000 rows of 20 float64 features is created, one
small prediction warms torch up, and the peak resident set of
``predict_proba(X)`` above the resident set at that point is measured.

Prediction runs the network in chunks of a bounded number of rows (on a CPU,
event-driven: a chunk holds its rows and outputs, no time steps), so its work
space should not grow with the rows. What must grow is reported next to it:

* the scaled float32 copy of X (rows x 20 x 4 bytes) and the float64 output
  (rows x 2 x 8 bytes, with the softmax's temporaries of the same size);
* ``rows * n_steps * hidden * 4`` bytes: what running every row at once would
  take for the hidden layer's spikes alone.

Usage::

    python benchmarks/bench_predict_memory.py                     # 10,000 / 100,000 / 1,000,000 rows
    python benchmarks/bench_predict_memory.py --rows 2000 20000   # other sizes

Writes ``benchmarks/results/predict_memory.json`` and ``predict_memory.rst``.
"""

import argparse
import gc
import importlib.metadata
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import (  # noqa: E402
    RESULT_MARKER, engine_revision, peak_mb, reset_peak_memory, resident_mb, rst_table, worker_result,
)

N_FEATURES, N_CLASSES, HIDDEN, N_STEPS, TRAIN_ROWS = 20, 2, 128, 25, 2_000
MB = 2**20


def fitted_model():
    """The 20-128-2 classifier, fitted for one epoch on 2,000 rows."""
    from sklearn.datasets import make_classification
    from sklearn.exceptions import ConvergenceWarning

    from pynmsnn import SNNClassifier

    X, y = make_classification(n_samples=TRAIN_ROWS, n_features=N_FEATURES, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SNNClassifier(
            hidden_layer_sizes=(HIDDEN,), n_steps=N_STEPS, max_iter=1, random_state=0, device="cpu"
        ).fit(X, y)


def chunk_rows(est):
    """Rows per prediction chunk of ``est``, and whether predict runs event-driven."""
    import torch

    from pynmsnn._base import EVENT_CHUNK_ROWS, predict_chunk_rows

    module = est.module_
    if est.compute_engine().inference == "event":
        return EVENT_CHUNK_ROWS, True
    return predict_chunk_rows(module.n_steps, [layer.out_features for layer in module.layers]), False


def measure(n_rows):
    """Predict ``n_rows`` rows in this process; returns the measurements."""
    import numpy as np
    import torch

    import pynmsnn

    est = fitted_model()
    X = np.random.default_rng(1).normal(size=(n_rows, N_FEATURES))
    est.predict_proba(X[:100])  # warm-up: lazy imports and allocator pools belong to the baseline
    gc.collect()
    baseline = resident_mb()
    peak_was_reset = reset_peak_memory()
    start = time.perf_counter()
    proba = est.predict_proba(X)
    predict_s = time.perf_counter() - start
    peak = peak_mb() - baseline if peak_was_reset and baseline is not None else None
    grows = (n_rows * N_FEATURES * 4 + n_rows * N_CLASSES * 8) / MB
    return {
        "rows": n_rows,
        "predict_s": predict_s,
        "finite": bool(np.isfinite(proba).all()),
        "chunk_rows": chunk_rows(est)[0],
        "event_driven": chunk_rows(est)[1],
        "peak_above_baseline_mb": peak,
        "scaled_copy_and_output_mb": grows,
        "work_space_mb": None if peak is None else peak - grows,
        "baseline_mb": baseline,
        "X_nbytes_mb": X.nbytes / MB,
        "all_rows_at_once_mb": n_rows * N_STEPS * HIDDEN * 4 / MB,
        "torch_threads": torch.get_num_threads(),
        "pynmsnn_path": str(Path(pynmsnn.__file__).parent),  # the code measured
    }


def run_in_subprocess(n_rows):
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n_rows)]
    return worker_result(command, f"{n_rows} rows")


def _path(result):
    """How predict ran the network, for the table's caption."""
    if result.get("event_driven"):
        return f"event-driven, chunks of up to {result['chunk_rows']:,} rows"
    return f"chunks of {result['chunk_rows']:,} rows"


def describe(report):
    """The table with a line on how it was measured (RST)."""
    header = ["rows", "X (MB)", "scaled copy + output (MB)", "peak above baseline (MB)",
              "work space (MB)", "all rows at once (MB)", "predict (s)"]
    na = lambda value, pattern: "n/a" if value is None else format(value, pattern)  # noqa: E731
    rows = [
        [f"{r['rows']:,}", f"{r['X_nbytes_mb']:,.0f}", f"{r['scaled_copy_and_output_mb']:,.1f}",
         na(r["peak_above_baseline_mb"], ",.1f"), na(r["work_space_mb"], ",.1f"),
         f"{r['all_rows_at_once_mb']:,.0f}", f"{r['predict_s']:.2f}"]
        for r in report["results"]
    ]
    return (
        f"Peak memory of ``SNNClassifier.predict_proba`` ({N_FEATURES}-{HIDDEN}-{N_CLASSES}, n_steps "
        f"{N_STEPS}, {_path(report['results'][0])}) on X of {N_FEATURES} "
        f"float64 features; {report['machine']}, {report['torch_threads']} torch threads; "
        f"``{report['command']}``. Each size runs in a fresh process; the baseline is its resident "
        "set once X exists and a 100-row prediction has warmed torch up. \"Scaled copy + output\" "
        "is the float32 copy of X and the float64 probabilities, which grow with the rows by "
        "necessity; \"work space\" is the rest of the peak; \"all rows at once\" is rows x n_steps "
        f"x hidden x 4 bytes.\n\n{rst_table(header, rows)}\n"
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT_MARKER + json.dumps(measure(args.worker)))
        return None
    results = [run_in_subprocess(n_rows) for n_rows in args.rows]
    report = {
        "machine": f"{os.cpu_count()}-core CPU, torch {importlib.metadata.version('torch')}",
        "torch_threads": results[0]["torch_threads"],
        "command": " ".join(["python", "benchmarks/bench_predict_memory.py", *map(shlex.quote, argv)]),
        "network": f"{N_FEATURES}-{HIDDEN}-{N_CLASSES}, n_steps {N_STEPS}",
        "pynmsnn_revision": engine_revision(),
        "results": results,
    }
    text = describe(report)
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "predict_memory.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.output_dir / "predict_memory.rst").write_text(text)
    return report


if __name__ == "__main__":
    main()
