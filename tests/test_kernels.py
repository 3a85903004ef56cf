"""The C boundary (pynmsnn/_kernels.py, pynmsnn/_cscan.c) checks what it is given.

A wrong shape, dtype, stride or device raises a Python error that names the
argument, and the C side refuses bad sizes and neurons: never a crash.
"""

import pytest
import torch

from pynmsnn import _kernels
from pynmsnn.neurons import LIFParameters

pytestmark = pytest.mark.skipif(not _kernels.HAVE_C_SCAN, reason="the C kernel is not built")

NEURON = LIFParameters(decay=0.5, threshold=1.0)


def buffers(steps=4, rows=3, width=5, dtype=torch.float32):
    current = torch.rand(steps, rows, width, dtype=dtype)
    return current, torch.empty_like(current), torch.empty_like(current)


def test_forward_accepts_good_arguments_and_fires():
    current, membrane, spikes = buffers()
    _kernels.lif_forward(current * 3, False, membrane, spikes, NEURON)
    assert spikes.sum() > 0 and set(spikes.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda c, m, s: (c.double(), m, s), TypeError, "current has dtype torch.float64"),
        (lambda c, m, s: (c, m, s.to(torch.int32)), TypeError, "spikes has dtype torch.int32"),
        (lambda c, m, s: (c[:, :2], m, s), ValueError, r"current has shape \(4, 2, 5\); expected \(4, 3, 5\)"),
        (lambda c, m, s: (c.transpose(1, 2).contiguous().transpose(1, 2), m, s), ValueError,
         "current is not contiguous"),
        (lambda c, m, s: (c, m[:, :, :3], s), ValueError, "membrane has shape"),
        (lambda c, m, s: (c.to("meta"), m, s), ValueError, "current is on meta"),
        (lambda c, m, s: (c.numpy(), m, s), TypeError, "current must be a torch.Tensor, got ndarray"),
    ],
)
def test_forward_refuses_each_wrong_argument_by_name(make, error, match):
    current, membrane, spikes = make(*buffers())
    with pytest.raises(error, match=match):
        _kernels.lif_forward(current, False, membrane, spikes, NEURON)


def test_backward_refuses_a_gradient_of_another_shape_or_dtype():
    membrane = torch.rand(4, 3, 5)
    with pytest.raises(ValueError, match="grad_spikes has shape"):
        _kernels.lif_backward(membrane, torch.rand(4, 3, 4), False, NEURON)
    with pytest.raises(TypeError, match="grad_spikes has dtype torch.float64"):
        _kernels.lif_backward(membrane, torch.rand(4, 3, 5, dtype=torch.float64), False, NEURON)


def test_pooled_and_bf16_scans_refuse_mismatched_steps_and_bias():
    current = torch.rand(4, 3, 5)
    with pytest.raises(ValueError, match="weights has shape"):
        _kernels.lif_pooled(current, False, 4, torch.rand(6), NEURON)
    with pytest.raises(ValueError, match="current has 4 steps; expected n_steps=6"):
        _kernels.lif_pooled(current, False, 6, torch.rand(6), NEURON)
    product = current.to(torch.bfloat16)
    with pytest.raises(ValueError, match=r"bias has shape \(4,\); expected \(5,\)"):
        _kernels.lif_infer(product, False, 4, NEURON, bias=torch.rand(4))
    with pytest.raises(TypeError, match="bias must be a torch.Tensor, got NoneType"):
        _kernels.lif_infer(product, False, 4, NEURON)


def test_int8_digits_refuses_digits_of_another_shape():
    with pytest.raises(ValueError, match=r"digits has shape \(3, 4, 4\); expected \(3, 4, 5\)"):
        _kernels.int8_digits(torch.rand(4, 5), torch.empty((3, 4, 4), dtype=torch.int8), 1.0)


@pytest.mark.parametrize(
    "neuron, match",
    [
        ((0.5, float("nan"), 0.0, 1.0, 1.0, 0, 25.0), "must be finite"),
        ((0.5, 1.0, 0.5, 1.0, 1.0, 0, 25.0), "forget must be 0"),
        ((0.5, 1.0, 0.0, 1.0, 1.0, 9, 25.0), "unknown surrogate code"),
        ((0.5, 1.0, 0.0), "a neuron is"),
    ],
)
def test_the_c_side_refuses_a_bad_neuron(neuron, match):
    """Even called past _kernels, the C entry points check the neuron they are given."""
    current, membrane, spikes = buffers()
    v = torch.empty(15)
    with pytest.raises((ValueError, TypeError), match=match):
        _kernels._cscan.lif_forward(current.data_ptr(), 15, membrane.data_ptr(), 15, spikes.data_ptr(),
                                    v.data_ptr(), 4, 15, neuron, False)


def test_the_c_side_refuses_bad_sizes_and_missing_tensors():
    current, membrane, spikes = buffers()
    v = torch.empty(15)
    neuron = _kernels.c_neuron(NEURON)
    with pytest.raises(ValueError, match="must not be negative"):
        _kernels._cscan.lif_forward(current.data_ptr(), 15, membrane.data_ptr(), 15, spikes.data_ptr(),
                                    v.data_ptr(), -1, 15, neuron, False)
    with pytest.raises(ValueError, match="a stride must be 0 or n"):
        _kernels._cscan.lif_forward(current.data_ptr(), 7, membrane.data_ptr(), 15, spikes.data_ptr(),
                                    v.data_ptr(), 4, 15, neuron, False)
    with pytest.raises(ValueError, match="null pointer"):
        _kernels._cscan.lif_backward(0, 0, 0, 0, 4, 15, neuron, False, False)
    with pytest.raises(ValueError, match="positive multiple of n_neurons"):
        _kernels._cscan.lif_infer(current.data_ptr(), 0, 0, 0, 4, spikes.data_ptr(), 0, 0, v.data_ptr(), 4, 15,
                                  neuron)


def test_a_neuron_reaches_c_whole():
    """The tuple C reads carries every setting of the neuron."""
    neuron = LIFParameters(decay=0.25, threshold=2.0, refractory_penalty=0.5, reset="zero", surrogate="atan",
                           detach_reset=True)
    decay, threshold, forget, drop, reset_grad, code, parameter = _kernels.c_neuron(neuron)
    assert (decay, threshold, forget, drop, reset_grad) == (0.25, 2.0, 1.0, 0.5, 0.0)
    assert (code, parameter) == (1, 2.0)
