"""Event-driven against dense inference as the firing rate grows.

The event-driven pass (``pynmsnn/_events.py``) adds one row of weights per
spike; the dense path multiplies every row, at a cost that does not depend on
the spikes. This script measures where the two meet: a 50-256-256-5 network
(``n_steps=25``, decay 0.9, threshold 1) with its weights drawn as
``SpikingNetwork`` draws them and both hidden layers' biases shifted to set
the firing rate, timed on 10,000 rows of uniform inputs, the event-driven pass
against the dense path with bfloat16 spike matmuls (``precision='auto'`` on a
CPU with native bfloat16) and with float32 ones. Times are the fastest of 3
calls in each of 3 fresh processes per bias shift (``--processes``; on this shared machine
torch's threads now and then run a whole process at about two thirds of their
speed; the event-driven pass, on threads of its own, is not affected), the
dense path in its fixed chunks of rows with the allocator setting of
``pynmsnn/_malloc.py``, as ``predict`` runs it.

Usage::

    python benchmarks/bench_event_rates.py                 # 3 processes per bias shift
    python benchmarks/bench_event_rates.py --processes 5   # the table in the results

The table goes to stdout and to ``benchmarks/results/event_rates.rst``.
``pynmsnn._events.BFLOAT16_BREAK_EVEN_RATE`` is read off it.
"""

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import RESULT_MARKER, rst_table, worker_result  # noqa: E402

BIAS_SHIFTS = (-0.5, -0.05, 0.0, 0.05, 0.1, 0.2, 0.4, 1.0)
N_ROWS = 10_000


def _best_seconds(call, repeats=3):
    """Fastest wall time of ``repeats`` calls of ``call()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def measure(shift, x, dtype):
    """Firing rates, event-driven and dense seconds for one bias shift and dense dtype."""
    import torch

    from pynmsnn._base import predict_chunk_rows
    from pynmsnn._engine import Engine
    from pynmsnn.network import SpikingNetwork

    net = SpikingNetwork(50, (256, 256), 5, generator=torch.Generator().manual_seed(0))
    event, dense_engine = (Engine(scan="c", inference=kind, spike_matmul_dtype=dtype) for kind in ("event", "dense"))
    net.eval()
    with torch.no_grad():
        for layer in net.hidden:
            layer.bias.add_(shift)
    rates = list(net.forward_reference(x[:300], record=True).firing_rates.values())
    chunk = predict_chunk_rows(net.n_steps, [layer.out_features for layer in net.layers])

    def dense():
        for start in range(0, len(x), chunk):
            net(x[start : start + chunk], engine=dense_engine)

    with torch.inference_mode():
        net(x[:100], engine=event)
        event_s = _best_seconds(lambda: net(x, engine=event))
        dense()
        dense_s = _best_seconds(dense)
    return rates, event_s, dense_s


def measure_shift(shift):
    """One table row: the rates and each path's seconds for one bias shift, in this process."""
    import torch

    from pynmsnn._cpu import cpu_has_native_bf16
    from pynmsnn._malloc import keep_freed_memory

    keep_freed_memory(3 * 4 * 128 * 25 * 256)  # as predict does for its chunks
    x = torch.rand(N_ROWS, 50, generator=torch.Generator().manual_seed(1))
    row = {"shift": shift, "threads": torch.get_num_threads()}
    for dtype in [torch.bfloat16, None] if cpu_has_native_bf16() else [None]:
        rates, event_s, dense_s = measure(shift, x, dtype)
        label = "bfloat16" if dtype is not None else "float32"
        row["rates"] = rates
        row[f"event {label}"], row[f"dense {label}"] = event_s, dense_s
    return row


def run(processes=3):
    """Every bias shift in ``processes`` fresh processes; the fastest time of each path."""
    rows = []
    for shift in BIAS_SHIFTS:
        runs = []
        for _ in range(processes):
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(shift)]
            runs.append(worker_result(command, f"bias shift {shift:+.2f}"))
        row = dict(runs[0])
        for key in row:
            if key.startswith(("event", "dense")):
                row[key] = min(run[key] for run in runs)
        rows.append(row)
    return rows, rows[0]["threads"]


def format_table(rows, threads, processes=3):
    """The measurements as an RST table with the command and machine."""
    labels = [key for key in rows[0] if key.startswith(("event", "dense"))]
    header = ["bias shift", "hidden 1 rate", "hidden 2 rate", *[f"{label} (ms)" for label in labels]]
    body = [
        [f"{row['shift']:+.2f}", f"{row['rates'][0]:.2f}", f"{row['rates'][1]:.2f}",
         *[f"{row[label] * 1e3:.1f}" for label in labels]]
        for row in rows
    ]
    intro = (
        f"Predict of {N_ROWS:,} rows through 50-256-256-5 (n_steps 25), {threads} torch threads, "
        "by ``python benchmarks/bench_event_rates.py``; event-driven against the dense path "
        f"(bfloat16 or float32 spike matmuls), fastest of 3 calls in each of {processes} fresh processes."
    )
    return intro + "\n\n" + rst_table(header, body) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=HERE / "results" / "event_rates.rst")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per bias shift")
    parser.add_argument("--worker", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:  # one bias shift, for worker_result
        print(RESULT_MARKER + json.dumps(measure_shift(args.worker)))
        return None
    rows, threads = run(args.processes)
    text = format_table(rows, threads, args.processes)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return rows


if __name__ == "__main__":
    main()
