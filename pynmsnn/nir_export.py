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
``dt = 1e-4`` s: ``tau = dt / (1 - decay)`` and ``r = tau / dt``, so that one step
of ``tau dv/dt = -v + r I`` is ``v = decay * v + I``, pynmsnn's leak and
integration exactly.

What maps exactly, and what does not
------------------------------------
NIR's ``LIF`` resets the membrane *to* ``v_reset`` (0) after a spike, while a
pynmsnn neuron *subtracts* the threshold (plus ``refractory_penalty``) and
keeps the excess. The two neurons agree step for step only when nothing is
carried from one step to the next, that is with ``decay=0`` (then the reset
and the refractory penalty make no difference). For ``decay > 0`` the export
is refused unless ``allow_reset_mismatch=True``; the exported network then
resets to zero and its answers differ from the estimator's on some rows. Run
in snnTorch on 400 held-out digits, a ``decay=0.9`` model with 32 hidden
neurons agreed with the estimator on 95% of the answers (64 hidden: 98.75%);
a ``decay=0`` model agreed on all of them, its logits within 1e-6.
Encoders other than ``'current'`` and ``decay=1`` (no leak) are refused.

Reading the graph in snnTorch
-----------------------------
``snntorch.import_nir.import_from_nir`` (snnTorch 1.0) turns ``Affine`` into
``torch.nn.Linear`` and ``LIF`` into ``snntorch.Leaky(beta=1 - dt / tau,
reset_mechanism='zero', reset_delay=False)``, which is pynmsnn's neuron when
``decay=0``: a ``readout='spikes'`` model imports as it is. It does not read
``LI``; for the membrane readout map ``LI`` to ``snntorch.Leaky(beta,
reset_mechanism='none')`` and average its membrane over the steps (see
``tests/test_nir.py``).
"""

import numpy as np

__all__ = ["nir_input", "to_nir"]

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
    """Raise a ValueError naming the first setting that does not map to NIR."""
    if not hasattr(estimator, "module_"):
        raise ValueError(f"This {type(estimator).__name__} is not fitted yet; call fit before to_nir.")
    module = estimator.module_
    if module.encoder != "current":
        raise ValueError(
            f"encoder={module.encoder!r} does not map to NIR: the exported graph takes the scaled "
            "row as a constant input current. Refit with encoder='current' to export."
        )
    if module.decay >= 1.0:
        raise ValueError(
            "decay=1 (no leak) does not map to NIR's LIF, whose time constant would be "
            "infinite; refit with decay < 1 (decay=0 exports exactly)."
        )
    if module.decay == 0.0:  # nothing carries over a step: the reset cannot matter
        return
    if module.refractory_penalty != 0.0:
        raise ValueError(
            f"refractory_penalty={module.refractory_penalty} with decay={module.decay} does not map "
            "to NIR: its LIF resets the membrane to v_reset and has no refractory penalty. "
            "Refit with refractory_penalty=0 and pass allow_reset_mismatch=True, or with decay=0 "
            "(exact)."
        )
    if allow_reset_mismatch:
        return
    raise ValueError(
        f"decay={module.decay} does not map exactly to NIR: its LIF resets the membrane to 0 after "
        "a spike, while pynmsnn subtracts the threshold and keeps the excess, which decay carries "
        "to the next step. Refit with decay=0 for an exact export, or pass "
        "allow_reset_mismatch=True to export with reset to zero (answers differ on some rows)."
    )


def _time_constants(decay, dt, shape):
    """``tau`` and ``r`` whose forward-Euler step of ``dt`` is ``v = decay v + I``."""
    tau = np.full(shape, dt / (1.0 - decay))
    return tau, tau / dt


def to_nir(estimator, *, dt=DT, allow_reset_mismatch=False):
    """The fitted network as a ``nir.NIRGraph`` of Affine, LIF and LI nodes.

    Parameters
    ----------
    estimator : fitted SNNClassifier or SNNRegressor
        Fitted with ``encoder='current'`` and ``decay < 1``; ``decay=0`` maps
        exactly (see the module's notes).
    dt : float, default=1e-4
        Time step (s) of the forward-Euler discretisation the time constants
        are written for (snnTorch's).
    allow_reset_mismatch : bool, default=False
        Export a network with ``0 < decay < 1`` anyway: NIR's LIF resets to
        zero where pynmsnn subtracts the threshold, so answers differ on some
        rows. Needs ``refractory_penalty=0``.

    Returns
    -------
    nir.NIRGraph
        Nodes 'input', 'affine_1', 'lif_1', ..., 'affine_out', 'readout' and
        'output'. ``metadata`` holds ``n_steps``, ``readout``, ``dt``,
        ``exact`` and the estimator's class name.

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
    >>> clf = SNNClassifier((16,), n_steps=6, decay=0.0, max_iter=20, random_state=0).fit(X, y)
    >>> graph = to_nir(clf)  # doctest: +SKIP
    >>> sorted(graph.nodes)  # doctest: +SKIP
    ['affine_1', 'affine_out', 'input', 'lif_1', 'output', 'readout']
    """
    _check_exportable(estimator, allow_reset_mismatch)
    try:
        import nir
    except ImportError:
        raise ImportError("to_nir needs the nir package: pip install nir") from None
    module = estimator.module_
    nodes = {"input": nir.Input(input_type={"input": np.array([module.layers[0].in_features])})}
    names = ["input"]
    for i, layer in enumerate(module.hidden, start=1):
        nodes[f"affine_{i}"] = _affine(nir, layer)
        nodes[f"lif_{i}"] = _lif(nir, module, layer.out_features, dt)
        names += [f"affine_{i}", f"lif_{i}"]
    nodes["affine_out"] = _affine(nir, module.output)
    n_outputs = module.output.out_features
    if module.readout == "spikes":
        nodes["readout"] = _lif(nir, module, n_outputs, dt)
    else:
        tau, r = _time_constants(module.decay, dt, (n_outputs,))
        nodes["readout"] = nir.LI(tau=tau, r=r, v_leak=np.zeros(n_outputs))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_outputs])})
    names += ["affine_out", "readout", "output"]
    metadata = {
        "n_steps": module.n_steps,
        "readout": module.readout,
        "dt": dt,
        "exact": module.decay == 0.0,
        "estimator": type(estimator).__name__,
    }
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), metadata=metadata)


def _affine(nir, layer):
    weight = layer.weight.detach().double().cpu().numpy()
    bias = layer.bias.detach().double().cpu().numpy()
    return nir.Affine(weight=weight.astype(np.float32), bias=bias.astype(np.float32))


def _lif(nir, module, width, dt):
    tau, r = _time_constants(module.decay, dt, (width,))
    return nir.LIF(
        tau=tau,
        r=r,
        v_leak=np.zeros(width),
        v_threshold=np.full(width, module.threshold),
        v_reset=np.zeros(width),
    )
