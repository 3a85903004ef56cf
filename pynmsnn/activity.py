"""What only a spiking model can tell: firing rates, synaptic operations and energy.

A spiking layer does work only when a neuron fires: each spike reaching a
synapse is one *accumulate* (AC, an addition of a weight to a membrane). A
dense network of the same sizes does one *multiply-accumulate* (MAC) per
weight for every sample. Counting both gives the usual first-order energy
comparison of a spiking network with its non-spiking counterpart:

    SNN energy   = ACs x E_AC + (MACs on real-valued inputs) x E_MAC
    dense energy = MACs of an MLP of the same sizes x E_MAC

with per-operation energies for 32-bit floating point in a 45 nm process from
M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014: an add costs 0.9 pJ (:data:`E_AC_PJ`) and a multiply 3.7 pJ, so a
multiply-accumulate costs 4.6 pJ (:data:`E_MAC_PJ`). Only synaptic operations
are counted; neuron updates (leak, bias, threshold), memory traffic and the
readout's time average are not, as in most published comparisons. The
figures are for orientation on general hardware, not a measurement of any
neuromorphic chip: pass your own ``e_ac`` and ``e_mac`` to match one.

This module also holds the checks of firing health run after ``fit`` (a
:class:`FiringHealthWarning` when a hidden layer is silent or saturated), the
initialisation that starts hidden layers near a chosen firing rate
(``init_firing_rate``), and a scorer that trades accuracy against synaptic
operations for ``GridSearchCV``.
"""

import warnings

import numpy as np
import torch

__all__ = [
    "E_AC_PJ",
    "E_MAC_PJ",
    "EnergyDisplay",
    "EnergyScorer",
    "FiringHealthWarning",
    "activity_report",
    "calibrate_firing",
    "check_firing_health",
    "hidden_rates",
    "make_energy_scorer",
]

#: Energy of a 32-bit float add, pJ (Horowitz, ISSCC 2014, 45 nm): one accumulate.
E_AC_PJ = 0.9
#: Energy of a 32-bit float multiply (3.7 pJ) plus add (0.9 pJ), pJ: one multiply-accumulate.
E_MAC_PJ = 4.6  # 3.7 + 0.9, written out so that it prints as 4.6

#: A hidden layer firing less than this (spikes per neuron per step) is silent.
SILENT_RATE = 0.001
#: A hidden layer firing more than this is saturated.
SATURATED_RATE = 0.9
#: Rows of the training data the health check and the initialisation look at.
SAMPLE_ROWS = 512
#: Spike values one recorded chunk may hold per layer (bounds memory).
_CHUNK_VALUES = 2**20

_COLUMNS = [
    "neurons",
    "fan_out",
    "firing_rate",
    "spikes_per_sample",
    "acs_per_sample",
    "macs_per_sample",
    "synops_per_sample",
    "dense_macs_per_sample",
    "snn_energy_nJ",
    "dense_energy_nJ",
]


class FiringHealthWarning(UserWarning):
    """A hidden layer of a fitted spiking network is silent or saturated."""


# ------------------------------------------------------------------ counting
def _spiking_estimator(estimator, X):
    """The spiking estimator inside a search or Pipeline, and ``X`` as it sees it."""
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not hasattr(estimator, "module_"):
        raise TypeError(
            f"Expected a fitted SNNClassifier or SNNRegressor (or a Pipeline or search "
            f"ending in one), got {type(estimator).__name__}; fit it first."
        )
    return estimator, X


def _spike_counts(estimator, X):
    """Spikes per neuron summed over rows and steps, per layer; input events; rows."""
    inputs = estimator.transform_inputs(X)
    module = estimator.module_
    engine = estimator.compute_engine()
    device = estimator.compute_device
    module.eval()
    widths = [layer.out_features for layer in module.layers]
    rows = max(1, _CHUNK_VALUES // (module.n_steps * max(widths + [inputs.shape[1]])))
    counts = [np.zeros(width) for width in widths]
    input_events = 0.0
    with torch.inference_mode():
        for start in range(0, inputs.shape[0], rows):
            chunk = torch.as_tensor(inputs[start : start + rows], dtype=torch.float32, device=device)
            record = module.forward_reference(chunk, record=True, engine=engine)
            input_events += float(record.input.sum())
            for count, spikes in zip(counts, record.spikes):
                count += spikes.sum((0, 1)).double().cpu().numpy()
    return counts, input_events, inputs.shape[0]


def activity_report(estimator, X, *, e_ac=E_AC_PJ, e_mac=E_MAC_PJ):
    """Firing rates, synaptic operations and energy per layer for the rows ``X``.

    Each row of the table counts the work done on the synapses *leaving* a
    layer, per sample (a row of ``X``):

    * ``input``: the encoded input. For the 'current', 'noisy' and 'poisson'
      encoders the network sees a constant real-valued current at predict
      time, so the first layer is a dense product computed once per sample:
      ``n_inputs x width`` MACs. For 'latency' the input is spikes: each input
      event is ``width`` ACs.
    * ``hidden l``: each spike reaches ``fan_out`` synapses (the width of the
      next layer), one AC each.
    * ``output``: its synapses lead nowhere (fan-out 0); it fires only with
      ``readout='spikes'``.
    * ``total``: sums (the firing rate is that of all hidden neurons together).

    ``dense_macs_per_sample`` is what an MLP of the same sizes does once per
    sample (``in x out`` per layer), the baseline of the energy comparison.

    Parameters
    ----------
    estimator : fitted SNNClassifier or SNNRegressor, or a Pipeline or search ending in one
        The model.
    X : {array-like, DataFrame} of shape (n_samples, n_features)
        Rows to run (simulated in chunks, so any number works).
    e_ac : float, default=E_AC_PJ (0.9)
        Energy of one accumulate in pJ (32-bit float add, Horowitz, ISSCC 2014, 45 nm).
    e_mac : float, default=E_MAC_PJ (4.6)
        Energy of one multiply-accumulate in pJ (3.7 pJ multiply + 0.9 pJ add).

    Returns
    -------
    pandas.DataFrame
        Indexed by layer ('input', 'hidden 1', ..., 'output', 'total'), with
        columns ``neurons``, ``fan_out``, ``firing_rate`` (spikes per neuron
        per step), ``spikes_per_sample``, ``acs_per_sample``,
        ``macs_per_sample``, ``synops_per_sample`` (ACs + MACs),
        ``dense_macs_per_sample``, ``snn_energy_nJ`` and ``dense_energy_nJ``
        (per sample). ``attrs`` holds ``e_ac_pJ``, ``e_mac_pJ``, ``n_steps``,
        ``n_samples`` and ``input_ops`` ('MAC' or 'AC').

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.activity import activity_report
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> report = activity_report(clf, X)
    >>> list(report.index)
    ['input', 'hidden 1', 'output', 'total']
    >>> int(report.loc["total", "dense_macs_per_sample"])  # 4 x 16 + 16 x 3
    112
    """
    import pandas as pd

    estimator, X = _spiking_estimator(estimator, X)
    counts, input_events, n_samples = _spike_counts(estimator, X)
    module = estimator.module_
    n_steps = module.n_steps
    names = [f"hidden {i + 1}" for i in range(len(module.hidden))] + ["output"]
    widths = [layer.out_features for layer in module.layers]
    n_inputs = module.layers[0].in_features
    fan_outs = widths + [0]  # the synapses leaving the input, each layer, the output
    input_is_spikes = module.encoder == "latency"  # the others are currents at predict time

    rows = []
    input_spikes = input_events / n_samples if input_is_spikes else np.nan
    rows.append(_layer_row(n_inputs, fan_outs[0], input_spikes, n_steps, macs=not input_is_spikes))
    readout_fires = getattr(module, "readout", "membrane") == "spikes"
    for i, (count, width) in enumerate(zip(counts, widths)):
        fires = i < len(module.hidden) or readout_fires
        spikes = count.sum() / n_samples if fires else np.nan
        rows.append(_layer_row(width, fan_outs[i + 1], spikes, n_steps))
    table = pd.DataFrame(rows, index=["input", *names], columns=_COLUMNS[:-2])
    table.loc["total"] = _total_row(table, names, n_steps, readout_fires)
    table["snn_energy_nJ"] = (table["acs_per_sample"] * e_ac + table["macs_per_sample"] * e_mac) / 1000.0
    table["dense_energy_nJ"] = table["dense_macs_per_sample"] * e_mac / 1000.0
    table = table.astype({"neurons": int, "fan_out": int, "dense_macs_per_sample": int})
    table.attrs.update(
        e_ac_pJ=float(e_ac), e_mac_pJ=float(e_mac), n_steps=n_steps, n_samples=int(n_samples),
        input_ops="AC" if input_is_spikes else "MAC",
    )
    return table


def _layer_row(neurons, fan_out, spikes_per_sample, n_steps, macs=False):
    """One row of the report; ``macs``: the layer sends real values, not spikes."""
    rate = spikes_per_sample / (neurons * n_steps)
    acs = 0.0 if macs or np.isnan(spikes_per_sample) else spikes_per_sample * fan_out
    mac_count = float(neurons * fan_out) if macs else 0.0
    return [neurons, fan_out, rate, spikes_per_sample, acs, mac_count, acs + mac_count, neurons * fan_out]


def _total_row(table, names, n_steps, readout_fires):
    hidden = table.loc[names[:-1]]
    spiking = table.loc[names if readout_fires else names[:-1]]
    hidden_neurons = hidden["neurons"].sum()
    rate = hidden["spikes_per_sample"].sum() / (hidden_neurons * n_steps) if hidden_neurons else np.nan
    return [
        table.loc[names, "neurons"].sum(),
        table["fan_out"].sum(),
        rate,
        spiking["spikes_per_sample"].sum(),
        table["acs_per_sample"].sum(),
        table["macs_per_sample"].sum(),
        table["synops_per_sample"].sum(),
        table["dense_macs_per_sample"].sum(),
    ]


# ------------------------------------------------------------------- scoring
class EnergyScorer:
    """Score = ``estimator.score(X, y) - weight * synops / dense MACs``.

    Made by :func:`make_energy_scorer`; a class rather than a closure so that
    it pickles (``GridSearchCV(n_jobs=...)`` sends scorers to workers).

    Parameters
    ----------
    weight : float
        How much one dense network's worth of operations costs, in units of
        the score (accuracy for a classifier, R^2 for a regressor).
    """

    def __init__(self, weight):
        self.weight = weight

    def __call__(self, estimator, X, y):
        total = activity_report(estimator, X).loc["total"]
        relative_ops = total["synops_per_sample"] / total["dense_macs_per_sample"]
        return float(estimator.score(X, y) - self.weight * relative_ops)

    def __repr__(self):
        return f"make_energy_scorer(weight={self.weight!r})"


def make_energy_scorer(weight=0.1):
    """A scorer that weighs accuracy against synaptic operations.

    The score of a fitted estimator on ``(X, y)`` is::

        estimator.score(X, y) - weight * synops_per_sample / dense_macs_per_sample

    where both counts come from :func:`activity_report` on ``X``: the spiking
    network's synaptic operations relative to those of a dense MLP of the
    same sizes. With ``weight=0.1`` a model that does as many operations as
    the MLP pays 0.1 of accuracy.

    Parameters
    ----------
    weight : float, default=0.1
        Price, in units of the score, of one dense network's worth of operations.

    Returns
    -------
    EnergyScorer
        A callable ``(estimator, X, y) -> float`` for ``GridSearchCV(scoring=...)``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.activity import make_energy_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(
    ...     SNNClassifier((16,), n_steps=6, max_iter=10, random_state=0),
    ...     {"spike_penalty": [0.0, 1.0]}, scoring=make_energy_scorer(0.1), cv=2,
    ... ).fit(X, y)
    >>> sorted(search.best_params_)
    ['spike_penalty']
    """
    return EnergyScorer(weight)


# ------------------------------------------------------------ firing health
def _sample_rows(inputs, n_rows=SAMPLE_ROWS):
    """At most ``n_rows`` evenly spaced rows of ``inputs`` (deterministic)."""
    if inputs.shape[0] <= n_rows:
        return inputs
    index = np.linspace(0, inputs.shape[0] - 1, n_rows).round().astype(np.int64)
    return inputs[torch.as_tensor(index, device=inputs.device) if torch.is_tensor(inputs) else index]


def hidden_rates(estimator, inputs):
    """Mean firing rate of each hidden layer on scaled rows (one inference forward)."""
    module = estimator.module_
    was_training = module.training
    module.eval()
    engine = estimator.compute_engine()
    with torch.inference_mode():
        rows = torch.as_tensor(inputs, dtype=torch.float32, device=estimator.compute_device)
        _, rates = module.forward_with_rates(rows, engine=engine)
    module.train(was_training)
    return rates.double().cpu().numpy()


def check_firing_health(estimator, inputs):
    """Warn when a hidden layer is silent or saturated on (a sample of) ``inputs``.

    Runs one inference forward on at most :data:`SAMPLE_ROWS` evenly spaced
    rows. A layer is silent below :data:`SILENT_RATE` spikes per neuron per
    step and saturated above :data:`SATURATED_RATE`.

    Parameters
    ----------
    estimator : fitted SNNClassifier or SNNRegressor
        The model.
    inputs : array or tensor of shape (n_samples, n_inputs)
        Rows already scaled by the estimator (the training data in ``fit``).

    Returns
    -------
    dict of str to float
        The firing rate of each hidden layer.
    """
    rates = hidden_rates(estimator, _sample_rows(inputs))
    name = type(estimator).__name__
    for i, rate in enumerate(rates):
        layer = f"hidden {i + 1}"
        if rate < SILENT_RATE:
            warnings.warn(
                f"{name}: hidden layer {layer!r} is silent on the training data (firing rate "
                f"{rate:.4f} < {SILENT_RATE}): the layers after it see no spikes. Lower "
                f"threshold (now {estimator.threshold}), scale the inputs up, raise "
                "learning_rate_init, lower spike_penalty, or set init_firing_rate=0.1.",
                FiringHealthWarning,
                stacklevel=4,  # the caller of fit
            )
        elif rate > SATURATED_RATE:
            warnings.warn(
                f"{name}: hidden layer {layer!r} is saturated on the training data (firing "
                f"rate {rate:.3f} > {SATURATED_RATE}): its neurons fire at almost every step "
                f"and carry little information. Raise threshold (now {estimator.threshold}), "
                "add refractory_penalty or spike_penalty, or set init_firing_rate=0.1.",
                FiringHealthWarning,
                stacklevel=4,  # the caller of fit
            )
    return {f"hidden {i + 1}": float(rate) for i, rate in enumerate(rates)}


# ------------------------------------------------------------ initialisation
@torch.no_grad()
def calibrate_firing(estimator, inputs, rate=None, n_iter=30):
    """Shift each hidden neuron's bias so that it starts firing near ``rate``.

    Layer by layer, on at most :data:`SAMPLE_ROWS` rows of ``inputs``, each
    neuron's bias is moved by the shift found by bisection that makes its
    own firing rate (spikes per step over the rows) closest to ``rate``; the
    next layer is calibrated on the spikes of the calibrated one. A neuron's
    rate does not fall as its input current rises, so bisection finds it.

    Parameters
    ----------
    estimator : SNNClassifier or SNNRegressor with a built ``module_``
        The model (its weights are changed in place).
    inputs : array or tensor of shape (n_samples, n_inputs)
        Rows already scaled by the estimator.
    rate : float in (0, 1), default=None
        Target rate; ``estimator.init_firing_rate`` when None, and nothing is
        done when that is None too.
    n_iter : int, default=30
        Bisection steps.

    Returns
    -------
    list of float
        Mean firing rate of each hidden layer after calibration (empty when
        nothing was done).
    """
    rate = getattr(estimator, "init_firing_rate", None) if rate is None else rate
    if rate is None:
        return []
    rows = torch.as_tensor(_sample_rows(inputs), dtype=torch.float32, device=estimator.compute_device)
    return estimator.module_.calibrate_firing(rows, rate, n_iter)


# ------------------------------------------------------------------- figure
class EnergyDisplay:
    """Synaptic operations per layer and energy per sample: spiking vs dense.

    Parameters
    ----------
    report : pandas.DataFrame
        The table of :func:`activity_report`.
    title : str, default=None
        Title of the figure.

    Attributes
    ----------
    axes_ : array of 2 matplotlib Axes
        Operations per layer (log scale); energy per sample.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.activity import EnergyDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> display = EnergyDisplay.from_estimator(clf, X)
    >>> len(display.axes_)
    2
    """

    def __init__(self, report, *, title=None):
        self.report = report
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, X, *, e_ac=E_AC_PJ, e_mac=E_MAC_PJ, figure=None):
        """Run :func:`activity_report` on ``X`` and draw it.

        Parameters
        ----------
        estimator : fitted SNNClassifier or SNNRegressor, or a Pipeline or search ending in one
            The model.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Rows to run.
        e_ac, e_mac : float
            Energy of an accumulate and of a multiply-accumulate, pJ.
        figure : matplotlib Figure, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        EnergyDisplay
        """
        report = activity_report(estimator, X, e_ac=e_ac, e_mac=e_mac)
        name = type(_spiking_estimator(estimator, X)[0]).__name__
        return cls(report, title=f"{name}: work per sample over {report.attrs['n_samples']} rows").plot(figure)

    def plot(self, figure=None):
        """Draw the two panels.

        Parameters
        ----------
        figure : matplotlib Figure, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        EnergyDisplay
            This display.
        """
        import matplotlib.pyplot as plt

        if figure is None:
            figure = plt.figure(figsize=(9, 3.6), layout="constrained")
        ops_ax, energy_ax = figure.subplots(1, 2, width_ratios=[2, 1])
        layers = self.report.drop(index="total")
        layers = layers[layers["fan_out"] > 0]  # the output's synapses lead nowhere
        positions = np.arange(len(layers))
        ops_ax.bar(positions - 0.2, layers["acs_per_sample"], 0.4, color="tab:blue", label="SNN accumulates")
        ops_ax.bar(positions - 0.2, layers["macs_per_sample"], 0.4, bottom=layers["acs_per_sample"],
                   color="tab:purple", label="SNN multiply-accumulates")
        ops_ax.bar(positions + 0.2, layers["dense_macs_per_sample"], 0.4, color="0.6", label="dense MLP MACs")
        ops_ax.set_xticks(positions, [f"{name} ->" for name in layers.index])
        ops_ax.set_yscale("log")
        positive = layers[["acs_per_sample", "macs_per_sample", "dense_macs_per_sample"]].to_numpy()
        positive = positive[positive > 0]
        if positive.size:  # bars start at 0, which a log axis cannot show: start below the smallest
            ops_ax.set_ylim(bottom=positive.min() / 3)
        ops_ax.set_ylabel("operations per sample")
        ops_ax.legend(fontsize="small")
        total = self.report.loc["total"]
        energies = [total["snn_energy_nJ"], total["dense_energy_nJ"]]
        bars = energy_ax.bar([0, 1], energies, color=["tab:blue", "0.6"])
        energy_ax.bar_label(bars, fmt="%.3g")
        energy_ax.set_xticks([0, 1], ["SNN", "dense MLP"])
        attrs = self.report.attrs
        energy_ax.set_ylabel(f"nJ per sample (AC {attrs['e_ac_pJ']} pJ, MAC {attrs['e_mac_pJ']} pJ)")
        if self.title:
            figure.suptitle(self.title)
        self.axes_, self.figure_ = np.array([ops_ax, energy_ax]), figure
        return self
