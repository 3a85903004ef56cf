"""pynmsnn's Adam computes torch.optim.Adam's numbers, and a fit imports no compiler stack."""

import subprocess
import sys

import pytest
import torch

from pynmsnn import _optim
from pynmsnn._optim import Adam


def _train(make_optimizer, steps=6):
    """A few steps on a small regression; returns the final weights."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(5, 4, generator=generator))
    bias = torch.nn.Parameter(torch.randn(5, generator=generator))
    optimizer = make_optimizer([{"params": [weight], "weight_decay": 0.01}, {"params": [bias], "weight_decay": 0.0}])
    for _ in range(steps):
        optimizer.zero_grad()
        x = torch.randn(3, 4, generator=generator)
        ((x @ weight.T + bias) ** 2).sum().backward()
        optimizer.step()
    return weight.detach(), bias.detach()


@pytest.mark.parametrize("fused", [True, False])
def test_equals_torch_adam_bit_for_bit(monkeypatch, fused):
    """The fused kernel gives Adam(fused=True)'s bits; the tensor-at-a-time update Adam(foreach=False)'s."""
    if not fused:
        monkeypatch.setattr(_optim, "_fused_kernel_applies", lambda params: False)
    torch_options = {"fused": True} if fused else {"foreach": False}
    expected = _train(lambda groups: torch.optim.Adam(groups, lr=0.01, **torch_options))
    result = _train(lambda groups: Adam(groups, lr=0.01))
    for a, b in zip(result, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_round_trips_and_is_not_shared():
    """A restored state continues as the original would; restoring copies, so later steps do not leak back."""
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = Adam([{"params": [weight], "weight_decay": 0.0}], lr=0.1)
    weight.sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    kept = {name: value.clone() for name, value in saved["state"][0].items()}
    optimizer.load_state_dict(saved)
    weight.grad = torch.ones(3)
    optimizer.step()
    assert optimizer.state_dict()["state"][0]["step"].item() == 2
    for name, value in kept.items():
        torch.testing.assert_close(saved["state"][0][name], value, rtol=0, atol=0)


def test_a_fit_in_a_fresh_process_imports_no_compiler_stack():
    """torch.optim's first call imports torch._dynamo, and nn.utils.skip_init sympy: neither is paid by a fit."""
    code = (
        "import sys\n"
        "from sklearn.datasets import load_iris\n"
        "from pynmsnn import SNNClassifier\n"
        "X, y = load_iris(return_X_y=True)\n"
        "SNNClassifier((8,), n_steps=4, max_iter=2).fit(X, y).predict(X)\n"
        "print(sorted(m for m in ('torch._dynamo', 'sympy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_equals_torch_sgd_at_a_constant_step_size(momentum, nesterov):
    """MLPClassifier's velocity form is torch.optim.SGD's momentum form while the step size stays put."""
    from pynmsnn._optim import SGD

    expected = _train(lambda groups: torch.optim.SGD(groups, lr=0.01, momentum=momentum, nesterov=nesterov))
    result = _train(lambda groups: SGD(groups, lr=0.01, momentum=momentum, nesterov=nesterov))
    for a, b in zip(result, expected):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_sgd_velocity_keeps_the_old_step_size_when_it_changes():
    """A lower step size scales the new gradient only; the velocity carries the old steps (MLP's form)."""
    from pynmsnn._optim import SGD

    weight = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = SGD([{"params": [weight], "weight_decay": 0.0}], lr=0.1, momentum=0.5, nesterov=False)
    for lr in (0.1, 0.01):
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        weight.sum().backward()  # gradient 1
        optimizer.step()
    # velocity 1: -0.1; velocity 2: 0.5 * -0.1 - 0.01 = -0.06; weight 1 - 0.1 - 0.06
    assert optimizer.learning_rate == 0.01
    torch.testing.assert_close(weight.detach(), torch.tensor([0.84]))
