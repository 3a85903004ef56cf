"""Adam and SGD for the estimators, without ``torch.optim``.

Every method of a ``torch.optim`` optimizer (its constructor included) is
wrapped to keep torch's compiler out, and the first such call imports the
compiler stack, ``torch._dynamo``: 1.7 s of a first fit on a 2-core CPU,
more than the whole fit of a small table. :class:`Adam` computes what
``torch.optim.Adam(..., fused=True)`` computes -- the same fused kernel,
``torch._fused_adam_``, where this torch has it for the parameters' device
and dtype, else the same equations a tensor at a time -- and imports nothing.
:class:`SGD` is MLPClassifier's stochastic gradient descent with momentum, in
plain in-place tensor operations.

Both keep their groups in ``param_groups`` (``lr``, ``weight_decay``) and
give the first group's step size as ``learning_rate``, as MLPClassifier's
optimizers do.
"""

import math

import torch

__all__ = ["SGD", "Adam", "MemberAdam"]


def _fused_kernel_applies(params):
    """The fused kernel: present in this torch, on CPU or CUDA, for float32/float64 parameters of one kind."""
    if not hasattr(torch, "_fused_adam_") or not params:
        return False
    kinds = {(p.device.type, p.dtype) for p in params}
    return len(kinds) == 1 and next(iter(kinds)) in {
        (device, dtype) for device in ("cpu", "cuda") for dtype in (torch.float32, torch.float64)
    }


class _GroupOptimizer:
    """What Adam and SGD share: parameter groups, per-parameter state, gradients and state dicts.

    ``param_groups`` holds each group's parameters, ``lr`` and ``weight_decay``;
    a change of either applies from the next step, as in torch. ``_state`` maps
    a parameter to its tensors, created at its first step.
    """

    def __init__(self, groups, lr):
        self.param_groups = [
            {"params": list(group["params"]), "lr": float(group.get("lr", lr)),
             "weight_decay": float(group.get("weight_decay", 0.0))}
            for group in groups
        ]
        self._state = {}

    def _parameters(self):
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def learning_rate(self):
        """The step size of the first group."""
        return self.param_groups[0]["lr"]

    def zero_grad(self):
        """Drop every parameter's gradient."""
        for parameter in self._parameters():
            parameter.grad = None

    def state_dict(self):
        """Each parameter's state, by parameter position, as tensors (cloned by the caller if kept)."""
        params = self._parameters()
        return {"state": {i: dict(self._state[p]) for i, p in enumerate(params) if p in self._state}}

    def load_state_dict(self, state_dict):
        """Restore the state saved by :meth:`state_dict` (copied in, not shared)."""
        params = self._parameters()
        self._state = {params[i]: {name: value.detach().clone() for name, value in state.items()}
                       for i, state in state_dict["state"].items()}


class Adam(_GroupOptimizer):
    """Adam with L2 weight decay per parameter group, as ``torch.optim.Adam``.

    Parameters
    ----------
    groups : list of dict
        Each ``{"params": [tensors], "weight_decay": float}``, and optionally
        its own ``"lr"``. They are kept in ``param_groups``, where a change of
        ``lr`` or ``weight_decay`` applies from the next step, as in torch.
    lr : float, default=1e-3
        Step size of the groups that do not set their own.
    betas : tuple of float, default=(0.9, 0.999)
        Decay of the first and second moment estimates.
    eps : float, default=1e-8
        Added to the denominator.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn._optim import Adam
    >>> weight = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    >>> optimizer = Adam([{"params": [weight], "weight_decay": 0.0}], lr=0.1)
    >>> (weight ** 2).sum().backward()
    >>> optimizer.step()
    >>> weight.detach()
    tensor([ 0.9000, -0.9000])
    """

    def __init__(self, groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(groups, lr)  # state: parameter -> {"step", "exp_avg", "exp_avg_sq"}
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)

    def _moments(self, parameter):
        state = self._state.get(parameter)
        if state is None:
            state = self._state[parameter] = {
                "step": torch.zeros((), dtype=torch.float32, device=parameter.device),
                "exp_avg": torch.zeros_like(parameter, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(parameter, memory_format=torch.preserve_format),
            }
        return state

    @torch.no_grad()
    def step(self):
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            states = [self._moments(p) for p in params]
            for state in states:
                state["step"].add_(1)
            if _fused_kernel_applies(params):
                self._fused_step(params, states, group["lr"], group["weight_decay"])
            else:
                for parameter, state in zip(params, states):
                    self._plain_step(parameter, state, group["lr"], group["weight_decay"])

    def _fused_step(self, params, states, lr, weight_decay):
        torch._fused_adam_(
            params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
            [], [s["step"] for s in states], lr=lr, beta1=self.betas[0], beta2=self.betas[1],
            weight_decay=weight_decay, eps=self.eps, amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
        )

    def _plain_step(self, parameter, state, lr, weight_decay):
        """The update a tensor at a time, in torch.optim.Adam's single-tensor order of operations."""
        _plain_update(parameter, parameter.grad, state["exp_avg"], state["exp_avg_sq"], state["step"], lr,
                      weight_decay, self.betas, self.eps)


class SGD(_GroupOptimizer):
    """Stochastic gradient descent with momentum, as MLPClassifier's ``solver='sgd'``.

    Each step, with gradient ``g`` (plus ``weight_decay`` times the parameter),
    ``velocity = momentum * velocity - lr * g``; the parameter moves by the
    velocity, or with ``nesterov`` by ``momentum * velocity - lr * g``
    (Nesterov's momentum, in MLPClassifier's form). A change of a group's
    ``lr`` applies from the next step.

    Parameters
    ----------
    groups : list of dict
        Each ``{"params": [tensors], "weight_decay": float}``, and optionally
        its own ``"lr"``.
    lr : float, default=1e-3
        Step size of the groups that do not set their own.
    momentum : float, default=0.9
        Share of the last update carried into the next, in [0, 1].
    nesterov : bool, default=True
        Use Nesterov's momentum.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn._optim import SGD
    >>> weight = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    >>> optimizer = SGD([{"params": [weight], "weight_decay": 0.0}], lr=0.1, momentum=0.0)
    >>> (weight ** 2).sum().backward()
    >>> optimizer.step()
    >>> weight.detach()
    tensor([ 0.8000, -0.8000])
    """

    def __init__(self, groups, lr=1e-3, momentum=0.9, nesterov=True):
        super().__init__(groups, lr)  # state: parameter -> {"velocity"}
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    @torch.no_grad()
    def step(self):
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, weight_decay = group["lr"], group["weight_decay"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                grad = parameter.grad if not weight_decay else parameter.grad.add(parameter, alpha=weight_decay)
                state = self._state.setdefault(parameter, {"velocity": torch.zeros_like(parameter)})
                velocity = state["velocity"].mul_(self.momentum).add_(grad, alpha=-lr)
                if self.nesterov:
                    parameter.add_(velocity, alpha=self.momentum).add_(grad, alpha=-lr)
                else:
                    parameter.add_(velocity)


class MemberAdam:
    """Adam for tensors stacked over members (their first axis), one learning rate and weight decay per member.

    Member ``m``'s slice of every tensor is updated as :class:`Adam` updates
    the tensors of that member's network alone: the same kernel, the same
    moments and its own step count. Members left out of a :meth:`step` are
    not touched at all (no moment decay, no step counted).

    Parameters
    ----------
    groups : list of dict
        Each ``{"params": [stacked tensors], "weight_decay": [one float per member]}``.
    lr : sequence of float
        The learning rate of each member.
    betas : tuple of float, default=(0.9, 0.999)
    eps : float, default=1e-8

    Examples
    --------
    >>> import torch
    >>> from pynmsnn._optim import MemberAdam
    >>> weight = torch.ones(2, 3, requires_grad=True)  # two members of 3 weights
    >>> optimizer = MemberAdam([{"params": [weight], "weight_decay": [0.0, 0.0]}], lr=[0.1, 0.5])
    >>> weight.sum().backward()
    >>> optimizer.step([0, 1])
    >>> weight.detach()[:, 0]
    tensor([0.9000, 0.5000])
    """

    def __init__(self, groups, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr = [float(value) for value in lr]
        n_members = len(self.lr)
        self.groups = []
        for group in groups:
            decays = [float(value) for value in group["weight_decay"]]
            if len(decays) != n_members or any(p.shape[0] != n_members for p in group["params"]):
                raise ValueError(f"every stacked tensor and weight decay must cover the {n_members} members.")
            self.groups.append({"params": list(group["params"]), "weight_decay": decays})
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        self._state = {}  # stacked tensor -> {"step", "exp_avg", "exp_avg_sq"}, stacked too
        self._prepare()

    def _prepare(self):
        """Moments, gradients kept from step to step, and each member's slices of them, made once."""
        params = [p for group in self.groups for p in group["params"]]
        for parameter in params:
            if parameter not in self._state:
                self._state[parameter] = {
                    "step": torch.zeros(parameter.shape[0], dtype=torch.float32, device=parameter.device),
                    "exp_avg": torch.zeros_like(parameter, memory_format=torch.contiguous_format),
                    "exp_avg_sq": torch.zeros_like(parameter, memory_format=torch.contiguous_format),
                }
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)  # autograd adds into it in place
        self._slices = [
            [(p.detach().unbind(0), p.grad.unbind(0), self._state[p]["exp_avg"].unbind(0),
              self._state[p]["exp_avg_sq"].unbind(0), self._state[p]["step"].unbind(0)) for p in group["params"]]
            for group in self.groups
        ]
        self._fused = _fused_kernel_applies(params)
        self._plans = {}  # members stepped -> the kernel calls that step them

    def zero_grad(self):
        """Set every tensor's gradient to zero (in place: the members' slices of it stay valid)."""
        for group in self.groups:
            for parameter in group["params"]:
                parameter.grad.zero_()

    @torch.no_grad()
    def step(self, members):
        """One update of the given members (indices along the first axis)."""
        key = tuple(members)
        if key not in self._plans:
            self._plans[key] = self._plan(key)
        for lr, weight_decay, tensors in self._plans[key]:
            for step in tensors[4]:
                step.add_(1)
            if self._fused:
                torch._fused_adam_(
                    *tensors[:4], [], tensors[4], lr=lr, beta1=self.betas[0], beta2=self.betas[1],
                    weight_decay=weight_decay, eps=self.eps, amsgrad=False, maximize=False, grad_scale=None,
                    found_inf=None,
                )
            else:
                for parameter, grad, exp_avg, exp_avg_sq, step in zip(*tensors):
                    _plain_update(parameter, grad, exp_avg, exp_avg_sq, step, lr, weight_decay, self.betas, self.eps)

    def _plan(self, members):
        """The members by group and (learning rate, weight decay): the lists of one kernel call each."""
        calls = []
        for group, slices in zip(self.groups, self._slices):
            buckets = {}
            for m in members:
                buckets.setdefault((self.lr[m], group["weight_decay"][m]), []).append(m)
            for (lr, weight_decay), chosen in buckets.items():
                tensors = [[parts[k][m] for parts in slices for m in chosen] for k in range(5)]
                calls.append((lr, weight_decay, tensors))
        return calls

    def keep(self, members, groups):
        """Keep only ``members`` (indices), whose stacked tensors are now ``groups``' (same order)."""
        index = torch.as_tensor(list(members), dtype=torch.long)
        state = {}
        for old_group, new_params in zip(self.groups, groups):
            for old, new in zip(old_group["params"], new_params):
                state[new] = {name: value.index_select(0, index.to(value.device))
                              for name, value in self._state[old].items()}
            old_group["params"] = list(new_params)
            old_group["weight_decay"] = [old_group["weight_decay"][m] for m in members]
        self.lr = [self.lr[m] for m in members]
        self._state = state
        self._prepare()


def _plain_update(parameter, grad, exp_avg, exp_avg_sq, step, lr, weight_decay, betas, eps):
    """Adam's update of one tensor, in torch.optim.Adam's single-tensor order of operations."""
    beta1, beta2 = betas
    grad = grad if not weight_decay else grad.add(parameter, alpha=weight_decay)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    count = step.item()
    step_size = lr / (1 - beta1**count)
    denominator = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**count)).add_(eps)
    parameter.addcdiv_(exp_avg, denominator, value=-step_size)
