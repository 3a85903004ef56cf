"""Anytime answers: accuracy after each time step with staged_predict.

A spiking network answers at every time step: its readout after ``t`` steps
is already a prediction, which sharpens as more steps come in. Fits two
SNNClassifiers on scikit-learn's digits (8x8 images, 10 classes), one reading
the readout membrane and one counting readout spikes, and plots the test
accuracy of ``staged_predict`` against the number of time steps used, with the
share of test rows whose answer is already the final one. Fewer steps mean
less latency and fewer spikes, so less energy.

Run it with ``python examples/plot_anytime.py``; the figure goes to
``figures/anytime_digits.png`` (``--output-dir`` to change).
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
N_STEPS = 25
READOUTS = {"membrane": "tab:blue", "spikes": "tab:red"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    steps = np.arange(1, N_STEPS + 1)
    fig, (acc_ax, final_ax) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    for readout, color in READOUTS.items():
        clf = SNNClassifier((64,), n_steps=N_STEPS, readout=readout, max_iter=40, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        stages = np.array(list(clf.staged_predict(X_test)))
        accuracy = (stages == y_test).mean(axis=1)
        settled = (stages == stages[-1]).mean(axis=1)
        reach = int(steps[np.argmax(accuracy >= accuracy[-1] - 0.01)])
        print(f"readout={readout:<8} test accuracy: {accuracy[-1]:.3f} after {N_STEPS} steps; "
              f"{accuracy[4]:.3f} after 5, {accuracy[9]:.3f} after 10; within 0.01 of the final "
              f"accuracy from step {reach}")
        acc_ax.plot(steps, accuracy, "o-", ms=3, color=color, label=f"readout='{readout}'")
        acc_ax.axvline(reach, color=color, linestyle=":", linewidth=1)
        final_ax.plot(steps, settled, "o-", ms=3, color=color, label=f"readout='{readout}'")
    acc_ax.set_xlabel("time steps used (t)")
    acc_ax.set_ylabel("test accuracy of staged_predict")
    acc_ax.set_title("digits: an answer at every step\n(dotted: within 0.01 of the final accuracy)")
    acc_ax.legend(loc="lower right")
    final_ax.set_xlabel("time steps used (t)")
    final_ax.set_ylabel("share of test rows already at their final answer")
    final_ax.set_title("how early answers settle")
    final_ax.legend(loc="lower right")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "anytime_digits.png"
    fig.savefig(path, dpi=100)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
