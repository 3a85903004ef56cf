"""A batched search over two architectures, its stacks spread over a local Dask cluster.

``SNNGridSearchCV`` trains the candidates and folds of each architecture
(here ``hidden_layer_sizes=(32,)`` and ``(64,)``) side by side as stacks;
under ``joblib.parallel_backend("dask")`` with ``n_jobs=-1`` each
architecture's members are split into one stack per worker, and the stacks
run on the workers of the cluster. The same search then runs here, in this
process, for comparison: the same scores, as every worker and this process
run torch on one thread.

    python examples/dask_batched_search.py                    # a local cluster of 2 workers
    python examples/dask_batched_search.py --n-workers 4
    python examples/dask_batched_search.py --scheduler tcp://host:8786   # a running cluster
"""

import argparse
import os
import time
import warnings

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from pynmsnn import SNNClassifier
from pynmsnn.model_selection import SNNGridSearchCV
from pynmsnn.parallel import set_torch_threads, setup_torch_workers

GRID = {
    "hidden_layer_sizes": [(32,), (64,)],
    "decay": [0.8, 0.9, 0.95],
    "learning_rate_init": [3e-3, 1e-2],
}


def make_search(n_jobs):
    """12 candidates of two architectures x 5 folds: 60 fits, in stacks of one architecture each."""
    return SNNGridSearchCV(SNNClassifier(n_steps=10, max_iter=15, random_state=0), GRID, cv=5, n_jobs=n_jobs)


def _warm_up():
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SNNClassifier(hidden_layer_sizes=(8,), n_steps=2, max_iter=1).fit(X[:60], y[:60])


def search_on_cluster(X, y, args):
    """The search with its stacks on the cluster's workers; returns it and its wall time."""
    from distributed import Client, LocalCluster

    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        setup_torch_workers(client, threads=1)
        client.run(_warm_up)  # imports and first calls, once per worker
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search = make_search(n_jobs=-1).fit(X, y)
        return search, time.perf_counter() - start, len(client.scheduler_info()["workers"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-workers", type=int, default=2, help="workers of the local cluster")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler instead")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    print(f"digits {X.shape}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}")

    remote, remote_s, n_workers = search_on_cluster(X, y, args)
    print(f"on a Dask cluster of {n_workers} workers x 1 thread: {remote_s:.1f} s, best {remote.best_params_}, "
          f"cv {remote.best_score_:.4f}")

    set_torch_threads(1)
    _warm_up()
    start = time.perf_counter()
    local = make_search(n_jobs=1).fit(X, y)
    print(f"in this process, 1 thread:                {time.perf_counter() - start:.1f} s, best "
          f"{local.best_params_}, cv {local.best_score_:.4f}")

    results = remote.cv_results_
    for sizes in GRID["hidden_layer_sizes"]:
        rows = [i for i, params in enumerate(results["params"]) if params["hidden_layer_sizes"] == sizes]
        best = max(rows, key=lambda i: results["mean_test_score"][i])
        print(f"hidden_layer_sizes={sizes}: best cv {results['mean_test_score'][best]:.4f} with "
              f"{ {k: v for k, v in results['params'][best].items() if k != 'hidden_layer_sizes'} }")
    print(f"every candidate batched: {bool(results['batched'].all())}")
    same = np.array_equal(results["mean_test_score"], local.cv_results_["mean_test_score"])
    print(f"the same scores on the cluster and here: {same}")


if __name__ == "__main__":
    main()
