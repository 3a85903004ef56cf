"""Benchmark pynmsnn against an equivalent snnTorch network and scikit-learn's MLP.

For each configuration, the three libraries train on the same stratified 75/25
split (``random_state=0``) and are measured for fit time, predict time on
10,000 rows (the test rows tiled), test accuracy and peak memory:

* **pynmsnn** -- ``SNNClassifier`` with ``encoder='current'``, fast-sigmoid
  surrogate, decay 0.9, threshold 1, ``reset='subtract'`` (snnTorch's
  neuron), no refractory penalty, no L2 penalty,
  run for exactly ``epochs`` epochs (``tol=0``, no early stop).
* **snnTorch** -- the same network written the way snnTorch's tutorials write
  it: ``nn.Linear`` + ``snn.Leaky(beta=0.9, threshold=1.0,
  spike_grad=surrogate.fast_sigmoid(slope=25))`` per hidden layer (subtract
  reset, detached), a non-resetting ``snn.Leaky`` readout whose membrane
  averaged over the time steps is the logit, the row min-max scaled to [0, 1]
  on the training data and fed at every step; a plain torch loop of shuffled
  minibatches with Adam at the same learning rate; predictions in batches of
  4096 under ``torch.no_grad()``.
* **MLP** -- ``make_pipeline(MinMaxScaler(), MLPClassifier(...))`` with the same
  hidden sizes, batch size, epochs and learning rate: the non-spiking reference.

Each (library, configuration, seed) runs in a fresh subprocess: on a shared
2-core machine one process now and then runs at the speed of one core for its
whole life, and a process per seed keeps such a process from setting a
library's median. Times are the **median** over the seeds, accuracy the
**mean**, peak memory the largest over the seeds' processes. Peak memory is
each process's peak resident set (``VmHWM``, reset after imports,
data loading and a warm-up fit of a tiny network that triggers torch's and
scikit-learn's lazy imports) minus its resident set at that point: ``ru_maxrss`` would do
on its own in a fresh interpreter, but a child started by ``subprocess``
inherits its parent's high-water mark through ``exec``.

One difference in the dynamics remains. snnTorch's default ``Leaky`` subtracts
the threshold one step after the spike, where the leak no longer applies to it
(``U[t] = beta U[t-1] + I[t] - S[t-1] thr``, reset detached), while pynmsnn
resets at the step of the spike, so the leak applies to the reset membrane
(``v[t] = decay (v[t-1] - s[t-1] thr) + I[t]``, reset detached). Both cost the
same; the benchmark uses snnTorch's default. ``--snntorch-immediate-reset``
builds the hidden ``Leaky`` with ``reset_delay=False`` instead: pynmsnn's
forward dynamics exactly, but with the reset inside the gradient (snnTorch
does not detach it there) and a few more operators per step.

Usage::

    python benchmarks/bench_engine.py                       # everything, 3 seeds
    python benchmarks/bench_engine.py --quick               # smoke run: 1 epoch, 1 seed
    python benchmarks/bench_engine.py --configs digits-128  # one configuration

The table goes to stdout and to ``benchmarks/results/engine.{json,rst}``, the
plot to ``figures/benchmark_engine.png``; the output ends with the profile of
one pynmsnn epoch and of predict from ``profile_engine.py``.
"""

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIBRARIES = ("pynmsnn", "snntorch", "mlp")
LIBRARY_LABELS = {"pynmsnn": "pynmsnn", "snntorch": "snnTorch", "mlp": "MLP (sklearn)"}
LEARNING_RATE = 1e-3  # SNNClassifier's default learning_rate_init; used by all three
DECAY, THRESHOLD, SURROGATE_SLOPE = 0.9, 1.0, 25
# The neuron of snnTorch's default Leaky, which subtracts the threshold after a
# spike; pynmsnn's own default, reset='zero', costs the same.
RESET = "subtract"
PREDICT_BATCH_SIZE = 4096  # the batch pynmsnn predicts in
RESULT_MARKER = "RESULT "


@dataclass(frozen=True)
class Config:
    """One benchmark configuration: data set, network and training schedule."""

    name: str
    dataset: str
    hidden_layer_sizes: tuple
    n_steps: int
    batch_size: int
    epochs: int


CONFIGS = {
    config.name: config
    for config in (
        Config("digits-128", "digits", (128,), 25, 64, 20),
        Config("digits-256x2", "digits", (256, 256), 25, 64, 10),
        Config("synthetic-256x2", "synthetic", (256, 256), 25, 256, 3),
    )
}


@dataclass(frozen=True)
class Settings:
    """What one run measures, after ``--quick`` and the overrides are applied."""

    epochs: int
    seeds: tuple
    predict_rows: int
    synthetic_rows: int
    immediate_reset: bool
    threads: object
    pynmsnn_precision: object = None


def resolve_settings(config, args):
    """Epochs, seeds and sizes for ``config`` under the command-line ``args``."""
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else config.epochs)
    seeds = tuple(args.seeds) if args.seeds else ((0,) if args.quick else (0, 1, 2))
    predict_rows = args.predict_rows or (2000 if args.quick else 10_000)
    return Settings(
        epochs=epochs, seeds=seeds, predict_rows=predict_rows,
        synthetic_rows=4000 if args.quick else 20_000,
        immediate_reset=args.snntorch_immediate_reset, threads=args.threads,
        pynmsnn_precision=args.pynmsnn_precision,
    )


# --------------------------------------------------------------------- data
def load_split(dataset, synthetic_rows=20_000):
    """``X_train, X_test, y_train, y_test``: a stratified 75/25 split, random_state=0."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split

    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
    elif dataset == "synthetic":
        X, y = make_classification(
            n_samples=synthetic_rows, n_features=50, n_informative=20, n_classes=5, random_state=0
        )
    else:
        raise ValueError(f"Unknown dataset {dataset!r}; use 'digits' or 'synthetic'.")
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def prediction_rows(X_test, n_rows):
    """``n_rows`` rows for timing predict: the test rows repeated in order."""
    return X_test[np.arange(n_rows) % len(X_test)]


# ------------------------------------------------------------------ memory
def resident_mb():
    """Resident set size of this process now, in MB (Linux), or None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return None


def reset_peak_memory():
    """Reset this process's peak-RSS mark (Linux ``clear_refs``); True when it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_mb():
    """Peak resident set of this process in MB: ``VmHWM``, else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024


# ---------------------------------------------------------------- snnTorch
def build_snntorch_network(n_inputs, hidden_layer_sizes, n_outputs, n_steps, immediate_reset=False):
    """The snnTorch network equivalent to pynmsnn's ``SpikingNetwork``.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Input features and classes.
    hidden_layer_sizes : sequence of int
        Width of each spiking hidden layer.
    n_steps : int
        Time steps per sample; the input row is fed at every step.
    immediate_reset : bool, default=False
        Build the hidden ``Leaky`` neurons with ``reset_delay=False``: pynmsnn's
        forward dynamics, with the reset not detached from the gradient.
        The default, snnTorch's delayed reset, is detached.

    Returns
    -------
    torch.nn.Module
        ``module(x)`` maps rows ``x`` of shape (batch, n_inputs) to logits of
        shape (batch, n_outputs): the readout membrane averaged over time.
    """
    import snntorch as snn
    import torch
    from snntorch import surrogate
    from torch import nn

    class SnnTorchNetwork(nn.Module):
        """Linear + Leaky per hidden layer, a non-resetting Leaky readout."""

        def __init__(self):
            super().__init__()
            sizes = [n_inputs, *hidden_layer_sizes]
            spike_grad = surrogate.fast_sigmoid(slope=SURROGATE_SLOPE)
            self.n_steps = n_steps
            self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.neurons = nn.ModuleList(
                snn.Leaky(beta=DECAY, threshold=THRESHOLD, spike_grad=spike_grad,
                          reset_delay=not immediate_reset)
                for _ in hidden_layer_sizes
            )
            self.readout = nn.Linear(sizes[-1], n_outputs)
            self.readout_neuron = snn.Leaky(
                beta=DECAY, threshold=THRESHOLD, spike_grad=spike_grad, reset_mechanism="none"
            )

        def forward(self, x):
            membranes = [neuron.reset_mem() for neuron in self.neurons]
            readout_membrane = self.readout_neuron.reset_mem()
            total = torch.zeros(())
            for _ in range(self.n_steps):
                activity = x  # constant current: the same row at every step
                for i, (linear, neuron) in enumerate(zip(self.linears, self.neurons)):
                    activity, membranes[i] = neuron(linear(activity), membranes[i])
                _, readout_membrane = self.readout_neuron(self.readout(activity), readout_membrane)
                total = total + readout_membrane
            return total / self.n_steps

    return SnnTorchNetwork()


class SnnTorchClassifier:
    """A min-max scaler, the snnTorch network and a plain Adam training loop."""

    def __init__(self, config, epochs, seed, immediate_reset=False):
        self.config, self.epochs, self.seed, self.immediate_reset = config, epochs, seed, immediate_reset

    def _inputs(self, X):
        import torch

        scaled = np.clip(self.scaler_.transform(X), 0.0, 1.0)  # clipped like pynmsnn
        return torch.as_tensor(scaled, dtype=torch.float32)

    def fit(self, X, y):
        import torch
        from sklearn.preprocessing import MinMaxScaler
        from torch.nn import functional as F

        torch.manual_seed(self.seed)  # the initial weights
        self.scaler_ = MinMaxScaler().fit(X)
        self.classes_, codes = np.unique(y, return_inverse=True)
        inputs, targets = self._inputs(X), torch.as_tensor(codes, dtype=torch.int64)
        self.network_ = build_snntorch_network(
            X.shape[1], self.config.hidden_layer_sizes, len(self.classes_),
            self.config.n_steps, self.immediate_reset,
        )
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=LEARNING_RATE)
        generator = torch.Generator().manual_seed(self.seed)
        self.network_.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(inputs), self.config.batch_size):
                index = order[start : start + self.config.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(self.network_(inputs[index]), targets[index])
                loss.backward()
                optimizer.step()
        self.n_iter_ = self.epochs
        return self

    def logits(self, X):
        import torch

        inputs = self._inputs(X)
        self.network_.eval()
        with torch.no_grad():
            batches = [
                self.network_(inputs[start : start + PREDICT_BATCH_SIZE])
                for start in range(0, len(inputs), PREDICT_BATCH_SIZE)
            ]
        return torch.cat(batches).numpy()

    def predict(self, X):
        return self.classes_[np.argmax(self.logits(X), axis=1)]


# --------------------------------------------------------------- estimators
def make_estimator(library, config, settings, seed):
    """An unfitted estimator of ``library`` for ``config``, run for exactly ``settings.epochs``."""
    epochs = settings.epochs
    if library == "pynmsnn":
        from pynmsnn import SNNClassifier

        estimator = SNNClassifier(
            hidden_layer_sizes=config.hidden_layer_sizes, n_steps=config.n_steps, decay=DECAY,
            threshold=THRESHOLD, refractory_penalty=0.0, reset=RESET, surrogate="fast_sigmoid",
            encoder="current", batch_size=config.batch_size, learning_rate_init=LEARNING_RATE,
            max_iter=epochs, tol=0, n_iter_no_change=epochs + 1, alpha=0.0, random_state=seed,
            device="cpu",
        )
        if settings.pynmsnn_precision is not None:
            estimator.set_params(precision=settings.pynmsnn_precision)
        return estimator
    if library == "snntorch":
        return SnnTorchClassifier(config, epochs, seed, settings.immediate_reset)
    if library == "mlp":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MinMaxScaler

        return make_pipeline(MinMaxScaler(), MLPClassifier(
            hidden_layer_sizes=config.hidden_layer_sizes, batch_size=config.batch_size,
            learning_rate_init=LEARNING_RATE, max_iter=epochs, tol=0, n_iter_no_change=epochs + 1,
            alpha=0.0, random_state=seed,
        ))
    raise ValueError(f"Unknown library {library!r}; choose from {list(LIBRARIES)}.")


def _output_shape(library, estimator, X):
    """Shape of the scores the library computes for ``X``: logits or probabilities."""
    if library == "snntorch":
        return list(estimator.logits(X).shape)
    return list(estimator.predict_proba(X).shape)


def _n_iter(estimator):
    return estimator[-1].n_iter_ if hasattr(estimator, "steps") else estimator.n_iter_


# predict is timed as the median of a few calls: the first call of a shape in a
# process pays one-time costs (fresh pages, kernel set-up) that a user calling
# predict again does not.
PREDICT_REPEATS = 3


def median_time(call, repeats):
    """Median wall time of ``repeats`` calls of ``call()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_seed(library, config, settings, seed, data, X_predict):
    """Fit and predict once; returns times, accuracy, epochs run and output shape."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score

    X_train, X_test, y_train, y_test = data
    estimator = make_estimator(library, config, settings, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # exactly `epochs` is the point
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        fit_s = time.perf_counter() - start
    predict_s = median_time(lambda: estimator.predict(X_predict), repeats=PREDICT_REPEATS)
    n_iter = _n_iter(estimator)
    if n_iter != settings.epochs:
        raise RuntimeError(f"{library} ran {n_iter} epochs instead of {settings.epochs}.")
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "accuracy": float(accuracy_score(y_test, estimator.predict(X_test))),
        "n_iter": int(n_iter),
        "output_shape": _output_shape(library, estimator, X_test),
        "spike_matmul_dtype": _spike_matmul_dtype(estimator),
    }


def _spike_matmul_dtype(estimator):
    """pynmsnn's dtype for hidden layers fed by spikes when not the input's, else None."""
    if not hasattr(estimator, "compute_engine"):  # another library
        return None
    dtype = estimator.compute_engine(training=True).spike_matmul_dtype
    return str(dtype).replace("torch.", "") if dtype is not None else None


def warm_up(library, dataset, n_rows=32):
    """Fit and predict a tiny network once: triggers lazy imports and one-time set-up.

    Constructing a torch optimizer imports ``torch._dynamo`` and sympy, and
    scikit-learn's input validation imports more on first use: together about
    100 MB that every later fit shares, which belongs to the baseline, not to
    the data. The network is tiny (4 units, 2 steps) so that the buffers it
    leaves behind in the allocator do not hide the measured fit's own.
    """
    from sklearn.exceptions import ConvergenceWarning

    X, _, y, _ = load_split(dataset, synthetic_rows=4 * n_rows)
    tiny = Config("warm-up", dataset, (4,), 2, 8, 1)
    estimator = make_estimator(library, tiny, Settings(1, (0,), n_rows, 0, False, None), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X[:n_rows], y[:n_rows])
    estimator.predict(X[:n_rows])


def run_worker(library, config, settings):
    """Measure one library on one configuration in this (fresh) process."""
    if library != "mlp":
        import torch

        if settings.threads is not None:
            torch.set_num_threads(settings.threads)
        # Imported before the baseline, like everything each library needs.
        importlib.import_module(library)
    import sklearn.neural_network  # noqa: F401
    import sklearn.preprocessing  # noqa: F401

    data = load_split(config.dataset, settings.synthetic_rows)
    X_predict = prediction_rows(data[1], settings.predict_rows)
    imported_mb = resident_mb()
    warm_up(library, config.dataset)
    gc.collect()
    baseline_mb = resident_mb()
    peak_was_reset = reset_peak_memory()
    runs = []
    for seed in settings.seeds:
        runs.append(measure_seed(library, config, settings, seed, data, X_predict))
        gc.collect()
    peak = peak_mb()
    return {
        "library": library,
        "config": config.name,
        "runs": runs,
        "baseline_mb": baseline_mb,
        "warm_up_mb": baseline_mb - imported_mb if baseline_mb is not None else None,
        "peak_mb": peak - baseline_mb if peak_was_reset and baseline_mb is not None else None,
        "torch_threads": _torch_threads() if library != "mlp" else None,
        "n_train": len(data[0]),
        "n_test": len(data[1]),
        "n_features": int(data[0].shape[1]),
        "n_classes": int(len(np.unique(data[2]))),
    }


def _torch_threads():
    import torch

    return torch.get_num_threads()


# ----------------------------------------------------------- orchestration
def worker_command(library, config, args, seed):
    """The command line that measures ``library`` on ``config`` with ``seed`` in a subprocess."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", library,
               "--configs", config.name, "--seeds", str(seed)]
    if args.quick:
        command.append("--quick")
    if args.epochs is not None:
        command += ["--epochs", str(args.epochs)]
    if args.predict_rows:
        command += ["--predict-rows", str(args.predict_rows)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.snntorch_immediate_reset:
        command.append("--snntorch-immediate-reset")
    if args.pynmsnn_precision:
        command += ["--pynmsnn-precision", args.pynmsnn_precision]
    return command


def worker_result(command, what):
    """Run a worker ``command`` in a fresh interpreter; the result it printed last, parsed.

    Shared by the benchmark scripts: a worker prints ``RESULT_MARKER`` and its
    result as JSON; ``what`` names the measurement in the error if it fails.
    """
    completed = subprocess.run(command, capture_output=True, text=True)
    results = [line[len(RESULT_MARKER):] for line in completed.stdout.splitlines()
               if line.startswith(RESULT_MARKER)]
    if completed.returncode != 0 or not results:
        raise RuntimeError(f"Measuring {what} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(results[-1])


def run_in_subprocess(library, config, args, seed):
    """Run one measurement in a fresh interpreter and return its result dict."""
    return worker_result(worker_command(library, config, args, seed), f"{library} on {config.name}")


def merge_seeds(worker_results):
    """One result from the processes of the seeds: their runs; the largest peak memory."""
    merged = dict(worker_results[0])
    merged["runs"] = [run for result in worker_results for run in result["runs"]]
    peaks = [result["peak_mb"] for result in worker_results]
    merged["peak_mb"] = None if None in peaks else max(peaks)
    return merged


def summarize(worker_result):
    """Median times, mean accuracy and peak memory of one library on one configuration."""
    runs = worker_result["runs"]
    accuracies = [run["accuracy"] for run in runs]
    return {
        "fit_s": statistics.median(run["fit_s"] for run in runs),
        "predict_s": statistics.median(run["predict_s"] for run in runs),
        "accuracy": statistics.fmean(accuracies),
        "accuracy_std": statistics.pstdev(accuracies),
        "peak_mb": worker_result["peak_mb"],
        "baseline_mb": worker_result["baseline_mb"],
        "warm_up_mb": worker_result["warm_up_mb"],
        "fit_times": [run["fit_s"] for run in runs],
        "predict_times": [run["predict_s"] for run in runs],
        "accuracies": accuracies,
        "n_iter": [run["n_iter"] for run in runs],
        "output_shape": runs[0]["output_shape"],
        "spike_matmul_dtype": runs[0].get("spike_matmul_dtype"),
        "torch_threads": worker_result["torch_threads"],
    }


def ratios(results):
    """snnTorch / pynmsnn for fit and predict times; accuracy pynmsnn minus snnTorch."""
    if "pynmsnn" not in results or "snntorch" not in results:
        return None
    ours, theirs = results["pynmsnn"], results["snntorch"]
    return {
        "fit_snntorch_over_pynmsnn": theirs["fit_s"] / ours["fit_s"],
        "predict_snntorch_over_pynmsnn": theirs["predict_s"] / ours["predict_s"],
        "accuracy_pynmsnn_minus_snntorch": ours["accuracy"] - theirs["accuracy"],
    }


def layers_label(config, n_features, n_classes):
    return "-".join(map(str, (n_features, *config.hidden_layer_sizes, n_classes)))


def run_benchmark(configs, libraries, args):
    """Measure every (library, configuration) and return the report dict."""
    report_configs = []
    for config in configs:
        settings = resolve_settings(config, args)
        results, shape = {}, None
        for library in libraries:
            print(f"  measuring {LIBRARY_LABELS[library]} on {config.name} ...", file=sys.stderr, flush=True)
            worker_result = merge_seeds(
                [run_in_subprocess(library, config, args, seed) for seed in settings.seeds]
            )
            results[library] = summarize(worker_result)
            shape = worker_result
        report_configs.append({
            "name": config.name,
            "dataset": config.dataset,
            "layers": layers_label(config, shape["n_features"], shape["n_classes"]),
            "hidden_layer_sizes": list(config.hidden_layer_sizes),
            "n_steps": config.n_steps,
            "batch_size": config.batch_size,
            "epochs": settings.epochs,
            "seeds": list(settings.seeds),
            "n_train": shape["n_train"],
            "n_test": shape["n_test"],
            "predict_rows": settings.predict_rows,
            "results": results,
            "ratios": ratios(results),
        })
    return report_configs


# ------------------------------------------------------------------ output
def rst_table(header, rows):
    """An RST simple table (also readable as plain text)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    rule = "  ".join("=" * width for width in widths)
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, line(header), rule, *(line(row) for row in rows), rule])


def _threads(n):
    return f"{n} torch thread{'' if n == 1 else 's'}"


def _fmt(value, pattern):
    return "n/a" if value is None else format(value, pattern)


def results_table(report):
    header = ["config", "layers", "library", "fit (s)", f"predict {report['predict_rows_label']} (s)",
              "accuracy", "peak memory (MB)"]
    rows = []
    for config in report["configs"]:
        for library, result in config["results"].items():
            rows.append([
                config["name"], config["layers"], LIBRARY_LABELS[library],
                _fmt(result["fit_s"], ".2f"), _fmt(result["predict_s"], ".3f"),
                f"{result['accuracy']:.3f}", _fmt(result["peak_mb"], ".0f"),
            ])
    return rst_table(header, rows)


def ratios_table(report):
    header = ["config", "fit snnTorch/pynmsnn", "predict snnTorch/pynmsnn", "accuracy pynmsnn - snnTorch"]
    rows = [
        [config["name"], f"{r['fit_snntorch_over_pynmsnn']:.2f}x",
         f"{r['predict_snntorch_over_pynmsnn']:.2f}x", f"{r['accuracy_pynmsnn_minus_snntorch']:+.3f}"]
        for config in report["configs"] if (r := config["ratios"])
    ]
    return rst_table(header, rows) if rows else ""


def describe(report):
    """The tables with a paragraph on how they were measured (RST)."""
    seeds = ", ".join(map(str, report["seeds"]))
    schedule = "; ".join(
        f"{c['name']}: {c['dataset']} {c['layers']}, n_steps {c['n_steps']}, batch {c['batch_size']}, "
        f"{c['epochs']} epoch{'s' if c['epochs'] != 1 else ''}, {c['n_train']} training rows"
        for c in report["configs"]
    )
    text = [
        f"Measured on a {report['machine']} with {_threads(report['torch_threads'])}, "
        f"by ``{report['command']}``.",
        f"Times are the median over seeds {seeds}, accuracy (on the held-out 25%) the mean; "
        f"predict is timed on {report['predict_rows_label']} rows (median of {PREDICT_REPEATS} calls); "
        "peak memory is the peak resident set above the one after imports, data loading and a "
        "warm-up fit of a tiny network (lazy imports of torch and scikit-learn), the largest over "
        "the fresh processes, one per library, configuration and seed.",
        f"Configurations: {schedule}.",
        *_precision_note(report),
        "",
        results_table(report),
    ]
    if ratios_table(report):
        text += ["", ratios_table(report)]
    return "\n".join(text) + "\n"


def _precision_note(report):
    """A sentence on pynmsnn's low-precision spike matmuls, where it used them."""
    # Only hidden layers after the first are fed by spikes.
    low = [(c["name"], c["results"]["pynmsnn"]["spike_matmul_dtype"]) for c in report["configs"]
           if c["results"].get("pynmsnn", {}).get("spike_matmul_dtype") and len(c["hidden_layer_sizes"]) > 1]
    if not low:
        return []
    names, dtype = ", ".join(name for name, _ in low), low[0][1]
    return [f"In {names}, pynmsnn multiplied spikes in {dtype} (its ``precision='auto'`` on a CPU "
            f"with native {dtype}): spikes are exact in it, the weights are rounded, and weight "
            "gradients and the readout stay float32. snnTorch ran in float32."]


def plot(report, path):
    """Fit time, predict time (log scales) and accuracy per configuration and library."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = report["configs"]
    libraries = [lib for lib in LIBRARIES if any(lib in c["results"] for c in configs)]
    x = np.arange(len(configs))
    width = 0.8 / len(libraries)
    panels = [("fit_s", "fit time (s)", True), ("predict_s", f"predict {report['predict_rows_label']} rows (s)", True),
              ("accuracy", "test accuracy", False)]
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.8))
    for axis, (key, title, log) in zip(axes, panels):
        for i, library in enumerate(libraries):
            values = [c["results"].get(library, {}).get(key, np.nan) for c in configs]
            bars = axis.bar(x + (i - (len(libraries) - 1) / 2) * width, values, width,
                            label=LIBRARY_LABELS[library])
            axis.bar_label(bars, fmt="%.3g" if log else "%.2f", fontsize=7, padding=1)
        axis.set_xticks(x, [c["name"] for c in configs], rotation=10)
        axis.set_title(title)
        if log:
            axis.set_yscale("log")
            axis.margins(y=0.15)
        else:
            axis.set_ylim(0, 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(libraries), frameon=False)
    figure.suptitle(f"pynmsnn vs snnTorch vs MLPClassifier ({report['machine']}, "
                    f"{_threads(report['torch_threads'])})")
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _command_line(argv):
    return " ".join(["python", "benchmarks/bench_engine.py", *map(shlex.quote, argv)])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["all"], choices=[*CONFIGS, "all"],
                        help="configurations to run (default: all)")
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch, seed 0, 2000 predict rows, 4000 synthetic rows")
    parser.add_argument("--epochs", type=int, help="override the epochs of every configuration")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default 0 1 2; 0 with --quick)")
    parser.add_argument("--predict-rows", type=int, help="rows to time predict on (default 10000)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for both torch libraries "
                        "(default: torch's default)")
    parser.add_argument("--snntorch-immediate-reset", action="store_true",
                        help="snnTorch Leaky with reset_delay=False: pynmsnn's forward dynamics, "
                        "reset not detached")
    parser.add_argument("--pynmsnn-precision", choices=["auto", "float32", "bfloat16"],
                        help="SNNClassifier's precision (default: the estimator's default, 'auto', "
                        "which multiplies spikes in bfloat16 on CPUs with native bfloat16)")
    parser.add_argument("--output-dir", type=Path, default=HERE / "results",
                        help="where engine.json and engine.rst go")
    parser.add_argument("--figure", type=Path, default=ROOT / "figures" / "benchmark_engine.png")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile of one epoch")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def selected_configs(names):
    return list(CONFIGS.values()) if "all" in names else [CONFIGS[name] for name in dict.fromkeys(names)]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    configs = selected_configs(args.configs)
    if args.worker:
        result = run_worker(args.worker, configs[0], resolve_settings(configs[0], args))
        print(RESULT_MARKER + json.dumps(result))
        return result

    libraries = list(dict.fromkeys(args.libraries))
    if "snntorch" in libraries and importlib.util.find_spec("snntorch") is None:
        print("snnTorch is not installed, so it is left out; install it with "
              "`pip install snntorch` or `bash setup.sh test,bench`.", file=sys.stderr)
        libraries.remove("snntorch")
    load_before = os.getloadavg()
    if load_before[0] > 0.5 * os.cpu_count():
        print(f"Warning: load average {load_before[0]:.1f} on {os.cpu_count()} cores: other processes "
              "share the CPU, so times are inflated and noisy (worst with several torch threads).",
              file=sys.stderr)
    started = time.perf_counter()
    report_configs = run_benchmark(configs, libraries, args)
    threads = {r["torch_threads"] for c in report_configs for r in c["results"].values()} - {None}
    report = {
        "machine": f"{os.cpu_count()}-core CPU, torch {importlib.metadata.version('torch')}",
        "torch_threads": threads.pop() if len(threads) == 1 else sorted(threads),
        "command": _command_line(argv),
        "timing": "median over seeds",
        "accuracy": "mean over seeds",
        "seeds": report_configs[0]["seeds"],
        "quick": args.quick,
        "snntorch_reset_delay": not args.snntorch_immediate_reset,
        "predict_rows_label": f"{report_configs[0]['predict_rows']:,}",
        "load_average_before": load_before,
        "configs": report_configs,
        "versions": {name: _version(name) for name in ("torch", "snntorch", "scikit-learn", "numpy")},
        "pynmsnn_revision": engine_revision(),
    }
    report["load_average_after"] = os.getloadavg()
    report["benchmark_s"] = time.perf_counter() - started

    report["cold_start"] = measure_cold_start(1 if args.quick else 5)
    text = describe(report) + "\n" + format_cold_start(report["cold_start"]) + "\n"
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "engine.rst").write_text(text)
    plot(report, args.figure)
    if not args.no_profile:
        sys.path.insert(0, str(HERE))
        import profile_engine

        report["profile"] = profile_engine.profile_epoch(repeats=1 if args.quick else 3, threads=args.threads)
        report["profile"]["predict"] = profile_engine.profile_predict(
            repeats=1 if args.quick else 3, threads=args.threads
        )
    (args.output_dir / "engine.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {args.output_dir / 'engine.json'}, {args.output_dir / 'engine.rst'} and {args.figure}; "
          f"load average {load_before[0]:.2f} before, {report['load_average_after'][0]:.2f} after.")
    if not args.no_profile:
        print()
        print(profile_engine.format_note(report["profile"]))
        print(profile_engine.format_predict_note(report["profile"]["predict"]))
    return report


# A fresh interpreter: import pynmsnn, then fit the same small network twice.
# The first fit pays what a fresh process pays once (lazy imports, first
# calls); the difference between the two fits is that overhead.
COLD_START_CODE = """
import json, time, warnings
warnings.simplefilter("ignore")
started = time.perf_counter()
import pynmsnn
imported = time.perf_counter()
from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)
times = []
for _ in range(2):
    begin = time.perf_counter()
    pynmsnn.SNNClassifier((32,), n_steps=5, max_iter=2, tol=0, random_state=0).fit(X[:500], y[:500])
    times.append(time.perf_counter() - begin)
print(json.dumps({"import_s": imported - started, "first_fit_s": times[0], "second_fit_s": times[1]}))
"""


def measure_cold_start(repeats):
    """Median import time of pynmsnn, first and second fit in fresh processes, and the first fit's overhead."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", COLD_START_CODE], capture_output=True, text=True, check=True,
                              cwd=ROOT)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    result = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result["first_fit_overhead_s"] = statistics.median(run["first_fit_s"] - run["second_fit_s"] for run in runs)
    result["runs"] = repeats
    return result


def format_cold_start(result):
    """The cold-start numbers as one plain-text line."""
    return (f"Cold start (a fresh process, median of {result['runs']}): import pynmsnn {result['import_s']:.2f} s; "
            f"a 64-32-10 fit of 500 digits, 5 steps, 2 epochs: {result['first_fit_s']:.2f} s the first time, "
            f"{result['second_fit_s']:.2f} s the second: first-fit overhead "
            f"{result['first_fit_overhead_s']:.2f} s.")


def engine_revision():
    """The commit measured, with ``+modified`` when ``pynmsnn/`` differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        modified = git("status", "--porcelain", "--", "pynmsnn")
    except OSError:
        return None
    return f"{commit}+modified" if commit and modified else commit or None


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
