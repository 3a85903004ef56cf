"""Where the time goes in one epoch of pynmsnn training, and in predict.

Profiles one epoch of ``SNNClassifier`` training (a ``partial_fit`` after a
first one-epoch ``fit``, so set-up costs are left out) on scikit-learn's digits
(64-128-10, ``n_steps=25``, batch 64, the first configuration of
``bench_engine.py``) with :mod:`torch.profiler`, and splits the epoch into

* **matmuls** -- ``aten::linear``/``addmm``/``mm``/``matmul``, their
  backward nodes (``AddmmBackward0``, ``MmBackward0``, ...) and custom
  autograd Functions named ``...Linear`` (forward and backward);
* **LIF scan** -- the forward and backward loops over time of
  :func:`pynmsnn.neurons.lif_scan` (the ``_LIFScan`` autograd node, with the
  surrogate derivative computed in its backward);
* **optimizer** -- ``Adam.step`` and ``zero_grad``;
* **everything else** -- the rest of the epoch's wall time: input checks and
  scaling, loss, readout, minibatch indexing, autograd bookkeeping and Python
  overhead.

Each profiled event is counted once, at the outermost event that falls in a
category, so ``aten::addmm`` inside ``aten::linear`` is not counted twice.
The profiler adds a few microseconds per operator, most of it to the LIF
forward loop (a few small operators per time step); the note gives the epoch
time with and without the profiler so the shares can be read with that in mind.

Predict is timed on 10,000 rows (the training rows repeated) of the second
configuration (64-256-256-10, 10 epochs): the input checks and scaling, then
the network's pass with event-driven inference (``pynmsnn/_events.py``) and,
for comparison, with it switched off (the dense path: bfloat16 matmuls where
the CPU has them), next to the hidden layers' firing rates, which set the
event-driven pass's work.

Usage::

    python benchmarks/profile_engine.py            # print the note
    python benchmarks/profile_engine.py --json     # the numbers as JSON
"""

import argparse
import json
import statistics
import time
import warnings

CATEGORIES = ("matmul forward", "matmul backward", "LIF scan forward", "LIF scan backward", "optimizer")
_MATMUL_FORWARD = {"aten::linear", "aten::addmm", "aten::mm", "aten::matmul", "aten::bmm"}
_MATMUL_BACKWARD = {"AddmmBackward0", "MmBackward0", "LinearBackward0", "BmmBackward0", "MatmulBackward0"}
_ENGINE_PREFIX = "autograd::engine::evaluate_function: "

# The first configuration of bench_engine.py.
HIDDEN_LAYER_SIZES = (128,)
N_STEPS = 25
BATCH_SIZE = 64
LEARNING_RATE = 1e-3


def classify(name, in_backward=False):
    """The category of a profiler event name, or None for everything else.

    ``in_backward`` tells a matmul run by a backward node (a custom autograd
    Function's backward, for instance) from one in the forward pass.

    Examples
    --------
    >>> classify("autograd::engine::evaluate_function: AddmmBackward0")
    'matmul backward'
    >>> classify("aten::mm", in_backward=True), classify("_LIFScan"), classify("aten::log_softmax")
    ('matmul backward', 'LIF scan forward', None)
    """
    name = name[len(_ENGINE_PREFIX):] if name.startswith(_ENGINE_PREFIX) else name
    if name.startswith("_LIFScan"):
        return "LIF scan backward" if "Backward" in name else "LIF scan forward"
    # "Linear" also names custom autograd Functions that wrap a matmul.
    if name in _MATMUL_FORWARD or name in _MATMUL_BACKWARD or "Linear" in name:
        return "matmul backward" if in_backward or _is_backward(name) else "matmul forward"
    if name.startswith("Optimizer.step") or name.startswith("Optimizer.zero_grad"):
        return "optimizer"
    return None


def _is_backward(name):
    return name.startswith(_ENGINE_PREFIX) or name.endswith(("Backward", "Backward0"))


def _ancestor_names(event):
    parent = event.cpu_parent
    while parent is not None:
        yield parent.name
        parent = parent.cpu_parent


def attribute(events):
    """Seconds per category, each event counted at its outermost categorised level."""
    seconds = dict.fromkeys(CATEGORIES, 0.0)
    other_ops = {}
    for event in events:
        ancestors = list(_ancestor_names(event))
        if any(classify(name) is not None for name in ancestors):
            continue
        category = classify(event.name, in_backward=any(map(_is_backward, ancestors)))
        if category is not None:
            seconds[category] += event.cpu_time_total / 1e6
        elif event.name.startswith("aten::"):
            # Self time of uncategorised operators: names the biggest of "everything else".
            other_ops[event.name] = other_ops.get(event.name, 0.0) + event.self_cpu_time_total / 1e6
    return seconds, other_ops


def _estimator(epochs=1, seed=0):
    from pynmsnn import SNNClassifier

    return SNNClassifier(
        hidden_layer_sizes=HIDDEN_LAYER_SIZES, n_steps=N_STEPS, decay=0.9, threshold=1.0,
        refractory_penalty=0.0, surrogate="fast_sigmoid", encoder="current",
        batch_size=BATCH_SIZE, learning_rate_init=LEARNING_RATE, max_iter=epochs, tol=0.0,
        n_iter_no_change=epochs + 1, alpha=0.0, random_state=seed, device="cpu",
    )


def _training_rows():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    return X_train, y_train


def _timed_epoch(estimator, X, y):
    """Seconds of one more epoch of ``estimator`` (``partial_fit``: no set-up costs)."""
    start = time.perf_counter()
    estimator.partial_fit(X, y)
    return time.perf_counter() - start


def profile_epoch(repeats=3, threads=None):
    """Profile one training epoch of the first benchmark configuration.

    Parameters
    ----------
    repeats : int, default=3
        Unprofiled epochs timed (``partial_fit`` after a one-epoch ``fit``); the
        median is reported.
    threads : int, default=None
        ``torch.set_num_threads`` before measuring; None leaves torch's default.

    Returns
    -------
    dict
        ``epoch_s`` (unprofiled median), ``profiled_epoch_s``, ``torch_threads``,
        ``seconds`` and ``shares`` per category (shares of the profiled epoch,
        summing to 1 with ``everything else``), and ``other_top`` (the largest
        uncategorised operators by self time).
    """
    import torch
    from sklearn.exceptions import ConvergenceWarning
    from torch.profiler import ProfilerActivity, profile

    if threads is not None:
        torch.set_num_threads(threads)
    X, y = _training_rows()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # The first epoch is a fit: it builds the network and pays first-call costs.
        estimator = _estimator().fit(X, y)
        epoch_s = statistics.median(_timed_epoch(estimator, X, y) for _ in range(max(1, repeats)))
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            profiled_epoch_s = _timed_epoch(estimator, X, y)
    seconds, other_ops = attribute(profiler.events())
    seconds["everything else"] = max(0.0, profiled_epoch_s - sum(seconds.values()))
    total = sum(seconds.values())
    return {
        "config": "digits 64-128-10, n_steps 25, batch 64, 1 epoch",
        "torch_threads": torch.get_num_threads(),
        "epoch_s": epoch_s,
        "profiled_epoch_s": profiled_epoch_s,
        "seconds": seconds,
        "shares": {name: value / total for name, value in seconds.items()},
        "other_top": sorted(other_ops.items(), key=lambda item: -item[1])[:4],
    }


PREDICT_HIDDEN_LAYER_SIZES = (256, 256)  # the second configuration of bench_engine.py
PREDICT_EPOCHS = 10
PREDICT_ROWS = 10_000


def profile_predict(repeats=3, threads=None):
    """Time predict on 10,000 rows of the second benchmark configuration.

    Returns
    -------
    dict
        ``scaling_s`` (input checks and scaling), ``event_s`` and ``dense_s``
        (the network's pass with event-driven inference on and off, medians of
        ``repeats`` calls), ``firing_rates`` of the hidden layers on the
        training rows, and ``torch_threads``.
    """
    import numpy as np
    import torch
    from bench_engine import median_time
    from sklearn.exceptions import ConvergenceWarning

    from pynmsnn._engine import forced_engine

    if threads is not None:
        torch.set_num_threads(threads)
    X, y = _training_rows()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = _estimator(epochs=PREDICT_EPOCHS).set_params(hidden_layer_sizes=PREDICT_HIDDEN_LAYER_SIZES)
        estimator.fit(X, y)
    rows = X[np.arange(PREDICT_ROWS) % len(X)]
    estimator.predict(rows)  # first-call costs
    scaled = estimator.transform_inputs(rows)
    result = {
        "config": f"{PREDICT_ROWS:,} rows of digits 64-256-256-10 trained {PREDICT_EPOCHS} epochs",
        "torch_threads": torch.get_num_threads(),
        "scaling_s": median_time(lambda: estimator.transform_inputs(rows), max(1, repeats)),
        "event_s": median_time(lambda: estimator._forward_scaled(scaled), max(1, repeats)),
        "firing_rates": list(estimator.simulate(X[:300]).firing_rates.values()),
    }
    with forced_engine(inference="dense"):
        result["dense_s"] = median_time(lambda: estimator._forward_scaled(scaled), max(1, repeats))
    return result


def format_predict_note(result):
    """The predict timings as a short plain-text note."""
    rates = ", ".join(f"{rate:.0%}" for rate in result["firing_rates"])
    return "\n".join([
        f"Where predict's time goes: {result['config']} ({_threads(result['torch_threads'])})",
        f"  input checks and scaling {result['scaling_s'] * 1e3:.1f} ms; the network "
        f"{result['event_s'] * 1e3:.1f} ms event-driven, {result['dense_s'] * 1e3:.1f} ms on the dense path",
        f"  hidden layers fire at {rates} of their steps: the event-driven pass adds one weight row per",
        "  spike (most of its time), the dense path multiplies every neuron's row",
    ])


def _threads(n):
    return f"{n} torch thread{'' if n == 1 else 's'}"


def format_note(result):
    """The profile as a short plain-text note, "where the time goes"."""
    shares, seconds = result["shares"], result["seconds"]
    lines = [
        f"Where the time goes: pynmsnn, one epoch of {result['config']}",
        f"  {result['epoch_s'] * 1e3:.0f} ms per epoch unprofiled, "
        f"{result['profiled_epoch_s'] * 1e3:.0f} ms under torch.profiler "
        f"({_threads(result['torch_threads'])}); shares of the profiled epoch:",
    ]
    groups = [
        ("matmuls", ("matmul forward", "matmul backward")),
        ("LIF scan", ("LIF scan forward", "LIF scan backward")),
        ("optimizer", ("optimizer",)),
        ("everything else", ("everything else",)),
    ]
    for label, names in groups:
        share = sum(shares[name] for name in names)
        parts = ", ".join(f"{name.split()[-1]} {seconds[name] * 1e3:.1f} ms" for name in names)
        detail = f" ({parts})" if len(names) > 1 else f" ({seconds[names[0]] * 1e3:.1f} ms)"
        lines.append(f"  {label:<16}{share:6.1%}{detail}")
    if result["other_top"]:
        ops = ", ".join(f"{name} {value * 1e3:.1f} ms" for name, value in result["other_top"])
        lines.append(f"  largest operators outside the categories (self time): {ops}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="unprofiled epochs timed (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    result = profile_epoch(repeats=args.repeats, threads=args.threads)
    result["predict"] = profile_predict(repeats=args.repeats, threads=args.threads)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_note(result))
        print(format_predict_note(result["predict"]))
    return result


if __name__ == "__main__":
    main()
