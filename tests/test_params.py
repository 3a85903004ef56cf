"""Parameter checks on public APIs only: scikit-learn's wording, without its private modules."""

import ast
import pathlib
import warnings
from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

import pynmsnn
from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn._params import InvalidParameterError, Interval, StrOptions, validate

PACKAGE = pathlib.Path(pynmsnn.__file__).parent
X, Y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 1, 0, 1])


def _sklearn_imports(path):
    """``[(line, 'module.name')]`` of every name the file imports from scikit-learn."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sklearn":
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "sklearn"]
    return found


# Modules allowed private scikit-learn names, with the reason (tests pin their behaviour to the public API's).
PRIVATE_ALLOWED = {
    "model_selection.py": "the batched search extends scikit-learn's search machinery (BaseSearchCV, "
                          "_fit_and_score, scoring helpers), which has no public base class; "
                          "tests/test_model_selection.py checks its cv_results_ against GridSearchCV's",
}


def test_the_package_imports_only_public_scikit_learn_names():
    """No module or name that starts with an underscore, anywhere on the path (sklearn.utils._x, _check_y)."""
    private = [
        f"{path.name}:{line}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name not in PRIVATE_ALLOWED
        for line, name in _sklearn_imports(path)
        if any(part.startswith("_") for part in name.split("."))
    ]
    assert private == []
    assert any(_sklearn_imports(PACKAGE / "_base.py"))  # the scan sees imports


def test_the_scan_finds_a_private_import(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("from sklearn.utils._param_validation import Interval\nimport sklearn.utils._testing\n")
    assert [name for _, name in _sklearn_imports(source)] == [
        "sklearn.utils._param_validation.Interval", "sklearn.utils._testing"]


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 0}, {"batch_size": "big"}, {"alpha": -1.0}, {"max_iter": 0}, {"max_iter": 2.5},
        {"shuffle": "no"}, {"early_stopping": "yes"}, {"random_state": -1}, {"verbose": -1},
        {"hidden_layer_sizes": "wide"}, {"learning_rate_init": 0.0}, {"tol": float("nan")},
    ],
    ids=lambda params: f"{next(iter(params))}={next(iter(params.values()))!r}",
)
def test_messages_are_those_of_mlpclassifier(params):
    """For a parameter MLPClassifier has too, the message is its message, word for word."""
    with pytest.raises(ValueError) as mlp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(**params).fit(X, Y)
    with pytest.raises(InvalidParameterError) as snn:
        SNNClassifier(**params).fit(X, Y)
    assert str(snn.value) == str(mlp.value).replace("MLPClassifier", "SNNClassifier")
    assert isinstance(snn.value, TypeError)


@pytest.mark.parametrize(
    "constraint, inside, outside, words",
    [
        (Interval(Real, 0, 1, "both"), [0, 0.5, 1, True], [-0.1, 1.1, float("nan"), "0.5"],
         "a float in the range [0.0, 1.0]"),
        (Interval(Integral, 1, None, "left"), [1, 10**9], [0, 1.5, None], "an int in the range [1, inf)"),
        (Interval(Real, 0, None, "neither"), [1e-9], [0, -1], "a float in the range (0.0, inf)"),
        (StrOptions({"b", "a"}), ["a", "b"], ["c", 1, None], "a str among {'a', 'b'}"),
    ],
)
def test_constraints_hold_their_words(constraint, inside, outside, words):
    assert all(constraint.is_satisfied_by(value) for value in inside)
    assert not any(constraint.is_satisfied_by(value) for value in outside)
    assert str(constraint) == words


def test_validate_names_every_form():
    constraints = {"device": [StrOptions({"cpu"}), str, None], "flag": ["boolean"]}
    validate({"device": "cpu", "flag": np.bool_(True), "other": object()}, constraints, "Model")
    with pytest.raises(InvalidParameterError, match=r"^The 'device' parameter of Model must be a str among \{'cpu'\}, "
                       r"an instance of 'str' or None\. Got 3 instead\.$"):
        validate({"device": 3}, constraints, "Model")


@pytest.mark.parametrize("cls", [SNNClassifier, SNNRegressor])
def test_every_parameter_has_a_constraint(cls):
    """What fit checks covers every parameter, and the defaults pass."""
    assert set(cls.parameter_constraints()) == set(cls().get_params())
    cls().check_params()
