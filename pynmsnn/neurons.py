"""Leaky integrate-and-fire (LIF) dynamics over ``T`` time steps.

For input current ``I[t]`` (already ``W x[t] + b``), per time step::

    v[t] = decay * v[t-1] + I[t]                          # leak, then integrate
    s[t] = H(v[t] - threshold)                            # fire: 0 or 1
    v[t] = v[t] - s[t] * (threshold + refractory_penalty) # reset, below rest

with ``v[0] = 0``. With ``sg[t] = surrogate(v[t] - threshold)`` at the
pre-reset membrane, the backward pass is the reverse scan::

    g[t] = sg[t] * dL/ds[t] + decay * (1 - drop * sg[t]) * g[t+1],   dL/dI[t] = g[t]

where ``drop = threshold + refractory_penalty``: the gradient also flows
through the reset. With ``detach_reset=True`` (snnTorch's default) the reset is
left out of the gradient, ``drop`` counts as 0 above, and the scan is linear.

Two implementations give the same numbers:

* :func:`lif_scan` -- the fast path: one ``torch.autograd.Function`` whose
  forward runs three in-place ops per step with no autograd graph and saves only
  the pre-reset membrane, and whose backward computes every surrogate at once,
  then the reverse scan (one matmul when it is linear, a detached reset).
* :func:`lif_reference` -- a plain step-by-step loop through autograd, kept as
  the reference the fast path is tested against, and used for recording.

:func:`lif_pooled` is the same scan for inference when only the spikes'
weighted sum over time is needed (by the readout).
"""

import functools

import torch

from .surrogate import (
    ATAN_ALPHA,
    FAST_SIGMOID_SLOPE,
    SIGMOID_SLOPE,
    SURROGATES_INPLACE,
    TRIANGLE_WIDTH,
    spike,
    surrogate_grad,
)

__all__ = ["lif_infer_bf16", "lif_pooled", "lif_reference", "lif_scan", "readout_weights"]

try:  # the forward loop compiled from _cscan.c; the torch loop below does the same work
    from . import _cscan
except ImportError:  # pragma: no cover - a build without a C compiler
    _cscan = None

USE_C_SCAN = True  # tests switch it off to compare the two loops


class _LIFScan(torch.autograd.Function):
    """The LIF recurrence over time as a single autograd node.

    ``current`` has shape (n_steps, ...), or, when ``n_steps`` is given, it is a
    constant current of shape (...) repeated for ``n_steps`` steps (its
    gradient is then the sum over time, computed inside the reverse scan).
    """

    @staticmethod
    def forward(ctx, current, n_steps, decay, threshold, refractory_penalty, surrogate, detach_reset):
        constant = n_steps is not None
        steps = n_steps if constant else current.shape[0]
        shape = (steps, *(current.shape if constant else current.shape[1:]))
        membrane = torch.empty(shape, dtype=current.dtype, device=current.device)
        spikes = torch.empty_like(membrane)
        drop = threshold + refractory_penalty
        over_time = current.unsqueeze(0).expand(shape) if constant else current
        _forward(over_time, decay, threshold, drop, spikes, membrane)
        ctx.save_for_backward(membrane)
        ctx.constant, ctx.decay, ctx.threshold, ctx.surrogate = constant, decay, threshold, surrogate
        ctx.reset_grad = 0.0 if detach_reset else drop  # how much a spike's reset takes off
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        (membrane,) = ctx.saved_tensors
        return _backward(ctx, membrane, grad_spikes), None, None, None, None, None, None


def _forward(current, decay, threshold, drop, spikes, membranes):
    """The scan's loop; ``membranes`` is a (T, ...) tensor or a list of T buffers."""
    if _cscan is not None and USE_C_SCAN and _c_scan(current, decay, threshold, drop, spikes, membranes):
        return
    v = torch.zeros(spikes.shape[1:], dtype=spikes.dtype, device=spikes.device)
    # Views made once: indexing inside the loop costs a dispatch per step.
    currents, spike_steps = current.unbind(0), spikes.unbind(0)
    if isinstance(membranes, torch.Tensor):
        membranes = membranes.unbind(0)
    for t in range(len(membranes)):
        torch.add(currents[t], v, alpha=decay, out=membranes[t])  # leak + integrate
        torch.gt(membranes[t], threshold, out=spike_steps[t])  # fire
        torch.sub(membranes[t], spike_steps[t], alpha=drop, out=v)  # reset


def _c_scan(current, decay, threshold, drop, spikes, membranes):
    """The same loop in C (``pynmsnn/_cscan.c``) for CPU tensors; False if it does not apply."""
    if spikes.device.type != "cpu" or spikes.dtype not in (torch.float32, torch.float64):
        return False
    n_steps = spikes.shape[0]
    n = spikes[0].numel()
    step = current[0]
    if current.stride(0) == 0:  # a constant current: one row of values for every step
        base, current_stride = step.contiguous(), 0
    else:
        base, current_stride = current.contiguous(), n
    if isinstance(membranes, torch.Tensor):
        membrane, membrane_stride = membranes, n
    else:  # inference: one reused buffer
        membrane, membrane_stride = membranes[0], 0
    if base.dtype != spikes.dtype or not (membrane.is_contiguous() and spikes.is_contiguous()):
        return False
    v = torch.empty(n, dtype=spikes.dtype)
    _cscan.lif_forward(
        base.data_ptr(), current_stride, membrane.data_ptr(), membrane_stride, spikes.data_ptr(),
        v.data_ptr(), n_steps, n, decay, threshold, drop, spikes.dtype == torch.float64,
    )
    return True


def _backward(ctx, membrane, grad_spikes):
    if _cscan is not None and USE_C_SCAN and membrane.device.type == "cpu":
        return _c_backward(ctx, membrane, grad_spikes)
    # Every surrogate at once, computed in place in a fresh tensor.
    surrogates = SURROGATES_INPLACE[ctx.surrogate](membrane - ctx.threshold)
    if ctx.reset_grad:
        return _reverse_scan_through_reset(ctx, surrogates, grad_spikes)
    local = surrogates.mul_(grad_spikes)
    # The reverse scan g[t] = local[t] + decay * g[t+1] is linear: g = M @ local
    # with M[t, k] = decay^(k - t) for k >= t. One matmul replaces T small ops;
    # a constant current needs only the column sums of M (one vector product).
    n_steps = local.shape[0]
    flat = local.view(n_steps, -1)
    if ctx.constant:
        return (_time_sum_weights(n_steps, ctx.decay, local.dtype, local.device) @ flat).view(local.shape[1:])
    return (_reverse_scan_matrix(n_steps, ctx.decay, local.dtype, local.device) @ flat).view(local.shape)


def _reverse_scan_through_reset(ctx, surrogates, grad_spikes):
    """``g[t] = sg[t] * dL/ds[t] + decay * (1 - drop * sg[t]) * g[t+1]``, step by step.

    The coefficient of ``g[t+1]`` changes with ``t``, so the scan is not one matmul.
    """
    local = surrogates * grad_spikes
    carry_factor = (1.0 - ctx.reset_grad * surrogates).mul_(ctx.decay)
    grad = torch.empty_like(local)
    g = torch.zeros_like(local[0])
    for t in range(local.shape[0] - 1, -1, -1):
        g = torch.addcmul(local[t], carry_factor[t], g, out=grad[t])
    return grad.sum(0) if ctx.constant else grad


# Surrogate codes and their one parameter, as _cscan.c's backward sweep reads them.
_C_SURROGATES = {
    "fast_sigmoid": (0, FAST_SIGMOID_SLOPE),
    "atan": (1, ATAN_ALPHA),
    "triangle": (2, TRIANGLE_WIDTH),
    "sigmoid": (3, SIGMOID_SLOPE),
}


def _c_backward(ctx, membrane, grad_spikes):
    """Surrogate, product and reverse scan in one sweep in C (``pynmsnn/_cscan.c``)."""
    n_steps = membrane.shape[0]
    n = membrane[0].numel()
    grad_spikes = grad_spikes.to(membrane.dtype).expand(membrane.shape).contiguous()
    grad = torch.empty(membrane.shape[1:] if ctx.constant else membrane.shape, dtype=membrane.dtype)
    carry = torch.empty(n, dtype=membrane.dtype)
    code, slope = _C_SURROGATES[ctx.surrogate]
    _cscan.lif_backward(
        membrane.data_ptr(), grad_spikes.data_ptr(), grad.data_ptr(), carry.data_ptr(), n_steps, n,
        ctx.decay, ctx.threshold, code, slope, ctx.constant, membrane.dtype == torch.float64, ctx.reset_grad,
    )
    return grad


@functools.lru_cache(maxsize=64)
def _reverse_scan_matrix(n_steps, decay, dtype, device):
    """``M[t, k] = decay^(k - t)`` for ``k >= t``, else 0."""
    steps = torch.arange(n_steps, dtype=torch.float64)
    lag = steps[None, :] - steps[:, None]
    matrix = torch.where(lag >= 0, torch.tensor(decay, dtype=torch.float64) ** lag.clamp(min=0), 0.0)
    return matrix.to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _time_sum_weights(n_steps, decay, dtype, device):
    """Column sums of :func:`_reverse_scan_matrix`: ``sum_{j<=k} decay^j``."""
    return _reverse_scan_matrix(n_steps, decay, torch.float64, "cpu").sum(0).to(dtype=dtype, device=device)


def lif_scan(
    current, decay, threshold, refractory_penalty=0.0, surrogate="fast_sigmoid", n_steps=None, detach_reset=False
):
    """Run LIF neurons over time; the fast path.

    Parameters
    ----------
    current : torch.Tensor of shape (n_steps, ...), or (...) with ``n_steps``
        Input current per time step, or a constant current when ``n_steps``
        is given.
    decay : float
        Membrane leak factor per step, in [0, 1].
    threshold : float
        Firing threshold.
    refractory_penalty : float, default=0.0
        Extra amount subtracted from the membrane after a spike.
    surrogate : str, default='fast_sigmoid'
        Name of the surrogate derivative (see :mod:`pynmsnn.surrogate`).
    n_steps : int, default=None
        Repeat a constant ``current`` for this many steps.
    detach_reset : bool, default=False
        Leave the reset out of the gradient (snnTorch's default).

    Returns
    -------
    torch.Tensor of shape (n_steps, ...)
        Spikes, 0.0 or 1.0.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import lif_scan
    >>> lif_scan(torch.full((4, 1), 0.6), decay=0.5, threshold=1.0).flatten()
    tensor([0., 0., 1., 0.])
    >>> lif_scan(torch.full((1,), 0.6), decay=0.5, threshold=1.0, n_steps=4)
    tensor([[0.],
            [0.],
            [1.],
            [0.]])
    """
    surrogate_grad(surrogate)
    if not (torch.is_grad_enabled() and current.requires_grad):
        return _scan_spikes_only(current, n_steps, float(decay), float(threshold), float(refractory_penalty))
    return _LIFScan.apply(
        current, n_steps, float(decay), float(threshold), float(refractory_penalty), surrogate, bool(detach_reset)
    )


def _scan_spikes_only(current, n_steps, decay, threshold, refractory_penalty):
    """Inference: the same scan keeping one step of membrane instead of all of them."""
    constant = n_steps is not None
    steps = n_steps if constant else current.shape[0]
    step_shape = current.shape if constant else current.shape[1:]
    spikes = torch.empty((steps, *step_shape), dtype=current.dtype, device=current.device)
    membrane = torch.empty(step_shape, dtype=current.dtype, device=current.device)
    over_time = current.unsqueeze(0).expand(spikes.shape) if constant else current
    _forward(over_time, decay, threshold, threshold + refractory_penalty, spikes, [membrane] * steps)
    return spikes


def lif_pooled(current, decay, threshold, refractory_penalty, weights, n_steps=None):
    """Inference: the spikes of :func:`lif_scan` summed over time with ``weights``.

    Returns ``sum_t weights[t] * spikes[t]`` without keeping the spikes of
    every step: what the readout needs from the last hidden layer. No gradient.

    Parameters
    ----------
    current, decay, threshold, refractory_penalty, n_steps
        As for :func:`lif_scan`.
    weights : torch.Tensor of shape (n_steps,)
        Weight of each step's spikes (:func:`readout_weights` for the readout).

    Returns
    -------
    torch.Tensor of the shape of one step
        The weighted spike counts.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import lif_pooled
    >>> lif_pooled(torch.full((1,), 0.6), 0.5, 1.0, 0.0, torch.tensor([1.0, 2.0, 4.0, 8.0]), n_steps=4)
    tensor([4.])
    """
    decay, threshold, drop = float(decay), float(threshold), float(threshold) + float(refractory_penalty)
    with torch.no_grad():
        if _cscan is not None and USE_C_SCAN:
            pooled = _c_pooled(current, n_steps, decay, threshold, drop, weights)
            if pooled is not None:
                return pooled
        spikes = _scan_spikes_only(current, n_steps, decay, threshold, float(refractory_penalty))
        return (weights.to(spikes.dtype) @ spikes.reshape(spikes.shape[0], -1)).reshape(spikes.shape[1:])


def c_inference_applies(current):
    """Whether :func:`lif_infer_bf16` can run for a float32 ``current`` (the C scan, on a CPU)."""
    return _cscan is not None and USE_C_SCAN and current.device.type == "cpu" and current.dtype == torch.float32


def lif_infer_bf16(current, decay, threshold, refractory_penalty, n_steps=None, bias=None, weights=None):
    """Inference between bfloat16 matmuls: the scan in C, reading and writing what the matmuls use.

    Spikes and membranes are those of :func:`lif_scan`; only the dtypes on
    the way in and out differ, which saves a pass over memory each way.
    Check :func:`c_inference_applies` first.

    Parameters
    ----------
    current : torch.Tensor
        float32: the current, of shape (n_steps, rows, neurons), or a constant
        (rows, neurons) with ``n_steps``. bfloat16: the product of the layer's
        matmul, (n_steps, rows, neurons), to which ``bias`` is added in float32
        after widening, as the training path adds it.
    decay, threshold, refractory_penalty, n_steps
        As for :func:`lif_scan`.
    bias : torch.Tensor of shape (neurons,), default=None
        float32; needed with a bfloat16 ``current``.
    weights : torch.Tensor of shape (n_steps,), default=None
        Return ``sum_t weights[t] * spikes[t]`` in float32 (the readout's
        input, as :func:`lif_pooled`) instead of the spikes.

    Returns
    -------
    torch.Tensor
        The spikes as bfloat16, (n_steps, rows, neurons); or the pooled sum.
    """
    decay, threshold, drop = float(decay), float(threshold), float(threshold) + float(refractory_penalty)
    product = current.dtype == torch.bfloat16
    if not product and weights is not None:
        return lif_pooled(current, decay, threshold, refractory_penalty, weights, n_steps)
    current = current.contiguous()
    steps = n_steps if n_steps is not None else current.shape[0]
    step_shape = current.shape if n_steps is not None else current.shape[1:]
    n = step_shape.numel()
    v = torch.empty(n, dtype=torch.float32)
    if product:
        bias = bias.detach().to(torch.float32).contiguous()
        f32_pointer, stride, bf16_pointer, bias_pointer, n_neurons = 0, 0, current.data_ptr(), bias.data_ptr(), bias.numel()
    else:
        f32_pointer, stride, bf16_pointer, bias_pointer, n_neurons = current.data_ptr(), 0 if n_steps else n, 0, 0, n
    if weights is not None:
        out = torch.empty(step_shape, dtype=torch.float32)
        weights = weights.to(torch.float32).contiguous()
        spikes_pointer, weights_pointer, pooled_pointer = 0, weights.data_ptr(), out.data_ptr()
    else:
        out = torch.empty((steps, *step_shape), dtype=torch.bfloat16)
        spikes_pointer, weights_pointer, pooled_pointer = out.data_ptr(), 0, 0
    _cscan.lif_infer(
        f32_pointer, stride, bf16_pointer, bias_pointer, n_neurons, spikes_pointer, weights_pointer,
        pooled_pointer, v.data_ptr(), steps, n, decay, threshold, drop,
    )
    return out


def _c_pooled(current, n_steps, decay, threshold, drop, weights):
    """:func:`lif_pooled` in C for contiguous CPU float tensors; None if it does not apply."""
    if current.device.type != "cpu" or current.dtype not in (torch.float32, torch.float64):
        return None
    constant = n_steps is not None
    base = current.contiguous()
    step_shape = base.shape if constant else base.shape[1:]
    n = step_shape.numel()
    steps = n_steps if constant else base.shape[0]
    weights = weights.to(base.dtype).contiguous()
    pooled = torch.empty(step_shape, dtype=base.dtype)
    v = torch.empty(n, dtype=base.dtype)
    _cscan.lif_pooled(
        base.data_ptr(), 0 if constant else n, weights.data_ptr(), pooled.data_ptr(), v.data_ptr(),
        steps, n, decay, threshold, drop, base.dtype == torch.float64,
    )
    return pooled


def lif_reference(current, decay, threshold, refractory_penalty=0.0, surrogate="fast_sigmoid", detach_reset=False):
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
        v = v - (s.detach() if detach_reset else s) * (threshold + refractory_penalty)
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
