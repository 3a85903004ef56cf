"""Surrogate derivatives of the Heaviside spike function, looked up by name.

A spiking neuron fires ``s = H(v - threshold)``. The Heaviside step ``H`` has a
zero derivative almost everywhere, so training replaces it, in the backward pass
only, by a smooth *surrogate* ``dH/dx ~ sg(x)``. Each surrogate here is a plain
module-level function of ``x = v - threshold`` (no closures, so estimators that
name one by string stay picklable and clonable).

=================  ==============================================  ==========
name               surrogate derivative ``sg(x)``                  peak sg(0)
=================  ==============================================  ==========
``fast_sigmoid``   ``1 / (1 + k |x|)^2`` with ``k = 25``            1
``atan``           ``(a / 2) / (1 + (pi a x / 2)^2)`` with ``a=2``  1
``triangle``       ``max(0, 1 - |x| / w) / w`` with ``w = 1``       1
``sigmoid``        ``k s(kx) (1 - s(kx))`` with ``k = 4``           1
=================  ==============================================  ==========

The slopes follow snnTorch's defaults for ``fast_sigmoid`` and ``atan``
(Zenke & Ganguli 2018; Fang et al. 2021).
"""

import math

import torch

__all__ = ["C_SURROGATES", "SURROGATES", "spike", "surrogate_grad"]

FAST_SIGMOID_SLOPE = 25.0
ATAN_ALPHA = 2.0
TRIANGLE_WIDTH = 1.0
SIGMOID_SLOPE = 4.0


def fast_sigmoid(x):
    """Derivative of the fast sigmoid ``kx / (1 + k|x|)``: ``1 / (1 + k|x|)^2``."""
    return 1.0 / (1.0 + FAST_SIGMOID_SLOPE * x.abs()) ** 2


def atan(x):
    """Derivative of ``arctan(pi a x / 2) / pi``: ``(a/2) / (1 + (pi a x / 2)^2)``."""
    return (ATAN_ALPHA / 2.0) / (1.0 + (math.pi / 2.0 * ATAN_ALPHA * x) ** 2)


def triangle(x):
    """Triangle of half-width ``w`` and unit area: ``max(0, 1 - |x|/w) / w``."""
    return torch.clamp(1.0 - x.abs() / TRIANGLE_WIDTH, min=0.0) / TRIANGLE_WIDTH


def sigmoid(x):
    """Derivative of the logistic ``s(kx)``, scaled to peak 1: ``4 s (1 - s)``.

    With ``k = 4`` the derivative ``k s(kx)(1 - s(kx))`` peaks at exactly 1.
    """
    s = torch.sigmoid(SIGMOID_SLOPE * x)
    return SIGMOID_SLOPE * s * (1.0 - s)


SURROGATES = {
    "atan": atan,
    "fast_sigmoid": fast_sigmoid,
    "sigmoid": sigmoid,
    "triangle": triangle,
}

# How the C kernel (``pynmsnn/_cscan.c``, ``surrogate_derivative``) names each
# surrogate, and the one constant of its formula. A new surrogate is a function
# above, an entry in SURROGATES, and a case in the C switch with its code here.
C_SURROGATES = {
    "fast_sigmoid": (0, FAST_SIGMOID_SLOPE),
    "atan": (1, ATAN_ALPHA),
    "triangle": (2, TRIANGLE_WIDTH),
    "sigmoid": (3, SIGMOID_SLOPE),
}


def surrogate_grad(name):
    """Return the surrogate derivative function registered under ``name``.

    Parameters
    ----------
    name : str
        One of ``sorted(SURROGATES)``.

    Returns
    -------
    callable
        A function of a tensor ``x = v - threshold`` returning ``sg(x)``.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.surrogate import surrogate_grad
    >>> surrogate_grad("fast_sigmoid")(torch.tensor([0.0]))
    tensor([1.])
    """
    try:
        return SURROGATES[name]
    except KeyError:
        raise ValueError(
            f"Unknown surrogate {name!r}; choose one of {sorted(SURROGATES)}."
        ) from None


class _Spike(torch.autograd.Function):
    """Heaviside step forward, surrogate derivative backward."""

    @staticmethod
    def forward(ctx, x, name):
        ctx.save_for_backward(x)
        ctx.name = name
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * SURROGATES[ctx.name](x), None


def spike(x, name="fast_sigmoid"):
    """Fire: ``H(x)`` in the forward pass, the named surrogate in the backward.

    Parameters
    ----------
    x : torch.Tensor
        Membrane potential minus threshold.
    name : str, default='fast_sigmoid'
        Surrogate derivative used by autograd.

    Returns
    -------
    torch.Tensor
        Spikes, 0.0 or 1.0, same shape and dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.surrogate import spike
    >>> spike(torch.tensor([-0.5, 0.0, 0.5]))
    tensor([0., 0., 1.])
    """
    surrogate_grad(name)  # fail early with a clear message
    return _Spike.apply(x, name)
