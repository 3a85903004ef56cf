"""The ``pynmsnn`` command.

``pynmsnn demo`` fits an SNNClassifier on scikit-learn's bundled digits and
prints accuracy, fit time and spike activity.
"""

import argparse
import sys
import time

__all__ = ["main"]


def _demo(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from . import SNNClassifier

    X, y = load_digits(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.random_state
    )
    print(f"digits: {len(X_train)} training rows, {len(X_test)} test rows, {X.shape[1]} features")
    model = SNNClassifier(random_state=args.random_state, max_iter=args.max_iter)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    print(f"fit time:  {fit_seconds:.2f} s ({model.n_iter_} epochs)")
    print(f"accuracy:  {model.score(X_test, y_test):.4f}")
    record = model.simulate(X_test.iloc[:200])
    print("spike activity on 200 test rows (mean spikes per neuron per time step):")
    for name, rate in record.firing_rates.items():
        print(f"  {name:<10} {rate:.3f}")
    return 0


def build_parser():
    """The argument parser of the ``pynmsnn`` command."""
    parser = argparse.ArgumentParser(prog="pynmsnn", description="Spiking neural networks, scikit-learn style.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fit SNNClassifier on the digits dataset and report")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--max-iter", type=int, default=200)
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
