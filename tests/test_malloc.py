"""Keeping freed memory between minibatches (pynmsnn/_malloc.py)."""

import sys

import pytest

from pynmsnn import _malloc

glibc = pytest.mark.skipif(_malloc.glibc_mallopt() is None, reason="needs glibc's mallopt")


@glibc
def test_thresholds_only_go_up(monkeypatch):
    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    assert _malloc.keep_freed_memory() == _malloc.MIN_TRIM_BYTES
    assert _malloc.keep_freed_memory(100 * 2**20) == 200 * 2**20  # twice the working set
    assert _malloc.keep_freed_memory(10 * 2**20) == 200 * 2**20  # a smaller one changes nothing


@glibc
def test_huge_working_set_is_capped_to_what_mallopt_takes(monkeypatch):
    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    assert _malloc.keep_freed_memory(2**40) == 2**31 - 1


def test_environment_variable_turns_it_off(monkeypatch):
    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    monkeypatch.setenv("PYNMSNN_KEEP_FREED_MEMORY", "0")
    assert _malloc.keep_freed_memory(100 * 2**20) == 0
    assert _malloc._trim_bytes == 0


def test_nothing_changes_off_linux(monkeypatch):
    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _malloc.keep_freed_memory(100 * 2**20) == 0


@glibc
def test_fit_raises_the_threshold_to_its_working_set(monkeypatch):
    import numpy as np

    from pynmsnn import SNNClassifier

    monkeypatch.setattr(_malloc, "_trim_bytes", 0)
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    SNNClassifier(hidden_layer_sizes=(3000,), n_steps=50, batch_size=40, max_iter=1).fit(X, y)
    # 6 copies x 4 bytes x 40 rows x 50 steps x (3000 hidden + 2 readout neurons), twice.
    assert _malloc._trim_bytes == 2 * 6 * 4 * 40 * 50 * 3002
