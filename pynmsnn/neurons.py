"""Leaky integrate-and-fire (LIF) neurons over ``T`` time steps.

A neuron model is one frozen value, :class:`LIFParameters`, and one plain
step-by-step torch function, :func:`lif_step`, that states its equations. For
input current ``I[t]`` (already ``W x[t] + b``), per time step::

    v[t] = decay * v[t-1] + I[t]                      # leak, then integrate
    s[t] = H(v[t] - threshold)                        # fire: 0 or 1
    v[t] = v[t] * (1 - s[t] * forget) - s[t] * drop   # reset

with ``v[0] = 0``. ``reset='subtract'`` (``forget = 0``, ``drop = threshold +
refractory_penalty``) takes the threshold and the penalty off and keeps the
excess; ``reset='zero'`` (``forget = 1``, ``drop = refractory_penalty``) sets
the membrane to ``-refractory_penalty``, as NIR's LIF neuron (``v_reset``)
and the neuromorphic chips that read NIR do.

With ``sg[t] = surrogate(v[t] - threshold)`` at the pre-reset membrane, the
backward pass is the reverse scan::

    g[t] = sg[t] * dL/ds[t] + decay * R[t] * g[t+1],   dL/dI[t] = g[t]
    R[t] = (1 - s[t] * forget) - sg[t] * (forget * v[t] + drop)

``R`` is the derivative of the reset (:func:`reset_derivative`). With
``detach_reset=True`` (snnTorch's default) the spike in the reset is left out
of the gradient and ``R[t] = 1 - s[t] * forget``.

Backends run the same equations (``backend='c'`` or ``'torch'``):

* :func:`lif_scan` -- training: one ``torch.autograd.Function`` whose forward
  keeps no autograd graph and saves only the pre-reset membrane, and whose
  backward is one reverse sweep (in C, or in torch);
* :func:`lif_scan_members` -- the same for several networks trained side by
  side, each with a neuron of its own: each member's contiguous block runs
  through the kernels of :func:`lif_scan`;
* :func:`lif_pooled` -- inference when only the spikes' weighted sum over time
  is needed (by the readout);
* :func:`lif_infer_bf16` -- inference between bfloat16 matmuls (C only);
* event-driven inference of whole rows (:mod:`pynmsnn._events`, C only).

:func:`lif_reference` runs :func:`lif_step` through autograd; every backend is
tested against it (``tests/test_engine_golden.py``).
"""

import dataclasses
import functools
import math

import torch

from . import _kernels
from .surrogate import SURROGATES, spike, surrogate_grad

__all__ = [
    "RESETS", "LIFParameters", "lif_infer_bf16", "lif_pooled", "lif_reference", "lif_scan", "lif_scan_members",
    "lif_step", "readout_weights", "reset_derivative",
]

#: The reset mechanisms: what a spike does to the membrane.
RESETS = ("subtract", "zero")
#: The scan backends; 'auto' takes C for CPU tensors where it is built.
BACKENDS = ("auto", "c", "torch")


@dataclasses.dataclass(frozen=True)
class LIFParameters:
    """The parameters of a LIF neuron, one frozen value handed whole to every kernel.

    Parameters
    ----------
    decay : float, default=0.9
        Membrane leak factor per step, in [0, 1].
    threshold : float, default=1.0
        Firing threshold, > 0.
    refractory_penalty : float, default=0.0
        How far below rest a spike leaves the membrane, beyond the reset.
    reset : {'subtract', 'zero'}, default='subtract'
        After a spike, subtract ``threshold + refractory_penalty`` and keep the
        excess, or set the membrane to ``-refractory_penalty``.
    surrogate : str, default='fast_sigmoid'
        The spike's derivative in the backward pass (:mod:`pynmsnn.surrogate`).
    detach_reset : bool, default=False
        Leave the spike in the reset out of the gradient.

    Examples
    --------
    >>> from pynmsnn.neurons import LIFParameters
    >>> neuron = LIFParameters(decay=0.5, reset="zero", refractory_penalty=0.25)
    >>> neuron.forget, neuron.drop
    (1.0, 0.25)
    """

    decay: float = 0.9
    threshold: float = 1.0
    refractory_penalty: float = 0.0
    reset: str = "subtract"
    surrogate: str = "fast_sigmoid"
    detach_reset: bool = False

    def __post_init__(self):
        for name in ("decay", "threshold", "refractory_penalty"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"{name} must be a number, got {value!r}.") from None
            if not math.isfinite(number):
                raise ValueError(f"{name} must be finite, got {value!r}.")
            object.__setattr__(self, name, number)
        if not 0.0 <= self.decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {self.decay!r}.")
        if self.threshold <= 0.0:
            raise ValueError(f"threshold must be > 0, got {self.threshold!r}.")
        if self.refractory_penalty < 0.0:
            raise ValueError(f"refractory_penalty must be >= 0, got {self.refractory_penalty!r}.")
        if self.reset not in RESETS:
            raise ValueError(f"reset={self.reset!r}; choose one of {list(RESETS)}.")
        surrogate_grad(self.surrogate)  # a clear error for an unknown name
        object.__setattr__(self, "detach_reset", bool(self.detach_reset))

    @property
    def forget(self):
        """The share of the membrane a spike wipes out: 1.0 with reset='zero', else 0.0."""
        return 1.0 if self.reset == "zero" else 0.0

    @property
    def drop(self):
        """What a spike takes off the membrane after the part it wipes out."""
        return self.refractory_penalty + (0.0 if self.reset == "zero" else self.threshold)

    def replace(self, **changes):
        """A copy with some parameters changed."""
        return dataclasses.replace(self, **changes)


def lif_step(v, current, neuron):
    """One time step of LIF neurons: the equations, stated once (the reference).

    Parameters
    ----------
    v : torch.Tensor or float
        Membrane after the previous step's reset (0 at the start).
    current : torch.Tensor
        Input current of this step.
    neuron : LIFParameters

    Returns
    -------
    spikes : torch.Tensor
        0.0 or 1.0; differentiable through the surrogate.
    membrane : torch.Tensor
        The membrane after integration, before the reset.
    v : torch.Tensor
        The membrane after the reset, for the next step.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import LIFParameters, lif_step
    >>> s, membrane, v = lif_step(torch.tensor([0.8]), torch.tensor([0.7]), LIFParameters(decay=0.5, reset="subtract"))
    >>> s.item(), round(membrane.item(), 4), round(v.item(), 4)
    (1.0, 1.1, 0.1)
    """
    membrane = neuron.decay * v + current  # leak, integrate
    spikes = spike(membrane - neuron.threshold, neuron.surrogate)  # fire
    resets = spikes.detach() if neuron.detach_reset else spikes
    v = membrane * (1.0 - resets * neuron.forget) - resets * neuron.drop  # reset
    return spikes, membrane, v


def reset_derivative(neuron, membrane, spikes, surrogates):
    """``d v_after_reset / d membrane`` of :func:`lif_step`, for the backward scan.

    ``spikes`` are the step's spikes and ``surrogates`` the surrogate
    derivative at ``membrane - threshold``.
    """
    derivative = 1.0 - spikes * neuron.forget
    if neuron.detach_reset:
        return derivative
    return derivative - surrogates * (neuron.forget * membrane + neuron.drop)


def lif_reference(current, neuron):
    """Run :func:`lif_step` over time through autograd; the reference of every backend.

    Parameters
    ----------
    current : torch.Tensor of shape (n_steps, ...)
    neuron : LIFParameters

    Returns
    -------
    spikes : torch.Tensor of the shape of ``current``
        0.0 or 1.0 per neuron and step.
    membrane : torch.Tensor of the shape of ``current``
        Membrane potential after integration and before the reset.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import LIFParameters, lif_reference
    >>> spikes, membrane = lif_reference(torch.full((4, 1), 0.6), LIFParameters(decay=0.5, reset="subtract"))
    >>> membrane.flatten()
    tensor([0.6000, 0.9000, 1.0500, 0.6250])
    """
    v = torch.zeros_like(current[0])
    spikes, membranes = [], []
    for current_t in current.unbind(0):
        s, membrane, v = lif_step(v, current_t, neuron)
        spikes.append(s)
        membranes.append(membrane)
    return torch.stack(spikes), torch.stack(membranes)


def resolve_backend(backend, tensor):
    """'c' or 'torch' for ``backend`` ('auto', 'c' or 'torch') and a tensor to scan."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; choose one of {list(BACKENDS)}.")
    if backend != "auto":
        return backend
    c_applies = _kernels.HAVE_C_SCAN and tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64)
    return "c" if c_applies else "torch"


class _LIFScan(torch.autograd.Function):
    """The LIF recurrence over time as a single autograd node.

    ``current`` has shape (n_steps, ...), or, when ``n_steps`` is given, it is a
    constant current of shape (...) repeated for ``n_steps`` steps (its
    gradient is then the sum over time, computed inside the reverse scan).
    """

    @staticmethod
    def forward(ctx, current, n_steps, neuron, backend):
        constant = n_steps is not None
        steps = n_steps if constant else current.shape[0]
        step_shape = current.shape if constant else current.shape[1:]
        membrane = torch.empty((steps, *step_shape), dtype=current.dtype, device=current.device)
        spikes = torch.empty_like(membrane)
        _scan_forward(current.contiguous(), constant, membrane, spikes, neuron, backend)
        ctx.save_for_backward(membrane)
        ctx.constant, ctx.neuron, ctx.backend = constant, neuron, backend
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        (membrane,) = ctx.saved_tensors
        grad_spikes = grad_spikes.to(membrane.dtype).expand(membrane.shape).contiguous()
        if ctx.backend == "c":
            grad = _kernels.lif_backward(membrane, grad_spikes, ctx.constant, ctx.neuron)
        else:
            grad = _torch_backward(membrane, grad_spikes, ctx.constant, ctx.neuron)
        return grad, None, None, None


def _scan_forward(current, constant, membrane, spikes, neuron, backend):
    """Spikes and membranes of the scan into ``spikes`` and ``membrane``.

    ``membrane`` holds every step, or is one step's buffer reused (inference).
    """
    if backend == "c":
        _kernels.lif_forward(current, constant, membrane, spikes, neuron)
        return
    keeps_history = membrane.dim() == spikes.dim()
    v = torch.zeros(spikes.shape[1:], dtype=spikes.dtype, device=spikes.device)
    with torch.no_grad():
        for t in range(spikes.shape[0]):
            s, value, v = lif_step(v, current if constant else current[t], neuron)
            spikes[t] = s
            (membrane[t] if keeps_history else membrane).copy_(value)


def _torch_backward(membrane, grad_spikes, constant, neuron):
    """The reverse scan of the module docstring in torch (GPU, or no C kernel)."""
    surrogates = SURROGATES[neuron.surrogate](membrane - neuron.threshold)
    spikes = (membrane > neuron.threshold).to(membrane.dtype)
    carry = reset_derivative(neuron, membrane, spikes, surrogates).mul_(neuron.decay)
    local = surrogates.mul_(grad_spikes)
    if neuron.detach_reset and neuron.forget == 0.0:
        # g[t] = local[t] + decay * g[t+1] is linear: one matmul (a vector
        # product for a constant current) replaces the T steps.
        flat = local.view(local.shape[0], -1)
        matrix = _reverse_scan_matrix(local.shape[0], neuron.decay, local.dtype, local.device)
        if constant:
            return (matrix.sum(0) @ flat).view(local.shape[1:])
        return (matrix @ flat).view(local.shape)
    grad = torch.empty_like(local)
    g = torch.zeros_like(local[0])
    for t in range(local.shape[0] - 1, -1, -1):
        g = torch.addcmul(local[t], carry[t], g, out=grad[t])
    return grad.sum(0) if constant else grad


@functools.lru_cache(maxsize=64)
def _reverse_scan_matrix(n_steps, decay, dtype, device):
    """``M[t, k] = decay^(k - t)`` for ``k >= t``, else 0."""
    steps = torch.arange(n_steps, dtype=torch.float64)
    lag = steps[None, :] - steps[:, None]
    matrix = torch.where(lag >= 0, torch.tensor(decay, dtype=torch.float64) ** lag.clamp(min=0), 0.0)
    return matrix.to(dtype=dtype, device=device)


def lif_scan(current, neuron, n_steps=None, backend="auto"):
    """Run LIF neurons over time; the fast path, with a hand-written backward.

    Parameters
    ----------
    current : torch.Tensor of shape (n_steps, ...), or (...) with ``n_steps``
        Input current per time step, or a constant current when ``n_steps``
        is given.
    neuron : LIFParameters
    n_steps : int, default=None
        Repeat a constant ``current`` for this many steps.
    backend : {'auto', 'c', 'torch'}, default='auto'
        The C kernel, the torch loop, or C where it applies.

    Returns
    -------
    torch.Tensor of shape (n_steps, ...)
        Spikes, 0.0 or 1.0.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import LIFParameters, lif_scan
    >>> neuron = LIFParameters(decay=0.5)
    >>> lif_scan(torch.full((4, 1), 0.6), neuron).flatten()
    tensor([0., 0., 1., 0.])
    >>> lif_scan(torch.full((1,), 0.6), neuron, n_steps=4).flatten()
    tensor([0., 0., 1., 0.])
    """
    backend = resolve_backend(backend, current)
    if torch.is_grad_enabled() and current.requires_grad:
        return _LIFScan.apply(current, n_steps, neuron, backend)
    constant = n_steps is not None
    steps = n_steps if constant else current.shape[0]
    step_shape = current.shape if constant else current.shape[1:]
    spikes = torch.empty((steps, *step_shape), dtype=current.dtype, device=current.device)
    membrane = torch.empty(step_shape, dtype=current.dtype, device=current.device)  # one step kept
    _scan_forward(current.detach().contiguous(), constant, membrane, spikes, neuron, backend)
    return spikes


class _LIFScanMembers(torch.autograd.Function):
    """:class:`_LIFScan` for several members at once, one neuron each; optionally pooled over time.

    ``current`` has shape (n_members, n_steps, ...), or (n_members, ...) for a
    constant current repeated ``n_steps`` times; member ``m``'s block is
    scanned with ``neurons[m]`` by the kernels of :func:`lif_scan`. With
    ``pooled_by`` (n_members, n_steps), the output is each member's
    ``pooled_by[m] @ spikes`` over time, computed right after its scan while
    its spikes are in cache, by the same matmul as the network's readout,
    forward and backward.
    """

    @staticmethod
    def forward(ctx, current, n_steps, neurons, backend, pooled_by, parallel, workspace):
        membrane, out = _scan_members(current, n_steps, neurons, backend, pooled_by, parallel, workspace)
        ctx.save_for_backward(membrane, pooled_by)
        ctx.constant, ctx.neurons, ctx.backend = n_steps is not None, neurons, backend
        ctx.parallel, ctx.workspace = parallel, workspace
        return out

    @staticmethod
    def backward(ctx, grad_out):
        membrane, pooled_by = ctx.saved_tensors
        n_members, steps = membrane.shape[:2]
        grad_out = grad_out.to(membrane.dtype)
        grad_out = grad_out.expand(membrane.shape) if pooled_by is None else grad_out
        grad_out = grad_out.contiguous()
        shape = membrane.shape[:1] + membrane.shape[2:] if ctx.constant else membrane.shape
        grads = _buffer(ctx.workspace, "grad", shape, membrane)

        def sweep(members, share):
            grad_spikes = None if pooled_by is None else _buffer(ctx.workspace, ("spikes", share),
                                                                 membrane.shape[1:], membrane)
            for m in members:
                if pooled_by is None:
                    grad_spikes = grad_out[m]
                else:  # the readout matmul's gradient of the spikes: an outer product over time
                    torch.mm(pooled_by[m].unsqueeze(1), grad_out[m].reshape(1, -1), out=grad_spikes.view(steps, -1))
                if ctx.backend == "c":
                    _kernels.lif_backward(membrane[m], grad_spikes, ctx.constant, ctx.neurons[m], out=grads[m])
                else:
                    grads[m] = _torch_backward(membrane[m], grad_spikes, ctx.constant, ctx.neurons[m])

        _for_each_share(sweep, n_members, *ctx.parallel)
        return grads, None, None, None, None, None, None


def _buffer(workspace, key, shape, like):
    """A tensor of ``shape`` like ``like``: a view of memory kept in ``workspace`` (a dict), or new.

    The memory is the largest asked for under ``key`` so far, so a stack
    that shrinks, or a shorter minibatch, reuses it without new pages.
    """
    if workspace is None:
        return like.new_empty(shape)
    size = math.prod(shape)
    storage = workspace.get(key)
    if storage is None or storage.numel() < size or storage.dtype != like.dtype or storage.device != like.device:
        storage = workspace[key] = like.new_empty(size)
    return storage[:size].view(shape)


def _scan_members(current, n_steps, neurons, backend, pooled_by, parallel, workspace):
    """The forward scans of :class:`_LIFScanMembers`: every member's membranes, and its spikes or pooled spikes."""
    constant = n_steps is not None
    n_members = current.shape[0]
    steps = n_steps if constant else current.shape[1]
    step_shape = current.shape[1:] if constant else current.shape[2:]
    shape = (n_members, steps, *step_shape)
    membrane = _buffer(workspace, "membrane", shape, current)
    out = _buffer(workspace, "out", shape if pooled_by is None else (n_members, *step_shape), current)
    current = current.contiguous()

    def scan(members, share):
        spikes = None if pooled_by is None else _buffer(workspace, ("spikes", share), shape[1:], current)
        for m in members:
            if pooled_by is None:
                _scan_forward(current[m], constant, membrane[m], out[m], neurons[m], backend)
                continue
            _scan_forward(current[m], constant, membrane[m], spikes, neurons[m], backend)
            torch.mm(pooled_by[m].unsqueeze(0), spikes.view(steps, -1), out=out[m].view(1, -1))

    _for_each_share(scan, n_members, *parallel)
    return membrane, out


def _for_each_share(function, n_members, executor, shares):
    """Call ``function(members, share)`` on ``shares`` contiguous ranges of the members, in ``executor``'s threads."""
    shares = max(1, min(int(shares), n_members))
    bounds = [round(i * n_members / shares) for i in range(shares + 1)]
    ranges = [range(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]
    if executor is None or shares == 1:
        for share, members in enumerate(ranges):
            function(members, share)
        return
    for _ in executor.map(function, ranges, range(shares)):  # re-raises a share's exception here
        pass


def lif_scan_members(current, neurons, n_steps=None, backend="auto", *, pooled_by=None, executor=None, shares=1,
                     workspace=None):
    """:func:`lif_scan` for several networks side by side, each member with its own neuron.

    Member ``m``'s block ``current[m]`` is scanned with ``neurons[m]`` by the
    kernels of :func:`lif_scan` (one call per member), so each member's spikes
    and gradient are exactly those :func:`lif_scan` gives its block alone.

    Parameters
    ----------
    current : torch.Tensor of shape (n_members, n_steps, ...), or (n_members, ...) with ``n_steps``
        Each member's input current per time step, or its constant current.
    neurons : sequence of LIFParameters
        One per member.
    n_steps : int, default=None
        Repeat a constant ``current`` for this many steps.
    backend : {'auto', 'c', 'torch'}, default='auto'
        As for :func:`lif_scan`.
    pooled_by : torch.Tensor of shape (n_members, n_steps), default=None
        Return each member's spikes summed over time with these weights,
        ``pooled_by[m] @ spikes[m]`` (the readout's input,
        :func:`readout_weights`), computed as each member's scan ends: the
        spikes of all steps are never held for every member at once.
    executor : concurrent.futures.Executor, default=None
        Threads to run the members' scans in; the C kernels release Python's
        lock, so a thread pool runs them in parallel. None runs them here.
    shares : int, default=1
        Number of contiguous ranges of members handed to ``executor`` (its
        number of threads).
    workspace : dict, default=None
        Where the scan keeps its buffers (the membranes the backward pass
        needs, the gradient, each thread's spikes) from call to call, as a
        training loop calls it: on a large stack, fresh pages cost more than
        the scan. A workspace must not serve two graphs that have not both
        run backward yet.

    Returns
    -------
    torch.Tensor of shape (n_members, n_steps, ...), or (n_members, ...) with ``pooled_by``
        Spikes, 0.0 or 1.0, or their weighted sums over time.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.neurons import LIFParameters, lif_scan_members
    >>> neurons = [LIFParameters(decay=0.5), LIFParameters(decay=1.0)]
    >>> lif_scan_members(torch.full((2, 1), 0.6), neurons, n_steps=4)[:, :, 0]
    tensor([[0., 0., 1., 0.],
            [0., 1., 0., 1.]])
    >>> lif_scan_members(torch.full((2, 1), 0.6), neurons, n_steps=4, pooled_by=torch.ones(2, 4))
    tensor([[1.],
            [2.]])
    """
    neurons = tuple(neurons)
    if len(neurons) != current.shape[0]:
        raise ValueError(
            f"current holds {current.shape[0]} members but {len(neurons)} neurons were given; pass one per member."
        )
    backend = resolve_backend(backend, current)
    if pooled_by is not None:
        pooled_by = pooled_by.to(current.dtype).contiguous()
    arguments = (n_steps, neurons, backend, pooled_by, (executor, shares), workspace)
    if torch.is_grad_enabled() and current.requires_grad:
        return _LIFScanMembers.apply(current, *arguments)
    return _scan_members(current.detach(), *arguments)[1]


def lif_pooled(current, neuron, weights, n_steps=None, backend="auto"):
    """Inference: the spikes of :func:`lif_scan` summed over time with ``weights``.

    Returns ``sum_t weights[t] * spikes[t]`` without keeping the spikes of
    every step: what the readout needs from the last hidden layer. No gradient.

    Parameters
    ----------
    current, neuron, n_steps, backend
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
    >>> from pynmsnn.neurons import LIFParameters, lif_pooled
    >>> weights = torch.tensor([1.0, 2.0, 4.0, 8.0])
    >>> lif_pooled(torch.full((1,), 0.6), LIFParameters(decay=0.5), weights, n_steps=4)
    tensor([4.])
    """
    with torch.no_grad():
        if resolve_backend(backend, current) == "c":
            steps = n_steps if n_steps is not None else current.shape[0]
            return _kernels.lif_pooled(
                current.contiguous(), n_steps is not None, steps, weights.to(current.dtype).contiguous(), neuron
            )
        spikes = lif_scan(current, neuron, n_steps, backend="torch")
        return (weights.to(spikes.dtype) @ spikes.reshape(spikes.shape[0], -1)).reshape(spikes.shape[1:])


def lif_infer_bf16(current, neuron, n_steps=None, bias=None, weights=None):
    """Inference between bfloat16 matmuls: the C scan reading and writing what the matmuls use.

    Spikes and membranes are those of :func:`lif_scan`; only the dtypes on
    the way in and out differ, which saves a pass over memory each way. CPU
    and the C kernel only.

    Parameters
    ----------
    current : torch.Tensor
        float32: the current, of shape (n_steps, rows, neurons), or a constant
        (rows, neurons) with ``n_steps``. bfloat16: the product of the layer's
        matmul, (n_steps, rows, neurons), to which ``bias`` is added in float32
        after widening, as the training path adds it.
    neuron, n_steps
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
    if current.dtype != torch.bfloat16 and weights is not None:  # float32 in, pooled out: the pooled scan
        return lif_pooled(current, neuron, weights.to(current.dtype), n_steps, backend="c")
    constant = n_steps is not None
    steps = n_steps if constant else current.shape[0]
    if bias is not None:
        bias = bias.detach().to(torch.float32).contiguous()
    if weights is not None:
        weights = weights.to(torch.float32).contiguous()
    return _kernels.lif_infer(current.contiguous(), constant, steps, neuron, bias=bias, weights=weights)


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
