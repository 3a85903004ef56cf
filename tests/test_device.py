"""The ``device`` parameter: 'auto' takes a GPU when torch sees one, else the CPU; 'cuda:N' names one."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn._base import fitted_device, resolve_device

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=30, learning_rate_init=0.01, random_state=0)
# Trained to a plateau, so that a GPU and a CPU fit (which round differently and so
# follow different paths) land on comparable scores: 0.96-1.0 accuracy over seeds.
SETTLED = dict(hidden_layer_sizes=(32,), n_steps=8, max_iter=150, learning_rate_init=0.01, random_state=0)
HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="torch sees no CUDA GPU")
needs_no_cuda = pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present")


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, stratify=y, test_size=0.3, random_state=0)


def _devices(clf):
    return {parameter.device.type for parameter in clf.module_.parameters()}


def test_auto_resolves_to_cuda_exactly_when_torch_sees_one():
    """'auto' names the GPU when there is one and the CPU otherwise; 'cpu' is always the CPU."""
    assert resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@needs_no_cuda
@pytest.mark.parametrize("Estimator", [SNNClassifier, SNNRegressor])
def test_auto_trains_on_the_cpu_without_a_gpu(Estimator, iris_split):
    """The default device='auto' fits and predicts on the CPU when no GPU is present."""
    X_train, X_test, y_train, _ = iris_split
    est = Estimator(device="auto", **FAST).fit(X_train, y_train)
    assert est._device == torch.device("cpu")
    assert _devices(est) == {"cpu"}
    assert isinstance(est.predict(X_test), np.ndarray)


@needs_no_cuda
@pytest.mark.parametrize("Estimator", [SNNClassifier, SNNRegressor])
def test_cuda_without_a_gpu_is_a_clear_error(Estimator, iris_split):
    """device='cuda' with no GPU fails in fit with a ValueError naming the fix, not a torch trace."""
    X_train, _, y_train, _ = iris_split
    est = Estimator(device="cuda", **FAST)
    with pytest.raises(ValueError, match=r"device='cuda'.*no CUDA GPU.*device='auto' or device='cpu'") as error:
        est.fit(X_train, y_train)
    assert torch.__version__ in str(error.value)
    assert not hasattr(est, "module_")
    # The same estimator fits once pointed at the CPU.
    assert _devices(est.set_params(device="cpu").fit(X_train, y_train)) == {"cpu"}


def test_an_unknown_device_names_the_parameter(iris_split):
    """A device other than 'auto', 'cpu', 'cuda' is refused by name at fit."""
    X_train, _, y_train, _ = iris_split
    with pytest.raises(ValueError, match=r"'device' parameter .* Got 'gpu'"):
        SNNClassifier(device="gpu", **FAST).fit(X_train, y_train)


@needs_cuda
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_fit_on_cuda_keeps_the_module_there_and_matches_cpu_accuracy(device, iris_split):
    """On a GPU the module's parameters live on CUDA, predictions come back as numpy,
    and the accuracy is that of a CPU fit within 7 points (3 of 45 test rows)."""
    X_train, X_test, y_train, y_test = iris_split
    gpu = SNNClassifier(device=device, **SETTLED).fit(X_train, y_train)
    cpu = SNNClassifier(device="cpu", **SETTLED).fit(X_train, y_train)
    assert gpu._device.type == "cuda"
    assert _devices(gpu) == {"cuda"}
    proba = gpu.predict_proba(X_test)
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert gpu.score(X_test, y_test) >= cpu.score(X_test, y_test) - 0.07
    assert gpu.score(X_test, y_test) > 0.9


@needs_cuda
def test_regressor_on_cuda_matches_cpu_quality(iris_split):
    """The regressor also trains on CUDA and reaches the CPU fit's R^2 within 0.05."""
    X_train, X_test, _, _ = iris_split
    # Predict petal width from the other three measurements.
    gpu = SNNRegressor(device="cuda", **SETTLED).fit(X_train[:, :3], X_train[:, 3])
    cpu = SNNRegressor(device="cpu", **SETTLED).fit(X_train[:, :3], X_train[:, 3])
    assert _devices(gpu) == {"cuda"}
    assert gpu.score(X_test[:, :3], X_test[:, 3]) >= cpu.score(X_test[:, :3], X_test[:, 3]) - 0.05


@needs_cuda
def test_a_cuda_model_pickles_to_cpu_tensors_and_predicts_the_same(iris_split):
    """A pickle of a GPU model holds CPU tensors; unpickled it predicts as before."""
    X_train, X_test, y_train, _ = iris_split
    gpu = SNNClassifier(device="cuda", **SETTLED).fit(X_train, y_train)
    state = gpu.__getstate__()
    assert {p.device.type for p in state["module_"].parameters()} == {"cpu"}
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_array_equal(restored.predict(X_test), gpu.predict(X_test))
    # partial_fit goes on after unpickling (the optimizer is rebuilt on the device).
    restored.partial_fit(X_train, y_train)
    assert _devices(restored) == {"cuda"}


@needs_no_cuda
@pytest.mark.parametrize("device", ["cuda:0", "cuda:1", torch.device("cuda"), torch.device("cuda", 1)])
def test_a_named_gpu_without_a_gpu_is_the_same_clear_error(device, iris_split):
    """'cuda:N' and a CUDA torch.device fail in fit as 'cuda' does, naming what was asked for."""
    X_train, _, y_train, _ = iris_split
    est = SNNClassifier(device=device, **FAST)
    with pytest.raises(ValueError, match=rf"device='{torch.device(device)}'.*no CUDA GPU.*device='auto'"):
        est.fit(X_train, y_train)
    assert not hasattr(est, "module_")


def test_a_cpu_torch_device_fits_on_the_cpu_and_saves(iris_split, tmp_path):
    """device=torch.device('cpu') is accepted, trains on the CPU, and goes through save/load."""
    from pynmsnn import load, save

    X_train, X_test, y_train, _ = iris_split
    est = SNNClassifier(device=torch.device("cpu"), **FAST).fit(X_train, y_train)
    assert _devices(est) == {"cpu"}
    save(est, tmp_path / "cpu.pnm")
    loaded = load(tmp_path / "cpu.pnm")
    assert loaded.device == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict(X_test), est.predict(X_test))


@pytest.mark.parametrize("device", ["cuda:", "cuda:x", "cuda:-1", "CPU", "mps", torch.device("meta"), 0])
def test_a_malformed_device_names_the_parameter_and_the_forms(device, iris_split):
    """Text that is not auto, cpu, cuda or cuda:N, and devices of other types, are refused by name."""
    X_train, _, y_train, _ = iris_split
    with pytest.raises(ValueError, match=r"'device' parameter of SNNRegressor must be"):
        SNNRegressor(device=device, **FAST).fit(X_train, y_train)


def test_a_gpu_index_beyond_those_present_says_how_many_there_are(monkeypatch):
    """With two GPUs, 'cuda:1' is GPU 1 and 'cuda:3' is refused with the count and the fix."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=r"device='cuda:3' names GPU 3, but torch sees 2 CUDA GPU\(s\), numbered 0 to 1"):
        resolve_device("cuda:3")


@pytest.mark.parametrize(
    "device, gpus, expected",
    [("cuda:1", 2, "cuda:1"), ("cuda:3", 2, "cuda"), ("cuda:1", 0, "cpu"), ("auto", 1, "cuda"), ("cpu", 2, "cpu"),
     (torch.device("cuda", 1), 2, "cuda:1")],
)
def test_a_loaded_model_goes_to_the_gpu_it_names_when_present(device, gpus, expected, monkeypatch):
    """After pickling or loading: the named GPU if present, else the current GPU, else the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    assert fitted_device(device) == torch.device(expected)
