"""Export to NIR and run the exported graph in snnTorch and Norse: what maps exactly and what does not."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn.nir_export import nir_input, run_nir, to_nir

nir = pytest.importorskip("nir")
pytest.importorskip("nirtorch")

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::pynmsnn.activity.FiringHealthWarning"),
]


@pytest.fixture(scope="module")
def digits():
    """Training rows and held-out rows of the digits data."""
    X, y = load_digits(return_X_y=True)
    return X[:1000], y[:1000], X[1000:1400], y[1000:1400]


def _fit(digits, **params):
    X, y = digits[:2]
    settings = dict(hidden_layer_sizes=(32,), n_steps=8, max_iter=20, precision="float32", random_state=0,
                    learning_rate_init=0.01)
    return SNNClassifier(**{**settings, **params}).fit(X, y)


@pytest.fixture(scope="module")
def zero_reset_models(digits):
    """Default-decay (0.9) models with reset='zero', one per readout, that learned."""
    models = {readout: _fit(digits, reset="zero", readout=readout) for readout in ("spikes", "membrane")}
    X_test, y_test = digits[2:]
    for model in models.values():
        assert model.decay == 0.9 and model.score(X_test, y_test) > 0.85  # a working model, not a silent one
    return models


def _same_output(clf, X, out):
    """Rows whose output equals the estimator's: spike counts exactly, membranes to float32 rounding."""
    expected = clf._forward(X)
    tolerance = 0.0 if clf.readout == "spikes" else 1e-4
    return np.isclose(out, expected, rtol=0, atol=tolerance).all(axis=1)


def test_graph_has_affine_lif_and_li_nodes_with_the_weights(digits):
    """The graph is Input, (Affine, LIF) per hidden layer, Affine, LI, Output, in a chain."""
    clf = _fit(digits, hidden_layer_sizes=(16, 8), reset="zero", refractory_penalty=0.5, max_iter=2)
    graph = to_nir(clf)
    assert graph.edges == [("input", "affine_1"), ("affine_1", "lif_1"), ("lif_1", "affine_2"),
                           ("affine_2", "lif_2"), ("lif_2", "affine_out"), ("affine_out", "readout"),
                           ("readout", "output")]
    assert isinstance(graph.nodes["lif_1"], nir.LIF) and isinstance(graph.nodes["readout"], nir.LI)
    np.testing.assert_array_equal(graph.nodes["affine_2"].weight, clf.module_.hidden[1].weight.detach().numpy())
    np.testing.assert_array_equal(graph.nodes["lif_1"].v_reset, np.full(16, -0.5))  # the penalty below rest
    assert graph.metadata["n_steps"] == 8 and graph.metadata["exact"]


@pytest.mark.parametrize("readout", ["spikes", "membrane"])
@pytest.mark.parametrize("input_scaling", ["r", "weights"])
@pytest.mark.parametrize("refractory_penalty", [0.0, 0.5])
def test_zero_reset_exports_exactly_by_nir_equations(digits, readout, input_scaling, refractory_penalty):
    """NIR's own equations (forward Euler, v_reset) run on the graph give the estimator's output on every row."""
    clf = _fit(digits, reset="zero", readout=readout, refractory_penalty=refractory_penalty)
    X_test = digits[2]
    out = run_nir(to_nir(clf, input_scaling=input_scaling), nir_input(clf, X_test))
    assert _same_output(clf, X_test, out).all()


def test_the_default_neuron_with_reset_zero_exports_exactly(digits):
    """The default leak with reset='zero' gives a model that leaves the package as it is; the
    default neuron (reset='subtract') is refused with reset='zero' named as the way out."""
    default = SNNClassifier((16,), n_steps=6, max_iter=1, random_state=0).fit(*digits[:2])
    with pytest.raises(ValueError, match="Refit with reset='zero'"):
        to_nir(default)
    clf = SNNClassifier((16,), n_steps=6, max_iter=3, reset="zero", random_state=0).fit(*digits[:2])
    graph = to_nir(clf)
    assert graph.metadata["exact"]
    X_test = digits[2][:100]
    assert _same_output(clf, X_test, run_nir(graph, nir_input(clf, X_test))).all()


@pytest.mark.parametrize("readout", ["spikes", "membrane"])
def test_zero_reset_model_runs_identically_in_snntorch(digits, zero_reset_models, readout):
    """decay=0.9, reset='zero': snnTorch's importer gives the same spike counts (and logits) on 100% of rows."""
    pytest.importorskip("snntorch")
    clf = zero_reset_models[readout]
    X_test = digits[2]
    out = run_nir(to_nir(clf), nir_input(clf, X_test), runtime="snntorch")
    assert _same_output(clf, X_test, out).all()
    np.testing.assert_array_equal(clf.classes_[out.argmax(1)], clf.predict(X_test))


@pytest.mark.parametrize("readout", ["spikes", "membrane"])
def test_zero_reset_model_runs_identically_in_norse(digits, zero_reset_models, readout):
    """The same models re-imported by Norse (which takes r as 1) agree on 100% of rows."""
    pytest.importorskip("norse")
    clf = zero_reset_models[readout]
    X_test = digits[2]
    out = run_nir(to_nir(clf, input_scaling="weights"), nir_input(clf, X_test), runtime="norse")
    assert _same_output(clf, X_test, out).all()
    np.testing.assert_array_equal(clf.classes_[out.argmax(1)], clf.predict(X_test))
    with pytest.raises(ValueError, match="input_scaling='weights'"):
        run_nir(to_nir(clf), nir_input(clf, X_test), runtime="norse")


def test_decay_zero_subtract_model_still_exports_exactly(digits):
    """With nothing carried over a step, the subtracting neuron is NIR's: spike counts equal in snnTorch."""
    pytest.importorskip("snntorch")
    clf = _fit(digits, decay=0.0, readout="spikes", reset="subtract")
    X_test = digits[2]
    graph = to_nir(clf)
    assert graph.metadata["exact"]
    assert _same_output(clf, X_test, run_nir(graph, nir_input(clf, X_test), runtime="snntorch")).all()


def test_subtract_with_leak_agrees_on_most_rows_only_when_allowed(digits):
    """reset='subtract', decay=0.9: reset to zero vs subtraction changes some answers."""
    clf = _fit(digits, decay=0.9, reset="subtract")
    X_test = digits[2]
    graph = to_nir(clf, allow_reset_mismatch=True)
    assert not graph.metadata["exact"]
    out = run_nir(graph, nir_input(clf, X_test))
    agreement = np.mean(clf.classes_[out.argmax(1)] == clf.predict(X_test))
    assert 0.8 <= agreement < 1.0
    assert not _same_output(clf, X_test, out).all()


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(decay=0.9, reset="subtract"), r"reset='subtract' with decay=0.9 does not map exactly.*reset='zero'"),
        (dict(decay=0.5, refractory_penalty=0.5, reset="subtract"), r"refractory_penalty=0.5.*reset='zero'"),
        (dict(encoder="poisson"), r"encoder='poisson'.*encoder='current'"),
        (dict(decay=1.0), r"decay=1"),
    ],
)
def test_settings_that_do_not_map_are_refused_by_name(digits, params, match):
    """Each setting that does not map raises a ValueError naming it and what does."""
    clf = _fit(digits, max_iter=1, **params)
    with pytest.raises(ValueError, match=match):
        to_nir(clf)


def test_unknown_options_are_refused(digits):
    clf = _fit(digits, max_iter=1, reset="zero")
    with pytest.raises(ValueError, match="input_scaling='r_scale'"):
        to_nir(clf, input_scaling="r_scale")
    with pytest.raises(ValueError, match="runtime='lava'"):
        run_nir(to_nir(clf), nir_input(clf, digits[2][:3]), runtime="lava")


def test_graph_survives_a_nir_file_and_regressor_exports(tmp_path, digits):
    """nir.write / nir.read keep the nodes and weights; a regressor exports and runs exactly too."""
    X, y = digits[:2]
    reg = SNNRegressor((8,), n_steps=4, reset="zero", max_iter=2, random_state=0).fit(X, y.astype(float))
    graph = to_nir(reg)
    nir.write(tmp_path / "model.nir", graph)
    back = nir.read(tmp_path / "model.nir")
    assert set(back.nodes) == set(graph.nodes)
    np.testing.assert_array_equal(back.nodes["affine_out"].weight, graph.nodes["affine_out"].weight)
    np.testing.assert_array_equal(back.nodes["readout"].tau, graph.nodes["readout"].tau)
    X_test = digits[2][:50]
    out = run_nir(back, nir_input(reg, X_test))
    np.testing.assert_allclose(out, reg._forward(X_test), atol=1e-4)
