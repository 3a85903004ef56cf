"""Energy against accuracy: spike_penalty trades a little accuracy for far fewer spikes.

Fits SNNClassifiers on scikit-learn's digits (8x8 images, 10 classes) with
several ``spike_penalty`` settings and two encoders, counts each model's
synaptic operations and energy per test sample with ``activity_report`` (an
accumulate per spike and synapse at 0.9 pJ, a multiply-accumulate at 4.6 pJ:
Horowitz, ISSCC 2014, 45 nm), and compares them with an MLP of the same sizes.
With ``encoder='current'`` the first layer multiplies real pixel values, as
the MLP does, and dominates the energy; with ``encoder='latency'`` the pixels
arrive as spikes and the whole network is event-driven. The left panel is
test accuracy against energy; the right one shows where the work goes in the
model that ``make_energy_scorer`` prefers.

Run it with ``python examples/plot_energy_tradeoff.py``; the figure goes to
``figures/energy_tradeoff.png`` (``--output-dir`` to change).
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402
from pynmsnn.activity import EnergyDisplay, make_energy_scorer  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
PENALTIES = {"current": [0.0, 0.3, 1.0, 3.0, 10.0], "latency": [0.0, 0.3, 1.0, 3.0]}
SCORER_WEIGHT = 0.5  # a dense network's worth of operations costs 0.5 of accuracy


def fit_and_count(encoder, penalty, data, scorer):
    """Fit one model and count its work per test sample."""
    X_train, X_test, y_train, y_test = data
    clf = SNNClassifier((64,), n_steps=10, max_iter=40, encoder=encoder, spike_penalty=penalty, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    report = clf.activity_report(X_test)
    total = report.loc["total"]
    row = dict(
        encoder=encoder, penalty=penalty, model=clf, report=report, accuracy=clf.score(X_test, y_test),
        rate=total["firing_rate"], synops=total["synops_per_sample"], snn_nJ=total["snn_energy_nJ"],
        dense_nJ=total["dense_energy_nJ"], score=scorer(clf, X_test, y_test),
    )
    print(f"encoder={encoder:<8} spike_penalty={penalty:<5} test accuracy: {row['accuracy']:.3f}  "
          f"hidden rate {row['rate']:.3f}  synaptic ops {row['synops']:6.0f} "
          f"(dense MLP {total['dense_macs_per_sample']:.0f} MACs)  energy {row['snn_nJ']:5.2f} nJ "
          f"(dense MLP {row['dense_nJ']:.2f} nJ)  energy score {row['score']:.3f}")
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    data = train_test_split(X, y, random_state=0, stratify=y)
    scorer = make_energy_scorer(SCORER_WEIGHT)
    rows = [fit_and_count(encoder, penalty, data, scorer)
            for encoder, penalties in PENALTIES.items() for penalty in penalties]
    mlp = MLPClassifier((64,), max_iter=400, random_state=0).fit(data[0], data[2])
    mlp_accuracy = mlp.score(data[1], data[3])
    print(f"MLPClassifier(64) test accuracy: {mlp_accuracy:.3f}  energy {rows[0]['dense_nJ']:.2f} nJ")
    best = max(rows, key=lambda row: row["score"])
    print(f"energy scorer (weight {SCORER_WEIGHT}) picks encoder={best['encoder']}, "
          f"spike_penalty={best['penalty']}: test accuracy {best['accuracy']:.3f}, "
          f"{best['snn_nJ']:.2f} nJ per sample against {best['dense_nJ']:.2f} nJ for the MLP")

    fig = plt.figure(figsize=(15, 5.2), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.5])
    ax = left.subplots()
    for encoder, color in (("current", "tab:blue"), ("latency", "tab:orange")):
        mine = [r for r in rows if r["encoder"] == encoder]
        ax.plot([r["snn_nJ"] for r in mine], [r["accuracy"] for r in mine], "o-", color=color,
                label=f"SNN, encoder='{encoder}'")
        for r in mine:
            ax.annotate(f"{r['penalty']:g}", (r["snn_nJ"], r["accuracy"]), textcoords="offset points",
                        xytext=(5, 4), fontsize="small", color=color)
    ax.plot([rows[0]["dense_nJ"]], [mlp_accuracy], "s", color="0.4", label="MLPClassifier, same sizes")
    ax.set_xlabel("energy per test sample, nJ (AC 0.9 pJ, MAC 4.6 pJ)")
    ax.set_ylabel("test accuracy")
    ax.set_title("digits: accuracy vs. energy\n(numbers: spike_penalty)")
    ax.legend(loc="lower right")
    EnergyDisplay(best["report"], title=f"encoder='{best['encoder']}', spike_penalty={best['penalty']:g} "
                  "(picked by the energy scorer)").plot(right)

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "energy_tradeoff.png"
    fig.savefig(path, dpi=100)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
