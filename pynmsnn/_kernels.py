"""The C kernels of ``pynmsnn/_cscan.c``, behind checks of what they are given.

This is the only module that imports the compiled ``_cscan``. Each function
takes tensors, checks that each is a CPU tensor of the right dtype, shape and
layout, and only then hands raw pointers to C: a wrong argument raises a
``TypeError`` or ``ValueError`` that names it, never a crash. The C side checks
the sizes and the neuron again.

The neuron reaches C as one tuple (:func:`c_neuron`), built from the frozen
:class:`pynmsnn.neurons.LIFParameters`, so adding a neuron setting changes that
tuple, the C ``Neuron`` struct and its equations in one place each.
"""

import torch

from .surrogate import C_SURROGATES

try:  # optional: without a C compiler the torch loops run instead
    from . import _cscan
except ImportError:  # pragma: no cover - a build without a C compiler
    _cscan = None

__all__ = [
    "HAVE_C_SCAN", "HAVE_EVENT_KERNEL", "c_neuron", "event_infer", "int8_digits", "lif_backward",
    "lif_forward", "lif_infer", "lif_pooled",
]

HAVE_C_SCAN = _cscan is not None
HAVE_EVENT_KERNEL = HAVE_C_SCAN and hasattr(_cscan, "lif_event_infer")

#: ``widest_allowed`` codes of the event kernel's instruction sets.
EVENT_KERNELS = {"auto": 0, "avx2": 1, "portable": 2}

_FLOATS = (torch.float32, torch.float64)


def c_neuron(neuron):
    """The tuple ``_cscan.c`` reads as its ``Neuron``: the parameters passed whole.

    ``(decay, threshold, forget, drop, reset_grad, surrogate code, surrogate parameter)``;
    see :class:`pynmsnn.neurons.LIFParameters` for ``forget`` and ``drop``.
    """
    code, parameter = C_SURROGATES[neuron.surrogate]
    reset_grad = 0.0 if neuron.detach_reset else 1.0
    return (neuron.decay, neuron.threshold, neuron.forget, neuron.drop, reset_grad, code, parameter)


def check_tensor(name, tensor, dtypes, shape=None):
    """Raise a clear error unless ``tensor`` is a contiguous CPU tensor of one of ``dtypes`` and ``shape``."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}.")
    if tensor.device.type != "cpu":
        raise ValueError(
            f"{name} is on {tensor.device}; the C kernels run on the CPU. Move it with .cpu(), "
            "or run the torch backend (backend='torch')."
        )
    if tensor.dtype not in dtypes:
        expected = " or ".join(str(d) for d in dtypes)
        raise TypeError(f"{name} has dtype {tensor.dtype}; the C kernel takes {expected}.")
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}; expected {tuple(shape)}.")
    if not tensor.is_contiguous():
        raise ValueError(
            f"{name} is not contiguous (shape {tuple(tensor.shape)}, strides {tensor.stride()}); "
            f"pass {name}.contiguous()."
        )


def _require_c(function):
    if _cscan is None:
        raise RuntimeError(
            f"{function} needs pynmsnn's C kernel, which this installation lacks: install a C "
            "compiler and the Python headers, then reinstall pynmsnn."
        )


def lif_forward(current, constant, membrane, spikes, neuron):
    """The forward scan: spikes and pre-reset membranes of ``current`` over time.

    Parameters
    ----------
    current : torch.Tensor
        (n_steps, *shape), or (*shape) when ``constant`` (the same current at every step).
    constant : bool
        Whether ``current`` is one step repeated.
    membrane : torch.Tensor
        (n_steps, *shape) for every step's membrane, or (*shape) for one reused buffer.
    spikes : torch.Tensor
        (n_steps, *shape), written.
    neuron : pynmsnn.neurons.LIFParameters
    """
    _require_c("lif_forward")
    check_tensor("spikes", spikes, _FLOATS)
    n_steps, step_shape = spikes.shape[0], spikes.shape[1:]
    n = step_shape.numel()
    check_tensor("current", current, (spikes.dtype,), step_shape if constant else spikes.shape)
    keeps_history = membrane.dim() == spikes.dim()
    check_tensor("membrane", membrane, (spikes.dtype,), spikes.shape if keeps_history else step_shape)
    v = torch.empty(n, dtype=spikes.dtype)
    _cscan.lif_forward(
        current.data_ptr(), 0 if constant else n, membrane.data_ptr(), n if keeps_history else 0,
        spikes.data_ptr(), v.data_ptr(), n_steps, n, c_neuron(neuron), spikes.dtype == torch.float64,
    )


def lif_backward(membrane, grad_spikes, constant, neuron, out=None):
    """The backward sweep: the gradient of the current from the spikes' gradient.

    Returns a tensor of the shape of one step when ``constant`` (summed over
    time), else of ``membrane``'s shape: ``out`` when given (a contiguous
    tensor of that shape and dtype, written over), else a new one.
    """
    _require_c("lif_backward")
    check_tensor("membrane", membrane, _FLOATS)
    check_tensor("grad_spikes", grad_spikes, (membrane.dtype,), membrane.shape)
    n_steps, n = membrane.shape[0], membrane[0].numel()
    shape = membrane.shape[1:] if constant else membrane.shape
    if out is None:
        out = torch.empty(shape, dtype=membrane.dtype)
    else:
        check_tensor("out", out, (membrane.dtype,), shape)
    carry = torch.empty(n, dtype=membrane.dtype)
    _cscan.lif_backward(
        membrane.data_ptr(), grad_spikes.data_ptr(), out.data_ptr(), carry.data_ptr(), n_steps, n,
        c_neuron(neuron), bool(constant), membrane.dtype == torch.float64,
    )
    return out


def lif_pooled(current, constant, n_steps, weights, neuron):
    """``sum_t weights[t] * spikes[t]`` of the scan, without keeping the spikes."""
    _require_c("lif_pooled")
    check_tensor("current", current, _FLOATS)
    step_shape = current.shape if constant else current.shape[1:]
    if not constant and current.shape[0] != n_steps:
        raise ValueError(f"current has {current.shape[0]} steps; expected n_steps={n_steps}.")
    check_tensor("weights", weights, (current.dtype,), (n_steps,))
    n = step_shape.numel()
    pooled = torch.empty(step_shape, dtype=current.dtype)
    v = torch.empty(n, dtype=current.dtype)
    _cscan.lif_pooled(
        current.data_ptr(), 0 if constant else n, weights.data_ptr(), pooled.data_ptr(), v.data_ptr(),
        n_steps, n, c_neuron(neuron), current.dtype == torch.float64,
    )
    return pooled


def lif_infer(current, constant, n_steps, neuron, bias=None, weights=None):
    """The inference scan between bfloat16 matmuls (float32 arithmetic).

    ``current`` is float32 ((n_steps, rows, neurons), or (rows, neurons) when
    ``constant``), or the bfloat16 product of a matmul (n_steps, rows,
    neurons) to which the float32 ``bias`` is added after widening. Returns
    the spikes as bfloat16, or with ``weights`` their weighted sum over time
    in float32.
    """
    _require_c("lif_infer")
    product = current.dtype == torch.bfloat16
    check_tensor("current", current, (torch.float32, torch.bfloat16))
    step_shape = current.shape if constant else current.shape[1:]
    if not constant and current.shape[0] != n_steps:
        raise ValueError(f"current has {current.shape[0]} steps; expected n_steps={n_steps}.")
    n = step_shape.numel()
    n_neurons = step_shape[-1] if len(step_shape) else 1
    if product:
        if constant:
            raise ValueError("a bfloat16 product has a step axis; constant=True takes a float32 current.")
        check_tensor("bias", bias, (torch.float32,), (n_neurons,))
        f32, stride, bf16, bias_pointer = 0, 0, current.data_ptr(), bias.data_ptr()
    else:
        f32, stride, bf16, bias_pointer, n_neurons = current.data_ptr(), 0 if constant else n, 0, 0, n
    if weights is not None:
        if not product:
            raise ValueError("a float32 current pooled over time is lif_pooled's work; pass a bfloat16 product.")
        check_tensor("weights", weights, (torch.float32,), (n_steps,))
        out = torch.empty(step_shape, dtype=torch.float32)
        spikes_pointer, weights_pointer, pooled_pointer = 0, weights.data_ptr(), out.data_ptr()
    else:
        out = torch.empty((n_steps, *step_shape), dtype=torch.bfloat16)
        spikes_pointer, weights_pointer, pooled_pointer = out.data_ptr(), 0, 0
    v = torch.empty(n, dtype=torch.float32)
    _cscan.lif_infer(
        f32, stride, bf16, bias_pointer, n_neurons, spikes_pointer, weights_pointer, pooled_pointer,
        v.data_ptr(), n_steps, n, c_neuron(neuron),
    )
    return out


def event_infer(x, weights, biases, readout, readout_bias, time_weights, neuron, *, n_outputs,
                round_bf16, spike_readout, n_threads, kernel="auto"):
    """Event-driven inference of whole rows (``_event_kernel.h``); see :mod:`pynmsnn._events`.

    ``weights[l]`` is hidden layer ``l``'s transposed weight (n_in, n_out),
    float32, or bfloat16 for ``l >= 1`` with ``round_bf16``; ``readout`` is
    (n_outputs, n_last), or transposed (n_last, n_outputs) with
    ``spike_readout``. Returns the (n_rows, n_outputs) float32 output.
    """
    if not HAVE_EVENT_KERNEL:
        _require_c("event_infer")
        raise RuntimeError(
            "event-driven inference needs a compiler with GCC's vector extension (GCC 12 or clang) "
            "when pynmsnn is built; the dense path runs instead."
        )
    if kernel not in EVENT_KERNELS:
        raise ValueError(f"kernel={kernel!r}; choose one of {sorted(EVENT_KERNELS)}.")
    check_tensor("x", x, (torch.float32,))
    if x.dim() != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected (n_rows, n_inputs).")
    n_rows, width = x.shape
    if not weights:
        raise ValueError("event-driven inference needs at least one hidden layer.")
    widths = []
    for i, (weight, bias) in enumerate(zip(weights, biases)):
        low = round_bf16 and i > 0
        check_tensor(f"weights[{i}]", weight, (torch.bfloat16,) if low else (torch.float32,))
        if weight.dim() != 2 or weight.shape[0] != width:
            raise ValueError(f"weights[{i}] has shape {tuple(weight.shape)}; expected ({width}, n_out).")
        width = weight.shape[1]
        check_tensor(f"biases[{i}]", bias, (torch.float32,), (width,))
        widths.append(width)
    n_steps = time_weights.shape[0] if isinstance(time_weights, torch.Tensor) else 0
    check_tensor("time_weights", time_weights, (torch.float32,), (n_steps,))
    check_tensor("readout", readout, (torch.float32,), (width, n_outputs) if spike_readout else (n_outputs, width))
    check_tensor("readout_bias", readout_bias, (torch.float32,), (n_outputs,))
    sizes = torch.tensor(widths, dtype=torch.int64)
    weight_pointers = torch.tensor([w.data_ptr() for w in weights], dtype=torch.int64)
    bias_pointers = torch.tensor([b.data_ptr() for b in biases], dtype=torch.int64)
    out = torch.empty((n_rows, n_outputs), dtype=torch.float32)
    _cscan.lif_event_infer(
        x.data_ptr(), n_rows, x.shape[1], n_steps, len(weights), sizes.data_ptr(),
        weight_pointers.data_ptr(), bias_pointers.data_ptr(), readout.data_ptr(), readout_bias.data_ptr(),
        n_outputs, time_weights.data_ptr(), out.data_ptr(), c_neuron(neuron), bool(round_bf16),
        bool(spike_readout), int(n_threads), EVENT_KERNELS[kernel],
    )
    return out


def int8_digits(grad, digits, inv_scale):
    """Three int8 digits of float32 ``grad * inv_scale`` into ``digits`` (3, *grad.shape)."""
    _require_c("int8_digits")
    check_tensor("grad", grad, (torch.float32,))
    check_tensor("digits", digits, (torch.int8,), (3, *grad.shape))
    _cscan.int8_digits(grad.data_ptr(), grad.numel(), float(inv_scale), *(d.data_ptr() for d in digits))
