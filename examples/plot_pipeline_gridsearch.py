"""Pipeline and grid search: tune feature selection and time steps of an SNNClassifier.

An ``SNNClassifier`` is a scikit-learn estimator, so it sits at the end of a
``Pipeline`` and its parameters are searched by ``GridSearchCV`` like any
other. Here a ``SelectKBest`` keeps the ``k`` most informative columns of the
wine data and the search tries several ``k`` and ``n_steps`` with 3-fold
cross-validation. The figure shows the cross-validated accuracy of each pair,
the confusion matrix of the best pipeline on held-out rows, and the spikes of
its network for one row; the input panel names the columns the selector kept.

Run it with ``python examples/plot_pipeline_gridsearch.py``; the figure goes to
``figures/pipeline_gridsearch.png`` (``--output-dir`` to change).
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.feature_selection import SelectKBest, f_classif  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402
from pynmsnn.plotting import ResultDisplay, SpikeRasterDisplay  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
GRID = {"selectkbest__k": [2, 4, 8], "snnclassifier__n_steps": [4, 10]}


def draw_scores(ax, search):
    """Mean cross-validated accuracy of each (k, n_steps) as a heatmap; the chosen pair in bold."""
    ks, steps = GRID["selectkbest__k"], GRID["snnclassifier__n_steps"]
    results = search.cv_results_
    scores = np.empty((len(ks), len(steps)))
    for params, score in zip(results["params"], results["mean_test_score"]):
        scores[ks.index(params["selectkbest__k"]), steps.index(params["snnclassifier__n_steps"])] = score
    image = ax.imshow(scores, cmap="viridis", vmin=scores.min() - 0.05, vmax=1.0)
    best_cell = (ks.index(search.best_params_["selectkbest__k"]),
                 steps.index(search.best_params_["snnclassifier__n_steps"]))
    for (i, j), score in np.ndenumerate(scores):
        best = (i, j) == best_cell
        ax.text(j, i, f"{score:.3f}", ha="center", va="center", color="black" if best else "white",
                fontweight="bold" if best else "normal")
    ax.set_xticks(range(len(steps)), steps)
    ax.set_yticks(range(len(ks)), ks)
    ax.set_xlabel("n_steps (time steps)")
    ax.set_ylabel("k (columns kept by SelectKBest)")
    ax.set_title("3-fold cross-validated accuracy")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="accuracy")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    pipe = make_pipeline(
        SelectKBest(f_classif),
        SNNClassifier(hidden_layer_sizes=(24,), learning_rate_init=0.02, max_iter=40, random_state=0),
    ).set_output(transform="pandas")  # keep column names up to the SNN
    with warnings.catch_warnings():
        # 40 epochs on purpose, to keep the search quick; the loss still creeps down.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, GRID, cv=3).fit(X_train, y_train)
    best = search.best_params_
    print(f"best: k={best['selectkbest__k']}, n_steps={best['snnclassifier__n_steps']}, "
          f"cross-validated accuracy {search.best_score_:.3f}")
    print(f"test accuracy: {search.score(X_test, y_test):.3f}")

    fig = plt.figure(figsize=(15, 6.5), layout="constrained")
    left, middle, right = fig.subfigures(1, 3, width_ratios=[1, 0.9, 1.3])
    draw_scores(left.subplots(), search)
    ax = middle.subplots()
    ResultDisplay.from_estimator(search, X_test, y_test, ax=ax)
    ax.set_title(f"best pipeline on test rows: accuracy {search.score(X_test, y_test):.3f}")
    SpikeRasterDisplay.from_estimator(search, X_test, row=0, figure=right)
    right.suptitle(f"best pipeline, test row 0 (class {y_test.iloc[0]})")
    fig.suptitle("GridSearchCV over make_pipeline(SelectKBest, SNNClassifier) on the wine data",
                 fontsize="x-large")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "pipeline_gridsearch.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
