"""Export a fitted spiking estimator to NIR, the Neuromorphic Intermediate Representation.

NIR (https://neuroir.org, package ``nir``) describes a spiking network as a
graph of nodes with continuous-time equations, which simulators (snnTorch,
Norse, Lava, Rockpool, Sinabs, ...) and neuromorphic chips read. The graph of
a pynmsnn network is::

    Input -> Affine -> LIF -> ... -> Affine -> LIF -> Affine -> LI -> Output

one ``Affine`` (the layer's ``W``, ``b``) and one ``LIF`` per hidden layer, then
the readout's ``Affine`` and a leaky integrator ``LI`` (``readout='membrane'``)
or a ``LIF`` (``readout='spikes'``). Its input is the row scaled by the
estimator (:func:`nir_input`), held as a constant current for ``n_steps`` time
steps; the estimator's output is the readout membrane averaged over those
steps (or the readout's spike count), which a runtime takes from the
per-step readout.

Time constants follow snnTorch's convention, a forward-Euler step of
``dt = 1e-4`` s: ``tau = dt / (1 - decay)``, so that one step of
``tau dv/dt = -v + r I`` is ``v = decay * v + (dt r / tau) I``. pynmsnn's leak
and integration, ``v = decay * v + I``, need ``dt r / tau = 1``: with
``input_scaling='r'`` (the default, snnTorch's convention) ``r = tau / dt``
and the ``Affine`` nodes hold the layer's weights; with
``input_scaling='weights'`` ``r = 1`` and the ``Affine`` nodes hold the
weights and biases times ``tau / dt``, for importers that take ``r`` as 1
(Norse 1.1). Both graphs mean the same network.

What maps exactly
-----------------
NIR's ``LIF`` sets the membrane *to* ``v_reset`` after a spike. A model
trained with ``reset='zero'`` does the same (``v_reset = -refractory_penalty``)
and exports exactly at any decay and refractory penalty. A model with
``reset='subtract'`` (pynmsnn's other neuron) keeps the excess over the
threshold; it agrees with NIR's neuron step for step only when nothing is
carried from one step to the next, with ``decay=0``. For ``decay > 0`` the
export is refused, with ``reset='zero'`` named as the way out, unless
``allow_reset_mismatch=True``: that network then resets to zero and its
answers differ from the estimator's on some rows (in snnTorch, a
``decay=0.9`` model with 32 hidden neurons agreed on 95% of 400 held-out
digits). Encoders other than ``'current'`` and ``decay=1`` (no leak) are
refused.

Reading the graph elsewhere
---------------------------
``snntorch.import_nir.import_from_nir`` (snnTorch 1.0) turns ``Affine`` into
``torch.nn.Linear`` and ``LIF`` into ``snntorch.Leaky(beta=1 - dt / tau,
reset_mechanism='zero', reset_delay=False)``: a ``reset='zero'`` model with
``readout='spikes'`` imports as it is. ``norse.torch.from_nir`` (Norse 1.1,
with ``dt=1e-4``) reads ``input_scaling='weights'`` graphs. Neither reads
``LI`` (map it to a leaky integrator and average its membrane over the steps)
nor ``v_reset`` (both reset to 0, so they run ``refractory_penalty=0``
models exactly); ``tests/test_nir.py`` shows both round trips.
"""

import contextlib
import io
import warnings

import numpy as np

__all__ = ["nir_input", "run_nir", "to_nir"]

#: snnTorch's forward-Euler step (s), which sets the time constants.
DT = 1e-4


def nir_input(estimator, X):
    """The rows ``X`` as the exported graph takes them: scaled to [0, 1] and one-hot.

    Feed each row as a constant current for ``estimator.n_steps`` steps.

    Parameters
    ----------
    estimator : fitted SNNClassifier or SNNRegressor
        The model.
    X : {array-like, DataFrame} of shape (n_samples, n_features)
        Rows.

    Returns
    -------
    ndarray of shape (n_samples, n_inputs), float32
    """
    return estimator.transform_inputs(X)


def _check_exportable(estimator, allow_reset_mismatch):
    """Raise a ValueError naming the first setting that does not map to NIR; return whether it is exact."""
    if not hasattr(estimator, "module_"):
        raise ValueError(f"This {type(estimator).__name__} is not fitted yet; call fit before to_nir.")
    module = estimator.module_
    neuron = module.neuron
    if module.encoder != "current":
        raise ValueError(
            f"encoder={module.encoder!r} does not map to NIR: the exported graph takes the scaled "
            "row as a constant input current. Refit with encoder='current' to export."
        )
    if neuron.decay >= 1.0:
        raise ValueError(
            "decay=1 (no leak) does not map to NIR's LIF, whose time constant would be "
            "infinite; refit with decay < 1."
        )
    if neuron.reset == "zero" or neuron.decay == 0.0:  # NIR's own reset, or nothing carried over a step
        return True
    if neuron.refractory_penalty != 0.0:
        raise ValueError(
            f"reset='subtract' with refractory_penalty={neuron.refractory_penalty} and decay={neuron.decay} "
            "does not map to NIR, whose LIF resets the membrane to v_reset. Refit with reset='zero' "
            "(exact at any decay and penalty)."
        )
    if allow_reset_mismatch:
        return False
    raise ValueError(
        f"reset='subtract' with decay={neuron.decay} does not map exactly to NIR: its LIF sets the membrane "
        "to v_reset after a spike, while this model subtracts the threshold and keeps the excess, which "
        "decay carries to the next step. Refit with reset='zero' for an exact export at any decay (or "
        "with decay=0), or pass allow_reset_mismatch=True to export with reset to zero (answers "
        "differ on some rows)."
    )


#: Where the input scale ``tau / dt`` of each integrating node sits (see the module's notes).
INPUT_SCALINGS = ("r", "weights")


def to_nir(estimator, *, dt=DT, input_scaling="r", allow_reset_mismatch=False):
    """The fitted network as a ``nir.NIRGraph`` of Affine, LIF and LI nodes.

    Parameters
    ----------
    estimator : fitted SNNClassifier or SNNRegressor
        Fitted with ``encoder='current'`` and ``decay < 1``; ``reset='zero'``
        (or ``decay=0``) maps exactly (see the module's notes).
    dt : float, default=1e-4
        Time step (s) of the forward-Euler discretisation the time constants
        are written for (snnTorch's).
    input_scaling : {'r', 'weights'}, default='r'
        Write the input scale ``tau / dt`` as each node's ``r`` (snnTorch's
        convention), or into the ``Affine`` weights and biases with ``r = 1``
        (for importers that take ``r`` as 1, such as Norse 1.1).
    allow_reset_mismatch : bool, default=False
        Export a ``reset='subtract'`` network with ``0 < decay < 1`` anyway:
        NIR's LIF resets to zero, so answers differ on some rows. Needs
        ``refractory_penalty=0``.

    Returns
    -------
    nir.NIRGraph
        Nodes 'input', 'affine_1', 'lif_1', ..., 'affine_out', 'readout' and
        'output'. ``metadata`` holds ``n_steps``, ``readout``, ``dt``,
        ``input_scaling``, ``exact`` and the estimator's class name.

    Raises
    ------
    ValueError
        When a setting does not map (the message names it and what does).
    ImportError
        When the ``nir`` package is not installed (``pip install nir``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.nir_export import to_nir
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, reset="zero", max_iter=20, random_state=0).fit(X, y)
    >>> graph = to_nir(clf)  # doctest: +SKIP
    >>> sorted(graph.nodes)  # doctest: +SKIP
    ['affine_1', 'affine_out', 'input', 'lif_1', 'output', 'readout']
    """
    if input_scaling not in INPUT_SCALINGS:
        raise ValueError(f"input_scaling={input_scaling!r}; choose one of {list(INPUT_SCALINGS)}.")
    exact = _check_exportable(estimator, allow_reset_mismatch)
    try:
        import nir
    except ImportError:
        raise ImportError("to_nir needs the nir package: pip install nir") from None
    module = estimator.module_
    neuron = module.neuron
    tau = dt / (1.0 - neuron.decay)
    # dt r / tau = 1: in r, or in the weights with r = 1.
    r, weight_scale = (tau / dt, 1.0) if input_scaling == "r" else (1.0, tau / dt)
    nodes = {"input": nir.Input(input_type={"input": np.array([module.layers[0].in_features])})}
    names = ["input"]
    for i, layer in enumerate(module.hidden, start=1):
        nodes[f"affine_{i}"] = _affine(nir, layer, weight_scale)
        nodes[f"lif_{i}"] = _lif(nir, neuron, layer.out_features, tau, r)
        names += [f"affine_{i}", f"lif_{i}"]
    nodes["affine_out"] = _affine(nir, module.output, weight_scale)
    n_outputs = module.output.out_features
    if module.readout == "spikes":
        nodes["readout"] = _lif(nir, neuron, n_outputs, tau, r)
    else:
        nodes["readout"] = nir.LI(tau=np.full(n_outputs, tau), r=np.full(n_outputs, r), v_leak=np.zeros(n_outputs))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_outputs])})
    names += ["affine_out", "readout", "output"]
    metadata = {
        "n_steps": module.n_steps,
        "readout": module.readout,
        "dt": dt,
        "input_scaling": input_scaling,
        "exact": exact,
        "estimator": type(estimator).__name__,
    }
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), metadata=metadata)


def _affine(nir, layer, scale):
    weight = layer.weight.detach().double().cpu().numpy() * scale
    bias = layer.bias.detach().double().cpu().numpy() * scale
    return nir.Affine(weight=weight.astype(np.float32), bias=bias.astype(np.float32))


def _lif(nir, neuron, width, tau, r):
    # After a spike NIR's LIF sets v to v_reset: -refractory_penalty for reset='zero'
    # (and 0 for an exported reset='subtract' network, exact only at decay=0).
    v_reset = -neuron.refractory_penalty if neuron.reset == "zero" else 0.0
    return nir.LIF(
        tau=np.full(width, tau),
        r=np.full(width, r),
        v_leak=np.zeros(width),
        v_threshold=np.full(width, neuron.threshold),
        v_reset=np.full(width, v_reset),
    )


# ------------------------------------------------------------ running a graph
#: Where :func:`run_nir` can run a graph.
RUNTIMES = ("reference", "snntorch", "norse")


def run_nir(graph, x, runtime="reference"):
    """Run a graph written by :func:`to_nir` and return what the estimator's output is made of.

    Each row of ``x`` is held as a constant input for ``graph.metadata['n_steps']``
    steps; the result is the readout's spike count (``readout='spikes'``) or
    its membrane averaged over the steps: for an exact export, the
    estimator's own output (its logits or scaled prediction).

    Parameters
    ----------
    graph : nir.NIRGraph
        A graph from :func:`to_nir`.
    x : array-like of shape (n_samples, n_inputs)
        Rows as :func:`nir_input` gives them.
    runtime : {'reference', 'snntorch', 'norse'}, default='reference'
        'reference' steps NIR's own equations (forward Euler of each node's
        ODE, ``v_reset`` after a spike) in float64 numpy; 'snntorch' and
        'norse' import the graph with those libraries' NIR importers
        (``snntorch.import_nir.import_from_nir``, ``norse.torch.from_nir``)
        and run it in float32. Neither library reads NIR's ``LI`` node, so
        the membrane readout is mapped to their leaky integrator here; neither
        reads ``v_reset``, and Norse takes ``r`` as 1 (export with
        ``input_scaling='weights'`` for it).

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.nir_export import nir_input, run_nir, to_nir
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, reset="zero", max_iter=20, random_state=0).fit(X, y)
    >>> out = run_nir(to_nir(clf), nir_input(clf, X))  # doctest: +SKIP
    >>> bool(abs(out - clf.decision_function(X)).max() < 1e-4)  # doctest: +SKIP
    True
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime={runtime!r}; choose one of {list(RUNTIMES)}.")
    n_steps, spikes = graph.metadata["n_steps"], graph.metadata["readout"] == "spikes"
    steps = {"reference": _reference_steps, "snntorch": _snntorch_steps, "norse": _norse_steps}[runtime](
        graph, np.asarray(x), n_steps
    )
    steps = np.stack(steps)
    return steps.sum(0) if spikes else steps.mean(0)


def _chain(graph):
    """The graph's nodes from the input to the output, in order."""
    following = dict(graph.edges)
    name, chain = "input", []
    while name in following:
        name = following[name]
        chain.append(graph.nodes[name])
    return chain[:-1]  # without the Output node


def _reference_steps(graph, x, n_steps):
    """NIR's equations stepped in float64: the readout at each step."""
    import nir

    dt = graph.metadata["dt"]
    chain = _chain(graph)
    state = [np.zeros((x.shape[0], node.tau.shape[0])) if hasattr(node, "tau") else None for node in chain]
    outputs = []
    for _ in range(n_steps):
        signal = x.astype(np.float64)
        for i, node in enumerate(chain):
            if isinstance(node, nir.Affine):
                signal = signal @ node.weight.astype(np.float64).T + node.bias
                continue
            # Forward Euler of tau dv/dt = (v_leak - v) + r I.
            v = state[i] + dt / node.tau * (node.v_leak - state[i] + node.r * signal)
            if isinstance(node, nir.LIF):
                fired = v > node.v_threshold
                v = np.where(fired, node.v_reset, v)
                signal = fired.astype(np.float64)
            else:  # LI: the membrane is the output
                signal = v
            state[i] = v
        outputs.append(signal)
    return outputs


def _snntorch_steps(graph, x, n_steps):
    """The graph imported by snnTorch: the readout at each step.

    ``import_from_nir`` reads Affine and LIF; for the LI readout the same
    modules are built the way it builds them (``Leaky(beta=1 - dt / tau,
    reset_mechanism='zero', reset_delay=False)``, which takes ``r`` as
    ``tau / dt``), with LI as a Leaky that never resets.
    """
    import nir
    import nirtorch
    import snntorch
    import torch
    from snntorch.import_nir import import_from_nir

    dt = graph.metadata["dt"]
    membrane_readout = isinstance(graph.nodes["readout"], nir.LI)
    if membrane_readout:
        def affine(node):
            linear = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0])
            linear.weight.data, linear.bias.data = torch.tensor(node.weight), torch.tensor(node.bias)
            return linear

        def beta(node):
            return float(np.unique(1 - dt / node.tau)[0])

        def lif(node):
            threshold = float(np.unique(node.v_threshold)[0])
            return snntorch.Leaky(beta=beta(node), threshold=threshold, reset_mechanism="zero",
                                  reset_delay=False, init_hidden=True)

        def leaky_integrator(node):
            return snntorch.Leaky(beta=beta(node), reset_mechanism="none", init_hidden=True, output=True)

        net = nirtorch.nir_to_torch(graph, {nir.Affine: affine, nir.LIF: lif, nir.LI: leaky_integrator})
    else:
        with contextlib.redirect_stdout(io.StringIO()):  # snnTorch's importer prints its progress
            net = import_from_nir(graph)
    for module in net.modules():
        if isinstance(module, snntorch.Leaky):
            module.reset_mem()  # state lives in the modules (init_hidden=True)
    rows = torch.as_tensor(x, dtype=torch.float32)
    outputs = []
    with torch.no_grad():
        for _ in range(n_steps):
            output, _ = net(rows)  # the last module's output and the graph's state
            # The integrator returns (spikes, membrane); a spiking readout its spikes.
            outputs.append((output[1] if membrane_readout else output).numpy())
    return outputs


def _norse_steps(graph, x, n_steps):
    """The graph imported by Norse: the readout at each step.

    ``norse.torch.from_nir`` reads Affine and LIF (``LIFBoxCell``, which takes
    ``r`` as 1); for the LI readout the same modules are built the way it
    builds them, with LI as Norse's leaky integrator (``LIBoxCell``).
    """
    import nir
    import nirtorch
    import norse.torch as norse
    import torch
    from norse.torch.module.leaky_integrator_box import LIBoxCell, LIBoxParameters
    from norse.torch.module.lif_box import LIFBoxCell, LIFBoxParameters

    if graph.metadata.get("input_scaling") != "weights":
        raise ValueError("Norse's importer takes r as 1: export with to_nir(..., input_scaling='weights').")
    dt = graph.metadata["dt"]

    def tensor(values):
        return torch.as_tensor(values, dtype=torch.float32)

    def module(node):
        if isinstance(node, nir.Affine):
            linear = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0])
            linear.weight.data, linear.bias.data = tensor(node.weight), tensor(node.bias)
            return linear
        if isinstance(node, nir.LIF):
            return LIFBoxCell(LIFBoxParameters(tau_mem_inv=1 / tensor(node.tau), v_th=tensor(node.v_threshold),
                                               v_leak=tensor(node.v_leak)), dt=dt)
        if isinstance(node, nir.LI):
            return LIBoxCell(LIBoxParameters(tau_mem_inv=1 / tensor(node.tau), v_leak=tensor(node.v_leak)), dt=dt)
        return None

    with warnings.catch_warnings():  # Norse 1.1 builds through nirtorch.load, which nirtorch deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        if isinstance(graph.nodes["readout"], nir.LI):
            net = nirtorch.load(graph, module)
        else:
            net = norse.from_nir(graph, dt=dt, ignore_warnings=True)
    rows = tensor(x)
    state, outputs = None, []
    with torch.no_grad():
        for _ in range(n_steps):
            output, state = net(rows, state)
            outputs.append(output.numpy())
    return outputs
