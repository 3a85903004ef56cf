"""Does ``init_firing_rate=0.1`` help? Test accuracy with it off and on, on digits.

    python benchmarks/bench_init_firing.py            # the README table
    python benchmarks/bench_init_firing.py --seeds 0  # quicker

Each network trains for exactly 3 and 40 epochs (10 time steps, the other
parameters at their defaults) on a stratified 75/25 split of scikit-learn's
digits; the table gives the mean test accuracy over the seeds, without and
with ``init_firing_rate=0.1``. Writes ``benchmarks/results/init_firing.rst``.
"""

import argparse
import statistics
import warnings
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from pynmsnn import SNNClassifier
from pynmsnn.activity import FiringHealthWarning

from bench_engine import rst_table  # this folder's shared report helpers

RESULTS = Path(__file__).resolve().parent / "results"
NETWORKS = {
    "(64,)": {"hidden_layer_sizes": (64,)},
    "(64, 64)": {"hidden_layer_sizes": (64, 64)},
    "(64,), threshold=4": {"hidden_layer_sizes": (64,), "threshold": 4.0},
    "(64,), decay=0": {"hidden_layer_sizes": (64,), "decay": 0.0},
}
EPOCHS = (3, 40)


def accuracy(params, epochs, init_firing_rate, seed, split):
    X_train, X_test, y_train, y_test = split
    est = SNNClassifier(n_steps=10, max_iter=epochs, n_iter_no_change=epochs + 1, random_state=seed,
                        init_firing_rate=init_firing_rate, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, FiringHealthWarning))
        est.fit(X_train, y_train)
    return est.score(X_test, y_test)


def measure(seeds):
    X, y = load_digits(return_X_y=True)
    split = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    rows = []
    for name, params in NETWORKS.items():
        cells = []
        for epochs in EPOCHS:
            off, on = (statistics.fmean(accuracy(params, epochs, rate, seed, split) for seed in seeds)
                       for rate in (None, 0.1))
            cells.append(f"{off:.3f} / {on:.3f}")
        rows.append((name, *cells))
    return rows


def table(rows):
    return rst_table(("network", *(f"{e} epochs: off/0.1" for e in EPOCHS)), rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = table(measure(args.seeds))
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "init_firing.rst").write_text(text + "\n")


if __name__ == "__main__":
    main()
