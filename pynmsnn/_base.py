"""The shared estimator: validation, preprocessing, training loop and inference.

The estimator's state, for other modules
----------------------------------------
The estimator owns its state. Saving (:mod:`pynmsnn.persistence`), activity
reports (:mod:`pynmsnn.activity`), the command line (:mod:`pynmsnn.cli`) and
the NIR export (:mod:`pynmsnn.nir_export`) go through these methods of
:class:`BaseSNN`, and never read or set its private attributes:

``check_params()``
    Check the parameters as ``fit`` does (an error names the parameter).
``parameter_constraints()``
    Class method: what ``fit`` checks each parameter against.
``transform_inputs(X)``
    The rows as the network takes them: checked, scaled to [0, 1], one-hot, float32.
``get_input_names()``
    The name of each network input: a column, or ``column=value`` when one-hot.
``compute_device``
    The ``torch.device`` the fitted network runs on.
``compute_engine(rows=None, training=False)``
    The backend (:class:`pynmsnn._engine.Engine`) a fit or predict call runs
    ``module_`` with on this machine; pass it to the network's forward methods.
``get_fitted_state()``
    ``(metadata, state_dict)``: plain values and the network's tensors.
``from_fitted_state(metadata, state_dict)``
    Class method: the estimator rebuilt from them, every field checked as ``fit``
    would have made it; a bad field is a ValueError that names it.
``start_fit(X, y)``, ``training_plan(n_samples)``, ``row_losses(outputs, targets)``,
``minibatch_loss(outputs, targets)``, ``finish_fit(...)``
    A fit whose epochs run elsewhere (several networks trained side by side,
    :mod:`pynmsnn.model_selection`): ``start_fit`` does everything ``fit`` does
    before its first epoch and returns the training rows and targets;
    ``training_plan`` says how ``fit`` would train on them (seed, minibatch
    size, Adam's settings, when to stop); ``row_losses`` is the loss of each
    row and ``minibatch_loss`` their mean as ``fit`` computes it;
    ``finish_fit`` takes the trained weights and loss curve and ends the fit
    as ``fit`` does.

Fitted attributes ending in ``_`` (``module_``, ``classes_``, ...) are public
as in scikit-learn; the network describes itself with
:meth:`SpikingNetwork.get_config <pynmsnn.network.SpikingNetwork.get_config>`.
"""

import copy
import dataclasses
import inspect
import re
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._engine import choose_engine
from ._engine_info import warn_if_kernel_missing
from ._folding import fold_one_hot
from ._malloc import keep_freed_memory
from ._optim import SGD, Adam
from ._params import InvalidParameterError, Interval, Options, StrOptions, validate
from ._input import check_X, untracked
from ._tabular import TableEncoding, is_dataframe
from .activity import activity_report, calibrate_firing, check_firing_health
from .encoders import ENCODERS
from .network import SpikingNetwork
from .neurons import RESETS, LIFParameters
from .surrogate import SURROGATES

__all__ = ["BaseSNN"]

# Prediction runs in chunks of a fixed number of rows per model, the last one
# padded with zeros: matmul kernels are bitwise reproducible for a fixed shape,
# so a row's prediction is the same whatever rows it is predicted with. A chunk
# holds about PREDICT_CHUNK_VALUES spikes per layer, so memory stays bounded.
PREDICT_CHUNK_VALUES = 2**20
# Rows per chunk where the network infers a row at a time (no time steps kept).
EVENT_CHUNK_ROWS = 2**16


def predict_chunk_rows(n_steps, widths):
    """Rows per prediction chunk: a multiple of 64 between 64 and 4096."""
    rows = PREDICT_CHUNK_VALUES // (n_steps * max(widths)) // 64 * 64
    return int(min(4096, max(64, rows)))


# What a CUDA device may be called: 'cuda' or 'cuda:N'.
_CUDA_NAME = re.compile(r"^cuda(:(\d+))?$")
DEVICE_WORDS = ("auto", "cpu", "cuda")


def check_device(device, owner):
    """The ``device`` parameter as text ('auto', 'cpu', 'cuda' or 'cuda:N'), or a ValueError naming it.

    ``owner`` is the class name the message names, as scikit-learn's parameter errors do.
    """
    text = str(device) if isinstance(device, torch.device) else device
    if isinstance(text, str) and (text in DEVICE_WORDS or _CUDA_NAME.match(text)):
        return text
    raise ValueError(
        f"The 'device' parameter of {owner} must be 'auto', 'cpu', 'cuda', 'cuda:N' (N the index "
        f"of a GPU) or a torch.device of type 'cpu' or 'cuda'. Got {device!r} instead."
    )


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``, or say why that GPU cannot be used.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    text = check_device(device, "the estimator")
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={text!r} was asked for but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use device='auto' or device='cpu'."
        )
    index = _CUDA_NAME.match(text).group(2)
    count = torch.cuda.device_count()
    if index is not None and int(index) >= count:
        raise ValueError(
            f"device={text!r} names GPU {index}, but torch sees {count} CUDA GPU(s), numbered 0 to "
            f"{count - 1}; pass one of those, or device='cuda' for the current one."
        )
    return torch.device(text)


def fitted_device(device):
    """Where a fitted model runs after pickling or loading.

    The GPU that ``device`` names when torch sees it, else the current CUDA GPU
    when ``device`` is not the CPU and torch sees one, else the CPU.
    """
    text = str(device) if isinstance(device, torch.device) else device
    found = _CUDA_NAME.match(text) if isinstance(text, str) else None
    if text == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if found and found.group(2) is not None and int(found.group(2)) < torch.cuda.device_count():
        return torch.device(text)
    return torch.device("cuda")


def check_sample_weight(sample_weight, n_samples):
    """``sample_weight`` as ``n_samples`` finite, non-negative float64 weights, not all zero; None stays None.

    A single number weighs every row alike.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real) and not isinstance(sample_weight, (bool, np.bool_)):
        weights = np.full(n_samples, float(sample_weight))
    else:
        weights = check_array(sample_weight, ensure_2d=False, dtype=np.float64, ensure_all_finite=False,
                              input_name="sample_weight")
        if weights.ndim != 1 or len(weights) != n_samples:
            raise ValueError(
                f"sample_weight has shape {weights.shape}, but X has {n_samples} rows; pass one weight "
                f"per row, an array of shape ({n_samples},)."
            )
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        raise ValueError(
            f"sample_weight must be finite and non-negative, but row(s) {bad[:5].tolist()} hold "
            f"{weights[bad[:5]].tolist()}{' and more' if len(bad) > 5 else ''}."
        )
    if not (weights > 0).any():
        raise ValueError(
            "sample_weight is zero for every row, so there is nothing to learn from; "
            "give at least one row a positive weight."
        )
    return weights


def take_rows(X, rows):
    """The rows ``rows`` of an array or DataFrame."""
    return X.iloc[rows] if is_dataframe(X) else X[rows]


# Odd 64-bit multipliers of the row hash of merge_rows, drawn once from a fixed seed.
_HASH_MULTIPLIERS = np.random.default_rng(15).integers(
    0, np.iinfo(np.uint64).max, size=4096, dtype=np.uint64, endpoint=True) | np.uint64(1)


def _row_hashes(keys):
    """A 64-bit hash of each row of a uint32 array: the sum of its values times fixed odd multipliers."""
    n, width = keys.shape
    multipliers = np.resize(_HASH_MULTIPLIERS, width) ^ np.arange(width, dtype=np.uint64)
    hashes = np.empty(n, dtype=np.uint64)
    step = max(1, 2**20 // max(width, 1))
    for start in range(0, n, step):  # in blocks, so that the uint64 copy stays small
        block = keys[start : start + step].astype(np.uint64)
        block *= multipliers
        hashes[start : start + step] = block.sum(axis=1)
    return hashes


def target_codes(y):
    """One integer per row, equal for rows of equal targets (labels, or rows of a 2-D target)."""
    y = np.asarray(y)
    if y.ndim == 1:
        return np.unique(y, return_inverse=True)[1].astype(np.int64)
    return np.unique(y.reshape(len(y), -1), axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def merge_rows(inputs, targets, weights, keep_order):
    """Merge identical training rows into one row that carries their summed weight.

    Two rows merge when their inputs are bitwise equal and so are their
    targets (or target codes, as :func:`target_codes` gives them). The
    merged rows come in an order fixed by their content, so that the order
    the rows were given in does not matter, or, with ``keep_order``, in the
    order of their first occurrence.

    Parameters
    ----------
    inputs : ndarray of shape (n_samples, n_inputs), float32
        Scaled rows.
    targets : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Their targets or target codes, of a numeric dtype.
    weights : ndarray of shape (n_samples,) or None
        Their weights; None weighs every row 1.
    keep_order : bool
        Keep the given order instead of the content's.

    Returns
    -------
    rows : ndarray of int or None
        The first row of each group, in training order; None when the rows
        stay as given (nothing merged, and ``keep_order``).
    weights : ndarray of shape (n_rows,) or None
        The weight of each merged row; None when no weights were given and no
        row repeats.

    Examples
    --------
    >>> import numpy as np
    >>> inputs = np.array([[0.5], [0.0], [0.5]], dtype=np.float32)
    >>> merge_rows(inputs, np.array([1, 0, 1]), None, keep_order=True)
    (array([0, 1]), array([2., 1.]))
    """
    n = len(inputs)
    keys = np.concatenate(
        [np.ascontiguousarray(part).reshape(n, -1).view(np.uint32)
         for part in (inputs, np.ascontiguousarray(targets).reshape(n, -1))], axis=1)
    hashes = _row_hashes(keys)
    order = np.argsort(hashes, kind="stable")
    same = np.zeros(max(n - 1, 0), dtype=bool)
    candidates = np.flatnonzero(hashes[order[1:]] == hashes[order[:-1]])
    same[candidates] = (keys[order[candidates + 1]] == keys[order[candidates]]).all(axis=1)
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    rows = order[starts]
    if len(rows) < n or weights is not None:
        weights = np.add.reduceat((np.ones(n) if weights is None else weights)[order], starts)
    if keep_order:
        if weights is None:
            return None, None
        first = np.argsort(rows)
        rows, weights = rows[first], weights[first]
    return rows, weights


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """How ``fit`` trains the network that :meth:`BaseSNN.start_fit` built.

    Epoch ``k`` (from 0) shuffles the rows with ``torch.randperm(n_samples,
    generator=g)``, where ``g = torch.Generator().manual_seed(seed + k)`` also
    feeds that epoch's random encoders, then takes minibatches of
    ``batch_size`` rows in that order (the last one shorter). A step
    minimizes the mean of :meth:`BaseSNN.row_losses`, each times its row's
    weight in ``row_weights``, over the minibatch plus
    ``spike_penalty`` times the mean firing rate of the hidden layers, with
    :class:`pynmsnn._optim.Adam` (``betas``, ``eps``): ``learning_rate`` for every tensor,
    ``weight_decay`` for the weights and none for the biases. After epoch
    ``k`` (mean loss ``L_k``), an epoch improves when ``L_k < min(L_1..L_k-1)
    - tol``; training stops after more than ``n_iter_no_change`` epochs in a
    row without improvement, or after ``max_iter`` epochs.

    Attributes
    ----------
    seed : int
    batch_size : int
    learning_rate : float
    weight_decay : float
    betas : tuple of float
        Adam's ``(beta_1, beta_2)``.
    eps : float
        Adam's ``epsilon``.
    row_weights : torch.Tensor of shape (n_samples,) or None
        Each row's weight in the loss (mean 1), from ``sample_weight``,
        ``class_weight`` and merged identical rows; None weighs all alike.
    spike_penalty : float
    max_iter : int
    tol : float
    n_iter_no_change : int
    shuffle : bool
    engine : pynmsnn._engine.Engine
        The backend ``fit`` runs the network with.
    """

    seed: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    betas: tuple
    eps: float
    row_weights: object
    spike_penalty: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    shuffle: bool
    engine: object


# How a fit trained elsewhere ended (finish_fit's ``stopped``).
_STOPS = ("plateau", "max_iter", "diverged")

# State that get_fitted_state hands over in its own form, not as a fitted attribute.
_REBUILT_STATE = {"module_", "_optimizer", "_device", "_scaler"}
# What a fitted attribute's name may look like: no dunders, nothing but a plain name.
_ATTRIBUTE_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")
# Parameters a continued fit (warm_start or partial_fit) cannot change, and what they fix.
_FIXED_WHEN_CONTINUING = {
    "hidden_layer_sizes": "the shapes of its weights",
    "n_steps": "the length of its spike trains",
    "encoder": "what its inputs mean",
    "readout": "what its outputs mean",
    "preprocess": "what its inputs mean",
}


# Far above these values, a parameter is the likely cause when training diverges
# (inputs are scaled to [0, 1] and weights start below 1): the message names it.
USUAL_MAXIMUM = {
    "learning_rate_init": 1.0,
    "alpha": 1e3,
    "spike_penalty": 1e3,
    "threshold": 1e3,
    "refractory_penalty": 1e3,
}


class BaseSNN(BaseEstimator):
    """Base class of the spiking estimators; not for direct use.

    Subclasses define ``_check_y``, ``_encode_targets``, ``_n_outputs``,
    ``_loss``, ``_score_outputs`` and ``_check_fitted_targets``.
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "decay": [Interval(Real, 0, 1, closed="both")],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "refractory_penalty": [Interval(Real, 0, None, closed="left")],
        "reset": [StrOptions(set(RESETS))],
        "surrogate": [StrOptions(set(SURROGATES))],
        "activation": [None],  # MLPClassifier's; refused by check_params with a pointer to surrogate
        "detach_reset": ["boolean"],
        "encoder": [StrOptions(set(ENCODERS))],
        "preprocess": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "spike_penalty": [Interval(Real, 0, None, closed="left")],
        "init_firing_rate": [Interval(Real, 0, 1, closed="neither"), None],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        # Also 'cuda:N' (checked by check_device) and a torch.device.
        "device": [StrOptions(set(DEVICE_WORDS)), str, torch.device],
    }

    def __init__(
        self,
        hidden_layer_sizes,
        *,
        n_steps,
        decay,
        threshold,
        refractory_penalty,
        reset,
        surrogate,
        activation,
        detach_reset,
        encoder,
        preprocess,
        alpha,
        spike_penalty,
        init_firing_rate,
        solver,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        momentum,
        nesterovs_momentum,
        beta_1,
        beta_2,
        epsilon,
        max_iter,
        max_fun,
        tol,
        n_iter_no_change,
        early_stopping,
        validation_fraction,
        shuffle,
        random_state,
        verbose,
        warm_start,
        precision,
        device,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_steps = n_steps
        self.decay = decay
        self.threshold = threshold
        self.refractory_penalty = refractory_penalty
        self.reset = reset
        self.surrogate = surrogate
        self.activation = activation
        self.detach_reset = detach_reset
        self.encoder = encoder
        self.preprocess = preprocess
        self.alpha = alpha
        self.spike_penalty = spike_penalty
        self.init_firing_rate = init_firing_rate
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.max_fun = max_fun
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.precision = precision
        self.device = device

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        """Fit on ``(X, y)``: a full fit, or one more epoch when ``incremental``.

        Rows of zero weight are dropped before anything is learned from the
        data (the input scaling included), so a zero weight is the row absent.
        """
        self._check_fit_arguments(y, incremental)
        first_pass = not hasattr(self, "module_") or (not self.warm_start and not incremental)
        if not first_pass:
            self._check_continuation(incremental)
        inputs, y, targets, weights, rows_given = self._start(X, y, sample_weight, first_pass, incremental, classes)
        # As in MLPClassifier, lbfgs trains on every row at once and holds none out.
        early_stopping = self.early_stopping and not incremental and self.solver != "lbfgs"
        train, validation = self._split_validation(inputs, targets, y, weights, early_stopping)
        device = self._device
        inputs = torch.as_tensor(train[0], device=device)
        targets = torch.as_tensor(train[1], device=device)
        weights = _normalized(train[2], device)
        held_out = len(validation[0]) if validation else 0
        rows_given = max(1, round(rows_given * len(train[0]) / (len(train[0]) + held_out)))  # the training share
        if self.solver == "lbfgs":
            self._train_lbfgs(inputs, targets, weights)
        else:
            self._train(inputs, targets, weights, validation, n_epochs=1 if incremental else self.max_iter,
                        early_stopping=early_stopping, incremental=incremental, rows_given=rows_given)
        if not incremental:  # partial_fit stays cheap; a chunk's health is one call away
            self.firing_rates_ = check_firing_health(self, inputs)
        return self

    def _check_fit_arguments(self, y, incremental):
        """Refuse parameters and arguments no fit can start from."""
        self.check_params()
        warn_if_kernel_missing(self.device)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True, as MLPClassifier does not: a chunk "
                "is too small to hold rows out of. Set early_stopping=False, and score held-out rows "
                "between calls yourself."
            )

    def _start(self, X, y, sample_weight, first_pass, incremental, classes):
        """The training rows as the network takes them; a new or continued network.

        Returns scaled rows, checked labels and encoded targets, the rows'
        weights (None when all ones) and the number of rows given (before
        identical rows were merged).
        """
        X = self._check_X(X, reset=first_pass)
        y = untracked(y)
        y = self._check_y(y, n_samples=X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0])
        kept = None if weights is None or (weights > 0).all() else np.flatnonzero(weights > 0)
        inputs = self._scale_X(X, reset=first_pass, fit_rows=kept)
        self._check_probabilities(inputs)
        if kept is not None:
            inputs, y, weights = inputs[kept], take_rows(y, kept), weights[kept]
        rows_given = len(inputs)  # an epoch takes as many steps as these rows would, merged or not
        rows, weights = merge_rows(inputs, target_codes(y), weights, keep_order=not self.shuffle)
        if rows is not None:
            inputs, y = inputs[rows], take_rows(y, rows)
        if not first_pass and not incremental:
            self._check_warm_start_targets(y)
        targets = self._encode_targets(y, reset=first_pass, classes=classes, weights=weights)
        weights = self._class_weighted(targets, weights, incremental)
        if first_pass:
            self._initialize(n_outputs=self._n_outputs(targets))
            calibrate_firing(self, inputs)  # only with init_firing_rate
        else:
            if not incremental:
                self._set_rng_seed()
                self.n_iter_ = 0  # as in MLPClassifier: the epochs of this call
            self._continue_network(incremental)
        return inputs, y, targets, weights, rows_given

    def start_fit(self, X, y, sample_weight=None):
        """Everything ``fit`` does before its first epoch, for epochs run elsewhere.

        Checks the parameters and the data, fits the input scaling and the
        targets' encoding, and builds a new network and optimizer seeded by
        ``random_state``, as a fit with ``warm_start=False`` does. Train the
        network as :meth:`training_plan` says, then call :meth:`finish_fit`.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training data.
        y : array-like
            Its labels or targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row, as ``fit`` takes it.

        Returns
        -------
        inputs : torch.Tensor of shape (n_samples, n_inputs), float32
            The rows as the network takes them, on :attr:`compute_device`:
            rows of zero weight dropped and identical rows merged, as in
            ``fit``; :meth:`training_plan` gives the merged rows' weights.
        targets : torch.Tensor
            The targets as :meth:`row_losses` takes them (class indices, or
            standardized values of shape (n_samples, n_outputs)).

        Raises
        ------
        ValueError
            With ``early_stopping=True``: its validation split and scores are
            ``fit``'s own work; with a ``solver`` other than 'adam', whose
            steps :class:`TrainingPlan` does not describe.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from pynmsnn import SNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SNNClassifier((8,), n_steps=4, random_state=0)
        >>> inputs, targets = clf.start_fit(X, y)  # two of iris's rows are equal: merged into one
        >>> tuple(inputs.shape), clf.training_plan(len(inputs)).batch_size
        ((149, 4), 149)
        """
        self._check_fit_arguments(y, incremental=False)
        name = type(self).__name__
        if self.early_stopping:
            raise ValueError(
                f"{name}.start_fit: early_stopping=True holds out a validation split and "
                "scores it every epoch, which only fit does; call fit, or set early_stopping=False."
            )
        if self.solver != "adam":
            raise ValueError(
                f"{name}.start_fit: solver={self.solver!r} trains as only fit does; call fit, or set "
                "solver='adam'."
            )
        inputs, _, targets, weights, rows_given = self._start(X, y, sample_weight, first_pass=True,
                                                               incremental=False, classes=None)
        self._started_fit = {"weights": _normalized(weights, self._device), "rows_given": rows_given}
        return torch.as_tensor(inputs, device=self._device), torch.as_tensor(targets, device=self._device)

    def training_plan(self, n_samples):
        """How ``fit`` trains the network :meth:`start_fit` built, on ``n_samples`` rows.

        Parameters
        ----------
        n_samples : int
            Number of training rows.

        Returns
        -------
        TrainingPlan
            The generator's seed, the minibatch size, Adam's settings, the
            rows' weights, the spike penalty, the stopping rule and the backend.
        """
        check_is_fitted(self, "module_")
        started = getattr(self, "_started_fit", {})
        weights, _ = self._optimizer_settings()
        return TrainingPlan(
            seed=self._seed + len(self.loss_curve_),
            batch_size=self._batch_size(n_samples, started.get("rows_given")),
            learning_rate=weights["lr"],
            weight_decay=weights["weight_decay"],
            betas=(float(self.beta_1), float(self.beta_2)),
            eps=float(self.epsilon),
            row_weights=started.get("weights"),
            spike_penalty=float(getattr(self, "spike_penalty", 0.0)),
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            n_iter_no_change=int(self.n_iter_no_change),
            shuffle=bool(self.shuffle),
            engine=self.compute_engine(training=True),
        )

    def minibatch_loss(self, outputs, targets, weights=None):
        """The loss ``fit`` minimizes on one minibatch, before the spike penalty.

        The mean of :meth:`row_losses` over the rows, each times its weight,
        computed by the same operation as in ``fit``, so it rounds as
        ``fit``'s loss curve does.

        Parameters
        ----------
        outputs : torch.Tensor of shape (n_rows, n_outputs)
            The network's output.
        targets : torch.Tensor
            The rows' targets, as :meth:`start_fit` returns them.
        weights : torch.Tensor of shape (n_rows,), default=None
            The rows' weights, from :attr:`TrainingPlan.row_weights`; None
            weighs every row 1.

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        return self._loss(outputs, targets, weights)

    def finish_fit(self, inputs, state_dict, loss_curve, stopped="plateau", diverged_loss=None):
        """End a fit whose epochs ran elsewhere, as ``fit`` ends: weights, history, checks, warnings.

        Parameters
        ----------
        inputs : torch.Tensor of shape (n_samples, n_inputs)
            The training rows :meth:`start_fit` returned.
        state_dict : dict of str to torch.Tensor
            The trained weights, by the names of ``module_.state_dict()``.
        loss_curve : sequence of float
            Mean training loss of each epoch.
        stopped : {'plateau', 'max_iter', 'diverged'}, default='plateau'
            Why training stopped: the loss stopped improving; ``max_iter``
            epochs ran (a ConvergenceWarning, as ``fit`` gives); or an epoch
            diverged and ``state_dict`` holds the weights of the last good one
            (a RuntimeWarning; with no good epoch, a ValueError and the
            estimator is left unfitted, as ``fit`` does).
        diverged_loss : float, default=None
            With ``stopped='diverged'``: the diverged epoch's mean loss when it
            was not finite; None when the weights were.

        Returns
        -------
        self
            The fitted estimator.
        """
        check_is_fitted(self, "module_")
        if stopped not in _STOPS:
            raise ValueError(f"stopped={stopped!r}; choose one of {list(_STOPS)}.")
        loss_curve = [float(loss) for loss in loss_curve]
        if stopped == "diverged" and not loss_curve:
            self.__dict__.pop("_started_fit", None)
            self._forget_fit()
            raise ValueError(self._divergence_message(1, diverged_loss, first=True))
        self.__dict__.pop("_started_fit", None)
        self.module_.load_state_dict(state_dict, strict=True)
        self.module_.eval()
        self.n_iter_ = len(loss_curve)
        self.t_ = self.n_iter_ * int(inputs.shape[0])
        self.loss_curve_ = loss_curve
        self.best_loss_ = min(loss_curve, default=np.inf)
        self._no_improvement_count = _epochs_without_improvement(loss_curve, self.tol)
        if loss_curve:
            self.loss_ = loss_curve[-1]
        if stopped == "max_iter":
            warnings.warn(self._max_iter_message(), ConvergenceWarning, stacklevel=2)
        elif stopped == "diverged":
            warnings.warn(self._divergence_message(self.n_iter_ + 1, diverged_loss), RuntimeWarning, stacklevel=2)
        self.firing_rates_ = check_firing_health(self, inputs)
        return self

    def _class_weighted(self, targets, weights, incremental):
        """The rows' weights times their class's weight (a classifier's ``class_weight``); None is all ones."""
        return weights

    def _check_warm_start_targets(self, y):
        """Refuse targets a warm-started fit cannot continue on (a classifier's other classes)."""

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(not isinstance(h, Integral) or h < 1 for h in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}; "
                "e.g. hidden_layer_sizes=(100,) or (128, 64)."
            )
        return sizes

    def _prepare_X(self, X, reset, encoded=False):
        """Validate ``X`` and scale it to [0, 1] (fitting the scaler when ``reset``).

        With ``encoded``, returns the scaled numeric columns and the category
        codes instead of the one-hot matrix (:meth:`TableEncoding.encode`).
        """
        return self._scale_X(self._check_X(X, reset), reset, encoded=encoded)

    def _check_probabilities(self, inputs):
        """Refuse inputs outside [0, 1] for an encoder that reads them as probabilities (``preprocess=False`` only)."""
        if self.encoder != "poisson" or self._scaler.scaling_ == "minmax" or not inputs.size:
            return
        outside = (inputs < 0) | (inputs > 1)
        if outside.any():
            column = int(np.flatnonzero(outside.any(axis=0))[0])
            values = inputs[:, column]
            raise ValueError(
                f"encoder='poisson' reads each input as a firing probability in [0, 1], but with "
                f"preprocess=False column {self._scaler.names_[column]!r} holds values from "
                f"{values.min():.4g} to {values.max():.4g}. Scale the inputs to [0, 1] first "
                "(sklearn.preprocessing.MinMaxScaler(clip=True)), set preprocess=True, or use "
                "encoder='current'."
            )

    def _check_X(self, X, reset):
        """``X`` checked (:func:`pynmsnn._input.check_X`); a fit needs two rows to learn a range from."""
        return check_X(self, X, reset, min_rows=2)

    def _scale_X(self, X, reset, fit_rows=None, encoded=False):
        """Checked ``X`` scaled to [0, 1]; when ``reset``, the scaling is learned from ``fit_rows`` (default all)."""
        if reset:
            self._scaler = TableEncoding().fit(X if fit_rows is None else take_rows(X, fit_rows),
                                               scale=self.preprocess)
        else:
            self._scaler.check_container(X, type(self).__name__)
        return self._scaler.encode(X) if encoded else self._scaler.transform(X)

    def _initialize(self, n_outputs):
        """Build the network, the optimizer and the fitted attributes of a first fit."""
        self._device = resolve_device(self.device)
        self._set_rng_seed()
        init_generator = torch.Generator().manual_seed(self._seed)
        self.module_ = SpikingNetwork(
            self._scaler.n_outputs,
            self._check_hidden_layer_sizes(),
            n_outputs,
            n_steps=self.n_steps,
            neuron=self._neuron_parameters(),
            encoder=self.encoder,
            readout=self._readout,
            generator=init_generator,
        ).to(self._device)
        self._optimizer = self._make_optimizer()
        self.loss_curve_ = []
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        self.n_iter_ = 0
        self.t_ = 0

    def _neuron_parameters(self):
        """The neuron model the parameters describe."""
        return LIFParameters(
            decay=self.decay, threshold=self.threshold, refractory_penalty=self.refractory_penalty,
            reset=getattr(self, "reset", "subtract"),  # an estimator pickled before the parameter existed
            surrogate=self.surrogate, detach_reset=self.detach_reset,
        )

    def compute_engine(self, rows=None, *, training=False):
        """The backend a fit or predict call runs the network with (:mod:`pynmsnn._engine`).

        Chosen from the rows, the hardware, ``precision`` and, at predict, the
        training data's firing rates (event-driven where they say it pays);
        resolved at each call, so a model moved to another machine adapts.

        Parameters
        ----------
        rows : torch.Tensor, default=None
            Scaled rows like those of the call; None takes float32 rows on
            :attr:`compute_device`.
        training : bool, default=False
            A fit (autograd) or an inference call.

        Returns
        -------
        pynmsnn._engine.Engine
        """
        check_is_fitted(self, "module_")
        rates = getattr(self, "firing_rates_", None)
        if rows is None:
            rows = torch.zeros((1, self.module_.layers[0].in_features), dtype=torch.float32, device=self._device)
        return choose_engine(
            self.module_, rows, training=training, precision=self.precision,
            firing_rates=None if rates is None else list(rates.values()),
        )

    def _set_rng_seed(self):
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _make_optimizer(self):
        """The optimizer of ``solver``: Adam, or SGD with momentum (lbfgs needs none, and gets Adam)."""
        weights = [layer.weight for layer in self.module_.layers]
        biases = [layer.bias for layer in self.module_.layers]
        settings = self._optimizer_settings()
        groups = [{"params": weights, **settings[0]}, {"params": biases, **settings[1]}]
        if self.solver == "sgd":
            return SGD(groups, momentum=self.momentum, nesterov=self.nesterovs_momentum)
        # torch.optim.Adam(fused=True)'s numbers, without importing torch's compiler (pynmsnn/_optim.py).
        return Adam(groups, betas=(self.beta_1, self.beta_2),
                    eps=self.epsilon)

    def _optimizer_settings(self):
        """The learning rate and weight decay of the weights' group and the biases' group."""
        # alpha is an L2 penalty on the weights (not the biases), scaled by the batch
        # size as in MLPClassifier; the optimizer's weight_decay adds exactly that gradient.
        batch = 200 if self.batch_size == "auto" else self.batch_size
        lr = self.learning_rate_init
        return [{"lr": lr, "weight_decay": self.alpha / batch}, {"lr": lr, "weight_decay": 0.0}]

    def _set_learning_rate(self, lr):
        for group in self._optimizer.param_groups:
            group["lr"] = float(lr)

    def _schedule_learning_rate(self):
        """After an epoch: with 'invscaling', SGD's step size becomes ``learning_rate_init / (t_ + 1) ** power_t``."""
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._set_learning_rate(self.learning_rate_init / (self.t_ + 1) ** self.power_t)

    def _plateau_stops(self):
        """On a plateau: with 'adaptive', SGD divides its step size by 5 and goes on, until it is 1e-6 or less."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            return True
        if self._optimizer.learning_rate <= 1e-6:
            return True
        self._set_learning_rate(self._optimizer.learning_rate / 5.0)
        return False

    def _network_config(self, n_outputs):
        """The network the parameters describe, as :meth:`SpikingNetwork.get_config` gives it."""
        return {
            "n_inputs": int(self._scaler.n_outputs),
            "hidden_layer_sizes": [int(h) for h in self._check_hidden_layer_sizes()],
            "n_outputs": int(n_outputs),
            "n_steps": int(self.n_steps),
            "encoder": self.encoder,
            "readout": self._readout,
            **dataclasses.asdict(self._neuron_parameters()),
        }

    def _check_continuation(self, incremental):
        """Refuse to continue the fitted network when a parameter that fixes its shape or meaning changed.

        Runs before anything of the fitted state changes, so a refused fit leaves
        the estimator as it was.
        """
        fitted = {**self.module_.get_config(), "preprocess": self._scaler.scaling_ == "minmax"}
        wanted = {**self._network_config(fitted["n_outputs"]), "preprocess": bool(self.preprocess)}
        for name, what in _FIXED_WHEN_CONTINUING.items():
            if fitted[name] == wanted[name]:
                continue
            how = "partial_fit continues" if incremental else "warm_start=True continues"
            fresh = "call fit with warm_start=False" if incremental else "set warm_start=False"
            old, new = (tuple(v) if isinstance(v, list) else v for v in (fitted[name], wanted[name]))
            raise ValueError(
                f"{type(self).__name__}: {how} the fitted network, but {name} changed from "
                f"{old!r} to {new!r} since it was fitted, which changes {what}. "
                f"To train a new network, {fresh}; to continue this one, set {name} back to {old!r}."
            )

    def _continue_network(self, incremental):
        """Make a continued fit's network and optimizer follow the parameters as they are now.

        The weights and the optimizer's state (Adam's running averages, SGD's
        velocities) carry over; the neuron parameters (``decay``, ``threshold``,
        ``refractory_penalty``, ``surrogate``, ``detach_reset``), ``alpha`` and
        the solver's settings are those of ``get_params()``, so the fitted
        network never disagrees with them. Another ``solver`` starts a fresh
        optimizer. The step size starts again at ``learning_rate_init`` in a
        warm-started fit; ``partial_fit`` keeps SGD's scheduled step size.
        """
        wanted = self._network_config(self.module_.get_config()["n_outputs"])
        kind = SGD if self.solver == "sgd" else Adam
        current = getattr(self, "_optimizer", None)
        moments = current.state_dict() if isinstance(current, kind) else None
        if wanted != self.module_.get_config():
            self.module_ = SpikingNetwork.from_config(wanted, self.module_.state_dict()).to(self._device)
        scheduled = [group["lr"] for group in current.param_groups] if current is not None else None
        self._optimizer = self._make_optimizer()
        if moments is not None:
            self._optimizer.load_state_dict(moments)
        keeps_schedule = incremental and self.solver == "sgd" and self.learning_rate != "constant"
        if keeps_schedule and moments is not None:
            for group, lr in zip(self._optimizer.param_groups, scheduled):
                group["lr"] = lr

    @property
    def _readout(self):
        return getattr(self, "readout", "membrane")

    def _batch_size(self, n_samples, rows_given=None):
        """Rows per minibatch: ``batch_size`` ('auto': 200) of the rows given, at most all of them.

        When identical rows were merged (``n_samples < rows_given``), an epoch
        still takes the steps the rows given would, each over an even share
        of the merged rows.
        """
        given = n_samples if rows_given is None else max(rows_given, n_samples)
        size = min(200 if self.batch_size == "auto" else self.batch_size, given)
        if given == n_samples:
            return size
        return -(-n_samples // -(-given // size))  # n_samples over ceil(given / size) steps, rounded up

    def _split_validation(self, X, targets, y, weights, early_stopping):
        """``(X, targets, weights)`` to train on and ``(X, y, weights)`` to validate on (None without early stopping)."""
        if not early_stopping:
            return (X, targets, weights), None
        stratify = y if self._stratify_validation(y) else None
        arrays = [X, targets, y] if weights is None else [X, targets, y, weights]
        parts = train_test_split(*arrays, test_size=self.validation_fraction,
                                 random_state=self._seed, stratify=stratify)
        X_train, X_val, t_train, _, _, y_val = parts[:6]
        w_train, w_val = parts[6:] if weights is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small: validation_fraction={self.validation_fraction} leaves "
                f"{X_val.shape[0]} validation sample(s); raise it, use more rows, or set early_stopping=False."
            )
        return (X_train, t_train, w_train), (X_val, y_val, w_val)

    def _stratify_validation(self, y):
        return False

    def _train(self, inputs, targets, weights, validation, n_epochs, early_stopping, incremental, rows_given=None):
        """Run epochs of minibatch Adam; stop on a plateau; keep the best weights.

        ``weights`` (mean 1, or None for all ones) weigh each row's loss;
        ``validation`` is ``(X, y, sample_weight)`` with early stopping.

        The state at the end of the last good epoch is kept aside (cloned once
        per epoch, never per batch). When an epoch's loss or weights turn NaN or
        infinite, or Ctrl-C interrupts it, training rolls back to that state,
        warns and stops; with no good epoch at all it raises instead.
        """
        n_samples = inputs.shape[0]
        batch_size = self._batch_size(n_samples, rows_given)
        self._keep_freed_memory(batch_size, copies=6)  # current, membrane, spikes and their gradients
        epochs_before = len(self.loss_curve_)  # every epoch of every call, unlike n_iter_
        generator = torch.Generator()
        device_generator = generator if self._device.type == "cpu" else torch.Generator(device=self._device)
        if early_stopping and self.validation_scores_ is None:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        # As in MLPClassifier: the training loss does not pick the model under early stopping.
        if early_stopping:
            self.best_loss_ = None
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf
        best_state = None
        # partial_fit counts epochs without progress across calls, as MLPClassifier does.
        no_improvement = getattr(self, "_no_improvement_count", 0) if incremental else 0
        # A model that has finished an epoch has a state to roll back to.
        good_state = self._snapshot() if epochs_before else None
        epochs = self._progress(range(n_epochs))
        engine = self.compute_engine(inputs[:1], training=True)
        self.module_.train()
        for _ in epochs:
            # Each epoch draws from a seed of its own: n epochs of fit are n calls of partial_fit.
            generator.manual_seed(self._seed + len(self.loss_curve_))
            if device_generator is not generator:
                device_generator.manual_seed(self._seed + len(self.loss_curve_))
            try:
                loss = self._run_epoch(inputs, targets, weights, batch_size, generator, device_generator, engine)
                finite = self._is_finite(loss)
                score = self._validation_score(*validation) if early_stopping and finite else None
            except KeyboardInterrupt:
                if good_state is None:  # nothing finished: unfitted, and the interrupt goes on
                    self._forget_fit()
                    raise
                self._roll_back(good_state, interrupted=True)
                break
            if not finite:
                self._roll_back(good_state, loss=loss)
                break
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_ = loss
            self.loss_curve_.append(loss)
            good_state = self._snapshot()
            if early_stopping:
                self.validation_scores_.append(score)
                improved = score > self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_state = good_state["module"]
            else:
                improved = loss < self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, loss)
            no_improvement = 0 if improved else no_improvement + 1
            self._no_improvement_count = no_improvement
            self._report(epochs, loss)
            self._schedule_learning_rate()
            if no_improvement > self.n_iter_no_change:
                if self._plateau_stops():
                    break
                no_improvement = self._no_improvement_count = 0
        else:
            if not incremental and n_epochs == self.max_iter:
                warnings.warn(self._max_iter_message(), ConvergenceWarning)
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()

    def _train_lbfgs(self, inputs, targets, weights):
        """Fit every row at once with L-BFGS-B (scipy), as MLPClassifier's ``solver='lbfgs'``.

        The function minimized is the weighted mean loss, plus ``spike_penalty``
        times the firing rate, plus ``alpha / (2 n_samples)`` times the squared
        weights; its gradient is the surrogate gradient of backpropagation
        through time, in float64 for scipy. Random encoders draw the same noise
        at every evaluation, so the function is deterministic. Training stops
        after ``max_iter`` iterations or ``max_fun`` evaluations (with a
        ConvergenceWarning, as in MLPClassifier), when the largest gradient
        component is below ``tol``, or when the line search finds no step
        that lowers the loss, where spikes make it jump.
        """
        from scipy.optimize import minimize

        params = [p for layer in self.module_.layers for p in (layer.weight, layer.bias)]
        engine = self.compute_engine(inputs[:1], training=True)
        seed = self._seed + len(self.loss_curve_)
        start = _flatten(params)
        evaluated = {}
        self.module_.train()

        def loss_and_gradient(flat):
            _assign(params, flat)
            generator = torch.Generator(device=self._device).manual_seed(seed)
            for parameter in params:
                parameter.grad = None
            loss = self._penalized_loss(inputs, targets, weights, generator, engine)
            squares = sum((layer.weight**2).sum() for layer in self.module_.layers)
            loss = loss + 0.5 * self.alpha / inputs.shape[0] * squares
            loss.backward()
            value = float(loss.detach())
            evaluated[flat.tobytes()] = value
            return value, np.concatenate([p.grad.detach().double().cpu().numpy().ravel() for p in params])

        losses = []
        good_state = self._snapshot() if self.loss_curve_ else None
        result = minimize(
            loss_and_gradient, start, method="L-BFGS-B", jac=True,
            callback=lambda x: losses.append(evaluated.get(x.tobytes(), np.nan)),
            options={"maxiter": self.max_iter, "maxfun": self.max_fun, "gtol": self.tol},
        )
        if not np.isfinite(result.fun) or not np.isfinite(result.x).all():
            self._roll_back(good_state, loss=result.fun)  # without a state to return to, it raises
            self.module_.eval()
            return
        _assign(params, result.x)
        self.module_.eval()
        self.n_iter_ = int(result.nit)
        self.loss_ = float(result.fun)
        self.loss_curve_.extend(losses)
        self.best_loss_ = min([self.loss_, *losses])
        if result.status == 1:  # the limit of iterations or evaluations
            warnings.warn(
                f"{type(self).__name__}: lbfgs stopped after {result.nit} iteration(s) and {result.nfev} loss "
                f"evaluation(s) (max_iter={self.max_iter}, max_fun={self.max_fun}) before converging; "
                "raise them to train longer.",
                ConvergenceWarning,
            )

    def _snapshot(self):
        """The weights and optimizer state now, cloned: what a roll back returns to."""
        return {
            "module": {name: tensor.detach().clone() for name, tensor in self.module_.state_dict().items()},
            "optimizer": copy.deepcopy(self._optimizer.state_dict()),  # Adam's moments, cloned
        }

    def _is_finite(self, loss):
        """Whether an epoch's mean loss and the weights after it are all finite."""
        if not np.isfinite(loss):
            return False
        return bool(torch.stack([torch.isfinite(p).all() for p in self.module_.parameters()]).all())

    def _roll_back(self, good_state, loss=None, interrupted=False):
        """Return to ``good_state`` after a diverged or interrupted epoch, and say so.

        A divergence without a good state (no epoch ever finished) leaves the
        estimator unfitted and raises a ValueError.
        """
        name, epoch = type(self).__name__, self.n_iter_ + 1
        if good_state is None:
            self._forget_fit()
            raise ValueError(self._divergence_message(epoch, loss, first=True))
        self._restore(good_state)
        if interrupted:
            message = (
                f"{name}: training interrupted (KeyboardInterrupt) in epoch {epoch}; the model "
                f"keeps the weights of epoch {self.n_iter_}, the last finished one. Fit again "
                "with warm_start=True, or call partial_fit, to go on training."
            )
        else:
            message = self._divergence_message(epoch, loss)
        warnings.warn(message, RuntimeWarning, stacklevel=5)  # at the caller of fit

    def _divergence_message(self, epoch, loss, first=False):
        """What a diverged epoch did and the fix; ``loss`` is its mean loss, None when the weights diverged."""
        name = type(self).__name__
        finite_loss = loss is None or np.isfinite(loss)
        what = "its weights became NaN or infinite" if finite_loss else f"its mean loss was {loss}"
        if first:
            return (
                f"{name}: training diverged in its first epoch ({what}). {self._divergence_advice()}; the "
                "estimator is left unfitted."
            )
        return (
            f"{name}: training diverged in epoch {epoch} ({what}); rolled back to the weights "
            f"of epoch {epoch - 1}, the last good one, and stopped. {self._divergence_advice()} "
            "to train further."
        )

    def _divergence_advice(self):
        """What to lower after a divergence: parameters far above their usual range, else the learning rate."""
        defaults = type(self)().get_params()
        suspects = [
            f"{param} (now {getattr(self, param):g}), far above its usual range (at most {maximum:g}; "
            f"the default is {defaults[param]:g})"
            for param, maximum in USUAL_MAXIMUM.items()
            if getattr(self, param, 0.0) > maximum
        ]
        if suspects:
            return "Lower " + " and ".join(suspects)
        lr = self.learning_rate_init
        return f"Lower learning_rate_init (now {lr:g}), e.g. to {min(lr / 10, 1e-3):g}"

    def _max_iter_message(self):
        return (
            f"{type(self).__name__}: stopped after max_iter={self.max_iter} epochs "
            "before the loss stopped improving; raise max_iter to train longer."
        )

    def _restore(self, state):
        self.module_.load_state_dict(state["module"])
        self._optimizer.load_state_dict(state["optimizer"])

    def _forget_fit(self):
        """Drop every fitted attribute, so that the estimator is unfitted again."""
        keep = set(self.get_params(deep=False))
        for name in list(vars(self)):
            # scikit-learn's own settings (set_output, metadata routing) are not fitted state,
            # and neither is an instance attribute that overrides one of the class (a wrapped method).
            if name not in keep and not _is_sklearn_setting(name) and not hasattr(type(self), name):
                delattr(self, name)

    def _run_epoch(self, inputs, targets, weights, batch_size, generator, device_generator, engine):
        """One pass over the data in shuffled minibatches; returns the mean loss."""
        n_samples = inputs.shape[0]
        order = torch.randperm(n_samples, generator=generator) if self.shuffle else torch.arange(n_samples)
        order = order.to(inputs.device)
        total = torch.zeros((), device=inputs.device)
        for start in range(0, n_samples, batch_size):
            index = order[start : start + batch_size]
            batch_weights = None if weights is None else weights[index]
            total += self._train_step(inputs[index], targets[index], batch_weights, device_generator,
                                      engine) * len(index)
        return float(total) / n_samples

    def _train_step(self, inputs, targets, weights, generator, engine):
        """Forward, loss, backward and one optimizer step on a minibatch."""
        self._optimizer.zero_grad()
        loss = self._penalized_loss(inputs, targets, weights, generator, engine)
        loss.backward()
        self._optimizer.step()
        return loss.detach()

    def _penalized_loss(self, inputs, targets, weights, generator, engine):
        """The minibatch loss plus ``spike_penalty`` times the hidden layers' mean firing rate.

        The loss is the mean of the rows' losses times their ``weights`` (mean 1
        over the training rows, so a batch's loss estimates the weighted mean).
        """
        penalty = getattr(self, "spike_penalty", 0.0)
        if not penalty or not len(self.module_.hidden):
            return self._loss(self.module_(inputs, generator=generator, engine=engine), targets, weights)
        output, rates = self.module_.forward_with_rates(inputs, generator=generator, engine=engine)
        return self._loss(output, targets, weights) + penalty * rates.mean()

    def _progress(self, epochs):
        if not self.verbose or self.verbose >= 2:
            return epochs
        from tqdm.auto import tqdm

        return tqdm(epochs, desc=type(self).__name__, unit="epoch")

    def _report(self, epochs, loss):
        """With verbose >= 2, print MLPClassifier's line per epoch; with verbose=True, update the bar."""
        if self.verbose >= 2:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            return
        if not self.verbose:
            return
        postfix = {"loss": f"{loss:.4f}"}
        if self.validation_scores_:
            postfix["val_score"] = f"{self.validation_scores_[-1]:.4f}"
        epochs.set_postfix(postfix)

    # -------------------------------------------------------------- predict
    def _forward(self, X):
        """The network's output for ``X`` as a float64 numpy array, in batches.

        Wide one-hot blocks are folded into the first layer rather than written
        out (``pynmsnn/_folding.py``): memory and time grow with the rows, not
        with rows times categories.
        """
        check_is_fitted(self, "module_")
        numeric, codes = self._prepare_X(X, reset=False, encoded=True)
        module, inputs = fold_one_hot(self.module_, numeric, codes, self._scaler.category_counts)
        return self._forward_scaled(inputs, module)

    def _keep_freed_memory(self, n_rows, copies):
        """On a CPU, keep the memory a minibatch frees for the next (see ``pynmsnn/_malloc.py``)."""
        if self._device.type == "cpu":
            module = self.module_
            values = n_rows * module.n_steps * sum(layer.out_features for layer in module.layers)
            keep_freed_memory(copies * 4 * values)

    def _forward_scaled(self, inputs, module=None):
        """Network output for scaled rows, in fixed-size chunks without autograd.

        ``module`` is the network to run, ``module_`` by default (or its folded
        copy, see :meth:`_forward`).
        """
        module = self.module_ if module is None else module
        module.eval()
        n_rows = inputs.shape[0]
        outputs = np.empty((n_rows, module.output.out_features))
        # The folded copy has module_'s hidden layers and neurons: the same engine.
        engine = self.compute_engine()
        if engine.inference == "event":
            return self._forward_event_driven(inputs, outputs, module, engine)
        size = predict_chunk_rows(module.n_steps, [layer.out_features for layer in module.layers])
        self._keep_freed_memory(size, copies=3)  # current, membrane, spikes
        chunk = torch.zeros((size, inputs.shape[1]), dtype=torch.float32, device=self._device)
        with torch.inference_mode():
            for start in range(0, n_rows, size):
                rows = inputs[start : start + size]
                chunk[: len(rows)] = torch.as_tensor(rows)
                chunk[len(rows) :] = 0.0
                outputs[start : start + len(rows)] = module(chunk, engine=engine)[: len(rows)].double().cpu().numpy()
        return outputs

    def _forward_event_driven(self, inputs, outputs, module, engine):
        """:meth:`_forward_scaled` when the network infers a row at a time (``pynmsnn/_events.py``).

        A row's output does not depend on the others, so the rows go in large
        chunks with no padding; a chunk's memory is its rows and outputs.
        """
        with torch.inference_mode():
            for start in range(0, len(inputs), EVENT_CHUNK_ROWS):
                rows = torch.as_tensor(inputs[start : start + EVENT_CHUNK_ROWS], dtype=torch.float32)
                outputs[start : start + len(rows)] = module(rows, engine=engine).double().numpy()
        return outputs

    def simulate(self, X):
        """Record the spikes and membranes of every layer at every step for ``X``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Rows to simulate (keep it to a few hundred: the record holds
            ``n_steps x n_samples x width`` values per layer).

        Returns
        -------
        pynmsnn.network.SpikeRecord
            Numpy arrays of the input, spikes and membranes per layer, the
            output, and the layer and input names.
        """
        inputs = torch.as_tensor(self._prepare_X_fitted(X), device=self._device)
        engine = self.compute_engine()
        self.module_.eval()
        with torch.inference_mode():
            record = self.module_.forward_reference(inputs, record=True, engine=engine)
        record.input_names = self.get_input_names()
        return record.to_numpy()

    def activity_report(self, X, **energies):
        """Firing rates, synaptic operations and energy per layer for ``X``.

        See :func:`pynmsnn.activity.activity_report`, which this calls.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Rows to run.
        **energies : float
            ``e_ac`` and ``e_mac``, the energy of an accumulate and of a
            multiply-accumulate in pJ (default 0.9 and 4.6).

        Returns
        -------
        pandas.DataFrame
            One row per layer and a total.
        """
        return activity_report(self, X, **energies)

    def _staged_outputs(self, X):
        """Readout after each step ``t = 1..n_steps`` from the first ``t`` steps only.

        An array of shape (n_steps, n_samples, n_outputs): the readout membrane
        averaged over the first ``t`` steps, or the spikes counted so far.
        """
        inputs = self._prepare_X_fitted(X)
        module = self.module_
        module.eval()
        engine = self.compute_engine()
        stages = np.empty((module.n_steps, inputs.shape[0], module.output.out_features))
        steps = torch.arange(1, module.n_steps + 1, device=self._device).view(-1, 1, 1)
        # A record holds every layer's spikes and membranes: half a predict chunk.
        size = predict_chunk_rows(module.n_steps, [layer.out_features for layer in module.layers]) // 2
        with torch.inference_mode():
            for start in range(0, inputs.shape[0], size):
                rows = torch.as_tensor(inputs[start : start + size], dtype=torch.float32, device=self._device)
                record = module.forward_reference(rows, record=True, engine=engine)
                if module.readout == "spikes":
                    so_far = record.spikes[-1].cumsum(0)
                else:
                    so_far = record.membranes[-1].cumsum(0) / steps
                stages[:, start : start + len(rows)] = so_far.double().cpu().numpy()
        return stages

    def _prepare_X_fitted(self, X):
        check_is_fitted(self, "module_")
        return self._prepare_X(X, reset=False)

    # ------------------------------------- the estimator's state, for other modules
    @classmethod
    def parameter_constraints(cls):
        """What ``fit`` checks each parameter against.

        Returns
        -------
        dict of str to list
            ``{name: [constraint, ...]}`` in the form of scikit-learn's
            ``_parameter_constraints`` (``Interval``, ``StrOptions``, type names).
        """
        return dict(cls._parameter_constraints)

    def _validate_params(self):
        """Check the parameters against ``_parameter_constraints`` (:mod:`pynmsnn._params`)."""
        validate(self.get_params(deep=False), self._parameter_constraints, type(self).__name__)

    def check_params(self):
        """Check the parameters as ``fit`` does.

        Raises
        ------
        ValueError
            Naming the first parameter whose value is out of range, with the
            values it may take (:class:`pynmsnn._params.InvalidParameterError`,
            also a TypeError, for most, worded as scikit-learn's).
        """
        self._check_activation()
        self._validate_params()
        self._check_hidden_layer_sizes()
        check_device(self.device, type(self).__name__)

    def _check_activation(self):
        """MLPClassifier's ``activation`` has no meaning here: say what to set instead."""
        activation = getattr(self, "activation", None)
        if activation is not None:
            raise InvalidParameterError(
                f"The 'activation' parameter of {type(self).__name__} must be None: a spiking network's "
                f"hidden units fire spikes (0 or 1), so there is no activation function to choose. Got "
                f"{activation!r}. What plays its part in training is the derivative used for the spike, "
                f"surrogate= one of {sorted(SURROGATES)} (now {self.surrogate!r})."
            )

    def transform_inputs(self, X):
        """``X`` as the fitted network takes it.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Rows with the columns of fit.

        Returns
        -------
        ndarray of shape (n_samples, n_inputs), float32
            Numeric columns scaled to [0, 1] (clipped) and categorical ones
            one-hot encoded, in the order of :meth:`get_input_names`.
        """
        return self._prepare_X_fitted(X)

    @property
    def preprocessor_(self):
        """The fitted input step, as a :class:`pynmsnn.preprocessing.TableScaler`; None with ``preprocess=False``.

        A copy: transforming rows with it gives what the network takes
        (:meth:`transform_inputs`), and changing it changes nothing here.
        """
        check_is_fitted(self, "module_")
        if self._scaler.scaling_ == "none":
            return None
        from .preprocessing import TableScaler

        return TableScaler.from_encoding(copy.deepcopy(self._scaler), self.n_features_in_,
                                         getattr(self, "feature_names_in_", None))

    def get_input_names(self):
        """The name of each input of the fitted network.

        Returns
        -------
        list of str
            A column's name, or ``column=value`` for a one-hot input.
        """
        check_is_fitted(self, "module_")
        return list(self._scaler.output_names)

    @property
    def coefs_(self):
        """The weights of each layer, first to readout, as MLPClassifier's ``coefs_``.

        ``coefs_[i]`` has shape ``(n_inputs of layer i, n_units of layer i)``:
        read-only float32 copies, so changing them changes nothing.
        """
        check_is_fitted(self, "module_")
        return [_read_only(layer.weight.detach().cpu().numpy().T) for layer in self.module_.layers]

    @property
    def intercepts_(self):
        """The bias of each layer's units, first to readout: read-only float32 copies."""
        check_is_fitted(self, "module_")
        return [_read_only(layer.bias.detach().cpu().numpy()) for layer in self.module_.layers]

    @property
    def n_layers_(self):
        """The number of layers, input and readout included, as in MLPClassifier."""
        check_is_fitted(self, "module_")
        return len(self.module_.layers) + 1

    @property
    def compute_device(self):
        """The ``torch.device`` the fitted network runs on."""
        check_is_fitted(self, "module_")
        return self._device

    def get_fitted_state(self):
        """What rebuilds this fitted estimator: plain values and the network's tensors.

        Returns
        -------
        metadata : dict
            ``estimator`` (the class name), ``params`` (``get_params(deep=False)``),
            ``network`` (``module_.get_config()``), ``scaler`` (the fitted input
            scaling) and ``attributes`` (every other fitted attribute, by name).
            Values are None, numbers, strings, booleans, lists, tuples, dicts,
            numpy arrays and scalars, ``torch.device`` and ``RandomState``
            instances, copied. scikit-learn's own settings (metadata routing
            requests, ``set_output``) are not fitted state and are left out.
        state_dict : dict of str to torch.Tensor
            The network's weights and biases, cloned to the CPU.

        See Also
        --------
        from_fitted_state : The inverse.
        """
        check_is_fitted(self, "module_")
        params = self.get_params(deep=False)
        attributes = {
            name: value for name, value in vars(self).items()
            if name not in params and name not in _REBUILT_STATE and not _is_sklearn_setting(name)
        }
        metadata = {
            "estimator": type(self).__name__,
            "params": copy.deepcopy(params),
            "network": self.module_.get_config(),
            "scaler": copy.deepcopy(self._scaler.get_state()),
            "attributes": copy.deepcopy(attributes),
        }
        state_dict = {name: tensor.detach().cpu().clone() for name, tensor in self.module_.state_dict().items()}
        return metadata, state_dict

    @classmethod
    def from_fitted_state(cls, metadata, state_dict):
        """The fitted estimator that :meth:`get_fitted_state` described, every field checked.

        The parameters pass the checks of ``fit``; the input scaling, the
        targets (classes or target scaling) and the fitted attributes have the
        types and shapes ``fit`` gives them; the network is the one the
        parameters describe, and its tensors have its shapes and are finite.
        The model runs on a CUDA GPU when its ``device`` parameter allows and
        torch sees one, else on the CPU, with a fresh optimizer.

        Parameters
        ----------
        metadata : dict
            The keys of :meth:`get_fitted_state`'s metadata.
        state_dict : dict of str to torch.Tensor
            The network's weights and biases.

        Returns
        -------
        BaseSNN
            A fitted instance of ``cls``.

        Raises
        ------
        ValueError
            Naming the first field that is missing, of the wrong type or shape,
            out of range, not finite, or that disagrees with another.
        """
        _check_keys(metadata, ["estimator", "params", "network", "scaler", "attributes"], "the fitted state")
        if metadata["estimator"] != cls.__name__:
            raise ValueError(
                f"the fitted state is of a {metadata['estimator']!r}, not of a {cls.__name__}; "
                f"rebuild it with that class."
            )
        params = cls._check_param_names(metadata["params"])
        return cls(**params)._restore_fitted_state(metadata, state_dict)

    @classmethod
    def _check_param_names(cls, params):
        """``params``, when it is a dict of parameters this class has."""
        if not isinstance(params, dict):
            raise ValueError(f"the parameters must be a dict, got {type(params).__name__}.")
        unknown = sorted(set(params) - set(cls().get_params(deep=False)), key=str)
        if unknown:
            raise ValueError(f"parameters {unknown} are unknown to {cls.__name__} in this pynmsnn version.")
        return params

    def _restore_fitted_state(self, metadata, state_dict):
        """Check and set the fitted state on an estimator made with its parameters; returns it."""
        self.check_params()
        self._set_fitted_attributes(metadata["attributes"])
        self._scaler = TableEncoding.from_state(metadata["scaler"])
        if (self._scaler.scaling_ == "minmax") != bool(self.preprocess):
            raise ValueError(
                f"the input scaling is {self._scaler.scaling_!r}, but the parameters say "
                f"preprocess={self.preprocess!r}; they must agree."
            )
        n_outputs = self._check_fitted_targets()
        self._check_fitted_history()
        config = self._network_config(n_outputs)
        _check_same_network(metadata["network"], config)
        module = SpikingNetwork.from_config(config)
        _check_tensors(module, state_dict)
        module.load_state_dict(state_dict, strict=True)
        self._device = fitted_device(self.device)
        self.module_ = module.to(self._device).eval()
        self._optimizer = self._make_optimizer()
        return self

    def _set_fitted_attributes(self, attributes):
        """Set the fitted attributes by name: plain names only, never a parameter or rebuilt state."""
        if not isinstance(attributes, dict):
            raise ValueError(f"the fitted attributes must be a dict, got {type(attributes).__name__}.")
        params = set(self.get_params(deep=False))
        for name, value in attributes.items():
            taken = name in _REBUILT_STATE or name in params or hasattr(type(self), name)
            if not _ATTRIBUTE_NAME.match(name) or taken:
                raise ValueError(
                    f"unexpected fitted attribute name {name!r}: not a plain name, or one that "
                    "names a parameter, a method or the network, scaling or optimizer."
                )
            setattr(self, name, value)

    def _refuse_attributes(self, names, owner):
        """Raise a ValueError when fitted attributes that belong to an ``owner`` class are set."""
        found = [name for name in names if name in vars(self)]
        if found:
            raise ValueError(
                f"the fitted state of an {type(self).__name__} holds {found}, which belong to an "
                f"{owner}; it describes another kind of estimator."
            )

    def _check_fitted_history(self):
        """The fitted attributes every estimator has: their types, and shapes that match the scaling."""
        n_features = getattr(self, "n_features_in_", None)
        if not _is_int(n_features) or n_features != len(self._scaler.names_):
            raise ValueError(
                f"the fitted attribute n_features_in_ is {n_features!r}, but the input scaling has "
                f"{len(self._scaler.names_)} columns; they must match."
            )
        names = getattr(self, "feature_names_in_", None)
        if names is not None and (not isinstance(names, np.ndarray) or names.shape != (n_features,)):
            raise ValueError(
                f"the fitted attribute feature_names_in_ must be an array of {n_features} column names, "
                f"got shape {np.shape(names)}."
            )
        for name in ("n_iter_", "_seed"):
            value = getattr(self, name, None)
            if not _is_int(value) or value < 0:
                raise ValueError(f"the fitted attribute {name} must be a non-negative int, got {value!r}.")
        losses = getattr(self, "loss_curve_", None)
        if not isinstance(losses, list):
            raise ValueError(f"the fitted attribute loss_curve_ must be a list of losses, got {losses!r:.200}.")
        rates = getattr(self, "firing_rates_", None)
        n_hidden = len(self._check_hidden_layer_sizes())
        expected = [f"hidden {i + 1}" for i in range(n_hidden)]
        if rates is not None and (
            not isinstance(rates, dict) or list(rates) != expected
            or not all(isinstance(r, float) and 0.0 <= r <= 1.0 for r in rates.values())
        ):
            raise ValueError(
                f"the fitted attribute firing_rates_ must map {expected} to rates in [0, 1], got {rates!r}."
            )

    def _validation_score(self, X_val, y_val, sample_weight):
        was_training = self.module_.training
        score = self._score_outputs(self._forward_scaled(X_val), y_val, sample_weight)
        self.module_.train(was_training)
        return score

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = True  # densified, as MLPClassifier accepts sparse X
        # DataFrame columns of text, categories or booleans are one-hot encoded.
        tags.input_tags.categorical = bool(self.preprocess)
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: popping must not touch self
        state.pop("_device", None)
        module = state.get("module_")
        if module is not None and module.output.weight.device.type != "cpu":
            # Pickles hold CPU tensors so that a model trained on a GPU loads anywhere.
            state["module_"] = copy.deepcopy(module).cpu()
            state.pop("_optimizer", None)  # its moments live on the GPU; rebuilt on the next fit
        return state

    def __setstate__(self, state):
        # A parameter added since the estimator was pickled takes its default.
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        super().__setstate__(state)
        if "module_" in state:
            self._device = fitted_device(self.device)
            self.module_.to(self._device)


def _read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def _flatten(params):
    """The parameters as one float64 vector, for scipy."""
    return np.concatenate([p.detach().double().cpu().numpy().ravel() for p in params])


@torch.no_grad()
def _assign(params, flat):
    """Set the parameters from one float64 vector, in the order of :func:`_flatten`."""
    start = 0
    for parameter in params:
        size = parameter.numel()
        values = torch.as_tensor(flat[start : start + size].reshape(parameter.shape), dtype=parameter.dtype)
        parameter.copy_(values.to(parameter.device))
        start += size


def _is_sklearn_setting(name):
    """Whether an instance attribute is scikit-learn's own setting (set_output, metadata routing requests)."""
    return name.startswith(("_sklearn", "_metadata_request"))


def _epochs_without_improvement(loss_curve, tol):
    """How many epochs in a row at the end of ``loss_curve`` did not improve on the best loss by ``tol``."""
    best, count = np.inf, 0
    for loss in loss_curve:
        count = 0 if loss < best - tol else count + 1
        best = min(best, loss)
    return count


def _normalized(weights, device):
    """Training weights scaled to mean 1, as a float32 tensor; None when they are all alike."""
    if weights is None or (weights == weights[0]).all():
        return None
    return torch.as_tensor(weights / weights.mean(), dtype=torch.float32, device=device)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_keys(mapping, keys, what):
    """Raise a ValueError naming the keys of ``mapping`` that are missing or unknown."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{what} must be a dict of {keys}, got {type(mapping).__name__}.")
    missing = [key for key in keys if key not in mapping]
    unknown = sorted(set(mapping) - set(keys), key=str)
    if missing or unknown:
        found = (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else "")
        raise ValueError(f"{what} must hold exactly {keys}{found}.")


def _check_same_network(stored, config):
    """The stored network description must be the network the parameters and scaling describe."""
    _check_keys(stored, list(config), "the network description")
    source = {"n_inputs": "the input scaling", "n_outputs": "the targets"}
    for key, value in config.items():
        if stored[key] != value:
            raise ValueError(
                f"the network was saved with {key}={stored[key]!r}, but {source.get(key, 'the parameters')} "
                f"give {key}={value!r}; they must agree."
            )


def _check_tensors(module, state_dict):
    """``state_dict`` must hold the module's tensors by name, of its shapes, floating point and finite."""
    if not isinstance(state_dict, dict):
        raise ValueError(f"the weights must be a dict of tensors, got {type(state_dict).__name__}.")
    expected = module.state_dict()
    _check_keys(state_dict, list(expected), "the weights")
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ValueError(f"the weight tensor {name!r} must be a floating-point tensor, got {tensor!r:.80}.")
        if tensor.shape != expected[name].shape:
            raise ValueError(
                f"the weight tensor {name!r} has shape {tuple(tensor.shape)}, but the network needs "
                f"{tuple(expected[name].shape)}."
            )
        bad = (~torch.isfinite(tensor)).sum().item()
        if bad:
            raise ValueError(f"the weight tensor {name!r} holds {bad} NaN or infinite value(s).")
