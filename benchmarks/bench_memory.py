"""Peak memory of ``SNNClassifier.fit`` as the data grows.

Fits one epoch of a 64-128-C network (``n_steps=25``, batch 256) on
``make_classification`` data of 20,000 and 200,000 rows, each size in a fresh
subprocess, and reports the peak resident set above the one after imports,
data generation and a warm-up fit of a tiny network (torch's lazy imports)
next to two yardsticks:

* the size of the data itself (``X.nbytes``, float64);
* ``rows * n_steps * hidden * 4`` bytes: what keeping the hidden layer's
  float32 activity for every row and time step at once would cost.

Training goes through the data in minibatches, so the peak should follow the
data (a scaled float32 copy and the shuffled index), not the second yardstick.

Usage::

    python benchmarks/bench_memory.py                 # 20,000 and 200,000 rows
    python benchmarks/bench_memory.py --rows 2000 20000

Writes ``benchmarks/results/memory.json`` and ``memory.rst``.
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
    RESULT_MARKER, peak_mb, reset_peak_memory, resident_mb, rst_table, worker_result,
)

N_FEATURES, N_CLASSES, HIDDEN, N_STEPS, BATCH_SIZE = 64, 5, 128, 25, 256
MB = 2**20


def make_data(n_rows):
    """``make_classification`` with 64 features, 20 informative, 5 classes."""
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n_rows, n_features=N_FEATURES, n_informative=20, n_classes=N_CLASSES, random_state=0
    )


def all_steps_bytes(n_rows):
    """Bytes to hold the hidden layer's float32 activity for every row and step."""
    return n_rows * N_STEPS * HIDDEN * 4


def _estimator(hidden=HIDDEN, n_steps=N_STEPS, batch_size=BATCH_SIZE):
    from pynmsnn import SNNClassifier

    return SNNClassifier(
        hidden_layer_sizes=(hidden,), n_steps=n_steps, batch_size=batch_size, max_iter=1,
        tol=0, n_iter_no_change=2, alpha=0.0, random_state=0, device="cpu",
    )


def measure(n_rows, threads=None):
    """Fit one epoch on ``n_rows`` rows in this process; returns the measurements."""
    import torch
    from sklearn.exceptions import ConvergenceWarning

    import pynmsnn  # noqa: F401  (imported before the baseline)

    if threads is not None:
        torch.set_num_threads(threads)
    X, y = make_data(n_rows)
    imported = resident_mb()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # A first fit of a tiny network triggers lazy imports (torch._dynamo and
        # sympy when the optimizer is built, ~100 MB): they belong to the baseline.
        # Tiny, so that the buffers it leaves in the allocator hide nothing.
        _estimator(hidden=4, n_steps=2, batch_size=8).fit(X[:32], y[:32])
        gc.collect()
        baseline = resident_mb()
        peak_was_reset = reset_peak_memory()
        estimator = _estimator()
        start = time.perf_counter()
        estimator.fit(X, y)
        fit_s = time.perf_counter() - start
    return {
        "rows": n_rows,
        "fit_s": fit_s,
        "n_iter": estimator.n_iter_,
        "peak_above_baseline_mb": peak_mb() - baseline if peak_was_reset and baseline is not None else None,
        "baseline_mb": baseline,
        "warm_up_mb": baseline - imported if baseline is not None else None,
        "X_nbytes_mb": X.nbytes / MB,
        "all_steps_mb": all_steps_bytes(n_rows) / MB,
        "torch_threads": torch.get_num_threads(),
    }


def run_in_subprocess(n_rows, threads=None):
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n_rows)]
    if threads is not None:
        command += ["--threads", str(threads)]
    return worker_result(command, f"{n_rows} rows")


def describe(report):
    """The table with a line on how it was measured (RST)."""
    header = ["rows", "X nbytes (MB)", "all steps kept (MB)", "peak RSS above baseline (MB)", "fit 1 epoch (s)"]
    rows = [
        [f"{r['rows']:,}", f"{r['X_nbytes_mb']:.0f}", f"{r['all_steps_mb']:,.0f}",
         "n/a" if r["peak_above_baseline_mb"] is None else f"{r['peak_above_baseline_mb']:.0f}",
         f"{r['fit_s']:.1f}"]
        for r in report["results"]
    ]
    return (
        f"Peak memory of one epoch of ``SNNClassifier.fit`` (64-{HIDDEN}-{N_CLASSES}, n_steps "
        f"{N_STEPS}, batch {BATCH_SIZE}) on ``make_classification`` data; {report['machine']}, "
        f"{report['torch_threads']} torch threads; ``{report['command']}``. The baseline is the "
        "resident set after imports, data generation and a warm-up fit of a tiny network; "
        f"\"all steps kept\" is rows x n_steps x hidden x 4 bytes.\n\n{rst_table(header, rows)}\n"
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT_MARKER + json.dumps(measure(args.worker, args.threads)))
        return None
    results = [run_in_subprocess(n_rows, args.threads) for n_rows in args.rows]
    report = {
        "machine": f"{os.cpu_count()}-core CPU, torch {importlib.metadata.version('torch')}",
        "torch_threads": results[0]["torch_threads"],
        "command": " ".join(["python", "benchmarks/bench_memory.py", *map(shlex.quote, argv)]),
        "network": f"64-{HIDDEN}-{N_CLASSES}, n_steps {N_STEPS}, batch {BATCH_SIZE}, 1 epoch",
        "results": results,
    }
    text = describe(report)
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.output_dir / "memory.rst").write_text(text)
    return report


if __name__ == "__main__":
    main()
