"""Every example in the package's docstrings runs and prints what it shows."""

import doctest
import importlib
import pkgutil
import warnings

import pytest

import pynmsnn

# pynmsnn.__main__ runs the command line when imported.
MODULES = sorted(name for _, name, _ in pkgutil.iter_modules(pynmsnn.__path__, "pynmsnn.") if name != "pynmsnn.__main__")


def test_modules_are_found():
    assert {"pynmsnn.neurons", "pynmsnn.network", "pynmsnn.estimators", "pynmsnn._engine"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples fit briefly: convergence and firing warnings are expected
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
