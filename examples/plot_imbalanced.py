"""Imbalanced classes: class_weight='balanced' finds the rare class that a plain fit misses.

On data where one row in twenty is of the rare class, a classifier that
minimizes the plain loss learns to answer "common" almost always: its accuracy
looks fine and it misses most of the rare rows. ``class_weight='balanced'``
weighs each class's loss by ``n_samples / (n_classes * count)``, as in
scikit-learn's linear models and forests, so both classes count alike; a dict
such as ``{1: 5}`` sets the weights by hand. The figure shows the confusion
matrix of each model on held-out rows, and the recall of each class with the
balanced accuracy.

Run it with ``python examples/plot_imbalanced.py``; the figure goes to
``figures/imbalanced.png`` (``--output-dir`` to change).
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, balanced_accuracy_score, recall_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
WEIGHTS = {"None": None, "{1: 5}": {1: 5.0}, "'balanced'": "balanced"}


def fit_each(X_train, y_train):
    """One model per class_weight, all else equal."""
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, class_weight in WEIGHTS.items():
            clf = SNNClassifier(hidden_layer_sizes=(32,), n_steps=10, learning_rate_init=0.01, max_iter=60,
                                class_weight=class_weight, random_state=0)
            models[name] = clf.fit(X_train, y_train)
    return models


def draw_recalls(ax, models, X_test, y_test):
    """Recall of each class and balanced accuracy, per class_weight."""
    names = list(models)
    predictions = {name: model.predict(X_test) for name, model in models.items()}
    bars = {
        "recall of class 0 (common)": [recall_score(y_test, predictions[n], pos_label=0) for n in names],
        "recall of class 1 (rare)": [recall_score(y_test, predictions[n], pos_label=1) for n in names],
        "balanced accuracy": [balanced_accuracy_score(y_test, predictions[n]) for n in names],
    }
    width = 0.27
    for k, (label, values) in enumerate(bars.items()):
        positions = np.arange(len(names)) + (k - 1) * width
        ax.bar(positions, values, width, label=label)
        for x, value in zip(positions, values):
            ax.text(x, value + 0.01, f"{value:.2f}", ha="center", fontsize="small")
    ax.set_xticks(range(len(names)), [f"class_weight={n}" for n in names])
    ax.set_ylim(0, 1.25)
    ax.set_title("held-out rows")
    ax.legend(loc="upper center", ncol=3, fontsize="small")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = make_classification(n_samples=2000, n_features=8, n_informative=4, weights=[0.95], class_sep=1.2,
                               flip_y=0.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    print(f"rare class: {y_train.mean():.1%} of the training rows")
    models = fit_each(X_train, y_train)
    for name, model in models.items():
        predicted = model.predict(X_test)
        print(f"class_weight={name}: accuracy {model.score(X_test, y_test):.3f}, rare-class recall "
              f"{recall_score(y_test, predicted):.3f}, balanced accuracy {balanced_accuracy_score(y_test, predicted):.3f}")

    fig = plt.figure(figsize=(16, 6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.6, 1])
    for ax, (name, model) in zip(left.subplots(1, len(models)), models.items()):
        ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax, colorbar=False)
        ax.set_title(f"class_weight={name}")
    draw_recalls(right.subplots(), models, X_test, y_test)
    fig.suptitle("SNNClassifier on 19:1 imbalanced classes: the weight of each class in the loss",
                 fontsize="x-large")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "imbalanced.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
