"""Surrogate spike functions: forward is Heaviside, backward matches each formula."""

import math

import pytest
import torch

from pynmsnn.surrogate import SURROGATES, spike, surrogate_grad

X = torch.linspace(-2.0, 2.0, 41, dtype=torch.float64)

FORMULAS = {
    "fast_sigmoid": lambda x: 1.0 / (1.0 + 25.0 * x.abs()) ** 2,
    "atan": lambda x: 1.0 / (1.0 + (math.pi * x) ** 2),
    "triangle": lambda x: torch.clamp(1.0 - x.abs(), min=0.0),
    "sigmoid": lambda x: 4.0 * torch.sigmoid(4.0 * x) * (1.0 - torch.sigmoid(4.0 * x)),
}


def test_every_surrogate_has_a_formula_here():
    """The table of formulas covers every registered surrogate."""
    assert set(FORMULAS) == set(SURROGATES)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_surrogate_matches_formula(name):
    """Each surrogate derivative equals its closed form and peaks at 1 at x=0."""
    torch.testing.assert_close(surrogate_grad(name)(X), FORMULAS[name](X))
    assert surrogate_grad(name)(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_spike_backward_is_the_surrogate(name):
    """spike() fires H(x) forward and passes grad * sg(x) backward."""
    x = X.clone().requires_grad_(True)
    out = spike(x, name)
    torch.testing.assert_close(out, (X > 0).double())
    weights = torch.arange(len(X), dtype=torch.float64)
    (out * weights).sum().backward()
    torch.testing.assert_close(x.grad, weights * FORMULAS[name](X))


def test_unknown_surrogate_names_the_choices():
    with pytest.raises(ValueError, match="Unknown surrogate 'relu'.*fast_sigmoid"):
        surrogate_grad("relu")


def test_every_surrogate_has_a_c_code():
    """The C kernel's backward knows each surrogate by its own code."""
    from pynmsnn.surrogate import C_SURROGATES

    assert set(C_SURROGATES) == set(SURROGATES)
    assert len({code for code, _ in C_SURROGATES.values()}) == len(C_SURROGATES)
