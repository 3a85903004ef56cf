"""Export to neuromorphic hardware: a model trained with reset='zero' runs the same in snnTorch and Norse.

NIR (the Neuromorphic Intermediate Representation) is how a spiking network
reaches Loihi (through Lava), SpiNNaker2, Xylo, Speck and the simulators. Its
LIF neuron sets the membrane to ``v_reset`` after a spike; an SNNClassifier
trained with ``reset='zero'`` has that neuron, so it exports exactly at its
default leak (``decay=0.9``). This script trains one on scikit-learn's digits
with a spiking readout, exports it with :func:`pynmsnn.nir_export.to_nir`,
imports the graph with snnTorch's and Norse's own NIR importers, and runs all
three on the held-out digits: the readout's spike counts (the answers) agree
on every row. The figure shows the counts of each library against
pynmsnn's, and the share of rows on which they agree.

Run it with ``python examples/plot_nir_export.py``; the figure goes to
``figures/nir_export.png`` (``--output-dir`` to change). snnTorch and Norse
come with ``bash setup.sh test``; a library that is not installed is left out.
"""

import argparse
import importlib.util
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
from pynmsnn.nir_export import nir_input, run_nir, to_nir  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
# runtime -> how its importer wants the graph (Norse takes NIR's r as 1)
RUNTIMES = {"reference": "r", "snntorch": "r", "norse": "weights"}
LABELS = {"reference": "NIR's equations (float64)", "snntorch": "snnTorch", "norse": "Norse"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    clf = SNNClassifier((64,), n_steps=10, reset="zero", readout="spikes", max_iter=40, learning_rate_init=0.01,
                        precision="float32", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    print(f"pynmsnn (decay={clf.decay}, reset='zero'): test accuracy: {clf.score(X_test, y_test):.3f}")

    # The readout's spike counts per row and class, as pynmsnn computes them (its logits).
    ours = clf.simulate(X_test).output
    rows = nir_input(clf, X_test)
    runtimes = [name for name in RUNTIMES if name == "reference" or importlib.util.find_spec(name) is not None]
    fig, axes = plt.subplots(1, len(runtimes) + 1, figsize=(4.2 * (len(runtimes) + 1), 4.2), layout="constrained")
    agreement = {}
    for axis, name in zip(axes, runtimes):
        counts = run_nir(to_nir(clf, input_scaling=RUNTIMES[name]), rows, runtime=name)
        agreement[name] = (counts == ours).all(axis=1).mean()
        answers = (clf.classes_[counts.argmax(1)] == clf.predict(X_test)).mean()
        print(f"{LABELS[name]}: same spike counts on {agreement[name]:.1%} of {len(rows)} held-out rows; "
              f"same answers on {answers:.1%}")
        jitter = np.random.default_rng(0).uniform(-0.2, 0.2, size=(2, ours.size))  # counts are integers
        axis.scatter(ours.ravel() + jitter[0], counts.ravel() + jitter[1], s=4, alpha=0.2)
        axis.plot([0, clf.n_steps], [0, clf.n_steps], color="grey", linewidth=1)
        axis.set(title=LABELS[name], xlabel="readout spikes in pynmsnn", ylabel="readout spikes there")
    axes[-1].bar([LABELS[name] for name in agreement], [100 * v for v in agreement.values()], color="tab:green")
    axes[-1].set(ylim=(0, 105), ylabel="held-out rows with equal spike counts (%)", title="agreement")
    axes[-1].tick_params(axis="x", labelrotation=15)
    fig.suptitle(f"A digits model trained with reset='zero' (decay={clf.decay}) exported to NIR and re-run")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output_dir / "nir_export.png", dpi=100)
    print(f"wrote {args.output_dir / 'nir_export.png'}")


if __name__ == "__main__":
    main()
