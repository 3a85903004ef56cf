"""A saved Pipeline served by the command line: pynmsnn.save, then ``pynmsnn predict``.

Most models are deployed as a whole Pipeline: the column encoding and scaling
with the model. :func:`pynmsnn.save` writes a fitted Pipeline (or a fitted
search) of scikit-learn objects and pynmsnn estimators to a file that cannot
carry code: weights and a JSON description, which :func:`pynmsnn.load`
rebuilds from a fixed list of trusted classes. Here a ColumnTransformer
one-hot encodes a text column and scales the numbers in front of an
SNNClassifier; the saved file is then served by ``pynmsnn predict`` on a CSV
of new rows (columns in another order, an extra column), as a deployment
would, and its predictions are exactly those of the Pipeline in Python. The
figure shows ``pynmsnn info`` on the file, the probabilities from the command
line against Python's, and the confusion matrix of the served predictions.

Run it with ``python examples/plot_saved_pipeline.py``; the figure goes to
``figures/saved_pipeline.png`` (``--output-dir`` to change).
"""

import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from pynmsnn import SNNClassifier, save  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
NUMBERS = ["income", "age", "visits", "basket", "tenure"]


def customers():
    """A table of five numeric columns and a text column, 'region', that tells the class apart too."""
    X, y = make_classification(n_samples=1200, n_features=5, n_informative=3, n_redundant=1, class_sep=1.0,
                               random_state=0)
    table = pd.DataFrame(X, columns=NUMBERS)
    rng = np.random.default_rng(0)
    table["region"] = np.where(rng.uniform(size=len(y)) < 0.7, np.where(y == 1, "north", "south"),
                               rng.choice(["north", "south", "east"], size=len(y)))
    return table, np.where(y == 1, "buys", "browses")


def pynmsnn_command(*args, cwd):
    """``python -m pynmsnn ARGS``: what a deployment runs; its output, or its one-line error."""
    result = subprocess.run([sys.executable, "-m", "pynmsnn", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr.strip())
    return result.stdout


def draw_info(ax, text):
    ax.axis("off")
    ax.set_title("pynmsnn info model.pnm")
    ax.text(0, 1, text, va="top", family="monospace", fontsize=9, transform=ax.transAxes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = customers()
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["region"]),
                                     remainder=StandardScaler())
    pipe = make_pipeline(encode, SNNClassifier(hidden_layer_sizes=(32,), n_steps=10, learning_rate_init=0.01,
                                               max_iter=40, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)

    with tempfile.TemporaryDirectory() as folder:
        save(pipe, Path(folder) / "model.pnm")
        new_rows = X_test[X_test.columns[::-1]].assign(note="extra column, ignored")
        new_rows.to_csv(Path(folder) / "new.csv", index=False)
        pynmsnn_command("predict", "model.pnm", "new.csv", "--proba", "--output", "predictions.csv", cwd=folder)
        info = pynmsnn_command("info", "model.pnm", cwd=folder)
        served = pd.read_csv(Path(folder) / "predictions.csv")
    print(info)
    same = (served["prediction"].to_numpy() == pipe.predict(X_test)).all()
    print(f"command-line predictions equal the Pipeline's in Python: {same}")
    print(f"test accuracy: {(served['prediction'].to_numpy() == y_test).mean():.3f}")

    fig = plt.figure(figsize=(17, 6), layout="constrained")
    left, middle, right = fig.subplots(1, 3, width_ratios=[1.5, 1, 1])
    draw_info(left, info)
    python_proba = pipe.predict_proba(X_test)[:, list(pipe.classes_).index("buys")]
    middle.scatter(python_proba, served["proba_buys"], s=10, alpha=0.6)
    middle.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    middle.set_xlabel("P(buys), Pipeline in Python")
    middle.set_ylabel("P(buys), pynmsnn predict on new.csv")
    middle.set_title("the served model is the fitted one")
    ConfusionMatrixDisplay.from_predictions(y_test, served["prediction"], ax=right, colorbar=False)
    right.set_title("served predictions on held-out rows")
    fig.suptitle("make_pipeline(ColumnTransformer, SNNClassifier) saved with pynmsnn.save and served by "
                 "'pynmsnn predict'", fontsize="x-large")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "saved_pipeline.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
