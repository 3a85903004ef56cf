"""The weight gradient of layers fed by spikes, summed exactly in integers (network.spike_weight_grad)."""

import math

import pytest
import torch

from pynmsnn import _engine, _kernels
from pynmsnn.network import spike_weight_grad

integer_path = pytest.mark.skipif(
    not _engine.choose_engine(None, torch.zeros(1, 1), training=True).integer_weight_grad
    if _kernels.HAVE_C_SCAN else True,
    reason="needs the C extension, torch._int_mm and a CPU with int8 dot products",
)


def _case(n_rows, n_out, n_in, seed=0, spread=4):
    generator = torch.Generator().manual_seed(seed)
    # Magnitudes spread over several decades, as surrogate gradients are.
    grad = torch.randn(n_rows, n_out, generator=generator) * torch.rand(n_rows, n_out, generator=generator) ** spread
    spikes = (torch.rand(n_rows, n_in, generator=generator) < 0.3).float()
    return grad, spikes


@integer_path
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 3, 5), (640, 33, 17), (6400, 256, 128)])
def test_equals_the_float64_product_to_float32_precision(shape):
    grad, spikes = _case(*shape)
    exact = grad.double().T @ spikes.double()
    result = spike_weight_grad(grad, spikes, integer=True)
    assert result.dtype == torch.float32 and result.shape == (shape[1], shape[2])
    scale = exact.abs().max().item()
    # Within a few float32 roundings of the largest entry, like the float32 matmul itself.
    float32_error = ((grad.T @ spikes).double() - exact).abs().max().item()
    assert (result.double() - exact).abs().max().item() <= max(4 * float32_error, 2e-6 * scale)


@integer_path
def test_uses_the_integer_path_and_the_argument_switches_it_off(monkeypatch):
    grad, spikes = _case(64, 8, 8)
    calls = []
    digits = _kernels.int8_digits
    monkeypatch.setattr(_kernels, "int8_digits", lambda *args: calls.append(args) or digits(*args))
    spike_weight_grad(grad, spikes, integer=True)
    assert len(calls) == 1
    torch.testing.assert_close(spike_weight_grad(grad, spikes, integer=False), grad.T @ spikes)
    assert len(calls) == 1


@integer_path
def test_zero_gradient_gives_zeros_and_nan_goes_through():
    grad, spikes = _case(16, 4, 6)
    assert torch.equal(spike_weight_grad(torch.zeros_like(grad), spikes, integer=True), torch.zeros(4, 6))
    grad[3, 1] = math.nan
    result = spike_weight_grad(grad, spikes, integer=True)
    assert torch.isnan(result[1]).any()  # training's NaN checks still see it


def test_other_dtypes_use_the_plain_matmul():
    grad, spikes = _case(32, 5, 7)
    grad = grad.double()
    torch.testing.assert_close(spike_weight_grad(grad, spikes, integer=True), grad.T @ spikes.double())


def test_a_torch_without_cpu_int8_products_trains_with_the_float32_matmul(monkeypatch):
    """Where torch._int_mm is missing (older torch), the engine does not ask for the integer path."""
    _engine._cpu_int_mm_works.cache_clear()
    monkeypatch.delattr(torch, "_int_mm")
    try:
        assert not _engine._cpu_int_mm_works()
        assert not _engine.choose_engine(None, torch.zeros(1, 1), training=True).integer_weight_grad
    finally:
        _engine._cpu_int_mm_works.cache_clear()
