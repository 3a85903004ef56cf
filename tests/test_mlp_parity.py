"""scikit-learn's own MLP tests, run on SNNClassifier and SNNRegressor.

The test module of the installed scikit-learn
(``sklearn/neural_network/tests/test_mlp.py``) is loaded with
``MLPClassifier`` and ``MLPRegressor`` replaced by the spiking estimators,
and its tests run here unchanged. Those whose subject has no counterpart in a
spiking network are listed in ``NOT_APPLICABLE`` with the reason, and are
expected to fail (strictly: one that starts passing must leave the list).
"""

import importlib.util
import pathlib

import pytest
import sklearn
from sklearn import neural_network

from pynmsnn import SNNClassifier, SNNRegressor

SOURCE = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"

ACTIVATIONS = "loops over MLPClassifier's activation functions; hidden units that spike have none"
ONE_ROW = ("fits on one row, which pynmsnn refuses: the input scaling learns each column's range from "
           "at least 2 rows (a lone row is most often X.reshape(1, -1) meant as X.reshape(-1, 1))")
FLOAT32 = "the network computes in float32 and predicts in float64 whatever the input's dtype"
# A test's name, or its name with parameters for one case of a parametrized test.
NOT_APPLICABLE = {
    "test_fit": "sets MLPClassifier's weights by hand and checks its logistic units' arithmetic",
    "test_gradient": "checks MLPClassifier's analytic gradient of each activation against finite differences;"
    " a spike's gradient is a surrogate, by design not the derivative of the step",
    "test_lbfgs_classification": ACTIVATIONS,
    "test_lbfgs_regression": ACTIVATIONS,
    "test_lbfgs_classification_maxfun": ACTIVATIONS,
    "test_lbfgs_regression_maxfun": ACTIVATIONS,
    "test_multilabel_classification": "passes activation='logistic'",
    "test_partial_fit_regression": "passes activation='relu'",
    "test_predict_proba_binary": "passes activation='logistic'",
    "test_mlp_diverging_loss": "passes activation='identity'",
    "test_mlp_vs_poisson_glm_equivalent": "passes loss='poisson' and activation='identity': a linear "
    "Poisson model, which a spiking network is not",
    "test_nonfinite_params": "inputs are scaled to [0, 1] inside, so values near 1e308 train without "
    "overflow and there are no non-finite weights to report",
    "test_mlp_param_dtypes[SNNClassifier-float64]": FLOAT32,
    "test_mlp_param_dtypes[SNNRegressor-float32]": FLOAT32,
    "test_mlp_param_dtypes[SNNRegressor-float64]": FLOAT32,
    "test_partial_fit_classes_error": ONE_ROW,
    "test_mlp_loading_from_joblib_partial_fit": ONE_ROW,
    "test_preserve_feature_names[SNNClassifier]": "fits a classifier on labels of one class, which "
    "pynmsnn refuses (MLPClassifier accepts it and always predicts that class)",
    "test_partial_fit_classification": "its SGD step, learning_rate_init=0.2 with momentum 0.9, diverges "
    "on a spiking network, whose readout sums its input over the time steps (about 7 times an MLP's "
    "output at decay=0.9); at 0.05 fit and 100 partial_fit calls agree and score 1.0 (tests/test_solvers.py)",
    "test_early_stopping_stratified": "early stopping stratifies when every class has 2 rows and "
    "otherwise splits at random, where MLPClassifier raises",
}


def _load_with_spiking_estimators():
    """sklearn's test module, its MLPClassifier and MLPRegressor being SNNClassifier and SNNRegressor."""
    spec = importlib.util.spec_from_file_location("sklearn_test_mlp_on_snn", SOURCE)
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neural_network, "MLPClassifier", SNNClassifier)
        patch.setattr(neural_network, "MLPRegressor", SNNRegressor)
        spec.loader.exec_module(module)
    return module


if not SOURCE.exists():
    pytest.skip(f"this scikit-learn has no {SOURCE}", allow_module_level=True)

_MLP_TESTS = _load_with_spiking_estimators()
assert _MLP_TESTS.MLPClassifier is SNNClassifier and _MLP_TESTS.MLPRegressor is SNNRegressor

globals().update({name: getattr(_MLP_TESTS, name) for name in dir(_MLP_TESTS) if name.startswith("test_")})


@pytest.fixture(autouse=True)
def _expect_not_applicable_to_fail(request):
    """Mark the tests of NOT_APPLICABLE (by name, or name and parameters) as strict expected failures."""
    reason = NOT_APPLICABLE.get(request.node.name) or NOT_APPLICABLE.get(request.node.originalname)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture
def global_random_seed():
    """The seed fixture of scikit-learn's own test suite."""
    return 42


# The scikit-learn whose test module the list was made against; an older one lacks some of its tests.
LISTED_AGAINST = (1, 9)


def test_the_list_names_only_tests_of_the_module():
    """Every name in NOT_APPLICABLE is a test of the loaded module, so none is stale."""
    tests = {name for name in dir(_MLP_TESTS) if name.startswith("test_")}
    missing = {name.split("[")[0] for name in NOT_APPLICABLE} - tests
    installed = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    assert not missing or installed < LISTED_AGAINST, missing
