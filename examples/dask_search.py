"""One grid search, four ways: one core, all cores, a Dask cluster; wall times compared.

The same ``GridSearchCV`` over ``SNNClassifier`` on scikit-learn's digits runs

1. serially, torch on its default thread count (all cores),
2. serially, torch on one thread,
3. with ``n_jobs=-1`` (joblib's loky processes, one torch thread each),
4. on a ``dask.distributed.LocalCluster`` of one-thread worker processes
   through ``joblib.parallel_backend("dask")``; the same code runs on a real
   cluster given its scheduler's address (``--scheduler tcp://host:8786``).

It prints the wall time of each, the best parameters (the same in every
one-thread run) and the start-up times of the worker pools. Run::

    python examples/dask_search.py                 # a few minutes on 2 cores
    python examples/dask_search.py --n-workers 4   # a bigger local cluster
    python examples/dask_search.py --dask-malloc   # workers keep Dask's malloc setting
"""

import argparse
import os
import time
import warnings

import joblib
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from pynmsnn import SNNClassifier
from pynmsnn.parallel import MALLOC_THRESHOLD, set_torch_threads, setup_torch_workers

GRID = {"hidden_layer_sizes": [(64,), (128,)], "learning_rate_init": [3e-3, 1e-2]}


def make_search(n_jobs):
    """The search every run performs: 4 candidates x 3 folds = 12 fits, then a refit."""
    estimator = SNNClassifier(n_steps=25, max_iter=30, random_state=0)
    return GridSearchCV(estimator, GRID, cv=3, n_jobs=n_jobs)


def timed(label, fit, results, repeat=1):
    """The best of ``repeat`` wall times: the least disturbed by other programs."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        search = fit()
        seconds.append(time.perf_counter() - start)
    seconds = min(seconds)
    results.append((label, seconds, search))
    print(f"{label:<44} {seconds:7.1f} s   best {search.best_params_}  cv {search.best_score_:.3f}", flush=True)


def _warm_up():
    # A tiny fit loads torch's kernels as well as the modules.
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch of a tiny net: it warns, rightly
        SNNClassifier(hidden_layer_sizes=(8,), n_steps=2, max_iter=1).fit(X[:50], y[:50])


def warm_loky_workers(n_jobs):
    """Start joblib's loky processes and import everything in them once."""
    start = time.perf_counter()
    joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_warm_up)() for _ in range(2 * os.cpu_count()))
    print(f"{'  (loky start-up, not counted below)':<44} {time.perf_counter() - start:7.1f} s", flush=True)


def run_on_dask(X, y, args, results):
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        setup_torch_workers(client, threads=1, malloc_threshold=None if args.dask_malloc else MALLOC_THRESHOLD)
        client.run(_warm_up)  # workers import torch and pynmsnn once, as in a long session
        print(f"{'  (cluster start-up, not counted below)':<44} {time.perf_counter() - start:7.1f} s", flush=True)
        label = f"dask cluster, {len(client.scheduler_info()['workers'])} workers x 1 thread"
        label += ", Dask's malloc" if args.dask_malloc else ""

        def fit():
            with joblib.parallel_backend("dask"):
                return make_search(n_jobs=-1).fit(X, y)

        timed(label, fit, results, args.repeat)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-workers", type=int, default=os.cpu_count(), help="local Dask workers (default: cores)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler instead")
    parser.add_argument("--dask-malloc", action="store_true", help="leave malloc on the workers as Dask sets it")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each search; the fastest is shown")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = load_digits(return_X_y=True)
    cores = os.cpu_count()
    print(f"digits {X.shape}, {cores} cores, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}")
    results = []
    default_threads = torch.get_num_threads()
    timed(f"n_jobs=1, torch on {default_threads} threads", lambda: make_search(1).fit(X, y), results, args.repeat)
    set_torch_threads(1)
    timed("n_jobs=1, torch on 1 thread", lambda: make_search(1).fit(X, y), results, args.repeat)
    warm_loky_workers(-1)
    timed(f"n_jobs=-1 (loky, {cores} processes x 1 thread)", lambda: make_search(-1).fit(X, y), results, args.repeat)
    try:
        run_on_dask(X, y, args, results)
    except ImportError:
        print('dask cluster: skipped; pip install "dask[distributed]" dask-ml')
    set_torch_threads(default_threads)

    best = {str(search.best_params_) for _, _, search in results[1:]}
    # Float sums round differently on one thread and on several, so the first
    # run may pick another candidate; the one-thread runs agree exactly.
    print(f"the same best parameters in every one-thread run: {len(best) == 1}")
    serial = results[1][1]
    for label, seconds, _ in results[2:]:
        print(f"speed-up over one core, {label}: {serial / seconds:.2f}x")


if __name__ == "__main__":
    main()
