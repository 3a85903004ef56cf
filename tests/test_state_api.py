"""The estimator owns its state: other modules use its documented methods, never its private attributes."""

import ast
import json
import pathlib
import textwrap
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import NotFittedError
from pynmsnn._params import InvalidParameterError

import pynmsnn
from pynmsnn import SNNClassifier, SNNRegressor

FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=5, random_state=0)
PACKAGE = pathlib.Path(pynmsnn.__file__).parent

# Private attributes of other objects that the package may read, each with the reason.
ALLOWED = {
    ("network.py", "torch._int_mm"): "torch's int8 matmul has no public name; the engine uses it after a probe",
    ("_engine.py", "torch._int_mm"): "the probe that torch._int_mm multiplies int8 matrices on this CPU",
    ("_engine.py", "hasattr(torch, '_int_mm')"): "the probe for torch._int_mm",
    ("_optim.py", "torch._fused_adam_"): "torch.optim.Adam(fused=True)'s kernel, called without torch.optim, "
    "whose first call imports torch's compiler stack",
    ("_optim.py", "hasattr(torch, '_fused_adam_')"): "the probe for it; without it Adam runs tensor by tensor",
}


# ---------------------------------------------------------------- the scan
class _PrivateReads(ast.NodeVisitor):
    """Finds ``x._name`` (and ``getattr(x, '_name')``, ``vars(x)``) where ``x`` is not the object itself.

    The object itself is the first argument of a method (``self``, ``cls``) in
    that method and the functions nested in it, ``super()``, and an instance
    the class makes (``cls(...)._restore(...)``); a class body may read its
    base classes (``**BaseSNN._parameter_constraints``).
    """

    def __init__(self):
        self.found = []
        self._own = [frozenset()]
        self._in_class = [None]

    def visit_ClassDef(self, node):
        bases = frozenset(ast.unparse(base) for base in node.bases)
        self._in_class.append(node)
        self._own.append(self._own[-1] | bases)
        self.generic_visit(node)
        self._own.pop()
        self._in_class.pop()

    def visit_FunctionDef(self, node):
        own = set(self._own[-1])
        is_method = self._in_class[-1] is not None and node in self._in_class[-1].body
        arguments = node.args.posonlyargs + node.args.args
        if is_method and arguments and "staticmethod" not in map(ast.unparse, node.decorator_list):
            own = (own - {ast.unparse(b) for b in self._in_class[-1].bases}) | {arguments[0].arg}
        elif not is_method:
            own -= {ast.unparse(b) for b in (self._in_class[-1].bases if self._in_class[-1] else [])}
        self._own.append(frozenset(own))
        self._in_class.append(None)
        self.generic_visit(node)
        self._in_class.pop()
        self._own.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _is_own(self, node):
        if isinstance(node, ast.Call):  # super(), or an instance the class makes: cls(...)
            return ast.unparse(node.func) == "super" or ast.unparse(node.func) in self._own[-1]
        return ast.unparse(node) in self._own[-1]

    def visit_Attribute(self, node):
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if private and not self._is_own(node.value):
            self.found.append((node.lineno, ast.unparse(node)))
        self.generic_visit(node)

    def visit_Call(self, node):
        name = ast.unparse(node.func)
        if name in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2:
            key = node.args[1]
            private = isinstance(key, ast.Constant) and str(key.value).startswith("_")
            if private and not str(key.value).startswith("__") and not self._is_own(node.args[0]):
                self.found.append((node.lineno, ast.unparse(node)))
        if name == "vars" and node.args and not self._is_own(node.args[0]):
            self.found.append((node.lineno, ast.unparse(node)))
        self.generic_visit(node)


def private_reads(source):
    """``[(line, expression)]`` of the private reads of other objects in ``source``."""
    scan = _PrivateReads()
    scan.visit(ast.parse(source))
    return scan.found


def test_no_module_reads_another_objects_private_attributes():
    """No module of the package reads or sets another object's ``_private`` attribute, except the
    torch internals listed in ALLOWED with their reason."""
    offending = []
    for path in sorted(PACKAGE.glob("*.py")):
        for line, expression in private_reads(path.read_text(encoding="utf-8")):
            if (path.name, expression) not in ALLOWED:
                offending.append(f"{path.name}:{line}: {expression}")
    assert offending == [], "use the estimator's state API (see pynmsnn/_base.py) instead of:\n" + "\n".join(offending)


def test_every_allowed_exception_is_still_used():
    """ALLOWED lists only reads that exist, so it cannot grow stale and hide a new one."""
    used = {(path.name, expression) for path in PACKAGE.glob("*.py")
            for _, expression in private_reads(path.read_text(encoding="utf-8"))}
    assert set(ALLOWED) <= used


def test_the_scan_finds_private_reads_of_other_objects():
    """The scan flags what it must and passes what it may: it is not vacuously empty."""
    source = textwrap.dedent(
        """
        def save(est):
            est._scaler
            getattr(est, "_device")
            vars(est)
            for cls in classes:
                cls._parameter_constraints

        class Child(Base):
            constraints = {**Base._parameter_constraints}

            def method(self, other):
                self._ok
                super()._ok
                other._bad
                Base._bad_in_method

                def inner():
                    self._ok_in_closure

            @classmethod
            def build(cls, params):
                cls._ok
                cls(**params)._ok_on_its_own_instance
                made = cls(**params)
                made._bad_on_a_name

            @staticmethod
            def helper(self):
                self._bad_in_staticmethod
        """
    )
    found = [expression for _, expression in private_reads(source)]
    assert found == [
        "est._scaler", "getattr(est, '_device')", "vars(est)", "cls._parameter_constraints",
        "other._bad", "Base._bad_in_method", "made._bad_on_a_name", "self._bad_in_staticmethod",
    ]


# ---------------------------------------------------------------- the API
@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    X = X.assign(colour=np.where(X["sepal length (cm)"] > 5.8, "red", "blue"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SNNClassifier(**FAST).fit(X, np.array(["a", "b", "c"])[y]), X


def test_unfitted_estimator_refuses_the_fitted_state_methods():
    """Every method about fitted state raises NotFittedError on an unfitted estimator."""
    est = SNNClassifier()
    for call in (lambda: est.transform_inputs(np.zeros((2, 4))), est.get_input_names, est.compute_engine,
                 est.get_fitted_state, lambda: est.compute_device):
        with pytest.raises(NotFittedError):
            call()


def test_transform_inputs_and_input_names(fitted):
    """transform_inputs gives the float32 rows in [0, 1] the network takes, one column per input name."""
    est, X = fitted
    rows = est.transform_inputs(X)
    names = est.get_input_names()
    assert rows.dtype == np.float32 and rows.shape == (len(X), len(names)) == (150, 6)
    assert rows.min() == 0.0 and rows.max() == 1.0
    assert names[-2:] == ["colour=blue", "colour=red"]
    np.testing.assert_array_equal(rows[:, -1], (X["colour"] == "red").to_numpy())
    assert est.simulate(X.iloc[:3]).input_names == names
    with pytest.raises(ValueError, match="expecting 5 features"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # and it has no column names
        est.transform_inputs(np.zeros((2, 4)))


def test_compute_device_and_compute_engine(fitted):
    """compute_device is where the weights are; compute_engine the backend of a call on this machine."""
    from pynmsnn._engine import forced_engine

    est, _ = fitted
    assert est.compute_device == est.module_.output.weight.device
    assert est.compute_engine(training=True).inference == "dense"  # training never runs event-driven
    with forced_engine(scan="torch"):
        assert est.compute_engine().scan == "torch"
    float32 = est.set_params(precision="float32").compute_engine()
    assert float32.spike_matmul_dtype is None


def test_check_params_and_parameter_constraints():
    """check_params raises as fit would; parameter_constraints is a copy of what fit checks."""
    SNNClassifier().check_params()
    with pytest.raises(InvalidParameterError, match="'n_steps' parameter"):
        SNNClassifier(n_steps=0).check_params()
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive integers"):
        SNNClassifier(hidden_layer_sizes=(0,)).check_params()
    constraints = SNNClassifier.parameter_constraints()
    assert "readout" in constraints and "readout" not in SNNRegressor.parameter_constraints()
    constraints.pop("readout")
    assert "readout" in SNNClassifier.parameter_constraints()


def test_fitted_state_round_trip(fitted):
    """from_fitted_state(*get_fitted_state()) predicts exactly as the estimator does."""
    est, X = fitted
    metadata, state_dict = est.get_fitted_state()
    assert set(metadata) == {"estimator", "params", "network", "scaler", "attributes"}
    assert metadata["network"] == est.module_.get_config()
    json.dumps(metadata["network"])  # plain values
    assert all(t.device.type == "cpu" for t in state_dict.values())
    rebuilt = SNNClassifier.from_fitted_state(metadata, state_dict)
    np.testing.assert_array_equal(rebuilt.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(rebuilt.classes_, est.classes_)
    assert rebuilt.get_input_names() == est.get_input_names()


def test_fitted_state_is_a_copy(fitted):
    """Changing the returned state changes nothing in the estimator."""
    est, X = fitted
    before = est.predict_proba(X)
    metadata, state_dict = est.get_fitted_state()
    for tensor in state_dict.values():
        tensor.zero_()
    metadata["attributes"]["loss_curve_"].append(123.0)
    metadata["scaler"]["min_"][:] = 5.0
    np.testing.assert_array_equal(est.predict_proba(X), before)
    assert 123.0 not in est.loss_curve_


def test_from_fitted_state_refuses_another_class(fitted):
    """A classifier's state does not build a regressor; the message names both."""
    est, _ = fitted
    with pytest.raises(ValueError, match="of a 'SNNClassifier', not of a SNNRegressor"):
        SNNRegressor.from_fitted_state(*est.get_fitted_state())


def test_from_fitted_state_refuses_wrong_weight_shapes(fitted):
    """A tensor of the wrong shape is named with both shapes, not a torch size-mismatch error."""
    est, _ = fitted
    metadata, state_dict = est.get_fitted_state()
    state_dict["output.weight"] = torch.zeros(3, 7)
    with pytest.raises(ValueError, match=r"'output\.weight' has shape \(3, 7\), but the network needs \(3, 16\)"):
        SNNClassifier.from_fitted_state(metadata, state_dict)
    del state_dict["output.weight"]
    with pytest.raises(ValueError, match=r"the weights must hold exactly .*; missing \['output\.weight'\]\.$"):
        SNNClassifier.from_fitted_state(metadata, state_dict)


def test_regressor_fitted_state_round_trip():
    """A regressor's target scaling comes back with its state."""
    X, y = make_regression(n_samples=60, n_features=3, n_targets=2, random_state=0)
    est = SNNRegressor(**FAST).fit(X, y)
    rebuilt = SNNRegressor.from_fitted_state(*est.get_fitted_state())
    np.testing.assert_array_equal(rebuilt.predict(X), est.predict(X))
