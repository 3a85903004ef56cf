"""Shared test settings: small, fast estimators and quiet convergence warnings."""

import os
import warnings

import matplotlib
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

matplotlib.use("Agg")
# Small networks train as fast on one torch thread as on two, and a second
# thread competing with other work on a small machine slows fits down many times.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")

# Small settings that keep each fit well under a second.
FAST = dict(hidden_layer_sizes=(16,), n_steps=6, max_iter=30, random_state=0)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
