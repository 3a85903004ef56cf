"""Write the example notebooks ``classification_poc.ipynb`` and ``regression_poc.ipynb``.

The notebooks are generated from the cells below so that they stay small and
reviewable as code. Run ``python examples/build_notebooks.py`` after editing a
cell; ``--execute`` also runs them (with nbclient) and stores their outputs.
"""

import argparse
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

EXAMPLES = Path(__file__).resolve().parent

CLASSIFICATION = [
    ("md", """\
# Classification proof of concept: a spiking network on tumour measurements

This notebook trains `SNNClassifier`, a spiking neural network with the
scikit-learn API of `MLPClassifier`, to tell malignant from benign tumours in
scikit-learn's breast cancer data. It then looks inside the network: the
training curve, the errors, the spikes of every layer for one tumour, and how
often the neurons fire. It runs in well under a minute on a laptop CPU."""),
    ("code", """\
import time
import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pynmsnn import SNNClassifier
from pynmsnn.plotting import FiringRateDisplay, ResultDisplay, SpikeRasterDisplay, TrainingCurveDisplay

# Both networks train for a fixed, short number of epochs here; say nothing about it.
warnings.filterwarnings("ignore", category=ConvergenceWarning)"""),
    ("md", """\
## The data

569 tumours, 30 numeric measurements each, as a pandas DataFrame. No scaler is
needed in front of the spiking network: it scales every column to [0, 1]
itself, because its inputs act as currents into the neurons."""),
    ("code", """\
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
print(f"{len(X_train)} training rows, {len(X_test)} test rows, {X.shape[1]} columns")
X.iloc[:5, :6]"""),
    ("md", """\
## Train

`hidden_layer_sizes`, `learning_rate_init` and `max_iter` mean what they mean
for `MLPClassifier`. `n_steps` is the spiking part: each row is fed to the
network for 10 time steps, and the hidden neurons integrate it, fire when
their membrane crosses the threshold, and reset."""),
    ("code", """\
snn = SNNClassifier(hidden_layer_sizes=(32,), n_steps=10, learning_rate_init=0.01,
                    max_iter=100, random_state=0)
start = time.perf_counter()
snn.fit(X_train, y_train)
print(f"fit in {time.perf_counter() - start:.1f} s ({snn.n_iter_} epochs)")
print(f"test accuracy: {snn.score(X_test, y_test):.3f}")"""),
    ("md", """\
## Against a multi-layer perceptron

The same split with scikit-learn's `MLPClassifier` (behind a `StandardScaler`,
which it needs)."""),
    ("code", """\
mlp = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0))
mlp.fit(X_train, y_train)
print(f"MLPClassifier test accuracy: {mlp.score(X_test, y_test):.3f}")"""),
    ("md", """\
## Training curve

The cross-entropy loss of each epoch."""),
    ("code", """\
curve = TrainingCurveDisplay.from_estimator(snn)"""),
    ("md", """\
## Errors on the test rows

Rows are the true classes (0: malignant, 1: benign), columns the predicted ones."""),
    ("code", """\
result = ResultDisplay.from_estimator(snn, X_test, y_test)"""),
    ("md", """\
## Inside the network, for one tumour

Top: the 30 scaled measurements, fed as a constant current at every step.
Middle: each tick is a spike of a hidden neuron. Bottom: the two output neurons
integrate the hidden spikes without firing; the class whose membrane ends
higher on average wins."""),
    ("code", """\
raster = SpikeRasterDisplay.from_estimator(snn, X_test, row=0)
print(f"true class of this row: {y_test.iloc[0]}, predicted: {snn.predict(X_test.iloc[[0]])[0]}")"""),
    ("md", """\
## How busy are the neurons?

Spikes per neuron per time step over all test rows. On neuromorphic hardware
energy goes with the number of spikes, so a sparse network is a cheap one;
silent neurons could be pruned."""),
    ("code", """\
rates = FiringRateDisplay.from_estimator(snn, X_test)
record = snn.simulate(X_test)
spikes_per_row = sum(s.sum() for s in record.spikes[:-1]) / len(X_test)
print(f"hidden spikes per test row: {spikes_per_row:.1f}")"""),
    ("md", """\
## Summary

A spiking network trained by surrogate gradients in a few seconds matches a
multi-layer perceptron on this table, takes the raw DataFrame, and shows
what it does at each time step."""),
]

REGRESSION = [
    ("md", """\
# Regression proof of concept: a spiking network on a non-linear table

This notebook fits `SNNRegressor`, a spiking neural network with the
scikit-learn API of `MLPRegressor`, to a table whose target depends
non-linearly on five of ten numeric columns (Friedman's benchmark) plus a
categorical `region` column, and compares it with a linear model. It runs in
well under a minute on a laptop CPU."""),
    ("code", """\
import numpy as np
import pandas as pd
from sklearn.datasets import make_friedman1
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from pynmsnn import SNNRegressor
from pynmsnn.plotting import MembraneDisplay, PredictionDisplay, SpikeRasterDisplay, TrainingCurveDisplay"""),
    ("md", """\
## The data

`y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise`, columns
`x5`..`x9` are noise, and each region shifts the target. The DataFrame keeps
`region` as a pandas category: the spiking network one-hot encodes it inside."""),
    ("code", """\
features, target = make_friedman1(n_samples=600, noise=0.5, random_state=0)
X = pd.DataFrame(features, columns=[f"x{j}" for j in range(10)])
rng = np.random.default_rng(0)
X["region"] = pd.Categorical(rng.choice(["north", "south", "east"], size=len(X)))
y = pd.Series(target + X["region"].map({"north": 3.0, "south": 0.0, "east": -2.0}).to_numpy(), name="y")
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
X.head()"""),
    ("md", """\
## Train, with early stopping

`early_stopping=True` holds out 10% of the training rows, stops when their R²
stops improving, and keeps the best epoch's weights, as in `MLPRegressor`."""),
    ("code", """\
snn = SNNRegressor(hidden_layer_sizes=(64,), n_steps=10, learning_rate_init=0.01, max_iter=300,
                   early_stopping=True, n_iter_no_change=20, random_state=0)
snn.fit(X_train, y_train)
linear = LinearRegression().fit(pd.get_dummies(X_train), y_train)
print(f"{snn.n_iter_} epochs")
print(f"test R2 SNNRegressor: {snn.score(X_test, y_test):.3f}")
print(f"test R2 LinearRegression: {linear.score(pd.get_dummies(X_test), y_test):.3f}")"""),
    ("code", """\
curve = TrainingCurveDisplay.from_estimator(snn)"""),
    ("md", """\
## Predictions against the truth

Points on the dashed diagonal are perfect predictions."""),
    ("code", """\
predictions = PredictionDisplay.from_estimator(snn, X_test, y_test)"""),
    ("md", """\
## Inside the network, for one row

The input panel names each column the network sees, with one line per region
(`region=east`, ...). The prediction is the output neuron's membrane averaged
over the time steps, scaled back to the units of `y`."""),
    ("code", """\
raster = SpikeRasterDisplay.from_estimator(snn, X_test, row=0)"""),
    ("md", """\
## Membrane potentials

The five most active hidden neurons for the same row: each integrates its
input, fires when it crosses the threshold (dashed), and resets."""),
    ("code", """\
membranes = MembraneDisplay.from_estimator(snn, X_test, layer="hidden 1", row=0)"""),
    ("md", """\
## Summary

The spiking regressor captures the non-linear terms that a linear model
misses, takes a DataFrame with a categorical column as it is, and its spikes
can be inspected step by step."""),
]

NOTEBOOKS = {"classification_poc.ipynb": CLASSIFICATION, "regression_poc.ipynb": REGRESSION}


def build(cells):
    """A notebook of the given ``("md" | "code", source)`` cells."""
    notebook = new_notebook()
    notebook.cells = [new_markdown_cell(source) if kind == "md" else new_code_cell(source)
                      for kind, source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def execute(notebook, timeout=300):
    """Run ``notebook`` in a fresh python3 kernel, in the examples folder; outputs are stored in it."""
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run the notebooks and keep their outputs")
    parser.add_argument("--output-dir", type=Path, default=EXAMPLES, help="where to write the notebooks")
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        notebook = build(cells)
        if args.execute:
            execute(notebook)
        nbformat.write(notebook, args.output_dir / name)
        print(f"wrote {args.output_dir / name}")


if __name__ == "__main__":
    main()
