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

Which backend runs is an :class:`pynmsnn._engine.Engine`, chosen once per call
(:func:`pynmsnn._engine.choose_engine`) and handed to :meth:`SpikingNetwork.forward`.
Without autograd, an engine with ``inference='event'`` runs the forward pass a
row at a time in C: a layer fed by spikes sums only the weights of the neurons
that fired (:mod:`pynmsnn._events`).

:meth:`SpikingNetwork.forward_reference` runs the same network step by step
through autograd; it is the reference the fast path is tested against and what
records spikes and membranes for inspection.
"""

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from . import _kernels
from ._engine import choose_engine
from ._events import event_forward
from .encoders import BINARY_ENCODERS, encode, mean_current
from .neurons import LIFParameters, lif_infer_bf16, lif_pooled, lif_scan, lif_step, readout_weights

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


def spike_weight_grad(grad, spikes, integer=False):
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
    integer : bool, default=False
        Use the int8 digits where they apply (float32 on the CPU, the C kernel
        built, and ``torch._int_mm`` on a CPU with int8 dot products, as
        :func:`pynmsnn._engine.choose_engine` checks); False is the float32 matmul.

    Returns
    -------
    torch.Tensor of shape (n_out, n_in), the weight gradient, in ``grad``'s dtype.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn.network import spike_weight_grad
    >>> grad = torch.tensor([[0.5, -1.0], [0.25, 2.0], [1.0, 0.0]])
    >>> spikes = torch.tensor([[1.0], [1.0], [0.0]])
    >>> spike_weight_grad(grad, spikes, integer=True)
    tensor([[0.7500],
            [1.0000]])
    """
    if not (integer and _kernels.HAVE_C_SCAN and grad.device.type == "cpu" and grad.dtype == torch.float32
            and grad.shape[0] <= _MAX_INTEGER_ROWS):
        return grad.T @ spikes.to(grad.dtype)
    grad = grad.contiguous()
    low, high = torch.aminmax(grad)
    peak = torch.maximum(-low, high).item()
    if not math.isfinite(peak):  # NaN or infinity: let it through, training's checks catch it
        return grad.T @ spikes.to(grad.dtype)
    if peak == 0.0:
        return grad.new_zeros((grad.shape[1], spikes.shape[1]))
    digits = torch.empty((3, *grad.shape), dtype=torch.int8)
    _kernels.int8_digits(grad, digits, 127.0 / peak)
    spikes = spikes.to(torch.int8)
    total = torch._int_mm(digits[0].T, spikes).to(torch.float32)
    total.add_(torch._int_mm(digits[1].T, spikes).to(torch.float32), alpha=1 / 128)
    total.add_(torch._int_mm(digits[2].T, spikes).to(torch.float32), alpha=1 / 128**2)
    return total.mul_(peak / 127.0)


class _LowPrecisionSpikeLinear(torch.autograd.Function):
    """``spikes @ weight.T + bias`` with the forward and input-gradient matmuls in a low dtype.

    Spikes (0 or 1) are exact in bfloat16, so the forward rounds only the
    weights. The bias is added in the input's dtype, after the low-precision
    product is widened back to it. The weight gradient, which carries the
    small updates learning depends on, keeps the input's full precision
    (:func:`spike_weight_grad`).
    """

    @staticmethod
    def forward(ctx, spikes, weight, bias, low, integer):
        low_weight = weight.to(low)  # kept for the input gradient, not cast again there
        ctx.save_for_backward(spikes, low_weight)
        ctx.low, ctx.integer = low, integer
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
            grad_weight = spike_weight_grad(flat_grad, spikes.reshape(-1, spikes.shape[-1]), ctx.integer)
        if ctx.needs_input_grad[2]:
            grad_bias = flat_grad.sum(0)
        return grad_spikes, grad_weight, grad_bias, None, None


def _linear(n_in, n_out):
    """An ``nn.Linear`` whose construction leaves torch's global random state as it was.

    Its weights are drawn again from the network's own generator; the global
    state is saved and restored around nn.Linear's initialisation
    (``torch.nn.utils.skip_init`` would do without it, but its first call
    imports sympy: most of a second).
    """
    with torch.random.fork_rng(devices=[]):
        return nn.Linear(n_in, n_out)


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
    neuron : pynmsnn.neurons.LIFParameters, default=None
        The neurons of every layer (decay, threshold, refractory penalty,
        reset, surrogate); None takes ``LIFParameters()``.
    encoder : str, default='current'
        How a row becomes ``n_steps`` of input (see :mod:`pynmsnn.encoders`).
    readout : {'membrane', 'spikes'}, default='membrane'
        Average the readout membrane over time, or count readout spikes.
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

    def __init__(self, n_inputs, hidden_layer_sizes, n_outputs, *, n_steps=25, neuron=None, encoder="current",
                 readout="membrane", generator=None):
        super().__init__()
        sizes = [int(n_inputs), *(int(h) for h in hidden_layer_sizes)]
        self.hidden = nn.ModuleList(_linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.output = _linear(sizes[-1], int(n_outputs))
        self.n_steps = int(n_steps)
        self.neuron = LIFParameters() if neuron is None else neuron
        self.encoder = encoder
        self.readout = readout
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

    def get_config(self):
        """The arguments that rebuild this network, as plain values (no weights).

        Returns
        -------
        dict
            ``n_inputs``, ``hidden_layer_sizes`` (a list), ``n_outputs``,
            ``n_steps``, ``encoder``, ``readout`` and the neuron's fields
            (``decay``, ``threshold``, ``refractory_penalty``, ``reset``,
            ``surrogate``, ``detach_reset``): values JSON can hold. The
            backend (:class:`pynmsnn._engine.Engine`) is not part of it.

        Examples
        --------
        >>> from pynmsnn.network import SpikingNetwork
        >>> config = SpikingNetwork(4, (8,), 3, n_steps=5).get_config()
        >>> config["hidden_layer_sizes"], config["reset"]
        ([8], 'subtract')
        """
        neuron = self.neuron
        return {
            "n_inputs": self.layers[0].in_features,
            "hidden_layer_sizes": [layer.out_features for layer in self.hidden],
            "n_outputs": self.output.out_features,
            "n_steps": self.n_steps,
            "encoder": self.encoder,
            "readout": self.readout,
            **{f.name: getattr(neuron, f.name) for f in dataclasses.fields(neuron)},
        }

    @classmethod
    def from_config(cls, config, state_dict=None, *, generator=None):
        """A network built from :meth:`get_config`'s dict, with ``state_dict``'s weights.

        Parameters
        ----------
        config : dict
            The keys of :meth:`get_config`; neuron fields left out take
            :class:`pynmsnn.neurons.LIFParameters`' defaults.
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
        neuron_fields = {f.name for f in dataclasses.fields(LIFParameters)}
        neuron = LIFParameters(**{name: config.pop(name) for name in neuron_fields if name in config})
        module = cls(
            config.pop("n_inputs"), config.pop("hidden_layer_sizes"), config.pop("n_outputs"), neuron=neuron,
            generator=torch.Generator().manual_seed(0) if generator is None else generator, **config,
        )
        if state_dict is not None:
            module.load_state_dict(state_dict, strict=True)
        return module

    # ---------------------------------------------------------------- input
    def _input_drive(self, x, generator):
        """The encoded input: ``(constant current, True)`` or ``(sequence, False)``."""
        if self.encoder == "current" or not self.training:
            constant = mean_current(x, self.encoder)
            if constant is not None:
                return constant, True
        return encode(x, self.n_steps, self.encoder, generator), False

    def _first_layer_takes_spikes(self, constant):
        """Whether the first hidden layer receives spikes (0/1) rather than currents."""
        return not constant and self.encoder in BINARY_ENCODERS

    def _linear(self, layer, activity, engine, spike_input=False):
        """``layer(activity)`` in the dtype of the activity (float64 in some tests).

        When the input is spikes and the engine's ``spike_matmul_dtype`` is set
        (bfloat16), the matmul runs in that dtype: spikes (0 or 1) are exact in
        it, only the weights are rounded, and the products are summed in float32.
        """
        low = engine.spike_matmul_dtype
        if spike_input and low is not None:
            return _LowPrecisionSpikeLinear.apply(activity, layer.weight, layer.bias, low, engine.integer_weight_grad)
        dtype = activity.dtype
        return F.linear(activity, layer.weight.to(dtype), layer.bias.to(dtype))

    def _lif(self, current, constant, engine):
        """Spikes of LIF neurons driven by ``current`` (constant over time or not)."""
        return lif_scan(current, self.neuron, self.n_steps if constant else None, backend=engine.scan)

    def _over_time(self, tensor):
        return tensor.unsqueeze(0).expand(self.n_steps, *tensor.shape)

    def _readout_weights(self, like):
        return readout_weights(self.n_steps, self.neuron.decay, like.dtype, like.device)

    # ------------------------------------------------------------- forward
    def forward(self, x, generator=None, engine=None):
        """Output for rows ``x`` of shape (n_samples, n_inputs), scaled to [0, 1].

        The computation runs in the dtype of ``x``. With autograd (a parameter
        or ``x`` requires a gradient) the training path runs; without, the
        inference path the ``engine`` names.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_inputs)
        generator : torch.Generator, default=None
            Randomness of a random encoder in training mode.
        engine : pynmsnn._engine.Engine, default=None
            The backend; None chooses one for ``x`` (float32 matmuls).
        """
        if self._needs_graph(x):
            if engine is None:
                engine = choose_engine(self, x, training=True)
            return self._forward_train(x, generator, engine)
        if engine is None:
            engine = choose_engine(self, x, training=False)
        return self._infer(x, engine)

    def _needs_graph(self, x):
        return torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.parameters()))

    def forward_with_rates(self, x, generator=None, engine=None):
        """The output and the mean firing rate of each hidden layer (training path).

        Returns
        -------
        output : torch.Tensor of shape (n_samples, n_outputs)
            What :meth:`forward` returns.
        rates : torch.Tensor of shape (n_hidden_layers,)
            Spikes per neuron per step of each hidden layer over the rows of
            ``x``; differentiable through the surrogate, so a loss may
            penalise it.
        """
        if engine is None:
            engine = choose_engine(self, x, training=True)
        rates = []
        output = self._forward_train(x, generator, engine, rates)
        return output, torch.stack(rates) if rates else output.new_zeros(0)

    def _forward_train(self, x, generator, engine, rates=None):
        """The training path, a layer at a time; appends each hidden layer's mean rate to ``rates``."""
        activity, constant = self._input_drive(x, generator)
        spike_input = self._first_layer_takes_spikes(constant)
        for layer in self.hidden:
            # One matmul for all steps, or a single one for a constant current.
            activity = self._lif(self._linear(layer, activity, engine, spike_input), constant, engine)
            if rates is not None:
                rates.append(activity.mean())
            constant, spike_input = False, True
        weights = self._readout_weights(activity)
        if self.readout == "spikes":
            current = self._linear(self.output, activity, engine)  # the readout stays exact
            return self._lif(current, constant, engine).sum(0)
        if constant:
            pooled = activity * weights.sum()
        else:
            pooled = (weights @ activity.reshape(self.n_steps, -1)).reshape(activity.shape[1:])
        return self._readout(pooled, weights)

    def _infer(self, x, engine):
        """The inference path the engine names (no autograd)."""
        activity, constant = self._input_drive(x, None)
        if engine.inference == "event":
            if not constant:
                raise ValueError(f"encoder={self.encoder!r} has no constant current: it cannot run event-driven.")
            return event_forward(
                self.hidden, self.output, activity, self._readout_weights(activity), self.neuron,
                spike_matmul_dtype=engine.spike_matmul_dtype, spike_readout=self.readout == "spikes",
                kernel=engine.event_kernel,
            )
        if self.readout == "spikes" or not self.hidden:
            return self._forward_train(x, None, engine)
        return self._infer_dense(activity, constant, engine)

    def _infer_dense(self, activity, constant, engine):
        """Matmuls and scans, the last hidden layer's spikes pooled over time inside its scan.

        With bfloat16 spike matmuls and the C scan, each scan writes its spikes
        as the next matmul takes them and reads its product as that matmul
        gives it (:func:`pynmsnn.neurons.lif_infer_bf16`): the same numbers,
        two passes over memory fewer per layer.
        """
        weights = self._readout_weights(activity)
        between_bf16 = (
            engine.spike_matmul_dtype == torch.bfloat16 and engine.scan == "c" and activity.dtype == torch.float32
        )
        spike_input = self._first_layer_takes_spikes(constant)
        for i, layer in enumerate(self.hidden):
            current = self._linear(layer, activity, engine, spike_input)
            if between_bf16:
                return self._infer_between_bf16_matmuls(i, current, constant, weights)
            if i == len(self.hidden) - 1:
                n_steps = self.n_steps if constant else None
                return self._readout(lif_pooled(current, self.neuron, weights, n_steps, engine.scan), weights)
            activity = self._lif(current, constant, engine)
            constant, spike_input = False, True

    def _infer_between_bf16_matmuls(self, layer_index, current, constant, weights):
        """The rest of the forward pass from the float32 ``current`` of hidden layer ``layer_index``."""
        bias, low = None, torch.bfloat16
        for i in range(layer_index, len(self.hidden)):
            is_last = i == len(self.hidden) - 1
            out = lif_infer_bf16(
                current, self.neuron, n_steps=self.n_steps if constant else None, bias=bias,
                weights=weights if is_last else None,
            )
            if is_last:
                return self._readout(out, weights)
            following = self.hidden[i + 1]
            current, bias, constant = F.linear(out, following.weight.to(low)), following.bias, False

    def _readout(self, pooled, weights):
        """The time-averaged readout membrane from the pooled spikes of the last layer."""
        weight, bias = self.output.weight.to(pooled.dtype), self.output.bias.to(pooled.dtype)
        return F.linear(pooled, weight, bias * weights.sum())

    # --------------------------------------------------------- calibration
    @torch.no_grad()
    def calibrate_firing(self, x, rate, n_iter=30):
        """Shift each hidden neuron's bias so that it fires at about ``rate`` on rows ``x``.

        Layer by layer, on the predict-time (expected) input, a bisection over
        a per-neuron shift of the current finds the shift whose firing rate
        (spikes per step, over the rows and steps) is closest to ``rate``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_inputs)
            Scaled rows.
        rate : float in (0, 1)
            Target spikes per neuron per step.
        n_iter : int, default=30
            Bisection steps.

        Returns
        -------
        list of float
            Mean firing rate of each hidden layer after calibration.
        """
        was_training = self.training
        self.eval()
        engine = choose_engine(self, x, training=False)
        activity, constant = self._input_drive(x, None)
        spike_input = self._first_layer_takes_spikes(constant)
        reached = []
        for layer in self.hidden:
            current = self._linear(layer, activity, engine, spike_input)
            shift = self._rate_shift(current, constant, rate, n_iter, engine)
            layer.bias += shift
            activity = self._lif(current + shift, constant, engine)
            reached.append(float(activity.mean()))
            constant, spike_input = False, True
        self.train(was_training)
        return reached

    def _rate_shift(self, current, constant, rate, n_iter, engine):
        """Per-neuron current shift whose firing rate is closest to ``rate`` (bisection)."""
        reach = current.abs().amax() + 2.0 * (self.neuron.threshold + self.neuron.refractory_penalty) + 1.0
        low = torch.full(current.shape[-1:], -float(reach), device=current.device)
        high = -low  # below `low` nothing fires; above `high` everything fires every step
        for _ in range(n_iter):
            middle = (low + high) / 2
            spikes = self._lif(current + middle, constant, engine)
            too_fast = spikes.reshape(-1, spikes.shape[-1]).mean(0) > rate
            high = torch.where(too_fast, middle, high)
            low = torch.where(too_fast, low, middle)
        return (low + high) / 2

    # ----------------------------------------------------------- reference
    def forward_reference(self, x, generator=None, record=False, engine=None):
        """The same output computed step by step through autograd, with :func:`pynmsnn.neurons.lif_step`.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_inputs)
            Rows scaled to [0, 1].
        generator : torch.Generator, default=None
            Randomness for a random encoder (training mode only).
        record : bool, default=False
            Return a :class:`SpikeRecord` instead of the output alone.
        engine : pynmsnn._engine.Engine, default=None
            Only its ``spike_matmul_dtype`` matters here (the matmuls' precision).
        """
        if engine is None:
            engine = choose_engine(self, x, training=True)
        activity, constant = self._input_drive(x, generator)
        first_spike_input = self._first_layer_takes_spikes(constant)
        inputs = self._over_time(activity) if constant else activity
        n_layers = len(self.layers)
        v = [0.0] * n_layers
        spikes = [[] for _ in range(n_layers)]
        membranes = [[] for _ in range(n_layers)]
        output = 0.0
        for input_t in inputs.unbind(0):
            activity_t = input_t
            for i, layer in enumerate(self.layers):
                is_readout = i == n_layers - 1
                # Only hidden layers fed by spikes may use spike_matmul_dtype; the
                # readout always multiplies in full precision.
                spike_input = (i > 0 or first_spike_input) and not is_readout
                current = self._linear(layer, activity_t, engine, spike_input)
                if is_readout and self.readout == "membrane":  # a leaky integrator: no threshold
                    v[i] = self.neuron.decay * v[i] + current
                    membranes[i].append(v[i])
                    spikes[i].append(torch.zeros_like(v[i]))
                    output = output + v[i] / self.n_steps
                    continue
                activity_t, membrane, v[i] = lif_step(v[i], current, self.neuron)
                membranes[i].append(membrane)
                spikes[i].append(activity_t)
                if is_readout:
                    output = output + activity_t
        if not record:
            return output
        return SpikeRecord(
            input=inputs,
            spikes=[torch.stack(s) for s in spikes],
            membranes=[torch.stack(m) for m in membranes],
            output=output,
            threshold=self.neuron.threshold,
            layer_names=[f"hidden {i + 1}" for i in range(len(self.hidden))] + ["output"],
            input_names=[f"x{j}" for j in range(inputs.shape[-1])],
        )
