"""Torch threads on parallel workers: one helper and one Dask worker plugin.

Parallel model selection (``GridSearchCV(n_jobs=...)``, joblib's ``"dask"``
backend, a Dask cluster) runs several fits at once. Each fit's torch uses, by
default, every core of the machine for its matrix products, so ``k`` parallel
fits ask for ``k`` times the cores there are: the threads then wait on each
other (oversubscription) and the parallel search can end up slower than a
serial one.

For networks up to about 128 neurons wide, one torch thread trains as fast as
two: the matrices are too small to split. Giving each worker one thread and
spreading the folds or candidates over the workers is then the fast layout.
Wider networks (256 and up) gain from a few threads per fit.

Dask's nanny already starts worker processes with ``OMP_NUM_THREADS=1`` and
``MKL_NUM_THREADS=1`` (its ``distributed.nanny.pre-spawn-environ`` setting),
which torch honours. Use :func:`set_torch_threads` or :class:`TorchThreads`
where workers start otherwise (``dask worker --no-nanny``, a cluster
configured with other environment variables, your own process pool) or to
give each worker more than one thread. Register the plugin before the
workers run torch tasks: a thread that has run torch keeps its count.

The thread count also decides the order in which float sums are rounded, so
a fit is reproducible for a fixed ``random_state`` *and* a fixed thread
count: a serial search on one thread gives exactly the scores of a search
spread over one-thread workers; on two threads it may differ in the last
digits of the weights, and so by a few test rows.

Nothing here imports Dask unless Dask is installed; :func:`set_torch_threads`
works without it.
"""

from numbers import Integral

import torch

try:  # the plugin's base class; Dask is an optional dependency
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without dask installed
    _WorkerPlugin = object

__all__ = ["TorchThreads", "set_torch_threads", "worker_torch_threads"]

_INSTALL_HINT = 'pip install "dask[distributed]" dask-ml'


def set_torch_threads(n):
    """Set how many threads torch uses for its operations in this process.

    A thin, checked wrapper around :func:`torch.set_num_threads`, made to be
    sent to every worker of a Dask cluster with ``client.run``.

    Parameters
    ----------
    n : int
        Number of intra-op threads, at least 1. One is the right number when
        several fits of networks up to about 128 wide run side by side.

    Returns
    -------
    int
        The thread count torch reports afterwards.

    Notes
    -----
    Threads that first use torch after the call take the new count up; a
    thread that has already run torch keeps the count it had. On a Dask
    worker, whose tasks run in a thread of their own, set it before the
    worker runs any torch task: register a :class:`TorchThreads` plugin
    right after connecting the client.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.parallel import set_torch_threads
    >>> before = torch.get_num_threads()
    >>> set_torch_threads(1)
    1
    >>> _ = set_torch_threads(before)  # put it back

    On every worker of a Dask cluster (a dict of counts by worker address):

    >>> client.run(set_torch_threads, 1)  # doctest: +SKIP
    {'tcp://127.0.0.1:40123': 1, 'tcp://127.0.0.1:40567': 1}
    """
    torch.set_num_threads(_check_threads(n))
    return torch.get_num_threads()


class TorchThreads(_WorkerPlugin):
    """A Dask worker plugin that sets torch's thread count on every worker.

    Registered once with ``client.register_plugin``, it runs on every worker
    of the cluster at registration and on each worker that joins later (after
    ``cluster.scale(...)``, or a worker restarted by its nanny).

    Parameters
    ----------
    n : int, default=1
        Number of torch threads per worker process; see
        :func:`set_torch_threads`.

    Attributes
    ----------
    name : str
        The plugin's name on the cluster: registering a new ``TorchThreads``
        replaces the previous one.

    See Also
    --------
    worker_torch_threads : Register the plugin and report the counts.

    Examples
    --------
    >>> from pynmsnn.parallel import TorchThreads
    >>> TorchThreads(1).n
    1
    >>> client.register_plugin(TorchThreads(1))  # doctest: +SKIP
    """

    name = "pynmsnn-torch-threads"

    def __init__(self, n=1):
        # Checked here, in the client, so that a bad n fails before reaching a worker.
        self.n = _check_threads(n)

    def setup(self, worker):
        """Set the thread count when the plugin starts on ``worker``."""
        set_torch_threads(self.n)


def _check_threads(n):
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive integer number of threads, got {n!r}; e.g. n=1.")
    return int(n)


def worker_torch_threads(client, n=1):
    """Give every worker of a Dask cluster ``n`` torch threads, now and later.

    Registers a :class:`TorchThreads` plugin on ``client`` and asks each
    worker for its count. Call it right after connecting, before the workers
    run torch tasks (see :func:`set_torch_threads`).

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster.
    n : int, default=1
        Number of torch threads per worker.

    Returns
    -------
    dict
        ``{worker address: torch.get_num_threads()}`` after the change.

    Examples
    --------
    Two worker processes of one thread each, each fit on one torch thread,
    then a grid search whose fits are spread over the workers:

    >>> import joblib
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.parallel import worker_torch_threads
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(SNNClassifier(random_state=0),
    ...                       {"learning_rate_init": [1e-3, 1e-2]}, n_jobs=-1)
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \\
    ...         Client(cluster) as client:  # doctest: +SKIP
    ...     counts = worker_torch_threads(client, 1)
    ...     with joblib.parallel_backend("dask"):
    ...         search = search.fit(X, y)
    """
    try:
        import distributed  # noqa: F401  (the plugin needs it)
    except ImportError as error:  # pragma: no cover - only without dask installed
        raise ImportError(f"worker_torch_threads needs Dask's distributed: {_INSTALL_HINT}") from error
    client.register_plugin(TorchThreads(n))
    return client.run(torch.get_num_threads)
