"""Keeping freed memory between minibatches (pynmsnn/_malloc.py): only when asked."""

import sys

import numpy as np
import pytest

from pynmsnn import SNNClassifier, _malloc

glibc = pytest.mark.skipif(_malloc.glibc_mallopt() is None, reason="needs glibc's mallopt")


@pytest.fixture
def asked(monkeypatch):
    """The user asked for it; the module starts from untouched thresholds."""
    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    monkeypatch.setenv("PYNMSNN_KEEP_FREED_MEMORY", "1")


@pytest.fixture
def mallopt_calls(monkeypatch):
    """Records every threshold change instead of making it."""
    calls = []
    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    monkeypatch.setattr(_malloc, "glibc_mallopt", lambda: lambda option, value: calls.append((option, value)) or 1)
    return calls


@glibc
def test_thresholds_only_go_up(asked):
    assert _malloc.keep_freed_memory() == _malloc.MIN_TRIM_BYTES
    assert _malloc.keep_freed_memory(100 * 2**20) == 200 * 2**20  # twice the working set
    assert _malloc.keep_freed_memory(10 * 2**20) == 200 * 2**20  # a smaller one changes nothing


@glibc
def test_huge_working_set_is_capped_to_what_mallopt_takes(asked):
    assert _malloc.keep_freed_memory(2**40) == 2**31 - 1


@pytest.mark.parametrize("value", [None, "0", "yes"])
def test_nothing_changes_unless_asked(monkeypatch, mallopt_calls, value):
    """By default (or with any value but 1) the process's allocator is left alone."""
    if value is None:
        monkeypatch.delenv("PYNMSNN_KEEP_FREED_MEMORY", raising=False)
    else:
        monkeypatch.setenv("PYNMSNN_KEEP_FREED_MEMORY", value)
    assert _malloc.keep_freed_memory(100 * 2**20) == 0
    assert mallopt_calls == []


def test_fit_and_predict_leave_the_allocator_alone_by_default(monkeypatch, mallopt_calls):
    monkeypatch.delenv("PYNMSNN_KEEP_FREED_MEMORY", raising=False)
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    SNNClassifier(hidden_layer_sizes=(8,), n_steps=5, max_iter=2).fit(X, y).predict(X)
    assert mallopt_calls == []


def test_nothing_changes_off_linux(asked, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _malloc.keep_freed_memory(100 * 2**20) == 0


def test_fit_raises_the_threshold_to_its_working_set_when_asked(asked, mallopt_calls):
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    SNNClassifier(hidden_layer_sizes=(3000,), n_steps=50, batch_size=40, max_iter=1).fit(X, y)
    # 6 copies x 4 bytes x 40 rows x 50 steps x (3000 hidden + 2 readout neurons), twice.
    assert _malloc._trim_bytes == 2 * 6 * 4 * 40 * 50 * 3002
    assert (_malloc.M_TRIM_THRESHOLD, 2 * 6 * 4 * 40 * 50 * 3002) in mallopt_calls
