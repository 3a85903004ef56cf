"""Beyond one process: searches on a Dask cluster, torch threads per worker, out-of-core fits."""

import inspect
import os
import platform
import resource
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest
import torch
from scipy.stats import loguniform
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, train_test_split

from pynmsnn import SNNClassifier
from pynmsnn.model_selection import SNNGridSearchCV
from pynmsnn.parallel import (
    TorchWorker,
    set_malloc_threshold,
    set_torch_threads,
    setup_torch_workers,
)

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
wrappers = pytest.importorskip("dask_ml.wrappers")

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=30, random_state=0)
# Out-of-core settings: small batches so that one epoch of a chunk is several steps.
STREAM = dict(hidden_layer_sizes=(16,), n_steps=6, batch_size=32, learning_rate_init=3e-3, random_state=0)
N_CHUNKS = 8
N_PASSES = 8


def _local_cluster(n_workers=2):
    # processes=True: each worker is a process of its own, as on a real cluster.
    return distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )


# Workers that would each run torch on two threads, as they do where Dask's nanny
# defaults (one thread) are not in force; the TorchWorker plugin brings them to one.
TWO_THREADS_EACH = {
    "distributed.nanny.pre-spawn-environ.OMP_NUM_THREADS": 2,
    "distributed.nanny.pre-spawn-environ.MKL_NUM_THREADS": 2,  # torch follows MKL's count
}


@pytest.fixture(scope="module")
def client():
    """A real two-process cluster, one torch thread per worker, closed at the module's end."""
    with dask.config.set(TWO_THREADS_EACH), _local_cluster() as cluster, distributed.Client(cluster) as client:
        setup_torch_workers(client, threads=1)  # before any task, as the docs say
        yield client


@pytest.fixture(autouse=True)
def one_torch_thread():
    """This process on one torch thread, as the workers are, for each test's length.

    Float sums are rounded in an order that depends on the thread count, and a
    training run drifts from such last-bit differences: results are reproducible
    at a fixed random_state *and* a fixed thread count. One thread also keeps
    this process from competing for the cores with the two workers.
    """
    before = torch.get_num_threads()
    set_torch_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def shuffled_table():
    """A shuffled two-class table, split into train and test."""
    X, y = make_classification(n_samples=1600, n_features=10, n_informative=6, shuffle=True, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


# ------------------------------------------------------------- model selection
SEARCHES = {
    "grid": lambda: GridSearchCV(
        SNNClassifier(**FAST),
        {"hidden_layer_sizes": [(8,), (16,)], "learning_rate_init": [1e-3, 1e-2]},
        cv=3,
    ),
    "randomized": lambda: RandomizedSearchCV(
        SNNClassifier(**FAST),
        {"learning_rate_init": loguniform(1e-4, 3e-2), "decay": [0.8, 0.9]},
        n_iter=4, cv=3, random_state=0,
    ),
}


@pytest.mark.parametrize("kind", sorted(SEARCHES))
def test_search_on_dask_cluster_matches_local_run(kind, client):
    """With random_state fixed, a search spread over two worker processes finds
    the same best parameters and the same cv scores as a serial one."""
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0)
    local = SEARCHES[kind]().set_params(n_jobs=1).fit(X, y)

    remote = SEARCHES[kind]().set_params(n_jobs=-1)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote.fit(X, y)

    workers = {task["worker"] for task in tasks.data}
    assert workers == set(client.scheduler_info()["workers"])  # both workers did fits
    assert remote.best_params_ == local.best_params_
    for key in ["mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"]:
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key])
    assert local.best_score_ > 0.6  # it learned: chance is 1/3 for these three classes
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))


def test_batched_search_spreads_its_stacks_over_the_cluster(client):
    """SNNGridSearchCV over two architectures on two workers: stacks run on both, and every
    score is GridSearchCV's run here (one torch thread on both sides: the same numbers)."""
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0)
    grid = {"hidden_layer_sizes": [(8,), (16,)], "decay": [0.8, 0.95], "learning_rate_init": [1e-3, 1e-2]}
    local = GridSearchCV(SNNClassifier(**FAST), grid, cv=3).fit(X, y)

    remote = SNNGridSearchCV(SNNClassifier(**FAST), grid, cv=3, n_jobs=-1)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote.fit(X, y)

    assert {task["worker"] for task in tasks.data} == set(client.scheduler_info()["workers"])
    assert remote.cv_results_["batched"].all()
    assert remote.best_params_ == local.best_params_
    for key in ["mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"]:
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])


# --------------------------------------------------------------- torch threads
def test_setup_torch_workers_sets_every_worker_now_and_later(client):
    """Workers started to use two torch threads use one after setup_torch_workers,
    in the threads that run tasks too, and so does a worker that joins later."""
    cluster = client.cluster
    assert set(client.run(os.environ.get, "OMP_NUM_THREADS").values()) == {"2"}
    workers = list(client.run(torch.get_num_threads))
    assert set(client.run(torch.get_num_threads).values()) == {1}
    in_tasks = [client.submit(torch.get_num_threads, pure=False, workers=[w]) for w in workers]
    assert client.gather(in_tasks) == [1, 1]

    cluster.scale(3)
    client.wait_for_workers(3, timeout=60)
    joined = set(client.run(torch.get_num_threads)) - set(workers)
    assert len(joined) == 1
    assert client.run(os.environ.get, "OMP_NUM_THREADS", workers=list(joined)) == {w: "2" for w in joined}
    assert client.run(torch.get_num_threads, workers=list(joined)) == {w: 1 for w in joined}
    assert client.submit(torch.get_num_threads, pure=False, workers=list(joined)).result() == 1

    cluster.scale(2)  # back to the module's two workers
    _wait_for_exactly(client, 2)


def _wait_for_exactly(client, n_workers, timeout=60):
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) != n_workers:
        assert time.monotonic() < deadline, f"the cluster did not get to {n_workers} workers"
        time.sleep(0.1)


def test_set_torch_threads_sets_and_reports_the_count():
    """set_torch_threads changes this process's count and returns the new one."""
    assert torch.get_num_threads() == 1  # the module's fixture
    assert set_torch_threads(2) == 2 == torch.get_num_threads()  # the fixture puts it back


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_counts_must_be_positive_integers(bad):
    """A bad count is refused by name before it reaches torch, malloc or a worker."""
    with pytest.raises(ValueError, match="^n must be a positive integer"):
        set_torch_threads(bad)
    with pytest.raises(ValueError, match="nbytes must be a positive integer"):
        set_malloc_threshold(bad)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        TorchWorker(threads=bad)
    with pytest.raises(ValueError, match="malloc_threshold must be a positive integer"):
        TorchWorker(malloc_threshold=bad)


def _page_faults_of_big_buffers():
    """Minor page faults while 100 buffers of 1 MiB are filled and freed in turn."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        np.ones(2**17)  # 1 MiB of float64, written, then freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc thresholds are glibc's")
def test_worker_malloc_reuses_big_buffers(client):
    """Under Dask's MALLOC_TRIM_THRESHOLD_ each 1 MiB buffer is mapped afresh (256
    page faults each); on the plugin's workers it is reused from the heap."""
    name = TorchWorker.name
    tuned = client.run(lambda dask_worker: dask_worker.plugins[name].malloc_tuned)
    assert set(tuned.values()) == {True}
    assert max(client.run(_page_faults_of_big_buffers).values()) < 2_000

    # The same loop in a process set up as Dask sets up its workers.
    code = "import resource, numpy as np\n" + inspect.getsource(_page_faults_of_big_buffers)
    code += "print(_page_faults_of_big_buffers())"
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    untuned = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(untuned.stdout) > 10_000


# -------------------------------------------------------------- out of core
def _in_memory_accuracy(X_train, y_train, X_test, y_test):
    # The same settings and the same number of epochs as the chunked run.
    clf = SNNClassifier(max_iter=N_PASSES, **STREAM).fit(X_train, y_train)
    return clf.score(X_test, y_test)


def test_incremental_over_dask_array_matches_in_memory_fit(client, shuffled_table):
    """Chunk by chunk, one epoch per chunk per pass, the model reaches the test
    accuracy of an in-memory fit of as many epochs, within 3 points."""
    X_train, X_test, y_train, y_test = shuffled_table
    chunk = -(-len(X_train) // N_CHUNKS)
    X_dask = da.from_array(X_train, chunks=(chunk, X_train.shape[1]))
    y_dask = da.from_array(y_train, chunks=chunk)
    assert X_dask.numblocks == (N_CHUNKS, 1)

    inc = wrappers.Incremental(SNNClassifier(**STREAM), scoring="accuracy", random_state=0)
    for _ in range(N_PASSES):
        inc.partial_fit(X_dask, y_dask, classes=[0, 1])

    assert inc.estimator_.n_iter_ == N_PASSES * N_CHUNKS
    accuracy = inc.estimator_.score(X_test, y_test)
    assert accuracy >= _in_memory_accuracy(X_train, y_train, X_test, y_test) - 0.03
    assert accuracy > 0.8
    # Incremental's own scoring and predict run blockwise on dask arrays.
    test_dask = da.from_array(X_test, chunks=150), da.from_array(y_test, chunks=150)
    assert inc.score(*test_dask) == pytest.approx(accuracy)
    np.testing.assert_array_equal(inc.predict(test_dask[0]).compute(), inc.estimator_.predict(X_test))


def test_incremental_over_dask_dataframe_matches_in_memory_fit(client):
    """A dask DataFrame of digits (ten classes) trains partition by partition
    and keeps its column names; accuracy within 3 points of an in-memory fit."""
    X, y = load_digits(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    # train_test_split shuffled the rows; a fresh index keeps that order in dask.
    X_train, y_train = X_train.reset_index(drop=True), y_train.reset_index(drop=True)
    X_dask = dd.from_pandas(X_train, npartitions=N_CHUNKS)
    y_dask = dd.from_pandas(y_train, npartitions=N_CHUNKS)

    inc = wrappers.Incremental(SNNClassifier(**STREAM), scoring="accuracy", random_state=0)
    for _ in range(N_PASSES):
        inc.partial_fit(X_dask, y_dask, classes=np.arange(10))

    fitted = inc.estimator_
    assert fitted.n_iter_ == N_PASSES * N_CHUNKS
    assert list(fitted.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(fitted.classes_, np.arange(10))
    accuracy = fitted.score(X_test, y_test)
    assert accuracy >= _in_memory_accuracy(X_train, y_train, X_test, y_test) - 0.03
    assert accuracy > 0.85


def test_incremental_fits_the_input_scaling_on_the_first_chunk(client):
    """The scaling is fitted on the first chunk trained on and kept afterwards;
    this is why the rows must be shuffled before chunking."""
    X, y = make_classification(n_samples=400, n_features=4, n_informative=3, n_redundant=0, random_state=1)
    order = np.argsort(X[:, 0])  # sorted by the first column: the worst case
    X_dask = da.from_array(X[order], chunks=(100, 4))
    y_dask = da.from_array(y[order], chunks=100)

    inc = wrappers.Incremental(SNNClassifier(**STREAM), shuffle_blocks=False).fit(X_dask, y_dask, classes=[0, 1])

    first, last = X[order][:100], X[order][300:]
    scaler = inc.estimator_._scaler
    np.testing.assert_allclose(scaler.min_, first.min(axis=0))
    np.testing.assert_allclose(scaler.min_ + 1 / scaler.scale_, first.max(axis=0))
    # The last chunk lies above the first chunk's range in column 0: all of it is clipped to 1.
    assert first[:, 0].max() < last[:, 0].min()
    np.testing.assert_array_equal(scaler.transform(last)[:, 0], 1.0)
