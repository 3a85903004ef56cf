"""The spiking network as a torch module: a stack of LIF layers and a leaky readout.

Per time step ``t``, hidden layer ``l`` receives the spikes of layer ``l - 1``
(the encoded input for the first) and runs the LIF equations of
:mod:`pynmsnn.neurons`. The output layer integrates without reset (a leaky
readout); what the loss sees is its membrane averaged over the time steps, or,
with ``readout='spikes'``, the number of spikes it fires when it resets like a
hidden layer.

:meth:`SpikingNetwork.forward` is the fast path, a layer at a time:

* one matmul per layer for all steps (``[T * B, in] @ W``);
* a constant-current input is projected once, not ``T`` times;
* the readout's time average is linear, so spikes are averaged over time with
  the readout's leak weights first, then multiplied once by the readout matrix.

At inference on a CPU (no autograd, a constant-current input) the forward pass runs event-driven instead, a row at a time in C: a
layer fed by spikes sums only the weights of the neurons that fired
(:mod:`pynmsnn._events`).

:meth:`SpikingNetwork.forward_reference` runs the same network step by step
through autograd; it is the reference the fast path is tested against and what
records spikes and membranes for inspection.
"""

import functools
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ._cpu import cpu_has_int8_dot
from ._events import event_forward, event_inference_applies
from .encoders import BINARY_ENCODERS, encode, mean_current
from .neurons import c_inference_applies, lif_infer_bf16, lif_pooled, lif_scan, readout_weights
from .surrogate import spike

try:  # the int8 digit split of _cscan.c; without it weight gradients use a float32 matmul
    from ._cscan import int8_digits
except ImportError:  # pragma: no cover - a build without a C compiler
    int8_digits = None

USE_INTEGER_WEIGHT_GRAD = True  # tests switch it off to compare with the float32 matmul
# The integer sums of the three digits stay exact in float32 below 2^24.
_MAX_INTEGER_ROWS = 2**24 // 127

__all__ = ["SpikeRecord", "SpikingNetwork"]


@dataclass
class SpikeRecord:
    """What a network did, step by step, for some rows.

    Attributes
    ----------
    input : array of shape (n_steps, n_samples, n_inputs)
        The encoded input.
    spikes : list of arrays of shape (n_steps, n_samples, n_units)
        Spikes of each hidden layer, then of the output layer (all zeros for
        a membrane readout, which does not fire).
    membranes : list of arrays of shape (n_steps, n_samples, n_units)
        Membrane potential of each layer after integration, before any reset.
    output : array of shape (n_samples, n_outputs)
        What the loss sees (membrane average or spike count).
    threshold : float
        The firing threshold.
    layer_names : list of str
        'hidden 1', 'hidden 2', ..., 'output'.
    input_names : list of str
        Name of each input unit (a column, or ``column=value`` when one-hot).
    """

    input: object
    spikes: list = field(default_factory=list)
    membranes: list = field(default_factory=list)
    output: object = None
    threshold: float = 1.0
    layer_names: list = field(default_factory=list)
    input_names: list = field(default_factory=list)

    @property
    def firing_rates(self):
        """Mean spikes per neuron per step of each hidden layer, as a dict."""
        return {
            name: float(spikes.mean().item())
            for name, spikes in zip(self.layer_names[:-1], self.spikes[:-1])
        }

    def to_numpy(self):
        """The same record with every tensor turned into a numpy array."""
        as_numpy = lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t  # noqa: E731
        return SpikeRecord(
            input=as_numpy(self.input),
            spikes=[as_numpy(s) for s in self.spikes],
            membranes=[as_numpy(m) for m in self.membranes],
            output=as_numpy(self.output),
            threshold=self.threshold,
            layer_names=list(self.layer_names),
            input_names=list(self.input_names),
        )


def spike_weight_grad(grad, spikes):
    """``grad.T @ spikes`` for spikes of 0 and 1, at float32 precision.

    A float32 matmul is several times slower on a CPU than an integer one. As
    the spikes are 0 or 1, the gradient is split into three int8 digits
    (``_cscan.c``: ``grad ~ scale * (q0 + q1 / 128 + q2 / 128**2)``, to about
    2**-21 of its largest value), each digit multiplied by the spikes with
    exact int32 sums, and the three results combined in float32: as precise as
    the float32 matmul, and faster where the CPU has int8 dot products.

    Parameters
    ----------
    grad : torch.Tensor of shape (n_rows, n_out)
        The gradient of the layer's output.
    spikes : torch.Tensor of shape (n_rows, n_in)
        The layer's input, 0 or 1.

    Returns
    -------
    torch.Tensor of shape (n_out, n_in), the weight gradient, in ``grad``'s dtype.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.network import spike_weight_grad
    >>> grad = torch.tensor([[0.5, -1.0], [0.25, 2.0], [1.0, 0.0]])
    >>> spikes = torch.tensor([[1.0], [1.0], [0.0]])
    >>> spike_weight_grad(grad, spikes)
    tensor([[0.7500],
            [1.0000]])
    """
    if not _integer_weight_grad_applies(grad):
        return grad.T @ spikes.to(grad.dtype)
    grad = grad.contiguous()
    low, high = torch.aminmax(grad)
    peak = torch.maximum(-low, high).item()
    if not math.isfinite(peak):  # NaN or infinity: let it through, training's checks catch it
        return grad.T @ spikes.to(grad.dtype)
    if peak == 0.0:
        return grad.new_zeros((grad.shape[1], spikes.shape[1]))
    digits = torch.empty((3, *grad.shape), dtype=torch.int8)
    int8_digits(grad.data_ptr(), grad.numel(), 127.0 / peak, *(d.data_ptr() for d in digits))
    spikes = spikes.to(torch.int8)
    total = torch._int_mm(digits[0].T, spikes).to(torch.float32)
    total.add_(torch._int_mm(digits[1].T, spikes).to(torch.float32), alpha=1 / 128)
    total.add_(torch._int_mm(digits[2].T, spikes).to(torch.float32), alpha=1 / 128**2)
    return total.mul_(peak / 127.0)


def _integer_weight_grad_applies(grad):
    """Float32 on a CPU with int8 dot products, the C digits built, and sums that stay exact."""
    return (
        USE_INTEGER_WEIGHT_GRAD
        and int8_digits is not None
        and grad.device.type == "cpu"
        and grad.dtype == torch.float32
        and grad.shape[0] <= _MAX_INTEGER_ROWS
        and cpu_has_int8_dot()
        and _cpu_int_mm_works()
    )


@functools.lru_cache(maxsize=1)
def _cpu_int_mm_works():
    """Whether this torch multiplies int8 matrices of any shape on the CPU (older ones cannot)."""
    if not hasattr(torch, "_int_mm"):
        return False
    left, right = torch.ones((17, 33), dtype=torch.int8), torch.ones((33, 9), dtype=torch.int8)
    try:
        product = torch._int_mm(left, right)
    except RuntimeError:
        return False
    return bool((product == 33).all())


class _LowPrecisionSpikeLinear(torch.autograd.Function):
    """``spikes @ weight.T + bias`` with the forward and input-gradient matmuls in a low dtype.

    Spikes (0 or 1) are exact in bfloat16, so the forward rounds only the
    weights. The bias is added in the input's dtype, after the low-precision
    product is widened back to it. The weight gradient, which carries the
    small updates learning depends on, keeps the input's full precision
    (:func:`spike_weight_grad`).
    """

    @staticmethod
    def forward(ctx, spikes, weight, bias, low):
        low_weight = weight.to(low)  # kept for the input gradient, not cast again there
        ctx.save_for_backward(spikes, low_weight)
        ctx.low = low
        # Widen, then add in place: a mixed-dtype add would be one pass but runs
        # several times slower than the two.
        return F.linear(spikes.to(low), low_weight).to(spikes.dtype).add_(bias.to(spikes.dtype))

    @staticmethod
    def backward(ctx, grad_out):
        spikes, low_weight = ctx.saved_tensors
        grad_spikes = grad_weight = grad_bias = None
        flat_grad = grad_out.reshape(-1, grad_out.shape[-1])
        if ctx.needs_input_grad[0]:
            grad_spikes = (grad_out.to(ctx.low) @ low_weight).to(grad_out.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = spike_weight_grad(flat_grad, spikes.reshape(-1, spikes.shape[-1]))
        if ctx.needs_input_grad[2]:
            grad_bias = flat_grad.sum(0)
        return grad_spikes, grad_weight, grad_bias, None


class SpikingNetwork(nn.Module):
    """Fully connected spiking network with a leaky readout.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden_layer_sizes : sequence of int
        Width of each spiking hidden layer.
    n_outputs : int
        Number of readout neurons.
    n_steps : int, default=25
        Time steps per sample.
    decay : float, default=0.9
        Membrane leak factor per step.
    threshold : float, default=1.0
        Firing threshold.
    refractory_penalty : float, default=0.0
        Extra drop of the membrane after a spike.
    surrogate : str, default='fast_sigmoid'
        Surrogate derivative of the spike.
    encoder : str, default='current'
        How a row becomes ``n_steps`` of input (see :mod:`pynmsnn.encoders`).
    readout : {'membrane', 'spikes'}, default='membrane'
        Average the readout membrane over time, or count readout spikes.
    detach_reset : bool, default=False
        Leave the reset out of the gradient (see :mod:`pynmsnn.neurons`).
    spike_matmul_dtype : torch.dtype, default=None
        Dtype of the hidden layers' matmuls whose input is spikes
        (``torch.bfloat16`` is several times faster on CPUs with native bf16);
        None keeps the input's. The readout always uses the input's dtype.
    event_driven : bool, default=True
        Run inference event-driven where it applies (:mod:`pynmsnn._events`);
        False keeps the dense path.
    generator : torch.Generator, default=None
        Source of randomness for the initial weights.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.network import SpikingNetwork
    >>> net = SpikingNetwork(4, (8,), 3, n_steps=5, generator=torch.Generator().manual_seed(0))
    >>> net(torch.rand(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_inputs,
        hidden_layer_sizes,
        n_outputs,
        *,
        n_steps=25,
        decay=0.9,
        threshold=1.0,
        refractory_penalty=0.0,
        surrogate="fast_sigmoid",
        encoder="current",
        readout="membrane",
        detach_reset=False,
        spike_matmul_dtype=None,
        event_driven=True,
        generator=None,
    ):
        super().__init__()
        sizes = [int(n_inputs), *(int(h) for h in hidden_layer_sizes)]
        # skip_init: the weights are drawn from `generator` below, so building the
        # module leaves torch's global random state alone.
        self.hidden = nn.ModuleList(
            nn.utils.skip_init(nn.Linear, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])
        )
        self.output = nn.utils.skip_init(nn.Linear, sizes[-1], int(n_outputs))
        self.n_steps = int(n_steps)
        self.decay = float(decay)
        self.threshold = float(threshold)
        self.refractory_penalty = float(refractory_penalty)
        self.surrogate = surrogate
        self.encoder = encoder
        self.readout = readout
        self.detach_reset = bool(detach_reset)
        self.spike_matmul_dtype = spike_matmul_dtype
        self.event_driven = bool(event_driven)
        self.reset_parameters(generator)

    @property
    def layers(self):
        """The hidden layers, then the output layer."""
        return [*self.hidden, self.output]

    @torch.no_grad()
    def reset_parameters(self, generator=None):
        """Draw weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as nn.Linear."""
        for layer in self.layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)

    def _input_drive(self, x, generator):
        """The encoded input: ``(constant current, True)`` or ``(sequence, False)``."""
        if self.encoder == "current" or not self.training:
            constant = mean_current(x, self.encoder)
            if constant is not None:
                return constant, True
        return encode(x, self.n_steps, self.encoder, generator), False

    def _linear(self, layer, activity, spike_input=False):
        """``layer(activity)`` in the dtype of the activity (float64 in some tests).

        When the input is spikes and ``spike_matmul_dtype`` is set (bfloat16), the
        matmul runs in that dtype: spikes (0 or 1) are exact in it, only the
        weights are rounded, and the products are summed in float32.
        """
        dtype = activity.dtype
        bias = layer.bias.to(dtype)
        low = self.spike_matmul_dtype
        if spike_input and low is not None:
            return _LowPrecisionSpikeLinear.apply(activity, layer.weight, layer.bias, low)
        return F.linear(activity, layer.weight.to(dtype), bias)

    def _spike_input(self, layer_index, constant):
        """Whether layer ``layer_index`` receives spikes (0/1) rather than currents."""
        return layer_index > 0 or (not constant and self.encoder in BINARY_ENCODERS)

    def _lif(self, current, constant=False):
        """Spikes of LIF neurons driven by ``current`` (constant over time or not)."""
        n_steps = self.n_steps if constant else None
        return lif_scan(
            current, self.decay, self.threshold, self.refractory_penalty, self.surrogate, n_steps, self.detach_reset
        )

    def _over_time(self, tensor):
        return tensor.unsqueeze(0).expand(self.n_steps, *tensor.shape)

    def forward(self, x, generator=None):
        """Output for rows ``x`` of shape (n_samples, n_inputs), scaled to [0, 1].

        The computation runs in the dtype of ``x``.
        """
        return self._forward(x, generator)

    def forward_with_rates(self, x, generator=None):
        """The output and the mean firing rate of each hidden layer.

        Returns
        -------
        output : torch.Tensor of shape (n_samples, n_outputs)
            What :meth:`forward` returns.
        rates : torch.Tensor of shape (n_hidden_layers,)
            Spikes per neuron per step of each hidden layer over the rows of
            ``x``; differentiable through the surrogate, so a loss may
            penalise it.
        """
        rates = []
        output = self._forward(x, generator, rates)
        return output, torch.stack(rates) if rates else output.new_zeros(0)

    def _forward(self, x, generator=None, rates=None):
        """The fast path; appends each hidden layer's mean rate to ``rates`` when a list."""
        activity, constant = self._input_drive(x, generator)
        if constant and self._runs_event_driven(activity, rates):
            return self._event_forward(activity)
        spike_input = self._spike_input(0, constant)
        weights = readout_weights(self.n_steps, self.decay, activity.dtype, activity.device)
        for i, layer in enumerate(self.hidden):
            # One matmul for all steps, or a single one for a constant current.
            current = self._linear(layer, activity, spike_input)
            if self._pools_in_scan(i, current, rates):
                return self._readout(lif_pooled(
                    current, self.decay, self.threshold, self.refractory_penalty, weights,
                    self.n_steps if constant else None,
                ), weights)
            if self._infers_between_bf16_matmuls(current, rates):
                return self._forward_between_bf16_matmuls(i, current, constant, weights)
            activity = self._lif(current, constant)
            if rates is not None:
                rates.append(activity.mean())
            constant, spike_input = False, True
        if self.readout == "spikes":
            current = self._linear(self.output, activity)  # the readout stays exact
            return self._lif(current, constant).sum(0)
        if constant:
            pooled = activity * weights.sum()
        else:
            pooled = (weights @ activity.reshape(self.n_steps, -1)).reshape(activity.shape[1:])
        return self._readout(pooled, weights)

    def _needs_only_the_output(self, current, rates):
        """Inference with the membrane readout: no autograd graph and no firing rates wanted."""
        needs_grad = torch.is_grad_enabled() and current.requires_grad
        return self.readout == "membrane" and rates is None and not needs_grad

    def infers_event_driven(self, x):
        """Whether :meth:`forward` of rows like ``x``, without autograd, runs a row at a time in C.

        Each row's output is then independent of the other rows computed with it.
        """
        with torch.no_grad():
            activity, constant = self._input_drive(x[:1], None)
            return constant and self._runs_event_driven(activity, None)

    def _runs_event_driven(self, current, rates):
        """Whether inference can run a row at a time in C (:mod:`pynmsnn._events`).

        ``event_driven`` is on, only the output is wanted, the input is a
        constant current on a CPU, and there is a hidden layer (either readout).
        """
        needs_grad = torch.is_grad_enabled() and (
            current.requires_grad or any(p.requires_grad for p in self.parameters())
        )
        return (
            getattr(self, "event_driven", True)  # a module pickled before the attribute existed
            and len(self.hidden) > 0
            and rates is None
            and not needs_grad
            and event_inference_applies(current, self.spike_matmul_dtype)
        )

    def _event_forward(self, current):
        """The output for a constant ``current``, event-driven (:func:`pynmsnn._events.event_forward`)."""
        return event_forward(
            self.hidden, self.output, current, readout_weights(self.n_steps, self.decay),
            decay=self.decay, threshold=self.threshold, drop=self.threshold + self.refractory_penalty,
            spike_matmul_dtype=self.spike_matmul_dtype, spike_readout=self.readout == "spikes",
        )

    def _pools_in_scan(self, layer_index, current, rates):
        """Whether the last hidden layer can hand the readout its pooled spikes directly.

        At inference with the membrane readout, only the weighted sum of the last
        hidden layer's spikes over time is needed (:func:`lif_pooled`).
        """
        return layer_index == len(self.hidden) - 1 and self._needs_only_the_output(current, rates)

    def _infers_between_bf16_matmuls(self, current, rates):
        """Whether inference can keep the spikes in bfloat16 from here on (CPU, C scan).

        At inference with the membrane readout and bfloat16 spike matmuls, each
        scan can write the spikes as the next matmul takes them and read its
        product as that matmul gives it (:func:`lif_infer_bf16`): the same
        numbers, two passes over memory fewer per layer.
        """
        return (
            self.spike_matmul_dtype == torch.bfloat16 and self._needs_only_the_output(current, rates)
            and c_inference_applies(current)
        )

    def _forward_between_bf16_matmuls(self, layer_index, current, constant, weights):
        """The rest of the forward pass from the float32 ``current`` of hidden layer ``layer_index``."""
        bias, low = None, self.spike_matmul_dtype
        for i in range(layer_index, len(self.hidden)):
            is_last = i == len(self.hidden) - 1
            out = lif_infer_bf16(
                current, self.decay, self.threshold, self.refractory_penalty,
                n_steps=self.n_steps if constant else None, bias=bias, weights=weights if is_last else None,
            )
            if is_last:
                return self._readout(out, weights)
            following = self.hidden[i + 1]
            current, bias, constant = F.linear(out, following.weight.to(low)), following.bias, False

    def _readout(self, pooled, weights):
        """The time-averaged readout membrane from the pooled spikes of the last layer."""
        weight, bias = self.output.weight.to(pooled.dtype), self.output.bias.to(pooled.dtype)
        return F.linear(pooled, weight, bias * weights.sum())

    def forward_reference(self, x, generator=None, record=False):
        """The same output computed step by step through autograd.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_inputs)
            Rows scaled to [0, 1].
        generator : torch.Generator, default=None
            Randomness for a random encoder (training mode only).
        record : bool, default=False
            Return a :class:`SpikeRecord` instead of the output alone.
        """
        activity, constant = self._input_drive(x, generator)
        first_spike_input = self._spike_input(0, constant)
        inputs = self._over_time(activity) if constant else activity
        n_layers = len(self.layers)
        v = [0.0] * n_layers
        spikes = [[] for _ in range(n_layers)]
        membranes = [[] for _ in range(n_layers)]
        output = 0.0
        drop = self.threshold + self.refractory_penalty
        for input_t in inputs.unbind(0):
            activity_t = input_t
            for i, layer in enumerate(self.layers):
                is_readout = i == n_layers - 1
                # Only hidden layers fed by spikes may use spike_matmul_dtype; the
                # readout always multiplies in full precision.
                spike_input = (i > 0 or first_spike_input) and not is_readout
                v[i] = self.decay * v[i] + self._linear(layer, activity_t, spike_input)
                membranes[i].append(v[i])
                if is_readout and self.readout == "membrane":
                    spikes[i].append(torch.zeros_like(v[i]))
                    output = output + v[i] / self.n_steps
                    continue
                activity_t = spike(v[i] - self.threshold, self.surrogate)
                spikes[i].append(activity_t)
                v[i] = v[i] - (activity_t.detach() if self.detach_reset else activity_t) * drop
                if is_readout:
                    output = output + activity_t
        if not record:
            return output
        return SpikeRecord(
            input=inputs,
            spikes=[torch.stack(s) for s in spikes],
            membranes=[torch.stack(m) for m in membranes],
            output=output,
            threshold=self.threshold,
            layer_names=[f"hidden {i + 1}" for i in range(len(self.hidden))] + ["output"],
            input_names=[f"x{j}" for j in range(inputs.shape[-1])],
        )

    def get_config(self):
        """The arguments that rebuild this network, as plain values.

        Returns
        -------
        dict
            ``n_inputs``, ``hidden_layer_sizes`` (a list), ``n_outputs``,
            ``n_steps``, ``encoder``, ``readout``, ``decay``, ``threshold``,
            ``refractory_penalty``, ``surrogate`` and ``detach_reset``: ints,
            floats, strings and booleans that JSON can hold. The compute path
            (``spike_matmul_dtype``, ``event_driven``) is not part of it.

        Examples
        --------
        >>> import torch
        >>> from pynmsnn.network import SpikingNetwork
        >>> net = SpikingNetwork(4, (8,), 3, n_steps=5, generator=torch.Generator().manual_seed(0))
        >>> config = net.get_config()
        >>> config["hidden_layer_sizes"], config["n_steps"]
        ([8], 5)
        """
        return {
            "n_inputs": self.hidden[0].in_features if len(self.hidden) else self.output.in_features,
            "hidden_layer_sizes": [layer.out_features for layer in self.hidden],
            "n_outputs": self.output.out_features,
            "n_steps": self.n_steps,
            "encoder": self.encoder,
            "readout": self.readout,
            "decay": self.decay,
            "threshold": self.threshold,
            "refractory_penalty": self.refractory_penalty,
            "surrogate": self.surrogate,
            "detach_reset": self.detach_reset,
        }

    @classmethod
    def from_config(cls, config, state_dict=None, *, generator=None):
        """A network built from :meth:`get_config`'s dict, with ``state_dict``'s weights.

        Parameters
        ----------
        config : dict
            The keys of :meth:`get_config`.
        state_dict : dict of str to torch.Tensor, default=None
            Weights and biases to load (strictly: every tensor, of the right
            shapes); None keeps freshly drawn ones.
        generator : torch.Generator, default=None
            Source of the fresh weights; None uses one seeded with 0, so that
            building never draws from torch's global random state.

        Returns
        -------
        SpikingNetwork
            On the CPU, in training mode.
        """
        config = dict(config)
        generator = torch.Generator().manual_seed(0) if generator is None else generator
        network = cls(
            config.pop("n_inputs"),
            config.pop("hidden_layer_sizes"),
            config.pop("n_outputs"),
            generator=generator,
            **config,
        )
        if state_dict is not None:
            network.load_state_dict(state_dict, strict=True)
        return network
