"""Classification quick start: an SNNClassifier on the wine table, and what its neurons did.

Fits a spiking classifier on scikit-learn's wine data (a pandas DataFrame, no
scaler needed), prints the test accuracy, and draws one figure with the
training curve, the confusion matrix on the test rows, the spikes of every
layer for one test row, and the firing rate of the hidden layer.

Run it with ``python examples/plot_classification_quickstart.py``; the figure
goes to ``figures/classification_quickstart.png`` (``--output-dir`` to change).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402
from pynmsnn.plotting import (  # noqa: E402
    FiringRateDisplay,
    ResultDisplay,
    SpikeRasterDisplay,
    TrainingCurveDisplay,
)

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    clf = SNNClassifier(
        hidden_layer_sizes=(32,), n_steps=10, learning_rate_init=0.01, max_iter=150,
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=20, random_state=0,
    ).fit(X_train, y_train)
    print(f"wine: {len(X_train)} training rows, {X.shape[1]} columns, {clf.n_iter_} epochs")
    print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

    fig = plt.figure(figsize=(14, 8.5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.15, 1])
    SpikeRasterDisplay.from_estimator(clf, X_test, row=0, figure=left)
    left.suptitle(f"Spikes of every layer for test row 0 (class {y_test.iloc[0]})")
    top, bottom = right.subfigures(2, 1, height_ratios=[1, 1.2])
    TrainingCurveDisplay.from_estimator(clf, ax=top.subplots())
    ax_matrix, ax_rates = bottom.subplots(1, 2, width_ratios=[1.2, 1])
    ResultDisplay.from_estimator(clf, X_test, y_test, ax=ax_matrix)
    ax_matrix.set_title(f"test accuracy {clf.score(X_test, y_test):.3f}")
    FiringRateDisplay.from_estimator(clf, X_test, ax=ax_rates)
    ax_rates.set_title("firing rate (test rows)")
    fig.suptitle("SNNClassifier on the wine data", fontsize="x-large")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "classification_quickstart.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
