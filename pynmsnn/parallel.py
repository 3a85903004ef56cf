"""Torch on parallel workers: thread count, memory allocator, and a Dask worker plugin.

Parallel model selection (``GridSearchCV(n_jobs=...)``, joblib's ``"dask"``
backend, a Dask cluster) runs several fits at once. Two settings of a worker
process decide whether that pays:

Threads
    Each fit's torch uses, by default, every core of the machine for its
    matrix products, so ``k`` parallel fits ask for ``k`` times the cores
    there are: the threads then wait on each other (oversubscription) and the
    parallel search can end up slower than a serial one. For networks up to
    about 128 neurons wide one torch thread trains as fast as two (the
    matrices are too small to split), so one thread per worker and the folds
    or candidates spread over the workers is the fast layout. Wider networks
    (256 and up) gain from a few threads per fit. Dask's nanny already starts
    workers with ``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1``, which torch
    honours; workers started otherwise (``dask worker --no-nanny``, other
    environment settings, your own process pool) need :func:`set_torch_threads`.

Memory allocator
    Dask's nanny also starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``,
    which returns freed memory to the operating system at once. On glibc
    (Linux) setting it fixes the threshold above which ``malloc`` maps fresh
    pages from the system, at 128 KiB: every time-step buffer of a training
    step is then mapped, zero-filled page by page and unmapped again, and a
    fit would run two to three times slower than in a plain Python process.
    pynmsnn's fit and predict raise both thresholds themselves
    (``pynmsnn/_malloc.py``); :func:`set_malloc_threshold` does it at worker
    start, for everything else the worker runs.

:class:`TorchWorker` does both on every worker of a cluster, now and on
workers that join later; :func:`setup_torch_workers` registers it.

The thread count also decides the order in which float sums are rounded, so a
fit is reproducible for a fixed ``random_state`` *and* a fixed thread count: a
serial search on one thread gives exactly the scores of a search spread over
one-thread workers; on two threads the weights may differ in their last digits
and the scores by a few rows.

Nothing here imports Dask unless Dask is installed; the two ``set_`` functions
work without it.
"""

from numbers import Integral

import torch

from ._malloc import set_thresholds

try:  # the plugin's base class; Dask is an optional dependency
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without dask installed
    _WorkerPlugin = object

__all__ = ["MALLOC_THRESHOLD", "TorchWorker", "set_malloc_threshold", "set_torch_threads", "setup_torch_workers"]

#: Largest buffer glibc's malloc reuses from the heap after this module's tuning:
#: 32 MiB, glibc's own upper bound for its adaptive threshold on 64-bit systems.
MALLOC_THRESHOLD = 32 * 2**20



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
    worker runs any torch task: call :func:`setup_torch_workers` right after
    connecting the client.

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
    torch.set_num_threads(_check_positive(n, "n"))
    return torch.get_num_threads()


def set_malloc_threshold(nbytes=MALLOC_THRESHOLD):
    """Let glibc's malloc reuse freed buffers up to ``nbytes`` in this process.

    Raises the size above which ``malloc`` maps fresh pages from the system
    (``M_MMAP_THRESHOLD``) and the amount of free heap it keeps before giving
    memory back (``M_TRIM_THRESHOLD``). A training step's buffers are then
    reused from the heap instead of being mapped and zero-filled anew, which
    matters in Dask workers: their ``MALLOC_TRIM_THRESHOLD_`` setting pins the
    first threshold at 128 KiB.

    Parameters
    ----------
    nbytes : int, default=MALLOC_THRESHOLD
        Both thresholds, in bytes (32 MiB by default; glibc accepts at most
        32 MiB for the first on 64-bit systems). The process keeps up to this
        much freed memory instead of returning it to the system.

    Returns
    -------
    bool
        True where glibc took both settings; False elsewhere (macOS, Windows,
        musl), where nothing is changed.

    Examples
    --------
    >>> from pynmsnn.parallel import set_malloc_threshold
    >>> set_malloc_threshold() in (True, False)
    True
    >>> client.run(set_malloc_threshold)  # doctest: +SKIP
    {'tcp://127.0.0.1:40123': True, 'tcp://127.0.0.1:40567': True}
    """
    nbytes = _check_positive(nbytes, "nbytes")
    return set_thresholds(nbytes, nbytes)


class TorchWorker(_WorkerPlugin):
    """A Dask worker plugin that sets torch's threads and malloc's thresholds.

    Registered once with ``client.register_plugin`` (or through
    :func:`setup_torch_workers`), it runs on every worker of the cluster at
    registration and on each worker that joins later (after
    ``cluster.scale(...)``, or a worker restarted by its nanny).

    Parameters
    ----------
    threads : int, default=1
        Number of torch threads per worker process; see
        :func:`set_torch_threads`.
    malloc_threshold : int or None, default=MALLOC_THRESHOLD
        See :func:`set_malloc_threshold`; None leaves malloc as Dask set it.

    Attributes
    ----------
    name : str
        The plugin's name on the cluster: registering a new ``TorchWorker``
        replaces the previous one.
    malloc_tuned : bool or None
        On a worker, after setup: what :func:`set_malloc_threshold` returned
        (None when not asked for).

    See Also
    --------
    setup_torch_workers : Register the plugin and report the thread counts.

    Examples
    --------
    >>> from pynmsnn.parallel import TorchWorker
    >>> TorchWorker(threads=1).threads
    1
    >>> client.register_plugin(TorchWorker(threads=1))  # doctest: +SKIP
    """

    name = "pynmsnn-torch-worker"

    def __init__(self, threads=1, malloc_threshold=MALLOC_THRESHOLD):
        # Checked here, in the client, so that a bad value fails before reaching a worker.
        self.threads = _check_positive(threads, "threads")
        self.malloc_threshold = None if malloc_threshold is None else _check_positive(
            malloc_threshold, "malloc_threshold")
        self.malloc_tuned = None

    def setup(self, worker):
        """Apply the settings when the plugin starts on ``worker``."""
        set_torch_threads(self.threads)
        if self.malloc_threshold is not None:
            self.malloc_tuned = set_malloc_threshold(self.malloc_threshold)


def setup_torch_workers(client, threads=1, malloc_threshold=MALLOC_THRESHOLD):
    """Give every worker of a Dask cluster ``threads`` torch threads and a reusing malloc.

    Registers a :class:`TorchWorker` plugin on ``client``, so the settings
    hold on the workers there are and on those that join later, and asks
    each worker for its thread count. Call it right after connecting, before
    the workers run torch tasks (see :func:`set_torch_threads`).

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster.
    threads : int, default=1
        Number of torch threads per worker.
    malloc_threshold : int or None, default=MALLOC_THRESHOLD
        See :func:`set_malloc_threshold`; None leaves malloc alone.

    Returns
    -------
    dict
        ``{worker address: torch.get_num_threads()}`` after the change.

    Examples
    --------
    Two worker processes of one thread each, set up for torch, then a grid
    search whose fits are spread over them:

    >>> import joblib
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.parallel import setup_torch_workers
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(SNNClassifier(random_state=0),
    ...                       {"learning_rate_init": [1e-3, 1e-2]}, n_jobs=-1)
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \\
    ...         Client(cluster) as client:  # doctest: +SKIP
    ...     counts = setup_torch_workers(client, threads=1)
    ...     with joblib.parallel_backend("dask"):
    ...         search = search.fit(X, y)
    """
    client.register_plugin(TorchWorker(threads, malloc_threshold))
    return client.run(torch.get_num_threads)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}; e.g. {name}=1.")
    return int(value)
