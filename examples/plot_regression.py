"""Regression: an SNNRegressor on the diabetes table, against a linear model.

Fits a spiking regressor on scikit-learn's diabetes data (442 patients, 10
columns, target: disease progression after one year), prints its test R² next
to a LinearRegression's, and draws one figure with the training curve with
the validation R², the predictions against the truth, the membrane of a few
hidden neurons for one patient, and the firing rate of the hidden layer.

Run it with ``python examples/plot_regression.py``; the figure goes to
``figures/regression.png`` (``--output-dir`` to change).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from pynmsnn import SNNRegressor  # noqa: E402
from pynmsnn.plotting import (  # noqa: E402
    FiringRateDisplay,
    MembraneDisplay,
    PredictionDisplay,
    TrainingCurveDisplay,
)

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    y = y.rename("disease progression")
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    reg = SNNRegressor(
        hidden_layer_sizes=(32,), n_steps=10, learning_rate_init=0.01, max_iter=150,
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=20, random_state=0,
    ).fit(X_train, y_train)
    linear = LinearRegression().fit(X_train, y_train)
    print(f"diabetes: {len(X_train)} training rows, {X.shape[1]} columns, {reg.n_iter_} epochs")
    print(f"test R2 SNNRegressor:     {reg.score(X_test, y_test):.3f}")
    print(f"test R2 LinearRegression: {linear.score(X_test, y_test):.3f}")

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), layout="constrained")
    TrainingCurveDisplay.from_estimator(reg, ax=axes[0, 0])
    PredictionDisplay.from_estimator(reg, X_test, y_test, ax=axes[0, 1])
    axes[0, 1].set_title(f"test rows: R² = {reg.score(X_test, y_test):.3f} "
                         f"(LinearRegression {linear.score(X_test, y_test):.3f})")
    MembraneDisplay.from_estimator(reg, X_test, layer="hidden 1", row=0, ax=axes[1, 0])
    axes[1, 0].set_title("membrane of the 5 most active hidden neurons, test row 0\n"
                         "(big dots: the neuron fires and resets)")
    FiringRateDisplay.from_estimator(reg, X_test, ax=axes[1, 1])
    fig.suptitle("SNNRegressor on the diabetes data", fontsize="x-large")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "regression.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
