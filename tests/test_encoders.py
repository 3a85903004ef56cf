"""Encoders: shapes, binary spikes, the latency code and expected currents."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pynmsnn.encoders import ENCODERS, encode, mean_current


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 6),
    n_steps=st.integers(1, 12),
    name=st.sampled_from(ENCODERS),
    seed=st.integers(0, 1000),
)
def test_shape_and_range(rows, cols, n_steps, name, seed):
    """Every encoder gives (n_steps, *x.shape) with values in [0, 1]; spike encoders give 0/1."""
    x = torch.rand(rows, cols, generator=torch.Generator().manual_seed(seed))
    out = encode(x, n_steps, name, torch.Generator().manual_seed(seed))
    assert out.shape == (n_steps, rows, cols)
    assert out.min() >= 0 and out.max() <= 1
    if name in ("poisson", "latency"):
        assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_latency_fires_once_earlier_for_larger_values():
    x = torch.tensor([[1.0, 0.75, 0.25, 0.0]])
    out = encode(x, 5, "latency")[:, 0]
    assert out.sum(0).tolist() == [1.0, 1.0, 1.0, 0.0]
    first = out.argmax(0)[:3].tolist()
    assert first == [0, 1, 3]


def test_poisson_rate_follows_the_value():
    x = torch.tensor([[0.1, 0.5, 0.9]])
    rates = encode(x.expand(500, 3), 40, "poisson", torch.Generator().manual_seed(0)).mean((0, 1))
    torch.testing.assert_close(rates, x[0], atol=0.01, rtol=0)


def test_noisy_is_the_row_times_uniform_noise_and_seeded():
    x = torch.tensor([[0.0, 1.0]])
    a = encode(x, 2000, "noisy", torch.Generator().manual_seed(1))
    b = encode(x, 2000, "noisy", torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a[:, 0, 0].abs().max() == 0
    assert abs(a[:, 0, 1].mean().item() - 0.5) < 0.02


@pytest.mark.parametrize("name", ["current", "noisy", "poisson"])
def test_mean_current_is_the_expected_input(name):
    x = torch.tensor([[0.2, 0.8]])
    samples = encode(x.expand(2000, 2), 10, name, torch.Generator().manual_seed(0)).mean((0, 1))
    torch.testing.assert_close(samples, mean_current(x, name)[0], atol=0.02, rtol=0)


def test_unknown_encoder_names_the_choices():
    with pytest.raises(ValueError, match="Unknown encoder 'rate'.*current"):
        encode(torch.zeros(1, 1), 3, "rate")
    assert mean_current(torch.zeros(1), "latency") is None
