"""save/load: identical predictions, a format that cannot run code, atomic writes, clear errors."""

import json
import os
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import pynmsnn
from pynmsnn import SNNClassifier, SNNRegressor, load, save
from pynmsnn.persistence import FORMAT_VERSION, read_metadata

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=20, learning_rate_init=0.01, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def fitted_classifier(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SNNClassifier(**FAST).fit(X, y)


@pytest.fixture(scope="module")
def frame():
    """A table with numeric, string, category and bool columns."""
    X, _ = load_iris(return_X_y=True, as_frame=True)
    X = X.copy()
    X["colour"] = np.where(X["sepal length (cm)"] > 5.8, "red", "blue")
    X["size"] = pd.Categorical(np.where(X["petal width (cm)"] > 1.0, "big", "small"))
    X["flag"] = X["sepal width (cm)"] > 3.0
    return X


def _round_trip(est, tmp_path):
    path = tmp_path / "model.pnm"
    save(est, path)
    return load(path)


def _assert_same_fitted_state(loaded, est):
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert loaded.n_features_in_ == est.n_features_in_
    assert loaded.n_iter_ == est.n_iter_
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.validation_scores_ == est.validation_scores_
    assert loaded.best_loss_ == est.best_loss_
    assert loaded.firing_rates_ == est.firing_rates_  # they choose how predict runs
    assert loaded.best_validation_score_ == est.best_validation_score_
    assert loaded._seed == est._seed
    if hasattr(est, "feature_names_in_"):
        np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)


def test_classifier_round_trip_is_identical(fitted_classifier, iris, tmp_path):
    """A loaded classifier predicts exactly what the saved one did, and keeps its fitted state."""
    X, _ = iris
    loaded = _round_trip(fitted_classifier, tmp_path)
    assert np.array_equal(loaded.predict(X), fitted_classifier.predict(X))
    assert np.array_equal(loaded.predict_proba(X), fitted_classifier.predict_proba(X))
    assert loaded.classes_.dtype == fitted_classifier.classes_.dtype
    _assert_same_fitted_state(loaded, fitted_classifier)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_round_trip_is_identical(n_targets, tmp_path):
    """Regressors keep their target scaling and the 1-D / 2-D shape of their predictions."""
    X, y = make_regression(n_samples=120, n_features=5, n_targets=n_targets, random_state=0)
    est = SNNRegressor(**FAST).fit(X, y)
    loaded = _round_trip(est, tmp_path)
    assert loaded.predict(X).shape == est.predict(X).shape
    assert np.array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_array_equal(loaded._y_mean, est._y_mean)
    assert loaded._y_is_1d == est._y_is_1d and loaded.n_outputs_ == est.n_outputs_
    _assert_same_fitted_state(loaded, est)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["setosa", "versicolor", "virginica"]),  # numpy unicode
        pd.Series(["setosa", "versicolor", "virginica"], dtype=object).to_numpy(),  # object strings
        np.array([10, 20, 30], dtype=np.int32),
        np.array([-1.0, 0.0, 2.0]),
    ],
    ids=["unicode", "object", "int32", "float"],
)
def test_dataframe_with_categorical_columns_and_typed_labels(labels, frame, iris, tmp_path):
    """String, object, int32 and float labels come back with their exact values and dtype."""
    _, y = iris
    est = SNNClassifier(**FAST).fit(frame, labels[y])
    loaded = _round_trip(est, tmp_path)
    assert loaded.classes_.dtype == est.classes_.dtype
    assert [type(c) for c in loaded.classes_] == [type(c) for c in est.classes_]
    assert np.array_equal(loaded.predict(frame), est.predict(frame))
    assert np.array_equal(loaded.predict_proba(frame), est.predict_proba(frame))
    assert loaded._scaler.output_names == est._scaler.output_names
    # An unseen category still gives all zeros rather than a crash.
    odd = frame.iloc[:3].assign(colour="purple")
    assert np.array_equal(loaded.predict(odd), est.predict(odd))


def test_a_loaded_model_matches_categories_by_value(frame, iris, tmp_path):
    """Categories saved as JSON come back by value: a bool column given as 0/1 and integer
    categories given as floats predict as they did before saving."""
    _, y = iris
    typed = frame.assign(level=pd.Categorical((frame["petal length (cm)"] > 4.0).astype(int) + 1))
    est = SNNClassifier(**FAST).fit(typed, y)
    loaded = _round_trip(est, tmp_path)
    drifted = typed.assign(flag=typed["flag"].astype(int), level=typed["level"].astype(float))
    np.testing.assert_array_equal(loaded.predict_proba(drifted), est.predict_proba(typed))
    with pytest.raises(ValueError, match=r"Column 'flag' held booleans in fit .* holds 2 \(int"):
        loaded.predict(typed.assign(flag=typed["flag"].astype(int) * 2))


def test_bool_labels(frame, tmp_path):
    """Boolean labels come back as booleans."""
    labels = (frame["petal length (cm)"] > 4.0).to_numpy()
    est = SNNClassifier(**FAST).fit(frame, labels)
    loaded = _round_trip(est, tmp_path)
    assert loaded.classes_.dtype == np.bool_
    assert loaded.predict(frame).dtype == np.bool_
    assert np.array_equal(loaded.predict(frame), est.predict(frame))


def test_early_stopping_history_and_spike_readout(iris, tmp_path):
    """Validation scores, the best score and a spike readout survive the round trip."""
    X, y = iris
    est = SNNClassifier(**FAST, early_stopping=True, readout="spikes").fit(X, y)
    loaded = _round_trip(est, tmp_path)
    assert loaded.validation_scores_ == est.validation_scores_ and len(loaded.validation_scores_) > 0
    assert loaded.module_.readout == "spikes"
    assert np.array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_random_state_instance_parameter(iris, tmp_path):
    """A RandomState given as random_state is restored with the same state."""
    X, y = iris
    est = SNNClassifier(**{**FAST, "random_state": np.random.RandomState(7)}).fit(X, y)
    loaded = _round_trip(est, tmp_path)
    state, loaded_state = est.random_state.get_state(), loaded.random_state.get_state()
    np.testing.assert_array_equal(loaded_state[1], state[1])
    assert loaded_state[2] == state[2]
    assert np.array_equal(loaded.predict(X), est.predict(X))


def test_partial_fit_after_load(fitted_classifier, iris, tmp_path):
    """A loaded model trains on: partial_fit runs one more epoch with a fresh optimizer."""
    X, y = iris
    loaded = _round_trip(fitted_classifier, tmp_path)
    before = loaded.module_.output.weight.detach().clone()
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == fitted_classifier.n_iter_ + 1
    assert len(loaded.loss_curve_) == len(fitted_classifier.loss_curve_) + 1
    assert not torch.equal(before, loaded.module_.output.weight)
    assert loaded.score(X, y) > 0.6


def test_load_leaves_global_torch_random_state_alone(fitted_classifier, tmp_path):
    """Rebuilding the network draws nothing from torch's global generator."""
    path = tmp_path / "model.pnm"
    save(fitted_classifier, path)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load(path)
    assert torch.equal(torch.rand(3), expected)


def test_file_holds_only_tensors_and_json(fitted_classifier, tmp_path):
    """The file is a weights-only torch file: tensors plus one JSON string with versions."""
    path = tmp_path / "model.pnm"
    save(fitted_classifier, path)
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "metadata", "state_dict"}
    assert all(isinstance(t, torch.Tensor) for t in payload["state_dict"].values())
    metadata = json.loads(payload["metadata"])
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["pynmsnn_version"] == pynmsnn.__version__
    assert metadata["torch_version"] == torch.__version__
    assert metadata["estimator"] == "SNNClassifier"
    assert read_metadata(path)["params"] == fitted_classifier.get_params()


def test_load_refuses_a_file_that_would_run_code(tmp_path):
    """A pickle payload that runs a command when unpickled is refused; the command never runs."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for name, write in [
        ("exploit.pnm", lambda p: torch.save({"format": "pynmsnn model", "metadata": Exploit()}, p)),
        ("exploit.pkl", lambda p: p.write_bytes(pickle.dumps(Exploit()))),
    ]:
        path = tmp_path / name
        write(path)
        with pytest.raises(ValueError, match=rf"{name}.*not a pynmsnn model file.*refuses") as info:
            load(path)
        assert "os.system" in str(info.value) or "posix.system" in str(info.value) or "pickle" in str(info.value)
        assert not marker.exists()


def test_load_refuses_a_pickled_estimator(fitted_classifier, tmp_path):
    """A joblib file is not mistaken for a model file: load names it and points to joblib."""
    path = tmp_path / "model.joblib"
    joblib.dump(fitted_classifier, path)
    with pytest.raises(ValueError, match=r"model\.joblib.*joblib\.load"):
        load(path)


def test_cuda_model_loads_without_cuda(fitted_classifier, iris, tmp_path, monkeypatch):
    """A model whose device parameter asks for CUDA loads on the CPU of a machine without a GPU."""
    X, _ = iris
    est = pickle.loads(pickle.dumps(fitted_classifier)).set_params(device="cuda")
    path = tmp_path / "gpu.pnm"
    save(est, path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = load(path)
    assert loaded.device == "cuda"
    assert loaded._device.type == "cpu" and loaded.module_.output.weight.device.type == "cpu"
    assert np.array_equal(loaded.predict(X), fitted_classifier.predict(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_model_loads_on_cpu(iris, tmp_path, monkeypatch):
    """Weights trained on a GPU are written as CPU tensors and load where no GPU is seen."""
    X, y = iris
    est = SNNClassifier(**FAST, device="cuda").fit(X, y)
    path = tmp_path / "gpu.pnm"
    save(est, path)
    assert all(t.device.type == "cpu" for t in torch.load(path, weights_only=True)["state_dict"].values())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = load(path)
    assert loaded._device.type == "cpu"
    # The GPU predicts in float32, the CPU in float64: probabilities agree closely.
    np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("failing", ["torch.save", "os.replace"])
def test_interrupted_save_keeps_the_old_file(failing, fitted_classifier, iris, tmp_path, monkeypatch):
    """A save that dies midway leaves the previous file loadable and no temporary file behind."""
    X, y = iris
    path = tmp_path / "model.pnm"
    save(fitted_classifier, path)
    old_bytes = path.read_bytes()

    def half_written_save(obj, stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    def failing_replace(*args, **kwargs):
        raise OSError("disk full")

    if failing == "torch.save":
        monkeypatch.setattr(torch, "save", half_written_save)
    else:
        monkeypatch.setattr(os, "replace", failing_replace)
    other = SNNClassifier(**{**FAST, "random_state": 1}).fit(X, y)
    with pytest.raises(OSError, match="disk full"):
        save(other, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.pnm"]
    assert np.array_equal(load(path).predict(X), fitted_classifier.predict(X))


def _rewrite_metadata(source, target, **changes):
    payload = torch.load(source, weights_only=True)
    metadata = json.loads(payload["metadata"])
    metadata.update(changes)
    payload["metadata"] = json.dumps(metadata)
    torch.save(payload, target)


@pytest.mark.parametrize(
    "version, advice",
    [(FORMAT_VERSION + 1, "upgrade pynmsnn"), (0, "load it with pynmsnn 0.0.9 and save it again")],
)
def test_other_format_version_is_explained(version, advice, fitted_classifier, tmp_path):
    """A newer or older file says which format it has, which this version reads, and what to do."""
    good, other = tmp_path / "good.pnm", tmp_path / "other.pnm"
    save(fitted_classifier, good)
    _rewrite_metadata(good, other, format_version=version, pynmsnn_version="0.0.9")
    with pytest.raises(ValueError) as info:
        load(other)
    message = str(info.value)
    assert "other.pnm" in message
    assert f"format {version}" in message and f"reads format {FORMAT_VERSION}" in message
    assert advice in message


def test_only_known_estimator_classes_are_built(fitted_classifier, tmp_path):
    """A file naming any other class is refused; no name from the file is imported."""
    good, other = tmp_path / "good.pnm", tmp_path / "other.pnm"
    save(fitted_classifier, good)
    _rewrite_metadata(good, other, estimator="os.system")
    with pytest.raises(ValueError, match=r"other\.pnm.*unknown estimator class 'os\.system'"):
        load(other)


@pytest.mark.parametrize("kind", ["csv", "truncated", "empty", "tensors", "mismatched weights"])
def test_non_model_and_damaged_files_give_value_error(kind, fitted_classifier, tmp_path):
    """Text, truncated, empty, foreign torch files and wrong weights give a ValueError naming the file."""
    good, bad = tmp_path / "good.pnm", tmp_path / f"bad-{kind.replace(' ', '-')}.pnm"
    save(fitted_classifier, good)
    if kind == "csv":
        bad.write_text("a,b\n1,2\n")
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "tensors":
        torch.save({"weight": torch.zeros(3)}, bad)
    else:
        payload = torch.load(good, weights_only=True)
        payload["state_dict"]["output.weight"] = torch.zeros(7, 7)
        torch.save(payload, bad)
    with pytest.raises(ValueError, match=rf"{bad.name}.*(not a pynmsnn model file|damaged)"):
        load(bad)


def test_missing_file_and_folder(tmp_path, fitted_classifier):
    """A missing file is a FileNotFoundError; saving into a missing folder says so."""
    with pytest.raises(FileNotFoundError, match="nowhere.pnm"):
        load(tmp_path / "nowhere.pnm")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save(fitted_classifier, tmp_path / "no-such-folder" / "model.pnm")


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    """Only fitted SNN estimators are saved."""
    with pytest.raises(NotFittedError):
        save(SNNClassifier(), tmp_path / "model.pnm")
    with pytest.raises(TypeError, match="LogisticRegression"):
        from sklearn.linear_model import LogisticRegression

        save(LogisticRegression(), tmp_path / "model.pnm")
    assert not (tmp_path / "model.pnm").exists()


@pytest.mark.parametrize("dump, restore", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_pickle_and_joblib_still_work(dump, restore, fitted_classifier, frame, iris, tmp_path):
    """pickle and joblib round trips keep giving identical predictions."""
    _, y = iris
    est = SNNClassifier(**FAST).fit(frame, np.array(["a", "b", "c"])[y])
    if dump == "joblib":
        joblib.dump(est, tmp_path / "model.joblib")
        restored = joblib.load(tmp_path / "model.joblib")
    else:
        restored = restore(dump(est))
    assert np.array_equal(restored.predict(frame), est.predict(frame))
    assert np.array_equal(restored.predict_proba(frame), est.predict_proba(frame))
