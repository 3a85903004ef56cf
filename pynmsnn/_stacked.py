"""Several networks of one architecture trained side by side: stacked weights, batched matmuls.

A *member* is one estimator whose fit was started with
:meth:`BaseSNN.start_fit <pynmsnn._base.BaseSNN.start_fit>`: its network, its
training rows and targets, and its :class:`~pynmsnn._base.TrainingPlan`.
Members trained together share the network's shapes (layer widths,
``n_steps``, encoder, readout, inputs, outputs), the backend and the minibatch
size; each has its own neuron (decay, threshold, refractory penalty, ...),
learning rate, weight decay, spike penalty, stopping rule, rows and seed.

:func:`train_members` trains each member exactly as ``fit`` would train it
alone, one minibatch of every member per step:

* each member's rows are shuffled by its own generator, in its own order, and
  cut into its own minibatches; a step's input is ``(n_members, B, n_inputs)``
  with ``B`` the largest minibatch, shorter ones padded with zero rows that
  the loss leaves out;
* the weights of layer ``l`` are one ``(n_members, out, in)`` tensor and a
  layer is one batched matmul for all members (:class:`_MemberLinear`),
  forward and backward, whose slices are the products ``F.linear`` and its
  backward compute for each member alone: on one torch thread they are
  equal bit for bit (on several, a single ``F.linear`` splits its sums
  across threads and rounds differently, as it does between thread counts);
* activity is laid out ``(n_members, n_steps, B, width)``, each member's block
  contiguous, and scanned with that member's neuron
  (:func:`pynmsnn.neurons.lif_scan_members`), its members' scans spread over
  torch's thread count;
* the loss is the sum over members of each member's mean of ``row_losses``
  over its real rows: the members' weights are separate, so each member's
  gradient is the one its own loss gives; each member's loss curve is
  computed by its estimator's ``minibatch_loss``, as ``fit`` computes it;
* :class:`pynmsnn._optim.MemberAdam` steps each member with its learning rate
  and weight decay; a member whose epoch has no minibatch left is not stepped;
* after each epoch, each member's mean loss decides, by its own ``tol`` and
  ``n_iter_no_change``, whether it goes on; a member that stops (or diverges,
  and is rolled back to its last good epoch) leaves the stack, so it costs
  nothing more.

Nothing here depends on scikit-learn's search classes;
:mod:`pynmsnn.model_selection` builds on it.
"""

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ._malloc import keep_freed_memory
from ._optim import MemberAdam
from .encoders import BINARY_ENCODERS, encode
from .neurons import _buffer, lif_scan_members, readout_weights

__all__ = ["Member", "MemberResult", "member_bytes", "stack_key", "train_members"]

# Tensors of one minibatch's size a training step holds per layer: current,
# membrane and spikes, and their gradients.
_COPIES = 6


@dataclass
class Member:
    """One network to train: an estimator after ``start_fit``, its rows, targets and plan."""

    estimator: object
    inputs: torch.Tensor
    targets: torch.Tensor
    plan: object


@dataclass
class MemberResult:
    """What training did to a member: what ``finish_fit`` takes."""

    state_dict: dict
    loss_curve: list
    stopped: str
    diverged_loss: float = None


def stack_key(member):
    """Members with equal keys can be trained as one stack.

    The network's shapes, encoder and readout, the scan's backend and the
    matmuls' dtype, the device and dtype of the rows, the minibatch size
    (members with other sizes would step at other times) and Adam's betas and
    epsilon (one optimizer steps them all).
    """
    config = member.estimator.module_.get_config()
    shapes = (config["n_inputs"], tuple(config["hidden_layer_sizes"]), config["n_outputs"], config["n_steps"],
              config["encoder"], config["readout"])
    engine, inputs = member.plan.engine, member.inputs
    return (*shapes, engine.scan, engine.spike_matmul_dtype, inputs.device, inputs.dtype, member.plan.batch_size,
            member.targets.dtype, member.plan.betas, member.plan.eps)


def member_bytes(batch_size, n_steps, widths):
    """Memory one member's training step holds: the budget a stack is sized by.

    ``_COPIES`` float32 tensors of ``batch_size x n_steps x width`` per
    spiking layer (hidden layers and the readout), for current, membrane,
    spikes and their gradients.

    Examples
    --------
    >>> from pynmsnn._stacked import member_bytes
    >>> member_bytes(200, 25, [100, 10]) / 2**20  # MiB
    12.58...
    """
    return _COPIES * 4 * int(batch_size) * int(n_steps) * int(sum(widths))


def unsupported_reason(member):
    """Why a member cannot train in a stack, or None when it can."""
    module = member.estimator.module_
    if not len(module.hidden):
        return "no hidden layer"
    spike_fed = len(module.hidden) > 1 or module.encoder in BINARY_ENCODERS
    if spike_fed and member.plan.engine.spike_matmul_dtype is not None:
        return "bfloat16 matmuls of spike-fed layers (precision='auto' on this CPU, or 'bfloat16')"
    return None


class _MemberLinear(torch.autograd.Function):
    """Every member's ``F.linear(x[m], weight[m], bias[m])``, as one batched matmul each way.

    The backward computes what ``F.linear``'s (``addmm``'s) backward computes
    for one member, in its order: ``grad @ W``, ``grad.T @ x`` and
    ``grad.sum(rows)``. (Autograd's own backward of ``baddbmm`` multiplies
    ``x.T @ grad`` for the weight, which rounds differently.) The output and
    the input's gradient are written into ``workspace`` buffers (a dict, or
    None for new tensors), reused from step to step.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, workspace):
        ctx.save_for_backward(x, weight)
        ctx.workspace = workspace
        out = _buffer(workspace, "out", (x.shape[0], x.shape[1], weight.shape[1]), x)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2), out=out)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.bmm(grad, weight, out=_buffer(ctx.workspace, "grad", x.shape, x))
        return grad_x, torch.bmm(grad.transpose(1, 2), x), grad.sum(1), None


def _members_linear(x, weight, bias, workspace=None):
    """Every member's ``F.linear(x[m], weight[m], bias[m])`` for ``x`` of shape (members, rows, in).

    One batched matmul each way (:class:`_MemberLinear`), except where a
    member's product has a side of length 1 (one row, one input or one
    output): ``F.linear`` then multiplies a matrix by a vector, which rounds
    otherwise, so each member runs its own ``F.linear``.
    """
    if 1 in (x.shape[1], x.shape[2], weight.shape[1]):
        return torch.stack([F.linear(*parts) for parts in zip(x.unbind(0), weight.unbind(0), bias.unbind(0))])
    return _MemberLinear.apply(x, weight, bias, workspace)


class _StackedNetwork:
    """The members' networks as stacked tensors, and their training forward pass."""

    def __init__(self, modules, executor, shares, backend):
        first = modules[0]
        with torch.no_grad():
            self.weights = [torch.stack([m.layers[i].weight for m in modules]).requires_grad_(True)
                            for i in range(len(first.layers))]
            self.biases = [torch.stack([m.layers[i].bias for m in modules]).requires_grad_(True)
                           for i in range(len(first.layers))]
        self.neurons = [m.neuron for m in modules]
        self.n_steps, self.encoder, self.readout = first.n_steps, first.encoder, first.readout
        self.names = [name for name, _ in first.named_parameters()]
        self.executor, self.shares, self.backend = executor, shares, backend
        # Each layer's buffers (its matmul's, its scan's), kept from step to step: on a large
        # stack, fresh pages cost more than the scan.
        self.workspaces = [{} for _ in first.layers]
        self.matmul_workspaces = [{} for _ in first.layers]
        self._set_time_weights()

    def _set_time_weights(self):
        like = self.weights[0]
        self.time_weights = torch.stack(
            [readout_weights(self.n_steps, n.decay, like.dtype, like.device) for n in self.neurons])

    @property
    def parameters(self):
        return [*self.weights, *self.biases]

    def keep(self, members):
        """Keep only ``members`` (indices), as new leaf tensors."""
        index = torch.as_tensor(list(members), dtype=torch.long, device=self.weights[0].device)
        with torch.no_grad():
            self.weights = [w.index_select(0, index).requires_grad_(True) for w in self.weights]
            self.biases = [b.index_select(0, index).requires_grad_(True) for b in self.biases]
        self.neurons = [self.neurons[m] for m in members]
        self._set_time_weights()

    def state_dict(self, m, tensors=None):
        """Member ``m``'s weights by the names of its module's ``state_dict``."""
        weights, biases = tensors if tensors is not None else (self.weights, self.biases)
        by_name = {}
        for i, name in enumerate(self.names):  # weight, bias of each layer in turn
            stack = weights if name.endswith(".weight") else biases
            by_name[name] = stack[i // 2][m].detach().clone()
        return by_name

    def snapshot(self):
        return [w.detach().clone() for w in self.weights], [b.detach().clone() for b in self.biases]

    def finite(self):
        """Whether each member's weights are all finite, as a bool tensor."""
        checks = [torch.isfinite(p.detach()).reshape(p.shape[0], -1).all(1) for p in self.parameters]
        return torch.stack(checks).all(0)

    # ------------------------------------------------------------- forward
    def forward(self, x, generators, members=None, keep_spikes=False):
        """Outputs ``(n_members, rows, n_outputs)``, and each hidden layer's spikes with ``keep_spikes``.

        ``x`` holds the rows of ``members`` (positions in the stack; None for
        all), whose weights take part; ``generators`` feed their random
        encoders. Without ``keep_spikes``, a membrane readout takes the last
        hidden layer's spikes pooled over time inside its scan (their time
        average is linear), so they are never stored for all members.
        """
        weights, biases, neurons, time_weights = self._part(members)
        activity, constant = self._input_drive(x, generators)
        hidden = []
        last = len(weights) - 2
        for i, (weight, bias) in enumerate(zip(weights[:-1], biases[:-1])):
            current = self._linear(weight, bias, activity, constant, self.matmul_workspaces[i])
            pool = i == last and self.readout == "membrane" and not keep_spikes
            pooled_by = time_weights if pool else None
            activity = lif_scan_members(
                current, neurons, self.n_steps if constant else None, self.backend, pooled_by=pooled_by,
                executor=self.executor, shares=self.shares, workspace=self.workspaces[i],
            )
            if keep_spikes:
                hidden.append(activity)
            constant = False
        return self._readout(activity, weights[-1], biases[-1], neurons, time_weights), hidden

    def _part(self, members):
        """The weights, biases, neurons and readout time weights of ``members`` (all for None)."""
        if members is None:
            return self.weights, self.biases, self.neurons, self.time_weights
        index = torch.as_tensor(members, dtype=torch.long, device=self.weights[0].device)
        return ([w.index_select(0, index) for w in self.weights], [b.index_select(0, index) for b in self.biases],
                [self.neurons[m] for m in members], self.time_weights.index_select(0, index))

    def _input_drive(self, x, generators):
        """The encoded input, as the network's training path makes it for each member alone."""
        if self.encoder == "current":
            return x, True
        return torch.stack([encode(rows, self.n_steps, self.encoder, generator)
                            for rows, generator in zip(x, generators)]), False

    def _linear(self, weight, bias, activity, constant, workspace):
        """Every member's ``F.linear`` of its activity, one step or all steps at once."""
        if constant:
            return _members_linear(activity, weight, bias, workspace)
        n_members, steps, rows, width = activity.shape
        flat = _members_linear(activity.reshape(n_members, steps * rows, width), weight, bias, workspace)
        return flat.reshape(n_members, steps, rows, -1)

    def _readout(self, activity, weight, bias, neurons, time_weights):
        """The readout of the last hidden layer's spikes (``readout='spikes'``) or of their pooled sum."""
        if self.readout == "spikes":
            current = self._linear(weight, bias, activity, False, self.matmul_workspaces[-1])
            spikes = lif_scan_members(current, neurons, None, self.backend, executor=self.executor,
                                      shares=self.shares, workspace=self.workspaces[-1])
            return spikes.sum(1)
        if activity.dim() == 4:  # spikes of every step: pool them as the network's readout does
            n_members, steps, rows, width = activity.shape
            pooled = torch.bmm(time_weights.unsqueeze(1), activity.reshape(n_members, steps, rows * width))
            activity = pooled.reshape(n_members, rows, width)
        scaled_bias = bias * time_weights.sum(1, keepdim=True)
        return _members_linear(activity, weight, scaled_bias, self.matmul_workspaces[-1])


class _Data:
    """The members' rows, targets and row weights, padded to a common length with one zero row to point padding at.

    ``weights`` is None when no member weighs its rows; else a member
    without weights has ones.
    """

    def __init__(self, members):
        self.counts = [int(m.inputs.shape[0]) for m in members]
        longest = max(self.counts)
        first = members[0]
        self.pad = longest  # the index of a zero row in every member's block
        self.inputs = first.inputs.new_zeros((len(members), longest + 1, first.inputs.shape[1]))
        self.targets = first.targets.new_zeros((len(members), longest + 1, *first.targets.shape[1:]))
        for i, member in enumerate(members):
            self.inputs[i, : self.counts[i]] = member.inputs
            self.targets[i, : self.counts[i]] = member.targets
        self.weighted = [m.plan.row_weights is not None for m in members]
        self.weights = None
        if any(self.weighted):
            self.weights = first.inputs.new_ones((len(members), longest + 1))
            for i, member in enumerate(members):
                if self.weighted[i]:
                    self.weights[i, : self.counts[i]] = member.plan.row_weights

    def ordered(self, orders):
        """Each member's rows and targets in the order ``orders`` (members, longest + 1) gives."""
        n_members, length = self.inputs.shape[:2]
        where = torch.arange(n_members, device=self.inputs.device).unsqueeze(1) * length
        flat = (orders.to(self.inputs.device) + where).reshape(-1)  # one index_select: the fastest gather
        inputs = self.inputs.reshape(n_members * length, -1).index_select(0, flat)
        targets = self.targets.reshape(n_members * length, -1).index_select(0, flat)
        weights = None if self.weights is None else self.weights.reshape(-1).index_select(0, flat)
        return (inputs.reshape(n_members, orders.shape[1], *self.inputs.shape[2:]),
                targets.reshape(n_members, orders.shape[1], *self.targets.shape[2:]),
                None if weights is None else weights.reshape(n_members, orders.shape[1]))

    def keep(self, members):
        index = torch.as_tensor(list(members), dtype=torch.long, device=self.inputs.device)
        self.inputs = self.inputs.index_select(0, index)
        self.targets = self.targets.index_select(0, index)
        if self.weights is not None:
            self.weights = self.weights.index_select(0, index)
        self.counts = [self.counts[m] for m in members]
        self.weighted = [self.weighted[m] for m in members]


class _Progress:
    """One member's stopping rule and history, as ``BaseSNN._train`` keeps them."""

    def __init__(self, plan):
        self.plan = plan
        self.losses = []
        self.best_loss = math.inf
        self.no_improvement = 0

    def record(self, loss):
        """Record an epoch's finite mean loss; returns why training stops, or None."""
        self.losses.append(loss)
        improved = loss < self.best_loss - self.plan.tol
        self.best_loss = min(self.best_loss, loss)
        self.no_improvement = 0 if improved else self.no_improvement + 1
        if self.no_improvement > self.plan.n_iter_no_change:
            return "plateau"
        if len(self.losses) == self.plan.max_iter:
            return "max_iter"
        return None


def train_members(members, threads=None):
    """Train members of one stack (equal :func:`stack_key`) side by side, each as ``fit`` would alone.

    Parameters
    ----------
    members : list of Member
        After ``start_fit``; their keys must be equal.
    threads : int, default=None
        Threads the members' LIF scans are spread over; None takes
        ``torch.get_num_threads()``.

    Returns
    -------
    list of MemberResult
        In the order of ``members``.
    """
    keys = {stack_key(m) for m in members}
    if len(keys) != 1:
        raise ValueError(f"members of one stack must share their shapes, backend and minibatch size; got {keys}.")
    for member in members:
        reason = unsupported_reason(member)
        if reason is not None:
            raise ValueError(f"this member cannot train in a stack: {reason}.")
    threads = torch.get_num_threads() if threads is None else int(threads)
    engine = members[0].plan.engine
    module = members[0].estimator.module_
    widths = [layer.out_features for layer in module.layers]
    keep_freed_memory(len(members) * member_bytes(members[0].plan.batch_size, module.n_steps, widths))
    executor = ThreadPoolExecutor(threads) if threads > 1 and engine.scan == "c" else None
    try:
        return _Training(members, executor, threads).run()
    finally:
        if executor is not None:
            executor.shutdown()


class _Training:
    """The epochs of :func:`train_members`."""

    def __init__(self, members, executor, threads):
        self.members = members
        self.estimators = [m.estimator for m in members]
        self.network = _StackedNetwork([m.estimator.module_ for m in members], executor, threads,
                                       members[0].plan.engine.scan)
        self.data = _Data(members)
        self.plans = [m.plan for m in members]
        self.progress = [_Progress(m.plan) for m in members]
        device = members[0].inputs.device
        self.generators = [torch.Generator().manual_seed(p.seed) for p in self.plans]
        self.device_generators = self.generators if device.type == "cpu" else [
            torch.Generator(device=device).manual_seed(p.seed) for p in self.plans]
        self.active = list(range(len(members)))  # position in the stack -> index in members
        self.optimizer = MemberAdam(
            [{"params": self.network.weights, "weight_decay": [p.weight_decay for p in self.plans]},
             {"params": self.network.biases, "weight_decay": [0.0] * len(members)}],
            lr=[p.learning_rate for p in self.plans], betas=self.plans[0].betas, eps=self.plans[0].eps,
        )
        self.results = [None] * len(members)

    def run(self):
        good = None  # the weights at the end of the last epoch, for a roll back
        while self.active:
            losses = self._epoch()
            finite = self.network.finite()
            stops, leaving = {}, []
            for position, member in enumerate(self.active):
                loss = losses[position]
                if not (math.isfinite(loss) and bool(finite[position])):
                    tensors = good if good is not None else None
                    state = self.network.state_dict(position, tensors) if tensors is not None else None
                    self.results[member] = MemberResult(state, list(self.progress[member].losses), "diverged",
                                                        None if math.isfinite(loss) else loss)
                    leaving.append(position)
                    continue
                stop = self.progress[member].record(loss)
                if stop is not None:
                    stops[position] = stop
            for position, stop in stops.items():
                member = self.active[position]
                self.results[member] = MemberResult(self.network.state_dict(position),
                                                    list(self.progress[member].losses), stop)
                leaving.append(position)
            if leaving:
                self._keep([p for p in range(len(self.active)) if p not in set(leaving)])
            good = self.network.snapshot() if self.active else None
        return self.results

    def _keep(self, positions):
        self.active = [self.active[p] for p in positions]
        if not positions:
            return
        self.network.keep(positions)
        self.data.keep(positions)
        self.optimizer.keep(positions, [self.network.weights, self.network.biases])

    def _epoch(self):
        """One epoch of every active member; returns each one's mean loss."""
        counts = self.data.counts
        orders = torch.full((len(self.active), self.data.pad), self.data.pad, dtype=torch.long)
        for position, member in enumerate(self.active):
            n = counts[position]
            shuffle = self.plans[member].shuffle
            self._seed_epoch(member)
            orders[position, :n] = torch.randperm(n, generator=self.generators[member]) if shuffle else torch.arange(n)
        inputs, targets, weights = self.data.ordered(orders)  # each member's rows in its epoch's order
        size = self.plans[self.active[0]].batch_size  # one per stack (stack_key)
        totals = inputs.new_zeros(len(self.active))
        for start in range(0, max(counts), size):
            parts = {}  # rows in this minibatch -> the members with that many
            for position, n in enumerate(counts):
                if n > start:
                    parts.setdefault(min(size, n - start), []).append(position)
            self.optimizer.zero_grad()
            for n_rows, positions in parts.items():
                every = len(positions) == len(self.active)
                rows = slice(start, start + n_rows)
                if every:
                    losses = self._forward_backward(None, inputs[:, rows], targets[:, rows],
                                                    None if weights is None else weights[:, rows])
                else:
                    where = torch.as_tensor(positions, dtype=torch.long, device=inputs.device)
                    losses = self._forward_backward(positions, inputs[where, rows], targets[where, rows],
                                                    None if weights is None else weights[where, rows])
                totals[positions] += losses * n_rows
            self.optimizer.step([position for positions in parts.values() for position in positions])
        return [float(totals[p]) / counts[p] for p in range(len(self.active))]

    def _seed_epoch(self, member):
        """Seed a member's generators for its next epoch, as ``fit`` does: the plan's seed plus its epochs."""
        seed = self.plans[member].seed + len(self.progress[member].losses)
        self.generators[member].manual_seed(seed)
        if self.device_generators is not self.generators:
            self.device_generators[member].manual_seed(seed)

    def _forward_backward(self, positions, x, targets, weights):
        """Forward, loss and backward of one minibatch of ``positions`` (None: all); their losses.

        ``weights`` (members, rows) weigh the rows' losses, or None.

        Members whose minibatches differ in length (a fold with a few rows
        more) run in separate calls, so that no minibatch is padded and each
        member's sums run over its own rows only, as in its own fit.
        """
        members = self.active if positions is None else [self.active[p] for p in positions]
        penalties = torch.tensor([self.plans[m].spike_penalty for m in members], dtype=x.dtype, device=x.device)
        penalized = bool((penalties > 0).any())
        generators = [self.device_generators[m] for m in members]
        outputs, hidden = self.network.forward(x, generators, positions, keep_spikes=penalized)
        row_losses = self._row_losses(outputs, targets)
        objective = (row_losses if weights is None else row_losses * weights).mean(1)
        if penalized:
            rates = torch.stack([spikes.mean((1, 2, 3)) for spikes in hidden], 1)
            objective = objective + penalties * rates.mean(1)
        objective.sum().backward()
        return self._reported_losses(members, outputs.detach(), targets, weights, hidden, penalties)

    def _row_losses(self, outputs, targets):
        # Every member is an estimator of one class: its row_losses serves them all.
        return self.estimators[self.active[0]].row_losses(outputs, targets)

    def _reported_losses(self, members, outputs, targets, weights, hidden, penalties):
        """Each member's minibatch loss as its ``fit`` computes it, penalty included (the same rounding)."""
        losses = outputs.new_empty(len(members))
        with torch.no_grad():
            for p, member in enumerate(members):
                weighted = weights is not None and self.data.weighted[self.active.index(member)]
                loss = self.estimators[member].minibatch_loss(outputs[p], targets[p],
                                                              weights[p] if weighted else None)
                if penalties[p] > 0:
                    rates = torch.stack([spikes[p].mean() for spikes in hidden])
                    loss = loss + self.plans[member].spike_penalty * rates.mean()
                losses[p] = loss
        return losses


def split_by_budget(n_members, bytes_each, budget):
    """Sizes of consecutive stacks of at most ``budget`` bytes (at least one member each).

    Examples
    --------
    >>> from pynmsnn._stacked import split_by_budget
    >>> split_by_budget(10, 100, 450)
    [4, 3, 3]
    """
    per_stack = max(1, int(budget // max(1, bytes_each)))
    n_stacks = math.ceil(n_members / per_stack)
    sizes = np.full(n_stacks, n_members // n_stacks)
    sizes[: n_members % n_stacks] += 1
    return [int(s) for s in sizes]
