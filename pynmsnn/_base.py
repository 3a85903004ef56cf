"""The shared estimator: validation, preprocessing, training loop and inference."""

import copy
import functools
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    check_is_fitted,
)

from ._cpu import cpu_has_native_bf16
from ._engine_info import warn_if_kernel_missing
from ._events import event_driven_pays
from ._malloc import keep_freed_memory
from ._tabular import TableScaler, check_finite, is_dataframe, non_number_error
from .activity import activity_report, calibrate_firing, check_firing_health
from .encoders import ENCODERS
from .network import SpikingNetwork
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


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was asked for but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use device='auto' or device='cpu'."
        )
    return torch.device(device)


def spike_matmul_dtype(precision, device):
    """The dtype of spike-input matmuls for a ``precision`` parameter on ``device``."""
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_native_bf16() else None


def _shorten(names, limit=10):
    """A list for a message, cut after ``limit`` items."""
    names = [str(name) for name in names]
    return str(names) if len(names) <= limit else f"{names[:limit]} and {len(names) - limit} more"


class BaseSNN(BaseEstimator):
    """Base class of the spiking estimators; not for direct use.

    Subclasses define ``_check_y``, ``_encode_targets``, ``_n_outputs``,
    ``_loss`` and ``_score_outputs``.
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "decay": [Interval(Real, 0, 1, closed="both")],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "refractory_penalty": [Interval(Real, 0, None, closed="left")],
        "surrogate": [StrOptions(set(SURROGATES))],
        "detach_reset": ["boolean"],
        "encoder": [StrOptions(set(ENCODERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "spike_penalty": [Interval(Real, 0, None, closed="left")],
        "init_firing_rate": [Interval(Real, 0, 1, closed="neither"), None],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
    }

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y, incremental=False, classes=None):
        """Fit on ``(X, y)``: a full fit, or one more epoch when ``incremental``."""
        self._validate_params()
        warn_if_kernel_missing(self.device)
        self._check_hidden_layer_sizes()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        first_pass = not hasattr(self, "module_") or (not self.warm_start and not incremental)
        X = self._prepare_X(X, reset=first_pass)
        y = self._check_y(y, n_samples=X.shape[0])
        targets = self._encode_targets(y, reset=first_pass, classes=classes)
        if first_pass:
            self._initialize(n_outputs=self._n_outputs(targets))
            calibrate_firing(self, X)  # only with init_firing_rate
        else:
            if not incremental:
                self._set_rng_seed()
            if not hasattr(self, "_optimizer"):
                self._optimizer = self._make_optimizer()
        early_stopping = self.early_stopping and not incremental
        X_train, y_train, X_val, y_val = self._split_validation(X, targets, y, early_stopping)
        device = self._device
        inputs = torch.as_tensor(X_train, device=device)
        targets = torch.as_tensor(y_train, device=device)
        self._train(inputs, targets, X_val, y_val, n_epochs=1 if incremental else self.max_iter,
                    early_stopping=early_stopping, incremental=incremental)
        if not incremental:  # partial_fit stays cheap; a chunk's health is one call away
            self.firing_rates_ = check_firing_health(self, inputs)
        return self

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(not isinstance(h, Integral) or h < 1 for h in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}; "
                "e.g. hidden_layer_sizes=(100,) or (128, 64)."
            )
        return sizes

    def _prepare_X(self, X, reset):
        """Validate ``X`` and scale it to [0, 1] (fitting the scaler when ``reset``).

        Bad input raises a ValueError or TypeError that names the column, value
        or shape and the fix. DataFrame columns are matched by position, as in
        scikit-learn: missing, extra or reordered columns are an error that
        says to pass ``X[model.feature_names_in_]``.
        """
        self._check_column_names(X, reset)
        if is_dataframe(X):
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}); X must have rows.")
            if X.shape[1] == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required; "
                    "X must have at least one column."
                )
        else:
            X = self._check_array_X(X)
        self._check_X_shape(X, reset)
        if reset:
            self._scaler = TableScaler().fit(X)
        elif self._scaler.categorical_ and not is_dataframe(X):
            columns = [self._scaler.names_[j] for j in self._scaler.categorical_]
            raise TypeError(
                f"{type(self).__name__} was fitted on a DataFrame with categorical columns "
                f"{_shorten(columns)}; pass a DataFrame with the columns of fit, not a "
                f"{type(X).__name__}."
            )
        return self._scaler.transform(X)

    def _check_column_names(self, X, reset):
        """scikit-learn's check of DataFrame column names, its message ending with the fix."""
        try:
            _check_feature_names(self, X, reset=reset)
        except ValueError as error:
            names = list(self.feature_names_in_)
            raise ValueError(
                f"{error}Pass the columns of fit, in their order: X[model.feature_names_in_], "
                f"which is {_shorten(names)}."
            ) from None

    def _check_array_X(self, X):
        """A numeric array from ``X``, or an error that says which value is wrong and the fix."""
        if sparse.issparse(X):
            raise TypeError(
                f"X is a sparse matrix of shape {X.shape}; {type(self).__name__} needs dense input. "
                f"Pass X.toarray() ({X.shape[0] * X.shape[1] * 8 / 2**20:,.1f} MB as float64) if it "
                "fits in memory, else reduce its columns first (sklearn.decomposition.TruncatedSVD)."
            )
        kind = getattr(getattr(X, "dtype", None), "kind", None)
        if kind in ("M", "m"):
            raise TypeError(
                f"X holds dates or times (dtype {X.dtype}); the network needs numbers. Convert "
                "them first, e.g. to seconds: (X - X.min()) / np.timedelta64(1, 's')."
            )
        if kind == "c":
            raise ValueError(
                f"Complex data not supported: X has dtype {X.dtype}; use its real part or "
                "magnitude instead (X.real or abs(X))."
            )
        try:
            X = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False,
                            estimator=self, input_name="X")
        except (TypeError, ValueError) as error:
            clear = non_number_error(X)
            if clear is None:
                raise error
            raise clear from None
        check_finite(X, list(range(X.shape[1])))
        return X

    def _check_X_shape(self, X, reset):
        """Enough rows to learn the scaling from; the number of columns of fit."""
        name = type(self).__name__
        if reset and X.shape[0] < 2:
            raise ValueError(
                f"X has 1 sample (shape={X.shape}); {name} needs at least 2 rows to learn each "
                "column's range. If X is one feature, pass X.reshape(-1, 1)."
            )
        if not reset and hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {name} is expecting {self.n_features_in_} "
                f"features as input; pass rows with the {self.n_features_in_} columns of fit, "
                "in the same order."
            )
        _check_n_features(self, X, reset=reset)

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
            decay=self.decay,
            threshold=self.threshold,
            refractory_penalty=self.refractory_penalty,
            surrogate=self.surrogate,
            detach_reset=self.detach_reset,
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

    def _set_rng_seed(self):
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _make_optimizer(self):
        # alpha is an L2 penalty on the weights (not the biases), scaled by the batch
        # size as in MLPClassifier; Adam's weight_decay adds exactly that gradient.
        batch = 200 if self.batch_size == "auto" else self.batch_size
        weights = [layer.weight for layer in self.module_.layers]
        biases = [layer.bias for layer in self.module_.layers]
        return torch.optim.Adam(
            [
                {"params": weights, "weight_decay": self.alpha / batch},
                {"params": biases, "weight_decay": 0.0},
            ],
            lr=self.learning_rate_init,
            fused=True,  # one kernel per step instead of ~10 small ops per tensor
        )

    @property
    def _readout(self):
        return getattr(self, "readout", "membrane")

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _split_validation(self, X, targets, y, early_stopping):
        if not early_stopping:
            return X, targets, None, None
        stratify = y if self._stratify_validation(y) else None
        X_train, X_val, t_train, _, _, y_val = train_test_split(
            X, targets, y, test_size=self.validation_fraction,
            random_state=self._seed, stratify=stratify,
        )
        if X_val.shape[0] < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves {X_val.shape[0]} "
                "validation sample(s); raise it or set early_stopping=False."
            )
        return X_train, t_train, X_val, y_val

    def _stratify_validation(self, y):
        return False

    def _train(self, inputs, targets, X_val, y_val, n_epochs, early_stopping, incremental):
        """Run epochs of minibatch Adam; stop on a plateau; keep the best weights.

        The state at the end of the last good epoch is kept aside (cloned once
        per epoch, never per batch). When an epoch's loss or weights turn NaN or
        infinite, or Ctrl-C interrupts it, training rolls back to that state,
        warns and stops; with no good epoch at all it raises instead.
        """
        n_samples = inputs.shape[0]
        batch_size = self._batch_size(n_samples)
        self._keep_freed_memory(batch_size, copies=6)  # current, membrane, spikes and their gradients
        generator = torch.Generator().manual_seed(self._seed + self.n_iter_)
        device_generator = generator if self._device.type == "cpu" else torch.Generator(
            device=self._device).manual_seed(self._seed + self.n_iter_)
        if early_stopping and self.validation_scores_ is None:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        best_state, no_improvement = None, 0
        # A model that has finished an epoch has a state to roll back to.
        good_state = self._snapshot() if self.n_iter_ else None
        epochs = self._progress(range(n_epochs))
        self._set_compute_path()
        self.module_.train()
        for _ in epochs:
            try:
                loss = self._run_epoch(inputs, targets, batch_size, generator, device_generator)
                finite = self._is_finite(loss)
                score = self._validation_score(X_val, y_val) if early_stopping and finite else None
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
            self._report(epochs, loss)
            if no_improvement > self.n_iter_no_change:
                break
        else:
            if not incremental and n_epochs == self.max_iter:
                warnings.warn(
                    f"{type(self).__name__}: stopped after max_iter={self.max_iter} epochs "
                    "before the loss stopped improving; raise max_iter to train longer.",
                    ConvergenceWarning,
                )
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()

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
        name, epoch, lr = type(self).__name__, self.n_iter_ + 1, self.learning_rate_init
        finite_loss = loss is None or np.isfinite(loss)
        what = "its weights became NaN or infinite" if finite_loss else f"its mean loss was {loss}"
        if good_state is None:
            self._forget_fit()
            raise ValueError(
                f"{name}: training diverged in its first epoch ({what}). Lower "
                f"learning_rate_init (now {lr:g}), e.g. to {min(lr / 10, 1e-3):g}; the estimator "
                "is left unfitted."
            )
        self._restore(good_state)
        if interrupted:
            message = (
                f"{name}: training interrupted (KeyboardInterrupt) in epoch {epoch}; the model "
                f"keeps the weights of epoch {self.n_iter_}, the last finished one. Fit again "
                "with warm_start=True, or call partial_fit, to go on training."
            )
        else:
            message = (
                f"{name}: training diverged in epoch {epoch} ({what}); rolled back to the weights "
                f"of epoch {self.n_iter_}, the last good one, and stopped. Lower "
                f"learning_rate_init (now {lr:g}) to train further."
            )
        warnings.warn(message, RuntimeWarning, stacklevel=5)  # at the caller of fit

    def _restore(self, state):
        self.module_.load_state_dict(state["module"])
        self._optimizer.load_state_dict(state["optimizer"])

    def _forget_fit(self):
        """Drop every fitted attribute, so that the estimator is unfitted again."""
        keep = set(self.get_params(deep=False))
        for name in list(vars(self)):
            # scikit-learn's own settings (set_output, metadata routing) are not fitted state,
            # and neither is an instance attribute that overrides one of the class (a wrapped method).
            settings = name.startswith(("_sklearn", "_metadata_request"))
            if name not in keep and not settings and not hasattr(type(self), name):
                delattr(self, name)

    def _run_epoch(self, inputs, targets, batch_size, generator, device_generator):
        """One pass over the data in shuffled minibatches; returns the mean loss."""
        n_samples = inputs.shape[0]
        order = torch.randperm(n_samples, generator=generator) if self.shuffle else torch.arange(n_samples)
        order = order.to(inputs.device)
        total = torch.zeros((), device=inputs.device)
        for start in range(0, n_samples, batch_size):
            index = order[start : start + batch_size]
            total += self._train_step(inputs[index], targets[index], device_generator) * len(index)
        return float(total) / n_samples

    def _train_step(self, inputs, targets, generator):
        """Forward, loss, backward and one optimizer step on a minibatch."""
        self._optimizer.zero_grad(set_to_none=True)
        loss = self._penalized_loss(inputs, targets, generator)
        loss.backward()
        self._optimizer.step()
        return loss.detach()

    def _penalized_loss(self, inputs, targets, generator):
        """The minibatch loss plus ``spike_penalty`` times the hidden layers' mean firing rate."""
        penalty = getattr(self, "spike_penalty", 0.0)
        if not penalty or not len(self.module_.hidden):
            return self._loss(self.module_(inputs, generator=generator), targets)
        output, rates = self.module_.forward_with_rates(inputs, generator=generator)
        return self._loss(output, targets) + penalty * rates.mean()

    def _progress(self, epochs):
        if not self.verbose:
            return epochs
        from tqdm.auto import tqdm

        return tqdm(epochs, desc=type(self).__name__, unit="epoch")

    def _report(self, epochs, loss):
        if not self.verbose:
            return
        postfix = {"loss": f"{loss:.4f}"}
        if self.validation_scores_:
            postfix["val_score"] = f"{self.validation_scores_[-1]:.4f}"
        epochs.set_postfix(postfix)

    # -------------------------------------------------------------- predict
    def _forward(self, X):
        """The network's output for ``X`` as a float64 numpy array, in batches."""
        return self._forward_scaled(self._prepare_X_fitted(X))

    def _keep_freed_memory(self, n_rows, copies):
        """On a CPU, keep the memory a minibatch frees for the next (see ``pynmsnn/_malloc.py``)."""
        if self._device.type == "cpu":
            module = self.module_
            values = n_rows * module.n_steps * sum(layer.out_features for layer in module.layers)
            keep_freed_memory(copies * 4 * values)

    def _forward_scaled(self, inputs):
        """Network output for scaled rows, in fixed-size chunks without autograd."""
        self.module_.eval()
        n_rows = inputs.shape[0]
        outputs = np.empty((n_rows, self.module_.output.out_features))
        self._set_compute_path()
        module = self.module_
        if module.infers_event_driven(torch.zeros((1, inputs.shape[1]), device=self._device)):
            return self._forward_event_driven(inputs, outputs)
        size = predict_chunk_rows(module.n_steps, [layer.out_features for layer in module.layers])
        self._keep_freed_memory(size, copies=3)  # current, membrane, spikes
        chunk = torch.zeros((size, inputs.shape[1]), dtype=torch.float32, device=self._device)
        with torch.inference_mode():
            for start in range(0, n_rows, size):
                rows = inputs[start : start + size]
                chunk[: len(rows)] = torch.as_tensor(rows)
                chunk[len(rows) :] = 0.0
                outputs[start : start + len(rows)] = self.module_(chunk)[: len(rows)].double().cpu().numpy()
        return outputs

    def _forward_event_driven(self, inputs, outputs):
        """:meth:`_forward_scaled` when the network infers a row at a time (``pynmsnn/_events.py``).

        A row's output does not depend on the others, so the rows go in large
        chunks with no padding; a chunk's memory is its rows and outputs.
        """
        with torch.inference_mode():
            for start in range(0, len(inputs), EVENT_CHUNK_ROWS):
                rows = torch.as_tensor(inputs[start : start + EVENT_CHUNK_ROWS], dtype=torch.float32)
                outputs[start : start + len(rows)] = self.module_(rows).double().numpy()
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
        self._set_compute_path()
        self.module_.eval()
        with torch.inference_mode():
            record = self.module_.forward_reference(inputs, record=True)
        record.input_names = self._scaler.output_names
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
        self._set_compute_path()
        stages = np.empty((module.n_steps, inputs.shape[0], module.output.out_features))
        steps = torch.arange(1, module.n_steps + 1, device=self._device).view(-1, 1, 1)
        # A record holds every layer's spikes and membranes: half a predict chunk.
        size = predict_chunk_rows(module.n_steps, [layer.out_features for layer in module.layers]) // 2
        with torch.inference_mode():
            for start in range(0, inputs.shape[0], size):
                rows = torch.as_tensor(inputs[start : start + size], dtype=torch.float32, device=self._device)
                record = module.forward_reference(rows, record=True)
                if module.readout == "spikes":
                    so_far = record.spikes[-1].cumsum(0)
                else:
                    so_far = record.membranes[-1].cumsum(0) / steps
                stages[:, start : start + len(rows)] = so_far.double().cpu().numpy()
        return stages

    def _set_compute_path(self):
        """Set the module's spike-matmul dtype and whether it infers event-driven.

        Resolved at each use, so a model moved to another machine adapts.
        """
        module = self.module_
        module.spike_matmul_dtype = spike_matmul_dtype(self.precision, self._device)
        # Event-driven inference where the training data's firing rates say it pays.
        rates = getattr(self, "firing_rates_", None)
        module.event_driven = event_driven_pays(
            [layer.out_features for layer in module.hidden],
            None if rates is None else list(rates.values()),
            module.spike_matmul_dtype,
        )

    def _prepare_X_fitted(self, X):
        check_is_fitted(self, "module_")
        return self._prepare_X(X, reset=False)

    def _validation_score(self, X_val, y_val):
        was_training = self.module_.training
        score = self._score_outputs(self._forward_scaled(X_val), y_val)
        self.module_.train(was_training)
        return score

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
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
        super().__setstate__(state)
        if "module_" in state:
            wants_gpu = self.device != "cpu" and torch.cuda.is_available()
            self._device = torch.device("cuda" if wants_gpu else "cpu")
            self.module_.to(self._device)
