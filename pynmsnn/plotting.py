"""Figures of a fitted spiking estimator, in the style of scikit-learn's displays.

Each display is built from a fitted estimator with a ``from_estimator``
classmethod, which computes what to draw and calls :meth:`plot`; ``plot``
draws into new or given axes and returns the display. A drawn display holds
``figure_``, ``ax_`` (or ``axes_`` when it has several panels) and the data
it drew, so that a figure can be restyled, combined with others or checked.

=========================  =================================================
display                    what it shows
=========================  =================================================
:class:`TrainingCurveDisplay`  loss per epoch; validation score per epoch
:class:`SpikeRasterDisplay`    spikes of every layer for one row, over time
:class:`MembraneDisplay`       membrane traces of a few neurons and the threshold
:class:`FiringRateDisplay`     firing rate of each layer and of its neurons
:class:`PredictionDisplay`     predicted against true targets (regression)
:class:`ResultDisplay`         confusion matrix or predicted-vs-true, by estimator
=========================  =================================================

The estimator may be an ``SNNClassifier`` or ``SNNRegressor``, a ``Pipeline``
that ends in one, or a fitted search (``GridSearchCV``) over either.

matplotlib is imported only when a figure is drawn, so importing this module
costs nothing for code that never plots.
"""

import numpy as np

__all__ = [
    "FiringRateDisplay",
    "MembraneDisplay",
    "PredictionDisplay",
    "ResultDisplay",
    "SpikeRasterDisplay",
    "TrainingCurveDisplay",
]

INPUT_COLOR = "0.25"
LAYER_COLORS = ("tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown")
OUTPUT_COLOR = "tab:red"
MAX_DEFAULT_NEURONS = 5
MAX_TICK_LABELS = 40


# --------------------------------------------------------------------- helpers
def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _new_axes(ax, figsize):
    """``ax`` itself, or a new figure's single axes."""
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def _spiking_estimator(estimator, X=None):
    """The spiking estimator inside ``estimator`` and ``X`` as that estimator sees it.

    A fitted search is replaced by its best estimator; a Pipeline by its last
    step, with ``X`` run through the steps before it.
    """
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):
        if X is not None:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not hasattr(estimator, "simulate"):
        raise TypeError(
            f"Expected a fitted SNNClassifier or SNNRegressor (or a Pipeline or search "
            f"ending in one), got {type(estimator).__name__}."
        )
    return estimator, X


def _take_row(X, row):
    """Row ``row`` of ``X`` as a one-row table of the same kind."""
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if not -n_rows <= row < n_rows:
        raise ValueError(f"row={row} is out of range for X with {n_rows} rows; pick 0 to {n_rows - 1}.")
    row = row % n_rows
    if hasattr(X, "iloc"):
        return X.iloc[row : row + 1]
    return np.asarray(X)[row : row + 1]


def _output_names(estimator):
    """A name for each output neuron: the class labels, or the targets."""
    if hasattr(estimator, "classes_"):
        return [str(label) for label in estimator.classes_]
    n_outputs = getattr(estimator, "n_outputs_", 1)
    return ["prediction"] if n_outputs == 1 else [f"y{j}" for j in range(n_outputs)]


def _readout(estimator):
    return getattr(estimator.module_, "readout", "membrane")


def _layer_index(record, layer):
    """Index into ``record.spikes`` of a layer given by position or name."""
    names = list(record.layer_names)
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"layer={layer!r} is not a layer of this network; choose one of {names}.")
        return names.index(layer)
    if not -len(names) <= layer < len(names):
        raise ValueError(
            f"layer={layer} is out of range: the network has {len(names)} layers {names}; "
            f"pick 0 to {len(names) - 1} or a name."
        )
    return layer % len(names)


def _is_binary(values):
    return bool(np.all((values == 0) | (values == 1)))


def _estimator_name(estimator):
    return type(estimator).__name__


# --------------------------------------------------------------- training curve
class TrainingCurveDisplay:
    """Training loss per epoch and, with early stopping, the validation score.

    Parameters
    ----------
    loss_curve : list of float
        Mean training loss of each epoch.
    validation_scores : list of float, default=None
        Validation score of each epoch, drawn on a second y axis.
    score_name : str, default='validation score'
        Label of the validation score.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    loss_line_ : matplotlib Line2D
        The loss curve.
    score_line_ : matplotlib Line2D or None
        The validation score curve.
    ax_ : matplotlib Axes
        Axes of the loss.
    score_ax_ : matplotlib Axes or None
        Second axes of the validation score.
    figure_ : matplotlib Figure
        Figure holding the axes.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.plotting import TrainingCurveDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, early_stopping=True, random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(clf)
    >>> len(display.loss_line_.get_ydata()) == clf.n_iter_
    True
    """

    def __init__(self, loss_curve, validation_scores=None, *, score_name="validation score",
                 estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.score_name = score_name
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Draw the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : fitted SNNClassifier or SNNRegressor, or a Pipeline ending in one
            The model.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        TrainingCurveDisplay
        """
        snn, _ = _spiking_estimator(estimator)
        if not hasattr(snn, "loss_curve_"):
            raise ValueError(f"This {_estimator_name(snn)} is not fitted yet; call fit before plotting.")
        score_name = "validation accuracy" if hasattr(snn, "classes_") else "validation R²"
        display = cls(list(snn.loss_curve_), snn.validation_scores_, score_name=score_name,
                      estimator_name=_estimator_name(snn))
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        TrainingCurveDisplay
            This display.
        """
        ax = _new_axes(ax, figsize=(6, 3.5))
        epochs = np.arange(1, len(self.loss_curve) + 1)
        (self.loss_line_,) = ax.plot(epochs, self.loss_curve, color="tab:blue", label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss", color="tab:blue")
        lines = [self.loss_line_]
        self.score_ax_ = self.score_line_ = None
        if self.validation_scores:
            # A second axis: the loss and the score live on different scales.
            self.score_ax_ = ax.twinx()
            (self.score_line_,) = self.score_ax_.plot(
                epochs[: len(self.validation_scores)], self.validation_scores,
                color="tab:orange", label=self.score_name,
            )
            self.score_ax_.set_ylabel(self.score_name, color="tab:orange")
            lines.append(self.score_line_)
        ax.legend(lines, [line.get_label() for line in lines], loc="center right", frameon=False)
        title = "Training curve" if self.estimator_name is None else f"{self.estimator_name}: training"
        ax.set_title(title)
        self.ax_, self.figure_ = ax, ax.figure
        return self


# ------------------------------------------------------------------ spike raster
class SpikeRasterDisplay:
    """Activity of several layers over time: spike rasters, or heatmaps of graded values.

    A raster panel has one tick per spike; a heatmap panel shows graded values
    (a constant-current input, a membrane readout) with a colour bar.

    Parameters
    ----------
    activity : list of arrays of shape (n_steps, n_units)
        What each panel shows.
    panel_names : list of str
        Title of each panel.
    unit_names : list of (list of str or None), default=None
        Tick labels of each panel's units; None numbers them.
    value_names : list of str, default=None
        Colour-bar label of each heatmap panel ('value' when not given).
    kinds : list of {'raster', 'heatmap'}, default=None
        How to draw each panel; when None, a panel of only 0s and 1s is a
        raster and any other a heatmap.
    title : str, default=None
        Title of the figure.

    Attributes
    ----------
    rasters_ : list of (matplotlib LineCollection or None)
        One tick per spike for each raster panel, None for a heatmap panel.
    images_ : list of (matplotlib AxesImage or None)
        The heatmap of each heatmap panel, None for a raster panel.
    axes_ : list of matplotlib Axes
        One per panel, top to bottom.
    figure_ : matplotlib Figure or SubFigure
        Where the panels are.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.plotting import SpikeRasterDisplay
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> display = SpikeRasterDisplay.from_estimator(clf, X, row=0)
    >>> [ax.get_title(loc="left") for ax in display.axes_][0]
    'input'
    """

    def __init__(self, activity, panel_names, *, unit_names=None, value_names=None, kinds=None,
                 title=None):
        self.activity = activity
        self.panel_names = panel_names
        self.unit_names = unit_names
        self.value_names = value_names
        self.kinds = kinds
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, X, *, row=0, layers=None, figure=None):
        """Simulate one row of ``X`` and draw the activity of each layer.

        Parameters
        ----------
        estimator : fitted SNNClassifier or SNNRegressor, or a Pipeline ending in one
            The model.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data; only row ``row`` is simulated.
        row : int, default=0
            Position of the row in ``X``.
        layers : list of (str or int), default=None
            Which panels, by name ('input', 'hidden 1', ..., 'output') or by
            position in that list; all of them when None.
        figure : matplotlib Figure or SubFigure, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        SpikeRasterDisplay
        """
        snn, X = _spiking_estimator(estimator, X)
        record = snn.simulate(_take_row(X, row))
        keys = ["input", *record.layer_names]
        names = list(keys)
        activity = [record.input[:, 0], *(spikes[:, 0] for spikes in record.spikes)]
        value_names = ["input current"] + ["membrane"] * len(record.spikes)
        # Only the latency encoder feeds spikes at predict time; the others feed a current.
        input_kind = "raster" if snn.module_.encoder == "latency" else "heatmap"
        kinds = [input_kind] + ["raster"] * len(record.spikes)
        if _readout(snn) == "membrane":
            # A membrane readout never fires: show what it integrates instead.
            activity[-1] = record.membranes[-1][:, 0]
            names[-1] = "output (membrane readout)"
            kinds[-1] = "heatmap"
        unit_names = [list(record.input_names)] + [None] * (len(record.spikes) - 1) + [_output_names(snn)]
        chosen = range(len(names)) if layers is None else [_panel_index(keys, layer) for layer in layers]
        display = cls(
            [activity[i] for i in chosen], [names[i] for i in chosen],
            unit_names=[unit_names[i] for i in chosen], value_names=[value_names[i] for i in chosen],
            kinds=[kinds[i] for i in chosen], title=f"{_estimator_name(snn)}: activity of row {row}",
        )
        return display.plot(figure=figure)

    def plot(self, figure=None):
        """Draw one panel per entry of ``activity``, sharing the time axis.

        Parameters
        ----------
        figure : matplotlib Figure or SubFigure, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        SpikeRasterDisplay
            This display.
        """
        widths = [np.asarray(a).shape[1] for a in self.activity]
        # Panel height grows with its number of units, within bounds; a panel with
        # a named tick per unit needs a line of text per unit, a numbered one less.
        named = [bool(self.unit_names and self.unit_names[i]) for i in range(len(widths))]
        heights = [float(np.clip(w, 2, MAX_TICK_LABELS) if has_names else np.clip(w, 3, 20))
                   for w, has_names in zip(widths, named)]
        if figure is None:
            figure = _pyplot().figure(figsize=(8, 1.2 + 0.15 * sum(heights) + 0.4 * len(widths)),
                                      layout="constrained")
        grid = figure.add_gridspec(len(widths), 2, height_ratios=heights, width_ratios=[40, 1])
        self.axes_, self.rasters_, self.images_ = [], [], []
        for i, values in enumerate(self.activity):
            ax = figure.add_subplot(grid[i, 0], sharex=self.axes_[0] if self.axes_ else None)
            self._draw_panel(ax, figure.add_subplot(grid[i, 1]), i, np.asarray(values, dtype=float))
            self.axes_.append(ax)
        from matplotlib.ticker import MaxNLocator

        self.axes_[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in self.axes_[:-1]:
            ax.tick_params(labelbottom=False)
        self.axes_[-1].set_xlabel("time step")
        if self.title:
            figure.suptitle(self.title)
        self.figure_ = figure
        return self

    def _draw_panel(self, ax, colorbar_ax, i, values):
        n_steps, n_units = values.shape
        name = self.panel_names[i]
        kind = self.kinds[i] if self.kinds else ("raster" if _is_binary(values) else "heatmap")
        if kind not in ("raster", "heatmap"):
            raise ValueError(f"kinds[{i}]={kind!r}; use 'raster' or 'heatmap'.")
        if kind == "raster":
            raster = _draw_raster(ax, values, _panel_color(name))
            colorbar_ax.set_axis_off()
            self.rasters_.append(raster)
            self.images_.append(None)
            n_spikes = int(values.sum())
            ax.set_title(f"{name}: {n_spikes} spike{'' if n_spikes == 1 else 's'}", loc="left",
                         fontsize="medium")
        else:
            # Scaled inputs live in [0, 1]: a fixed colour scale makes panels comparable.
            limits = dict(vmin=0.0, vmax=max(1.0, values.max())) if name.startswith("input") else {}
            image = ax.imshow(values.T, aspect="auto", interpolation="nearest", cmap=_panel_cmap(name),
                              extent=(-0.5, n_steps - 0.5, n_units - 0.5, -0.5), **limits)
            value_name = self.value_names[i] if self.value_names else "value"
            ax.figure.colorbar(image, cax=colorbar_ax, label=value_name)
            self.rasters_.append(None)
            self.images_.append(image)
            ax.set_title(name, loc="left", fontsize="medium")
        ax.set_xlim(-0.5, n_steps - 0.5)
        ax.set_ylim(n_units - 0.5, -0.5)  # unit 0 on top, as in the heatmaps
        names = self.unit_names[i] if self.unit_names else None
        _label_units(ax, n_units, names)


def _panel_index(names, layer):
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"layers contains {layer!r}, not one of {names}.")
        return names.index(layer)
    if not -len(names) <= layer < len(names):
        raise ValueError(f"layers contains {layer}, out of range for the panels {names}.")
    return layer % len(names)


def _panel_color(name):
    if name.startswith("input"):
        return INPUT_COLOR
    if name.startswith("output"):
        return OUTPUT_COLOR
    number = int(name.split()[-1]) if name.split()[-1].isdigit() else 1
    return LAYER_COLORS[(number - 1) % len(LAYER_COLORS)]


def _panel_cmap(name):
    return "Greys" if name.startswith("input") else "viridis"


def _draw_raster(ax, spikes, color):
    """One short vertical tick per spike at (time step, unit)."""
    from matplotlib.collections import LineCollection

    steps, units = np.nonzero(spikes)
    segments = [[(t, u - 0.4), (t, u + 0.4)] for t, u in zip(steps, units)]
    raster = LineCollection(segments, colors=color, linewidths=2.5)
    ax.add_collection(raster)
    return raster


def _label_units(ax, n_units, names):
    """Tick labels: the given names, or unit numbers."""
    from matplotlib.ticker import MaxNLocator

    if names is not None and n_units <= MAX_TICK_LABELS:
        ax.set_yticks(range(n_units), names, fontsize="small")
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.set_ylabel("neuron", fontsize="small")


# ---------------------------------------------------------------------- membrane
class MembraneDisplay:
    """Membrane potential of a few neurons over time, with the firing threshold.

    The membrane is recorded after integration and before the reset, so a
    neuron fires at each step where its trace reaches the threshold; those
    steps are marked with dots.

    Parameters
    ----------
    membranes : array of shape (n_steps, n_neurons)
        Traces to draw.
    spikes : array of shape (n_steps, n_neurons), default=None
        Spikes of the same neurons, marked on the traces.
    threshold : float, default=None
        Drawn as a dashed horizontal line.
    neuron_names : list of str, default=None
        Legend entries.
    title : str, default=None
        Title of the axes.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        One trace per neuron.
    threshold_line_ : matplotlib Line2D or None
        The threshold.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.plotting import MembraneDisplay
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> display = MembraneDisplay.from_estimator(clf, X, layer="hidden 1", neurons=[0, 3])
    >>> len(display.lines_)
    2
    """

    def __init__(self, membranes, *, spikes=None, threshold=None, neuron_names=None, title=None):
        self.membranes = membranes
        self.spikes = spikes
        self.threshold = threshold
        self.neuron_names = neuron_names
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, X, *, layer=0, neurons=None, row=0, ax=None):
        """Simulate one row of ``X`` and draw membrane traces of one layer.

        Parameters
        ----------
        estimator : fitted SNNClassifier or SNNRegressor, or a Pipeline ending in one
            The model.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data; only row ``row`` is simulated.
        layer : int or str, default=0
            Position in ``record.layer_names`` (0 is the first hidden layer,
            -1 the output) or the name ('hidden 1', ..., 'output').
        neurons : list of int, default=None
            Which neurons; when None, the five that fire most on this row
            (then those whose membrane rises highest).
        row : int, default=0
            Position of the row in ``X``.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        MembraneDisplay
        """
        snn, X = _spiking_estimator(estimator, X)
        record = snn.simulate(_take_row(X, row))
        index = _layer_index(record, layer)
        membranes = record.membranes[index][:, 0]
        spikes = record.spikes[index][:, 0]
        neurons = _choose_neurons(membranes, spikes, neurons, record.layer_names[index])
        is_output = index == len(record.layer_names) - 1
        fires = not (is_output and _readout(snn) == "membrane")
        if is_output:
            names = [f"output {_output_names(snn)[j]}" for j in neurons]
        else:
            names = [f"neuron {j}" for j in neurons]
        display = cls(
            membranes[:, neurons], spikes=spikes[:, neurons] if fires else None,
            threshold=record.threshold if fires else None, neuron_names=names,
            title=f"{_estimator_name(snn)}: {record.layer_names[index]}, row {row}",
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the traces.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        MembraneDisplay
            This display.
        """
        ax = _new_axes(ax, figsize=(6, 3.5))
        membranes = np.asarray(self.membranes, dtype=float)
        steps = np.arange(membranes.shape[0])
        names = self.neuron_names or [f"neuron {j}" for j in range(membranes.shape[1])]
        self.lines_ = []
        for j, name in enumerate(names):
            (line,) = ax.plot(steps, membranes[:, j], marker=".", markersize=4, label=name)
            self.lines_.append(line)
            if self.spikes is not None:
                fired = np.asarray(self.spikes)[:, j] > 0
                ax.plot(steps[fired], membranes[fired, j], "o", color=line.get_color(), markersize=7)
        self.threshold_line_ = None
        if self.threshold is not None:
            self.threshold_line_ = ax.axhline(self.threshold, color="black", linestyle="--",
                                              linewidth=1, label="threshold")
        ax.set_xlabel("time step")
        ax.set_ylabel("membrane potential")
        ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
        if self.title:
            ax.set_title(self.title)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _choose_neurons(membranes, spikes, neurons, layer_name):
    width = membranes.shape[1]
    if neurons is None:
        # Most spikes first, then the highest membrane: the neurons worth seeing.
        order = np.lexsort((-membranes.max(axis=0), -spikes.sum(axis=0)))
        return sorted(order[:MAX_DEFAULT_NEURONS].tolist())
    neurons = [int(j) for j in np.atleast_1d(neurons)]
    bad = [j for j in neurons if not 0 <= j < width]
    if bad:
        raise ValueError(f"neurons {bad} do not exist in layer {layer_name!r} of {width} neurons; "
                         f"pick from 0 to {width - 1}.")
    return neurons


# ------------------------------------------------------------------- firing rate
class FiringRateDisplay:
    """Firing rate of each spiking layer: the layer's mean as a bar, each neuron as a dot.

    A rate is spikes per neuron per time step, averaged over the rows of ``X``
    (0: silent; 1: fires at every step).

    Parameters
    ----------
    rates : dict of str to array of shape (n_neurons,)
        Per-neuron firing rate of each layer.
    title : str, default=None
        Title of the axes.

    Attributes
    ----------
    bars_ : matplotlib BarContainer
        One bar per layer, its height the layer's mean rate.
    points_ : list of matplotlib PathCollection
        The per-neuron rates of each layer.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.plotting import FiringRateDisplay
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> display = FiringRateDisplay.from_estimator(clf, X)
    >>> list(display.rates)
    ['hidden 1']
    """

    def __init__(self, rates, *, title=None):
        self.rates = rates
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, X, *, ax=None):
        """Simulate ``X`` and draw the firing rates of the hidden layers.

        The output layer is included when it fires (``readout='spikes'``).

        Parameters
        ----------
        estimator : fitted SNNClassifier or SNNRegressor, or a Pipeline ending in one
            The model.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Rows to simulate (a few hundred are plenty).
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        FiringRateDisplay
        """
        snn, X = _spiking_estimator(estimator, X)
        record = snn.simulate(X)
        n_layers = len(record.layer_names) if _readout(snn) == "spikes" else len(record.layer_names) - 1
        rates = {
            name: spikes.mean(axis=(0, 1))
            for name, spikes in zip(record.layer_names[:n_layers], record.spikes[:n_layers])
        }
        n_rows = record.input.shape[1]
        display = cls(rates, title=f"{_estimator_name(snn)}: firing rates over {n_rows} rows")
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the bars and dots.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        FiringRateDisplay
            This display.
        """
        ax = _new_axes(ax, figsize=(1.5 + 1.3 * max(len(self.rates), 2), 3.5))
        names = list(self.rates)
        means = [float(np.mean(self.rates[name])) for name in names]
        colors = [_panel_color(name) for name in names]
        positions = np.arange(len(names))
        self.bars_ = ax.bar(positions, means, width=0.6, color=colors, alpha=0.35, label="layer mean")
        jitter = np.random.default_rng(0)  # fixed: the same figure every time
        self.points_ = []
        labels = []
        for position, name, color, mean in zip(positions, names, colors, means):
            rates = np.asarray(self.rates[name])
            x = position + jitter.uniform(-0.2, 0.2, size=len(rates))
            self.points_.append(ax.scatter(x, rates, s=12, color=color, alpha=0.8, linewidths=0))
            labels.append(f"{name}\nmean {mean:.3f}\n{np.mean(rates == 0):.0%} silent")
        ax.set_xticks(positions, labels)
        ax.set_xlim(-0.8, len(names) - 0.2)
        ax.set_ylim(0, max(1e-3, max(float(np.max(r)) for r in self.rates.values())) * 1.15)
        ax.set_ylabel("spikes per neuron per step")
        if self.title:
            ax.set_title(self.title)
        self.ax_, self.figure_ = ax, ax.figure
        return self


# ------------------------------------------------------------------- predictions
class PredictionDisplay:
    """Predicted against true targets of a regressor, one panel per target.

    Parameters
    ----------
    y_true : array of shape (n_samples,) or (n_samples, n_targets)
        True targets.
    y_pred : array of the same shape
        Predictions.
    target_names : list of str, default=None
        Name of each target, for the axis labels.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        The points of each panel.
    r2_ : list of float
        R² of each target.
    axes_ : list of matplotlib Axes
    ax_ : matplotlib Axes
        The first panel.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from pynmsnn import SNNRegressor
    >>> from pynmsnn.plotting import PredictionDisplay
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = SNNRegressor((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> display = PredictionDisplay.from_estimator(reg, X, y)
    >>> len(display.scatters_[0].get_offsets()) == len(y)
    True
    """

    def __init__(self, y_true, y_pred, *, target_names=None, estimator_name=None):
        self.y_true = y_true
        self.y_pred = y_pred
        self.target_names = target_names
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, target_names=None, ax=None):
        """Predict ``X`` and draw the predictions against ``y``.

        Parameters
        ----------
        estimator : fitted regressor
            Any regressor, e.g. an SNNRegressor or a Pipeline ending in one.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        target_names : list of str, default=None
            Name of each target; the Series or DataFrame column names of ``y``
            when None.
        ax : matplotlib Axes or list of Axes, default=None
            Where to draw (one per target); a new figure when None.

        Returns
        -------
        PredictionDisplay
        """
        if target_names is None:
            target_names = _target_names(y)
        display = cls(np.asarray(y), np.asarray(estimator.predict(X)), target_names=target_names,
                      estimator_name=type(estimator).__name__)
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw one scatter per target with the diagonal of perfect predictions.

        Parameters
        ----------
        ax : matplotlib Axes or list of Axes, default=None
            Where to draw (one per target); a new figure when None.

        Returns
        -------
        PredictionDisplay
            This display.
        """
        y_true = np.asarray(self.y_true, dtype=float).reshape(len(self.y_true), -1)
        y_pred = np.asarray(self.y_pred, dtype=float).reshape(len(self.y_pred), -1)
        n_targets = y_true.shape[1]
        if ax is None:
            _, axes = _pyplot().subplots(1, n_targets, figsize=(4.2 * n_targets, 4), layout="constrained",
                                         squeeze=False)
            axes = list(axes[0])
        else:
            axes = list(np.atleast_1d(ax))
        if len(axes) != n_targets:
            raise ValueError(f"ax holds {len(axes)} axes but y has {n_targets} targets; give one per target.")
        names = self.target_names or (["target"] if n_targets == 1 else [f"y{j}" for j in range(n_targets)])
        self.scatters_, self.r2_ = [], []
        for j, axis in enumerate(axes):
            self.scatters_.append(axis.scatter(y_true[:, j], y_pred[:, j], s=14, alpha=0.6,
                                               color="tab:blue", linewidths=0))
            low = min(y_true[:, j].min(), y_pred[:, j].min())
            high = max(y_true[:, j].max(), y_pred[:, j].max())
            axis.plot([low, high], [low, high], color="black", linestyle="--", linewidth=1,
                      label="perfect prediction")
            # The same range on both axes, so that the diagonal is at 45 degrees.
            pad = 0.05 * (high - low) or 1.0
            axis.set_xlim(low - pad, high + pad)
            axis.set_ylim(low - pad, high + pad)
            axis.set_aspect("equal", adjustable="box")
            r2 = _r2(y_true[:, j], y_pred[:, j])
            self.r2_.append(r2)
            axis.set_xlabel(f"true {names[j]}")
            axis.set_ylabel(f"predicted {names[j]}")
            prefix = f"{self.estimator_name}: " if self.estimator_name else ""
            axis.set_title(f"{prefix}R² = {r2:.3f}")
            axis.legend(frameon=False, loc="upper left")
        self.axes_, self.ax_, self.figure_ = axes, axes[0], axes[0].figure
        return self


def _target_names(y):
    """Column names of a DataFrame ``y``, the name of a Series, else None."""
    if hasattr(y, "columns"):
        return [str(c) for c in y.columns]
    if getattr(y, "name", None) is not None:
        return [str(y.name)]
    return None


def _r2(y_true, y_pred):
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / total) if total > 0 else float("nan")


# ---------------------------------------------------------------------- results
class ResultDisplay:
    """How well an estimator does: a confusion matrix for a classifier, predicted
    against true for a regressor.

    Parameters
    ----------
    display : sklearn ConfusionMatrixDisplay or PredictionDisplay
        The display that draws.
    score : float
        Accuracy (classifier) or R² (regressor), shown in the title.
    score_name : str
        'accuracy' or 'R²'.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    display_ : sklearn ConfusionMatrixDisplay or PredictionDisplay
        The drawn display (``display_.confusion_matrix`` for a classifier).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.plotting import ResultDisplay
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> ResultDisplay.from_estimator(clf, X, y).display_.confusion_matrix.sum()
    np.int64(150)
    """

    def __init__(self, display, *, score, score_name, estimator_name=None):
        self.display = display
        self.score = score
        self.score_name = score_name
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None):
        """Predict ``X`` and compare with ``y``, choosing the figure by estimator type.

        Parameters
        ----------
        estimator : fitted classifier or regressor
            Any scikit-learn estimator, e.g. an SNN or a Pipeline ending in one.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True labels or targets.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        ResultDisplay
        """
        from sklearn.base import is_classifier
        from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

        name = type(estimator).__name__
        if is_classifier(estimator):
            y_pred = estimator.predict(X)
            labels = estimator.classes_
            matrix = confusion_matrix(y, y_pred, labels=labels)
            display = ConfusionMatrixDisplay(matrix, display_labels=[str(label) for label in labels])
            score = float(np.trace(matrix) / matrix.sum())
            result = cls(display, score=score, score_name="accuracy", estimator_name=name)
        else:
            display = PredictionDisplay(np.asarray(y), np.asarray(estimator.predict(X)),
                                        target_names=_target_names(y), estimator_name=name)
            y_true = display.y_true.reshape(len(display.y_true), -1)
            y_pred = display.y_pred.reshape(len(display.y_pred), -1)
            score = float(np.mean([_r2(y_true[:, j], y_pred[:, j]) for j in range(y_true.shape[1])]))
            result = cls(display, score=score, score_name="R²", estimator_name=name)
        return result.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the wrapped display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        ResultDisplay
            This display.
        """
        if isinstance(self.display, PredictionDisplay):
            self.display.plot(ax=ax)
        else:
            ax = _new_axes(ax, figsize=(4.5, 4))
            self.display.plot(ax=ax, cmap="Blues", colorbar=False)
            ax.set_title(f"{self.estimator_name + ': ' if self.estimator_name else ''}"
                         f"{self.score_name} {self.score:.3f}")
        self.display_ = self.display
        self.ax_, self.figure_ = self.display.ax_, self.display.figure_
        return self
