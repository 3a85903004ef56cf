"""save/load: identical predictions, a format that cannot run code, atomic writes, clear errors,
and files verified on load (checksum, finite weights, fields as fit makes them)."""

import json
import os
import pickle
import stat
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
from pynmsnn.persistence import ESTIMATOR_FORMAT_VERSION, FORMAT_VERSION, _checksum, read_metadata

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
    assert loaded.get_fitted_state()[0]["attributes"]["_seed"] == est.get_fitted_state()[0]["attributes"]["_seed"]
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
    assert loaded.get_input_names() == est.get_input_names()
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
    assert set(payload) == {"format", "metadata", "state_dict", "checksum"}
    assert all(isinstance(t, torch.Tensor) for t in payload["state_dict"].values())
    assert payload["checksum"] == _checksum(payload["metadata"], payload["state_dict"])
    metadata = json.loads(payload["metadata"])
    assert metadata["format_version"] == ESTIMATOR_FORMAT_VERSION  # a lone estimator: the format older versions read
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
    assert loaded.compute_device.type == "cpu" and loaded.module_.output.weight.device.type == "cpu"
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
    assert loaded.compute_device.type == "cpu"
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


def _rewrite(source, target, change_metadata=None, change_weights=None, checksum=True):
    """Copy a model file with its metadata or weights changed, and a checksum that matches (or none)."""
    payload = torch.load(source, weights_only=True)
    metadata = json.loads(payload["metadata"])
    if change_metadata is not None:
        change_metadata(metadata)
    if change_weights is not None:
        change_weights(payload["state_dict"])
    payload["metadata"] = json.dumps(metadata)
    payload["checksum"] = _checksum(payload["metadata"], payload["state_dict"])
    if not checksum:
        del payload["checksum"]
    torch.save(payload, target)


def _rewrite_metadata(source, target, **changes):
    _rewrite(source, target, change_metadata=lambda metadata: metadata.update(changes))


@pytest.mark.parametrize(
    "version, advice",
    [(FORMAT_VERSION + 1, "load it with the pynmsnn that wrote it"), (0, "load it with pynmsnn 0.0.9 and save it again")],
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


# ------------------------------------------------------------ verified on load
def _tensor_bytes_offset(path, name):
    """Where the bytes of the tensor stored as ``archive/data/<name>`` begin in the zip file."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(f"/data/{name}"))
    header = path.read_bytes()[info.header_offset : info.header_offset + 30]
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def test_flipped_bit_in_the_weights_is_refused(fitted_classifier, tmp_path):
    """One bit flipped in a stored weight (which torch itself reads without complaint) fails the checksum."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(fitted_classifier, good)
    data = bytearray(good.read_bytes())
    data[_tensor_bytes_offset(good, "0") + 10] ^= 0x04
    bad.write_bytes(bytes(data))
    flipped = torch.load(bad, weights_only=True)["state_dict"]
    assert not all(torch.equal(flipped[k], v) for k, v in torch.load(good, weights_only=True)["state_dict"].items())
    with pytest.raises(ValueError, match=r"bad\.pnm.*checksum does not match"):
        load(bad)
    with pytest.raises(ValueError, match="checksum"):
        read_metadata(bad)


def test_flipped_bit_in_the_metadata_is_refused(fitted_classifier, tmp_path):
    """A bit flip that still leaves valid JSON (decay 0.9 -> 0.8) is caught by the checksum."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(fitted_classifier, good)
    data = bytearray(good.read_bytes())
    at = data.index(b'"decay": 0.9') + len('"decay": 0.')
    data[at] ^= 0x01  # "9" -> "8"
    bad.write_bytes(bytes(data))
    assert json.loads(torch.load(bad, weights_only=True)["metadata"])["params"]["items"]["decay"] == 0.8
    with pytest.raises(ValueError, match=r"bad\.pnm.*changed after it was written"):
        load(bad)


def test_file_without_checksum_still_loads(fitted_classifier, iris, tmp_path):
    """Files written before the checksum existed (the same layout without it) load and predict the same."""
    X, _ = iris
    good, legacy = tmp_path / "good.pnm", tmp_path / "legacy.pnm"
    save(fitted_classifier, good)
    _rewrite(good, legacy, checksum=False)
    assert "checksum" not in torch.load(legacy, weights_only=True)
    assert np.array_equal(load(legacy).predict_proba(X), fitted_classifier.predict_proba(X))


def test_unexpected_entry_is_refused(fitted_classifier, tmp_path):
    """An entry the format does not have (a damaged 'checksum' key, say) is refused, not ignored."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(fitted_classifier, good)
    payload = torch.load(good, weights_only=True)
    payload["checksun"] = payload.pop("checksum")
    torch.save(payload, bad)
    with pytest.raises(ValueError, match=r"bad\.pnm.*unexpected entries \['checksun'\]"):
        load(bad)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(value, fitted_classifier, tmp_path):
    """A NaN or infinite weight is refused with the tensor's name, even with a matching checksum."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(fitted_classifier, good)

    def poison(state_dict):
        state_dict["hidden.0.weight"][0, 0] = value

    _rewrite(good, bad, change_weights=poison)
    with pytest.raises(ValueError, match=r"bad\.pnm.*'hidden\.0\.weight' holds 1 NaN or infinite"):
        load(bad)


def _set_param(name, value):
    def change(metadata):
        metadata["params"]["items"][name] = value
        metadata["network"][name] = value

    return change


@pytest.mark.parametrize(
    "change, field",
    [
        (_set_param("n_steps", 0), "'n_steps' parameter"),
        (_set_param("decay", 1.5), "'decay' parameter"),
        (_set_param("decay", -0.1), "'decay' parameter"),
        (_set_param("threshold", float("nan")), "'threshold' parameter"),
        (_set_param("encoder", "morse"), "'encoder' parameter"),
        (lambda m: m["network"].update(decay=0.5), "network was saved with decay=0.5"),
        (lambda m: m["network"].update(n_inputs=7), "n_inputs=7, but the input scaling"),
        (lambda m: m.update(estimator="SNNRegressor"),
         "parameters \\['class_weight', 'readout'\\] are unknown to SNNRegressor"),
        (lambda m: (m.update(estimator="SNNRegressor"), m["params"]["items"].pop("readout"),
                    m["params"]["items"].pop("class_weight")),
         "holds \\['classes_'\\], which belong to an SNNClassifier"),
        (lambda m: m["attributes"].pop("classes_"), "classes_ of an SNNClassifier"),
        (lambda m: m["attributes"].update(classes_=[2, 1, 0]), "classes_ of an SNNClassifier"),
        (lambda m: m["attributes"].update(n_features_in_=5), "n_features_in_ is 5"),
        (lambda m: m["attributes"].update(n_outputs_=3), "n_outputs_.*belong to an SNNRegressor"),
        (lambda m: m["scaler"]["items"].pop("scale_"), "lacks fields \\['scale_'\\]"),
        (lambda m: m["scaler"]["items"]["min_"].update(shape=[2, 2]), "min_ must be a float array of shape \\(4,\\)"),
        (lambda m: m["scaler"]["items"]["min_"].update(shape=[3], data=[0.0, 1.0, 2.0]), "min_.*shape \\(3,\\)"),
        (lambda m: m["scaler"]["items"].update(numeric_=[0, 1, 1, 3]), "numeric_ \\[0, 1, 1, 3\\]"),
        (lambda m: m["attributes"].update(__class__="os"), "unexpected fitted attribute name '__class__'"),
        (lambda m: m["attributes"].update(_scaler=None), "unexpected fitted attribute name '_scaler'"),
        (lambda m: m["attributes"].update(predict=None), "unexpected fitted attribute name 'predict'"),
        (lambda m: m["attributes"]["firing_rates_"]["items"].update({"hidden 1": 7.0}), "firing_rates_ must map"),
    ],
    ids=[
        "n_steps=0", "decay=1.5", "decay<0", "threshold=nan", "unknown encoder", "network disagrees",
        "n_inputs disagrees", "classifier params as regressor", "classifier as regressor", "no classes_",
        "unsorted classes_",
        "n_features_in_", "regressor attribute", "scaler field missing", "scaler 2-D", "scaler short",
        "scaler columns", "dunder attribute", "rebuilt attribute", "method as attribute", "firing rate",
    ],
)
def test_invalid_fields_are_refused_by_name(change, field, fitted_classifier, tmp_path):
    """A file whose fields fit could not have made (with a matching checksum) is refused on load with
    a ValueError naming the field, never an AttributeError or a broadcast error at predict."""
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(fitted_classifier, good)
    _rewrite(good, bad, change_metadata=change)
    with pytest.raises(ValueError, match=rf"bad\.pnm.*damaged or invalid.*{field}"):
        load(bad)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda m: m["attributes"]["_y_scale"]["data"].__setitem__(0, 0.0), "_y_scale must be finite"),
        (lambda m: m["attributes"]["_y_mean"].update(shape=[1, 1]), "_y_mean must be a float array of shape \\(1,\\)"),
        (lambda m: m["attributes"].update(n_outputs_=2), "_y_mean must be a float array of shape \\(2,\\)"),
        (lambda m: m["attributes"].update(classes_={"__type__": "ndarray", "dtype": "<i8", "shape": [2],
                                                    "data": [0, 1]}), "classes_.*belong to an SNNClassifier"),
    ],
    ids=["zero scale", "2-D mean", "n_outputs_ vs _y_mean", "classes in a regressor"],
)
def test_invalid_regressor_fields_are_refused_by_name(change, field, tmp_path):
    """The target scaling of a regressor is checked like the rest."""
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    good, bad = tmp_path / "good.pnm", tmp_path / "bad.pnm"
    save(SNNRegressor(**{**FAST, "max_iter": 2}).fit(X, y), good)
    _rewrite(good, bad, change_metadata=change)
    with pytest.raises(ValueError, match=rf"bad\.pnm.*{field}"):
        load(bad)


def test_overwriting_keeps_the_file_permissions(fitted_classifier, tmp_path):
    """Saving over a model file keeps its permission bits; a new file gets the usual ones."""
    path = tmp_path / "model.pnm"
    save(fitted_classifier, path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.chmod(0o640)
    save(fitted_classifier, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["model.pnm"]


def test_a_file_written_by_pynmsnn_0_1_0_loads_and_predicts_as_it_did():
    """tests/data holds an iris model saved by pynmsnn 0.1.0 (before ``reset`` existed) and its
    predict_proba on iris: it loads with reset='subtract', the neuron it had, and predicts the same."""
    from pathlib import Path

    from sklearn.datasets import load_iris

    data = Path(__file__).parent / "data"
    model = load(data / "model_format1_v0.1.0.pnm")
    assert model.reset == "subtract" and model.module_.neuron.reset == "subtract"
    X, _ = load_iris(return_X_y=True)
    np.testing.assert_allclose(model.predict_proba(X), np.load(data / "model_format1_v0.1.0_proba.npy"),
                               rtol=0, atol=1e-6)
