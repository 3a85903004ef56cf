"""Encoders: turn a table row scaled to [0, 1] into ``n_steps`` time steps of input.

==========  ====================================================  ==================
name        what each time step sees                              from
==========  ====================================================  ==================
current     the scaled row itself, every step (constant current)  snnTorch, Norse
noisy       the row times fresh uniform noise in [0, 1)           pynmsnn 0.0.3
poisson     Bernoulli spikes with probability = scaled value      BindsNET, Spikey
latency     one spike per feature, earlier for larger values      SpykeTorch
==========  ====================================================  ==================

Every encoder returns a tensor of shape ``(n_steps, *x.shape)``. Randomness comes
in as an explicit ``torch.Generator`` so that a seeded estimator is reproducible.

At prediction time the two random encoders are replaced by their expectation,
a constant current (``x / 2`` for ``noisy``, ``x`` for ``poisson``; see
:func:`mean_current`), the way dropout is switched off at inference: predictions
are deterministic and one row's answer does not depend on the other rows.
"""

import torch

__all__ = ["BINARY_ENCODERS", "ENCODERS", "constant_current_encoders", "encode", "mean_current"]

ENCODERS = ("current", "latency", "noisy", "poisson")
BINARY_ENCODERS = ("latency", "poisson")  # their output is spikes, 0 or 1


def current(x, n_steps, generator=None):
    """The row itself at every step (an expanded view; no copy)."""
    return x.unsqueeze(0).expand(n_steps, *x.shape)


def noisy(x, n_steps, generator=None):
    """The row times fresh uniform noise in [0, 1) at every step."""
    noise = torch.rand((n_steps, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return noise.mul_(x)


def poisson(x, n_steps, generator=None):
    """Bernoulli spikes that fire with probability ``x`` at every step."""
    draws = torch.rand((n_steps, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return (draws < x).to(x.dtype)


def latency(x, n_steps, generator=None):
    """One spike per feature at step ``round((1 - x) (n_steps - 1))``; none for 0."""
    step = torch.round((1.0 - x.clamp(0.0, 1.0)) * (n_steps - 1)).long()
    steps = torch.arange(n_steps, device=x.device).view(-1, *([1] * x.dim()))
    return ((steps == step) & (x > 0)).to(x.dtype)


_ENCODER_FUNCTIONS = {"current": current, "latency": latency, "noisy": noisy, "poisson": poisson}
_MEAN_SCALE = {"current": 1.0, "noisy": 0.5, "poisson": 1.0}


def encode(x, n_steps, name="current", generator=None):
    """Encode rows ``x`` (values in [0, 1]) into ``n_steps`` time steps.

    Parameters
    ----------
    x : torch.Tensor of shape (n_samples, n_features)
        Rows scaled to [0, 1].
    n_steps : int
        Number of time steps.
    name : {'current', 'noisy', 'poisson', 'latency'}, default='current'
        Which encoder.
    generator : torch.Generator, default=None
        Source of randomness for 'noisy' and 'poisson'.

    Returns
    -------
    torch.Tensor of shape (n_steps, n_samples, n_features)

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.encoders import encode
    >>> encode(torch.tensor([[1.0, 0.5, 0.0]]), 3, "latency")[:, 0]
    tensor([[1., 0., 0.],
            [0., 1., 0.],
            [0., 0., 0.]])
    """
    try:
        function = _ENCODER_FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"Unknown encoder {name!r}; choose one of {list(ENCODERS)}.") from None
    return function(x, n_steps, generator)


def mean_current(x, name):
    """The constant current equal to the encoder's expected input, or None.

    ``None`` for 'latency', whose input is deterministic but not constant.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.encoders import mean_current
    >>> mean_current(torch.tensor([0.4]), "noisy")
    tensor([0.2000])
    """
    scale = _MEAN_SCALE.get(name)
    if scale is None:
        return None
    return x if scale == 1.0 else x * scale


def constant_current_encoders():
    """The encoders whose input at inference is a constant current (:func:`mean_current`)."""
    return tuple(sorted(_MEAN_SCALE))
