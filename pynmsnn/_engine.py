"""Which backend runs a network: chosen once per fit or predict call.

An :class:`Engine` is a frozen value that says how one call runs: the LIF
scan in C or in torch, inference event-driven or dense, the dtype of the
matmuls fed by spikes, and whether weight gradients use int8 products.
:func:`choose_engine` picks it from the data, the hardware and the network;
the network then follows it without checking anything else. Every backend
computes the reference equations of :func:`pynmsnn.neurons.lif_step`, and
``tests/test_engine_golden.py`` holds each one to them.

Tests and benchmarks force a backend for a block of code with
:func:`forced_engine`, or hand an engine to ``SpikingNetwork.forward``.

Examples
--------
>>> import torch
>>> from pynmsnn._engine import choose_engine, forced_engine
>>> from pynmsnn.network import SpikingNetwork
>>> net = SpikingNetwork(4, (8,), 3, n_steps=5).eval()
>>> with forced_engine(scan="torch", inference="dense"):
...     engine = choose_engine(net, torch.zeros(2, 4), training=False)
>>> engine.scan, engine.inference
('torch', 'dense')
"""

import contextlib
import contextvars
import dataclasses
import functools

import torch

from . import _kernels
from ._cpu import cpu_has_int8_dot, cpu_has_native_bf16
from ._events import event_driven_pays
from .encoders import constant_current_encoders

__all__ = ["Engine", "choose_engine", "forced_engine", "spike_matmul_dtype"]

SCANS = ("c", "torch")
INFERENCES = ("event", "dense")
PRECISIONS = ("auto", "float32", "bfloat16")

_FORCED = contextvars.ContextVar("pynmsnn_forced_engine", default={})


@dataclasses.dataclass(frozen=True)
class Engine:
    """How a network runs for one call.

    Parameters
    ----------
    scan : {'c', 'torch'}, default='torch'
        The LIF scan and its backward: the C kernel or the torch loop.
    inference : {'event', 'dense'}, default='dense'
        Without autograd: a row at a time in C, summing the weights of the
        neurons that fired (:mod:`pynmsnn._events`), or matmuls and scans.
    spike_matmul_dtype : torch.dtype or None, default=None
        Dtype of the hidden layers' matmuls fed by spikes (bfloat16), or None
        for the input's.
    integer_weight_grad : bool, default=False
        Weight gradients of spike-fed layers from int8 products
        (:func:`pynmsnn.network.spike_weight_grad`).
    event_kernel : {'auto', 'avx2', 'portable'}, default='auto'
        The widest instruction set the event-driven kernel may use.
    """

    scan: str = "torch"
    inference: str = "dense"
    spike_matmul_dtype: object = None
    integer_weight_grad: bool = False
    event_kernel: str = "auto"

    def __post_init__(self):
        if self.scan not in SCANS:
            raise ValueError(f"scan={self.scan!r}; choose one of {list(SCANS)}.")
        if self.inference not in INFERENCES:
            raise ValueError(f"inference={self.inference!r}; choose one of {list(INFERENCES)}.")
        if self.spike_matmul_dtype not in (None, torch.bfloat16):
            raise ValueError(f"spike_matmul_dtype={self.spike_matmul_dtype!r}; use None or torch.bfloat16.")
        if self.event_kernel not in _kernels.EVENT_KERNELS:
            raise ValueError(f"event_kernel={self.event_kernel!r}; choose one of {sorted(_kernels.EVENT_KERNELS)}.")
        if self.scan == "c" and not _kernels.HAVE_C_SCAN:
            raise ValueError("scan='c' needs pynmsnn's C kernel, which this installation lacks; use scan='torch'.")
        if self.inference == "event" and not _kernels.HAVE_EVENT_KERNEL:
            raise ValueError("inference='event' needs the event-driven C kernel, which this build lacks.")

    def replace(self, **changes):
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def spike_matmul_dtype(precision, device):
    """The dtype of spike-fed matmuls for a ``precision`` parameter on ``device``.

    'float32' keeps the input's dtype (None); 'bfloat16' asks for bfloat16;
    'auto' takes bfloat16 where the hardware multiplies it natively.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {list(PRECISIONS)}.")
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_native_bf16() else None


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


def _event_driven_applies(network, x, low, firing_rates):
    """Event-driven inference: the kernel, a float32 CPU constant current, and rates that pay."""
    return (
        _kernels.HAVE_EVENT_KERNEL
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.dim() == 2
        and len(network.hidden) > 0
        and network.encoder in constant_current_encoders()
        and low in (None, torch.bfloat16)
        and event_driven_pays([layer.out_features for layer in network.hidden], firing_rates, low)
    )


def choose_engine(network, x, *, training, precision="float32", firing_rates=None):
    """The engine for one call of ``network`` on rows like ``x``.

    Parameters
    ----------
    network : pynmsnn.network.SpikingNetwork
    x : torch.Tensor of shape (n_samples, n_inputs)
        Rows like those of the call (their device and dtype decide).
    training : bool
        A fit (the dense path with autograd) or an inference call.
    precision : {'auto', 'float32', 'bfloat16'}, default='float32'
        The estimators' ``precision`` parameter.
    firing_rates : sequence of float, default=None
        Each hidden layer's firing rate on the training data; None counts as
        low enough for event-driven inference.

    Returns
    -------
    Engine
        With the fields of an enclosing :func:`forced_engine` applied.
    """
    on_cpu = x.device.type == "cpu"
    low = spike_matmul_dtype(precision, x.device)
    c_scan = _kernels.HAVE_C_SCAN and on_cpu and x.dtype in (torch.float32, torch.float64)
    event = not training and _event_driven_applies(network, x, low, firing_rates)
    engine = Engine(
        scan="c" if c_scan else "torch",
        inference="event" if event else "dense",
        spike_matmul_dtype=low,
        integer_weight_grad=c_scan and cpu_has_int8_dot() and _cpu_int_mm_works(),
    )
    forced = _FORCED.get()
    return engine.replace(**forced) if forced else engine


@contextlib.contextmanager
def forced_engine(**fields):
    """Within the block, :func:`choose_engine` returns these :class:`Engine` fields.

    For tests and benchmarks that compare backends; nothing outside the block
    (or in another thread or task) is affected.

    Examples
    --------
    >>> from pynmsnn._engine import forced_engine
    >>> with forced_engine(inference="dense"):
    ...     pass
    """
    unknown = set(fields) - {field.name for field in dataclasses.fields(Engine)}
    if unknown:
        raise TypeError(f"forced_engine got unknown fields {sorted(unknown)}; Engine has "
                        f"{[field.name for field in dataclasses.fields(Engine)]}.")
    Engine().replace(**fields)  # check the values now, not at the first call
    token = _FORCED.set({**_FORCED.get(), **fields})
    try:
        yield
    finally:
        _FORCED.reset(token)
