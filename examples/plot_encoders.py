"""Encoders: four ways to turn a table row into time steps of input.

A spiking network sees a row as ``n_steps`` time steps. The ``encoder``
parameter chooses how:

* ``current``: the scaled row at every step (a constant current);
* ``noisy``: the row times fresh uniform noise at every step;
* ``poisson``: a spike with probability equal to the scaled value at every step;
* ``latency``: one spike per feature, earlier for larger values.

The top of the figure encodes the same wine row with each encoder (through
:func:`pynmsnn.encoders.encode`, the function the estimators use); the bottom
compares the test accuracy of an SNNClassifier trained with each, and how
often its hidden neurons fire on the test rows (at predict time the random
encoders feed their expected current, so predictions are deterministic).

Run it with ``python examples/plot_encoders.py``; the figure goes to
``figures/encoders.png`` (``--output-dir`` to change).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402
from pynmsnn.encoders import ENCODERS, encode  # noqa: E402
from pynmsnn.plotting import SpikeRasterDisplay  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
N_STEPS = 20
ROW = 0
ENCODER_ORDER = ("current", "noisy", "poisson", "latency")
ENCODER_COLORS = ("0.4", "tab:olive", "tab:cyan", "tab:pink")


def draw_encodings(figure, row, names):
    """The same row encoded by each encoder, side by side."""
    columns = figure.subfigures(1, len(ENCODER_ORDER), width_ratios=[1.6, 1, 1, 1])
    for i, (name, column) in enumerate(zip(ENCODER_ORDER, columns)):
        generator = torch.Generator().manual_seed(0)
        encoded = encode(row, N_STEPS, name, generator)[:, 0].numpy()
        kind = "heatmap" if name in ("current", "noisy") else "raster"
        display = SpikeRasterDisplay([encoded], [f"input: {name}"], unit_names=[names],
                                     value_names=["current"], kinds=[kind]).plot(figure=column)
        if i > 0:  # the first panel names the columns for all four
            display.axes_[0].tick_params(labelleft=False)


def draw_comparison(ax_score, ax_rate, X_train, X_test, y_train, y_test):
    """Test accuracy and hidden firing rate of an SNNClassifier trained with each encoder."""
    scores, rates = [], []
    for name in ENCODER_ORDER:
        clf = SNNClassifier(
            hidden_layer_sizes=(32,), n_steps=12, encoder=name, learning_rate_init=0.01,
            max_iter=100, early_stopping=True, validation_fraction=0.2, n_iter_no_change=15,
            random_state=0,
        ).fit(X_train, y_train)
        scores.append(clf.score(X_test, y_test))
        rates.append(clf.simulate(X_test).firing_rates["hidden 1"])
        print(f"encoder={name!r:10} test accuracy {scores[-1]:.3f}, hidden firing rate "
              f"{rates[-1]:.3f} ({clf.n_iter_} epochs)")
    for ax, values, label in [(ax_score, scores, "test accuracy"),
                              (ax_rate, rates, "hidden spikes per neuron per step")]:
        bars = ax.bar(ENCODER_ORDER, values, color=ENCODER_COLORS, width=0.6)
        ax.bar_label(bars, fmt="%.3f", padding=3)
        ax.set_ylim(0, max(values) * 1.15)
        ax.set_ylabel(label)
        ax.set_xlabel("encoder")
    ax_score.set_title("SNNClassifier(encoder=...) on the wine data, 12 time steps")
    ax_rate.set_title("hidden-layer activity on the test rows")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)
    assert set(ENCODER_ORDER) == set(ENCODERS)

    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    # The estimators scale each column to [0, 1] inside; do the same here by hand.
    scaled = MinMaxScaler().fit(X_train).transform(X_test.iloc[[ROW]]).clip(0, 1)

    fig = plt.figure(figsize=(15, 8.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.25, 1])
    draw_encodings(top, torch.tensor(scaled, dtype=torch.float32), list(X.columns))
    top.suptitle(f"One wine row (test row {ROW}) encoded into {N_STEPS} time steps")
    draw_comparison(*bottom.subplots(1, 2), X_train, X_test, y_train, y_test)

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "encoders.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
