"""Event-driven inference on a CPU: a row's whole forward pass in C.

A hidden layer fed by spikes receives, at each step, the sum of the outgoing
weights of the neurons that fired. The dense path multiplies the whole spike
matrix (``[T * B, n_in] @ W``); with 10-30% of neurons firing, summing only the
weights of those that fired is several times fewer additions, and a row's
membranes stay in the cache from its first step to its last
(``pynmsnn/_cscan.c``, ``lif_event_infer``). The first layer's constant
current and the leaky readout are computed in the same pass, so no torch
operation runs between the layers: torch's idle worker threads spin for
milliseconds after each parallel operation and would compete for the cores.

It runs where only the output is wanted (no autograd graph, no firing rates)
and the input is a constant current (every encoder but
'latency' at inference), on CPU float32 tensors. Its work follows the number
of spikes: against the dense path's bfloat16 matmuls it pays up to about a
third of the neurons firing (:func:`event_driven_pays`), and the estimators
choose with the firing rates measured at the end of fit.

Each row is computed on its own in a fixed order, so its output does not
depend on the other rows, their number, or the number of threads. The numbers
are those of the dense path but for the order in which float32 sums are added;
with ``spike_matmul_dtype`` bfloat16 the weights and each product are rounded
to bfloat16 as the dense path's bfloat16 matmul rounds them, and the weights
are read as bfloat16: half the bytes to bring in from the cache, which is what
limits the sums.
"""

import torch

from . import _kernels

__all__ = ["MIN_ROWS_PER_THREAD", "event_driven_pays", "event_forward"]

# Fewer rows than this per thread cost more to start a thread for than they save.
MIN_ROWS_PER_THREAD = 32
# The firing rate of the layers feeding spike-fed layers at which the
# event-driven pass costs what the dense path's bfloat16 matmuls cost
# (``python benchmarks/bench_event_rates.py --processes 5``, 50-256-256-5 on a
# 2-core AVX512-BF16 CPU: 42 against 58 ms at 0.22, 63 against 57 ms at 0.37).
# Against float32 matmuls it is as fast or faster at every rate, even 0.84,
# so no rate is checked there.
BFLOAT16_BREAK_EVEN_RATE = 0.32


def event_driven_pays(widths, rates, spike_matmul_dtype):
    """Whether event-driven inference is expected to be faster than the dense path.

    The event-driven pass of a spike-fed layer adds one row of weights per
    spike of the layer before; the dense path multiplies every row. Against
    bfloat16 matmuls the event-driven pass pays while the firing rate of the
    layers feeding spike-fed layers, weighted by the size of the weights they
    feed, stays at or below :data:`BFLOAT16_BREAK_EVEN_RATE`.

    Parameters
    ----------
    widths : sequence of int
        Width of each hidden layer.
    rates : sequence of float or None
        Spikes per neuron per step of each hidden layer (on the training
        data); None when unknown, which counts as paying.
    spike_matmul_dtype : torch.dtype or None
        The dense path's dtype for spike-fed matmuls.

    Examples
    --------
    >>> import torch
    >>> from pynmsnn._events import event_driven_pays
    >>> event_driven_pays([256, 256], [0.1, 0.3], torch.bfloat16)
    True
    >>> event_driven_pays([256, 256], [0.4, 0.3], torch.bfloat16)
    False
    >>> event_driven_pays([256, 256], [0.4, 0.3], None)  # against float32 matmuls
    True
    """
    if rates is None or spike_matmul_dtype != torch.bfloat16 or len(widths) < 2:
        return True
    work = [n_in * n_out for n_in, n_out in zip(widths[:-1], widths[1:])]
    rate = sum(r * w for r, w in zip(rates, work)) / sum(work)
    return rate <= BFLOAT16_BREAK_EVEN_RATE


def event_forward(hidden, output, x, time_weights, neuron, *, spike_matmul_dtype, spike_readout=False,
                  n_threads=None, kernel="auto"):
    """The network's output for rows ``x`` of constant current, event-driven.

    The time-averaged membrane of the leaky readout, or with ``spike_readout``
    the number of spikes of a readout that fires and resets like a hidden layer.

    Parameters
    ----------
    hidden : sequence of torch.nn.Linear
        The hidden layers, at least one.
    output : torch.nn.Linear
        The readout layer.
    x : torch.Tensor of shape (n_samples, n_inputs), float32 on the CPU
        The current fed to the first layer at every step.
    time_weights : torch.Tensor of shape (n_steps,)
        Weight of each step's spikes in the readout's time average
        (:func:`pynmsnn.neurons.readout_weights`).
    neuron : pynmsnn.neurons.LIFParameters
        The neurons of every layer.
    spike_matmul_dtype : torch.dtype or None
        bfloat16 to round as the dense path's bfloat16 matmuls do.
    spike_readout : bool, default=False
        Count the readout's spikes (``readout='spikes'``); its weights stay float32.
    n_threads : int, default=None
        Threads to split the rows over; None uses ``torch.get_num_threads()``.
    kernel : {'auto', 'avx2', 'portable'}, default='auto'
        The widest instruction set the kernel may use.

    Returns
    -------
    torch.Tensor of shape (n_samples, n_outputs), float32.
    """
    low = spike_matmul_dtype == torch.bfloat16

    def transposed(layer, round_weights):
        weight = layer.weight.detach()
        if round_weights:
            return weight.to(torch.bfloat16).t().contiguous()  # read as bfloat16: half the bytes
        return weight.to(torch.float32).t().contiguous()

    # weights[0] multiplies a current and stays float32, as in the dense path.
    weights = [transposed(layer, low and i > 0) for i, layer in enumerate(hidden)]
    biases = [layer.bias.detach().to(torch.float32).contiguous() for layer in hidden]
    time_weights = time_weights.to(torch.float32).contiguous()
    if spike_readout:  # one more spike-fed layer, in float32 as the dense path's readout
        readout = transposed(output, False)
        readout_bias = output.bias.detach().to(torch.float32).contiguous()
    else:  # a dot product of the pooled spikes with each readout neuron's weights
        readout = output.weight.detach().to(torch.float32).contiguous()
        readout_bias = (output.bias.detach().to(torch.float32) * time_weights.sum()).contiguous()
    x = x.detach().contiguous()
    if n_threads is None:
        n_threads = torch.get_num_threads()
    n_threads = max(1, min(int(n_threads), x.shape[0] // MIN_ROWS_PER_THREAD))
    return _kernels.event_infer(
        x, weights, biases, readout, readout_bias, time_weights, neuron, n_outputs=output.out_features,
        round_bf16=low, spike_readout=spike_readout, n_threads=n_threads, kernel=kernel,
    )
