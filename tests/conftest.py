"""Shared test settings: small, fast estimators and quiet convergence warnings."""

import os
import warnings

import matplotlib
import pytest
from sklearn.exceptions import ConvergenceWarning

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Small settings that keep each fit well under a second.
FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=30, random_state=0)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
