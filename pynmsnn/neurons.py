"""Leaky integrate-and-fire (LIF) dynamics over ``T`` time steps.

For input current ``I[t]`` (already ``W x[t] + b``), per time step::

    v[t] = decay * v[t-1] + I[t]                          # leak, then integrate
    s[t] = H(v[t] - threshold)                            # fire: 0 or 1
    v[t] = v[t] - s[t] * (threshold + refractory_penalty) # reset, below rest

with ``v[0] = 0``. The reset is *detached* from the gradient (as in snnTorch's
default), so the backward pass is the linear reverse scan::

    g[t] = sg[t] * dL/ds[t] + decay * g[t+1],     dL/dI[t] = g[t]

where ``sg[t] = surrogate(v[t] - threshold)`` uses the pre-reset membrane.

Two implementations give the same numbers:

* :func:`lif_scan` -- the fast path: one ``torch.autograd.Function`` whose
  forward runs three in-place ops per step with no autograd graph and saves only
  the pre-reset membrane, and whose backward computes every surrogate at once,
  then runs the reverse scan in place.
* :func:`lif_reference` -- a plain step-by-step loop through autograd, kept as
  the reference the fast path is tested against, and used for recording.
"""

import torch

from .surrogate import spike, surrogate_grad

__all__ = ["lif_reference", "lif_scan", "readout_weights"]


class _LIFScan(torch.autograd.Function):
    """The LIF recurrence over the leading time axis as a single autograd node."""

    @staticmethod
    def forward(ctx, current, decay, threshold, refractory_penalty, surrogate):
        n_steps = current.shape[0]
        membrane = torch.empty(current.shape, dtype=current.dtype, device=current.device)
        spikes = torch.empty_like(membrane)
        v = torch.zeros(current.shape[1:], dtype=current.dtype, device=current.device)
        drop = threshold + refractory_penalty
        # Views made once: indexing inside the loop costs a dispatch per step.
        currents, membranes, spike_steps = current.unbind(0), membrane.unbind(0), spikes.unbind(0)
        for t in range(n_steps):
            torch.add(currents[t], v, alpha=decay, out=membranes[t])  # leak + integrate
            torch.gt(membranes[t], threshold, out=spike_steps[t])  # fire
            torch.sub(membranes[t], spike_steps[t], alpha=drop, out=v)  # reset
        ctx.save_for_backward(membrane)
        ctx.decay, ctx.threshold, ctx.surrogate = decay, threshold, surrogate
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        (membrane,) = ctx.saved_tensors
        sg = surrogate_grad(ctx.surrogate)(membrane - ctx.threshold)
        grad = sg.mul_(grad_spikes)  # sg is a fresh tensor: reuse it
        steps = grad.unbind(0)
        for t in range(len(steps) - 2, -1, -1):
            steps[t].add_(steps[t + 1], alpha=ctx.decay)
        return grad, None, None, None, None


def lif_scan(current, decay, threshold, refractory_penalty=0.0, surrogate="fast_sigmoid"):
    """Run LIF neurons over time; the fast path.

    Parameters
    ----------
    current : torch.Tensor of shape (n_steps, ...)
        Input current per time step. May be an expanded view (a constant
        current repeated over time); its gradient then sums over time.
    decay : float
        Membrane leak factor per step, in [0, 1].
    threshold : float
        Firing threshold.
    refractory_penalty : float, default=0.0
        Extra amount subtracted from the membrane after a spike.
    surrogate : str, default='fast_sigmoid'
        Name of the surrogate derivative (see :mod:`pynmsnn.surrogate`).

    Returns
    -------
    torch.Tensor of the shape of ``current``
        Spikes, 0.0 or 1.0.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import lif_scan
    >>> lif_scan(torch.full((4, 1), 0.6), decay=0.5, threshold=1.0).flatten()
    tensor([0., 0., 1., 0.])
    """
    surrogate_grad(surrogate)
    return _LIFScan.apply(
        current, float(decay), float(threshold), float(refractory_penalty), surrogate
    )


def lif_reference(current, decay, threshold, refractory_penalty=0.0, surrogate="fast_sigmoid"):
    """Run LIF neurons over time step by step through autograd; the reference.

    Same equations and arguments as :func:`lif_scan`.

    Returns
    -------
    spikes : torch.Tensor of the shape of ``current``
        0.0 or 1.0 per neuron and step.
    membrane : torch.Tensor of the shape of ``current``
        Membrane potential after integration and before the reset.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import lif_reference
    >>> spikes, membrane = lif_reference(torch.full((4, 1), 0.6), 0.5, 1.0)
    >>> membrane.flatten()
    tensor([0.6000, 0.9000, 1.0500, 0.6250])
    """
    v = torch.zeros_like(current[0])
    spikes, membranes = [], []
    for current_t in current.unbind(0):
        v = decay * v + current_t
        s = spike(v - threshold, surrogate)
        spikes.append(s)
        membranes.append(v)
        v = v - s.detach() * (threshold + refractory_penalty)
    return torch.stack(spikes), torch.stack(membranes)


def readout_weights(n_steps, decay, dtype=torch.float32, device=None):
    """Weights ``c`` with ``mean_t v[t] = sum_k c[k] I[k]`` for a leaky readout.

    A membrane that integrates without reset, ``v[t] = decay v[t-1] + I[t]``,
    is linear in its input, so its time average collapses into one weighted
    sum over the input steps: ``c[k] = sum_{j=0}^{T-1-k} decay^j / T``.

    Examples
    --------
    >>> from pynmsnn.neurons import readout_weights
    >>> readout_weights(3, 0.5)
    tensor([0.5833, 0.5000, 0.3333])
    """
    powers = torch.tensor(decay, dtype=torch.float64) ** torch.arange(n_steps, dtype=torch.float64)
    weights = torch.flip(torch.cumsum(powers, 0), [0]) / n_steps
    return weights.to(dtype=dtype, device=device)
