"""SNNClassifier and SNNRegressor: scikit-learn estimators that are spiking networks."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from scipy import sparse
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d
from torch.nn import functional as F

from ._base import BaseSNN
from ._params import StrOptions
from ._tabular import check_labels, mean_std

__all__ = ["SNNClassifier", "SNNRegressor"]

_SHARED_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers,), default=(100,)
        Number of spiking (LIF) neurons in each hidden layer.

    n_steps : int, default=25
        Time steps each sample is simulated for.

    decay : float, default=0.9
        Membrane leak per time step, in [0, 1]: ``v = decay * v + I``.

    threshold : float, default=1.0
        Membrane potential at which a neuron fires.

    refractory_penalty : float, default=0.0
        How far below rest a spike leaves the membrane, beyond the reset; it
        holds the neuron below rest for a while (its refractory period).

    reset : {'subtract', 'zero'}, default='subtract'
        What a spike does to the membrane: 'subtract' takes the threshold (and
        the penalty) off and keeps the excess; 'zero' sets it to
        ``-refractory_penalty`` (rest, or below it), as NIR's LIF neuron and
        the neuromorphic chips that read NIR do, so the model exports exactly
        (:func:`pynmsnn.nir_export.to_nir`) at any decay. On the benchmark
        tables both generalise alike (``benchmarks/bench_defaults.py``), and
        'subtract' fits training data more closely (README): choose 'zero'
        to deploy on neuromorphic hardware.

    surrogate : {'fast_sigmoid', 'atan', 'triangle', 'sigmoid'}, default='fast_sigmoid'
        Derivative used for the spike in backpropagation.

    activation : None, default=None
        MLPClassifier's parameter, kept so that its code runs: hidden units
        fire spikes, so there is no activation function, and any other value
        is an error that points to ``surrogate``.

    detach_reset : bool, default=False
        Leave the reset (what a spike takes off the membrane) out of the
        gradient, as snnTorch does by default. By default the gradient flows
        through it too, which learned as well or better in the benchmarks
        (``benchmarks/bench_defaults.py``, ``benchmarks/bench_engine.py``).

    encoder : {'current', 'noisy', 'poisson', 'latency'}, default='current'
        How a row becomes ``n_steps`` of input: the scaled row at every step;
        the row times uniform noise; Bernoulli spikes; or one spike per feature,
        earlier for larger values. The random encoders use their expected
        current at predict time, so predictions are deterministic.

    preprocess : bool, default=True
        Scale and encode the table before the network sees it, as
        :class:`pynmsnn.preprocessing.TableScaler` does: numeric columns
        min-max scaled to [0, 1] (clipped at predict time), categorical
        DataFrame columns one-hot encoded; the fitted step is
        ``preprocessor_``. With False, ``X`` must be numeric and reaches the
        network as it is (as float32), for a pipeline that scales and encodes
        it itself; keep its values of order 1 (``threshold`` is 1), and in
        [0, 1] for ``encoder='poisson'``, which reads them as probabilities.

    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights.

    spike_penalty : float, default=0.0
        Activity regularization: adds ``spike_penalty`` times the mean firing
        rate of the hidden layers (spikes per neuron per step) to the training
        loss, so that the network learns to answer with fewer spikes, hence
        fewer synaptic operations (see :meth:`activity_report`).

    init_firing_rate : float in (0, 1) or None, default=None
        When set, a first fit shifts each hidden neuron's bias so that, on up
        to 512 training rows, it starts firing at about this rate (spikes per
        step), layer by layer; None keeps the plain random initialisation.

    solver : {'adam', 'sgd', 'lbfgs'}, default='adam'
        The optimizer, as in MLPClassifier: Adam; stochastic gradient descent
        with momentum; or full-batch L-BFGS-B (scipy), for small data, which
        has no ``partial_fit``, ignores ``early_stopping`` and may stop early
        where spikes make the loss jump and its line search finds no step.

    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is ``min(200, n_samples)``. Not used by 'lbfgs'.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        The step size schedule of ``solver='sgd'``: constant; after each epoch
        ``learning_rate_init / (t_ + 1) ** power_t`` (``t_`` the rows trained
        on so far); or divided by 5 whenever ``n_iter_no_change`` epochs fail
        to improve by ``tol``, training stopping once it is 1e-6 or less.

    learning_rate_init : float, default=1e-3
        Step size of the 'adam' and 'sgd' solvers.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    momentum : float, default=0.9
        Momentum of 'sgd', in [0, 1].

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum in 'sgd' (when ``momentum > 0``).

    beta_1 : float, default=0.9
        Decay of Adam's first moment estimates, in [0, 1).

    beta_2 : float, default=0.999
        Decay of Adam's second moment estimates, in [0, 1).

    epsilon : float, default=1e-8
        Added to Adam's denominator.

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data), or of
        iterations of 'lbfgs'.

    max_fun : int, default=15000
        Maximum number of loss evaluations of 'lbfgs'.

    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score with
        ``early_stopping``) that counts as progress.

    n_iter_no_change : int or np.inf, default=10
        Epochs without progress after which training stops (or, with
        ``learning_rate='adaptive'``, the step size shrinks).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score stops
        improving and keep the weights of the best epoch.

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.

    shuffle : bool, default=True
        Shuffle the samples every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the validation split and the
        random encoders. An int gives identical results run after run.

    verbose : bool or int, default=False
        True (or 1) shows a progress bar over epochs with the loss; 2 or more
        prints MLPClassifier's line per epoch, ``Iteration n, loss = ...``.

    warm_start : bool, default=False
        Continue from the previous fit's weights instead of starting afresh;
        ``n_iter_`` then counts the epochs of the last fit, as in
        MLPClassifier. Changed neuron parameters (``decay``, ``threshold``,
        ``refractory_penalty``, ``surrogate``, ``detach_reset``), the
        solver's settings and ``alpha`` apply to the kept weights; a
        changed ``hidden_layer_sizes``, ``n_steps``, ``encoder`` or ``readout``,
        or other input columns, is refused with a ValueError (set
        ``warm_start=False`` to fit a new network). ``partial_fit`` follows
        the same rule.

    precision : {'auto', 'float32', 'bfloat16'}, default='auto'
        Number format of the matmuls of hidden layers whose input is spikes
        (every hidden layer after the first; the readout always multiplies in
        float32). Spikes are 0 or 1, exact in bfloat16, so only the weights
        are rounded (to 3 significant digits) while sums, membranes and the
        weights themselves stay float32. 'auto' uses bfloat16 where the hardware
        multiplies it natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs with
        bf16), where it is several times faster, and float32 elsewhere.

    device : {'auto', 'cpu', 'cuda'}, 'cuda:N' or torch.device, default='auto'
        Where the network runs: 'auto' takes a CUDA GPU when torch sees one,
        'cuda' the current GPU, 'cuda:N' GPU number N. Asking for a GPU that
        torch does not see is a ValueError at fit. A pickled or saved model
        loads on the GPU it names when there is one, else on the CPU."""

_SHARED_ATTRIBUTES = """\
    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a DataFrame ``X`` given to fit (only when they are all strings).

    preprocessor_ : pynmsnn.preprocessing.TableScaler or None
        The fitted input step (a copy), None with ``preprocess=False``.

    loss_curve_ : list of float
        Mean training loss of each epoch.

    validation_scores_ : list of float or None
        Validation score of each epoch with ``early_stopping``, else None.

    best_validation_score_ : float or None
        Best of ``validation_scores_``.

    best_loss_ : float or None
        Lowest of ``loss_curve_``; None with ``early_stopping``, where the
        validation score picks the model, as in MLPClassifier.

    n_iter_ : int
        Number of epochs run by the last ``fit`` (of 'lbfgs' iterations), plus
        one per ``partial_fit`` call since.

    loss_ : float
        The training loss of the last epoch (of 'lbfgs', at its solution).

    coefs_ : list of ndarray
        Read-only copies of the weights of each layer, first to readout;
        ``coefs_[i]`` has shape (inputs of layer i, units of layer i), as in
        MLPClassifier.

    intercepts_ : list of ndarray
        Read-only copies of the biases of each layer, first to readout.

    n_layers_ : int
        Number of layers, input and readout included.

    firing_rates_ : dict of str to float
        Spikes per neuron per step of each hidden layer ('hidden 1', ...) on
        (a sample of) the training data, measured at the end of ``fit``. On a
        CPU, predict runs event-driven (adding only the weights of neurons that
        fired) unless these rates say the dense bfloat16 matmuls are faster.

    module_ : pynmsnn.network.SpikingNetwork
        The trained torch module."""


def _has_stochastic_solver(est):
    """partial_fit needs a stochastic solver, as in MLPClassifier."""
    if est.solver not in ("adam", "sgd"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver} is not stochastic; "
            "use solver='adam' or 'sgd'."
        )
    return True


class SNNClassifier(ClassifierMixin, BaseSNN):
    __doc__ = f"""Spiking neural network classifier trained with surrogate gradients.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` whose hidden
    units are leaky integrate-and-fire neurons simulated for ``n_steps`` time
    steps. The readout's time-averaged membrane (or spike count) is the logit of
    a softmax; training is backpropagation through time with Adam. Numeric
    columns are scaled to [0, 1] inside and categorical DataFrame columns are
    one-hot encoded, so raw pandas data works without preprocessing.

    A 2-D indicator target (one column of 0/1 per label) trains one output per
    label, each the logit of its own sigmoid (multilabel classification).

    Parameters
    ----------
{_SHARED_PARAMETERS}

    readout : {{'membrane', 'spikes'}}, default='membrane'
        Logits are the output neurons' membrane averaged over time, or the
        number of spikes they fire.

    class_weight : dict, 'balanced' or None, default=None
        Weight of each class in the loss, as in scikit-learn's linear models
        and forests: ``{{label: weight}}`` (labels left out weigh 1), or
        'balanced', ``n_samples / (n_classes * count of the class)`` with the
        counts weighted by ``sample_weight``. It multiplies ``sample_weight``.
        Not for multilabel targets, nor 'balanced' with ``partial_fit``
        (a chunk's counts are not the data's): pass a dict there, e.g. from
        :func:`sklearn.utils.class_weight.compute_class_weight`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; for a multilabel target, the label indices
        ``0, ..., n_labels - 1``, as in MLPClassifier.

{_SHARED_ATTRIBUTES}

    See Also
    --------
    SNNRegressor : The spiking network for regression.
    sklearn.neural_network.MLPClassifier : The non-spiking counterpart.

    Notes
    -----
    **Sample weights.** ``fit(X, y, sample_weight=w)`` weighs each row's loss
    by its weight (scaled to mean 1 over the training rows, so that a
    minibatch's loss estimates the weighted mean loss), and the validation
    score of ``early_stopping`` is weighted too. Rows of zero weight are
    dropped before anything is learned, the input scaling included: a zero
    weight is the row absent. Identical rows (same inputs, same label) train
    as one row with their summed weight, an epoch still taking the steps the
    rows given would, and with ``shuffle=True`` the rows train in an order
    fixed by their content, so a fit does not depend on the order of the
    rows. An integer weight is then exactly the row repeated that many times
    when a batch holds every row (small data, or ``solver='lbfgs'``). With
    scikit-learn's metadata routing on, ``set_fit_request(sample_weight=True)``
    routes the weights through Pipeline, GridSearchCV and cross_validate.

    **Outputs.** There is no ``decision_function``, as in MLPClassifier: the
    readout is the logit, and :meth:`predict_proba` its softmax (one output
    per class, for two classes too) or, for a multilabel target, the sigmoid
    of each label's output. :meth:`predict_log_proba` is the logarithm of
    :meth:`predict_proba`, computed from the logits without rounding
    small probabilities to zero.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = SNNClassifier(random_state=0).fit(X, y)
    >>> clf.predict(X.iloc[:3])
    array([0, 0, 0])
    >>> round(clf.score(X, y), 2) > 0.9
    True
    """

    _parameter_constraints = {
        **BaseSNN._parameter_constraints,
        "readout": [StrOptions({"membrane", "spikes"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        n_steps=25,
        decay=0.9,
        threshold=1.0,
        refractory_penalty=0.0,
        reset="subtract",
        surrogate="fast_sigmoid",
        activation=None,
        detach_reset=False,
        encoder="current",
        preprocess=True,
        readout="membrane",
        class_weight=None,
        alpha=1e-4,
        spike_penalty=0.0,
        init_firing_rate=None,
        solver="adam",
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_iter=200,
        max_fun=15000,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=False,
        warm_start=False,
        precision="auto",
        device="auto",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, n_steps=n_steps, decay=decay, threshold=threshold,
            refractory_penalty=refractory_penalty, reset=reset, surrogate=surrogate, activation=activation,
            detach_reset=detach_reset, encoder=encoder, preprocess=preprocess, alpha=alpha, spike_penalty=spike_penalty,
            init_firing_rate=init_firing_rate, solver=solver, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, max_iter=max_iter, max_fun=max_fun, tol=tol,
            n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
            validation_fraction=validation_fraction, shuffle=shuffle, random_state=random_state,
            verbose=verbose, warm_start=warm_start, precision=precision, device=device,
        )
        self.readout = readout
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Fit the network to data ``X`` and labels ``y``.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Training data; DataFrames may hold categorical columns.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type (ints, strings, bools), or a 0/1
            indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss (see Notes); None weighs all alike.

        Returns
        -------
        self : SNNClassifier
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from pynmsnn import SNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> weights = np.where(y == 2, 0.0, 1.0)  # zero weight: as if the rows were absent
        >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0)
        >>> clf.fit(X, y, sample_weight=weights).classes_
        array([0, 1])
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_has_stochastic_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``, keeping the weights learned so far.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Its labels, or its 0/1 indicator matrix (multilabel).
        classes : array-like of shape (n_classes,), default=None
            Every label the model will ever see. Give it on the first call when
            a chunk may lack some classes; without it the first chunk's labels
            are taken as all the classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss; None weighs all alike.

        Notes
        -----
        The first call fixes the input scaling (the min and max of each column
        in that chunk): shuffle the rows before cutting the data into chunks.

        Returns
        -------
        self : SNNClassifier
            The updated estimator.
        """
        if hasattr(self, "classes_") and classes is not None and not self._is_multilabel:
            if not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={list(classes)} differs from the classes of the first "
                    f"partial_fit call, {list(self.classes_)}; pass the same classes every time."
                )
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, classes=classes)

    def predict(self, X):
        """Predict class labels for ``X``.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels, of the type of ``classes_``; for a multilabel
            target, the 0/1 indicator matrix (a label is on where its
            probability exceeds 0.5).
        """
        return self._labels(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities for ``X``: the softmax of the readout.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Probabilities in the order of ``classes_``, summing to 1 over a
            row; for a multilabel target, each label's own probability.
        """
        return self._probabilities(self._forward(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Log-probabilities in the order of ``classes_``; finite even where
            a probability rounds to zero in float64 (from the logits).
        """
        logits = self._forward(X)
        if not self._is_multilabel:
            return logits - _logsumexp(logits)
        # np.log(predict_proba), as MLPClassifier gives it (so the two rank labels alike, ties
        # included), but finite where a probability underflows to 0.
        stable = -np.logaddexp(0.0, -logits)
        probabilities = np.exp(stable)
        with np.errstate(divide="ignore"):
            return np.where(probabilities > 0, np.log(probabilities), stable)

    def staged_predict(self, X):
        """Predicted labels after each time step: an answer at any time.

        Stage ``t`` (``t = 1, ..., n_steps``) uses only the first ``t`` time
        steps: the readout membrane averaged over them, or, with
        ``readout='spikes'``, the spikes counted so far. The last stage is
        :meth:`predict`. Accuracy per stage tells how long a sample must be
        simulated, hence how much latency and energy an answer needs.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        generator of ndarray of shape (n_samples,) or (n_samples, n_labels)
            The labels at each of the ``n_steps`` stages.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from pynmsnn import SNNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
        >>> [round(float((labels == y).mean()), 2) >= 0 for labels in clf.staged_predict(X)][-1]
        True
        """
        stages = self._staged_outputs(X)  # computed now, so errors surface at the call
        return (self._labels(outputs) for outputs in stages)

    def staged_predict_proba(self, X):
        """Class probabilities after each time step; the last stage is :meth:`predict_proba`.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        generator of ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            The probabilities at each of the ``n_steps`` stages (see
            :meth:`staged_predict`).
        """
        stages = self._staged_outputs(X)
        return (self._probabilities(outputs) for outputs in stages)

    @property
    def _is_multilabel(self):
        """Whether the fitted target is a multilabel indicator matrix."""
        return bool(getattr(self, "_multilabel", False))

    def _labels(self, outputs):
        """Labels from readout outputs: the class of the largest logit, or each label's logit above 0."""
        if self._is_multilabel:
            return (outputs > 0).astype(np.int64)
        return self.classes_[np.argmax(outputs, axis=1)]

    def _probabilities(self, outputs):
        if self._is_multilabel:
            return np.exp(-np.logaddexp(0.0, -outputs))
        return _softmax(outputs)

    # --- hooks of BaseSNN
    def _check_y(self, y, n_samples):
        check_labels(y)  # missing labels, NaN, and text mixed with numbers, with the rows
        if _is_indicator(y):
            y = check_array(y, accept_sparse=True, ensure_2d=True, dtype=None, input_name="y")
            y = y.toarray() if sparse.issparse(y) else np.asarray(y)
            if not np.isin(y, (0, 1)).all():
                raise ValueError(
                    f"y is a 2-D target of values {np.unique(y)[:5].tolist()}, but a multilabel indicator "
                    "holds 0 (label off) and 1 (label on) only; pass (y > 0).astype(int) if that is meant."
                )
            y = y.astype(np.int64)
        else:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
        if len(y) != n_samples:
            raise ValueError(f"X has {n_samples} rows but y has {len(y)} labels; they must match.")
        return y

    def _encode_targets(self, y, reset, classes=None, weights=None):
        if y.ndim == 2:
            return self._encode_indicator(y, reset)
        if not reset and self._is_multilabel:
            raise ValueError(
                f"SNNClassifier was fitted on a multilabel indicator y of {len(self.classes_)} labels; "
                "pass y of that shape, or fit a new model for 1-D labels."
            )
        if reset:
            if classes is not None:
                check_labels(classes)
            self.classes_ = np.unique(y) if classes is None else np.unique(classes)
            self._multilabel = False
            if len(self.classes_) < 2:
                raise ValueError(
                    f"SNNClassifier needs samples of at least 2 classes in the data, but the "
                    f"data contains only one class: {self.classes_.tolist()[0]!r}. Check that y "
                    "is the target you meant, that filtering or splitting kept every class "
                    "(train_test_split(..., stratify=y)) and that sample_weight leaves rows of "
                    "two classes; with partial_fit, pass every label as `classes`."
                )
        try:
            unseen = np.setdiff1d(np.unique(y), self.classes_)
        except TypeError:  # labels that numpy cannot compare, such as strings with numbers
            raise ValueError(
                f"y holds labels of type {y.dtype} but the classes of the first fit are "
                f"{self.classes_.tolist()} (type {self.classes_.dtype}); pass labels of one type."
            ) from None
        if len(unseen):
            raise ValueError(
                f"y contains labels {unseen.tolist()} not in classes_ {self.classes_.tolist()}; "
                "pass every label as `classes` to the first partial_fit call."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _check_warm_start_targets(self, y):
        """A warm-started fit needs the classes of the first fit, as in MLPClassifier."""
        if y.ndim == 2 or self._is_multilabel:
            return  # _encode_targets compares the kinds and the numbers of labels
        try:
            same = np.array_equal(np.unique(y), self.classes_)
        except TypeError:
            same = False
        if not same:
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                f"Previously got {self.classes_}, `y` has {np.unique(y)}; set warm_start=False to fit "
                "a new model, or use partial_fit(..., classes=...) to add rows of some classes."
            )

    def _encode_indicator(self, y, reset):
        """A multilabel indicator matrix as float32 targets of one sigmoid output per label."""
        if reset:
            self.classes_ = np.arange(y.shape[1])
            self._multilabel = True
        elif not self._is_multilabel or y.shape[1] != len(self.classes_):
            fitted = f"{len(self.classes_)} labels" if self._is_multilabel else "1-D labels"
            raise ValueError(
                f"y is a multilabel indicator of {y.shape[1]} labels, but SNNClassifier was fitted on "
                f"{fitted}; pass y of that kind, or fit a new model."
            )
        return y.astype(np.float32)

    def _class_weighted(self, targets, weights, incremental):
        """The rows' weights times their class's weight from ``class_weight``."""
        if self.class_weight is None:
            return weights
        if self._is_multilabel:
            raise ValueError(
                "class_weight applies to single-label classification, but y is a multilabel "
                "indicator; weigh rows with sample_weight instead."
            )
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, as a chunk's class counts are "
                "not the data's; compute the weights once with sklearn.utils.class_weight."
                "compute_class_weight('balanced', classes=classes, y=y) and pass them as a dict."
            )
        per_row = self._class_weights(targets, weights)[targets]
        return per_row if weights is None else weights * per_row

    def _class_weights(self, targets, weights):
        """The weight of each class in ``classes_`` that ``class_weight`` gives."""
        if self.class_weight == "balanced":
            counts = np.bincount(targets, weights=weights, minlength=len(self.classes_))
            present = counts > 0
            return np.where(present, counts.sum() / (present.sum() * np.where(present, counts, 1.0)), 1.0)
        known = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = [label for label in self.class_weight if label not in known]
        if unknown:
            raise ValueError(
                f"class_weight names labels {_shorten_list(unknown)} that are not among the classes "
                f"{_shorten_list(self.classes_.tolist())}; use the labels of y as keys."
            )
        per_class = np.ones(len(self.classes_))
        for label, weight in self.class_weight.items():
            if not isinstance(weight, Real) or not np.isfinite(weight) or weight < 0:
                raise ValueError(
                    f"class_weight[{label!r}] is {weight!r}; a class's weight must be a finite "
                    "non-negative number."
                )
            per_class[known[label]] = weight
        return per_class

    def _n_outputs(self, targets):
        return len(self.classes_)

    def _check_fitted_targets(self):
        """The classes of a rebuilt model: at least 2, distinct and sorted; returns their number."""
        self._refuse_attributes(_REGRESSOR_TARGETS, "SNNRegressor")
        classes = getattr(self, "classes_", None)
        multilabel = getattr(self, "_multilabel", False)
        if not isinstance(multilabel, (bool, np.bool_)):
            raise ValueError(f"the fitted attribute _multilabel must be a bool, got {multilabel!r:.80}.")
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < (1 if multilabel else 2):
            raise ValueError(
                f"the fitted attribute classes_ of an SNNClassifier must be a 1-D array of at least "
                f"2 labels, got {classes!r:.200}."
            )
        if multilabel and not np.array_equal(classes, np.arange(len(classes))):
            raise ValueError(
                f"the fitted attribute classes_ of a multilabel SNNClassifier must be the label "
                f"indices 0, 1, ..., got {classes.tolist()!r:.200}."
            )
        try:
            in_order = np.array_equal(np.unique(classes), classes)
        except TypeError:  # labels numpy cannot compare, such as text mixed with numbers
            in_order = False
        if not in_order:
            raise ValueError(
                f"the fitted attribute classes_ must hold distinct labels of one type in sorted "
                f"order, as np.unique gives them, got {classes.tolist()!r:.200}."
            )
        return len(classes)

    def _loss(self, outputs, targets, weights=None):
        """Cross-entropy of the softmax (one label) or of each label's sigmoid, weighted per row."""
        if targets.ndim == 2:
            losses = F.binary_cross_entropy_with_logits(outputs, targets, reduction="none").mean(dim=1)
            return losses.mean() if weights is None else (losses * weights).mean()
        if weights is None:
            return F.cross_entropy(outputs, targets)
        return (F.cross_entropy(outputs, targets, reduction="none") * weights).mean()

    def row_losses(self, outputs, targets):
        """The training loss of each row: cross-entropy of the logits against the class index.

        ``fit`` minimizes their mean over a minibatch. ``outputs`` has shape
        (..., n_classes) and ``targets`` (...), class indices as
        :meth:`start_fit` returns them; the result has the shape of ``targets``.
        Multilabel targets (floats of the shape of ``outputs``) give each
        label's binary cross-entropy, averaged over the labels.
        """
        if targets.is_floating_point():
            return F.binary_cross_entropy_with_logits(outputs, targets, reduction="none").mean(-1)
        flat = F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1), reduction="none")
        return flat.reshape(targets.shape)

    def _stratify_validation(self, y):
        if y.ndim == 2:
            return False
        _, counts = np.unique(y, return_counts=True)
        return counts.min() >= 2

    def _score_outputs(self, outputs, y, sample_weight=None):
        return accuracy_score(y, self._labels(outputs), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _is_indicator(y):
    """Whether ``y`` is a multilabel indicator matrix; a ValueError for other targets of several columns."""
    kind = type_of_target(y, input_name="y")
    if kind.endswith("-multioutput"):
        raise ValueError(
            f"y has several columns but is not a 0/1 indicator matrix (scikit-learn calls it "
            f"{kind!r}); SNNClassifier takes 1-D labels, or one 0/1 column per label for multilabel "
            "classification (sklearn.preprocessing.MultiLabelBinarizer makes one from lists of labels)."
        )
    return kind == "multilabel-indicator"


def _shorten_list(items, limit=10):
    items = list(items)
    return str(items) if len(items) <= limit else f"{items[:limit]} and {len(items) - limit} more"


class SNNRegressor(RegressorMixin, BaseSNN):
    __doc__ = f"""Spiking neural network regressor trained with surrogate gradients.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor` whose hidden
    units are leaky integrate-and-fire neurons simulated for ``n_steps`` time
    steps. The prediction is the readout's membrane averaged over time; the
    target is standardized inside for training and the scaling undone at
    predict. One or several targets.

    Parameters
    ----------
{_SHARED_PARAMETERS}

    Attributes
    ----------
{_SHARED_ATTRIBUTES}

    n_outputs_ : int
        Number of targets.

    See Also
    --------
    SNNClassifier : The spiking network for classification.
    sklearn.neural_network.MLPRegressor : The non-spiking counterpart.

    Notes
    -----
    The readout of a regressor is always the membrane average: a spike count
    cannot be negative, so it cannot carry a standardized target.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from pynmsnn import SNNRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = SNNRegressor(random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> reg.score(X, y) > 0.4
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        n_steps=25,
        decay=0.9,
        threshold=1.0,
        refractory_penalty=0.0,
        reset="subtract",
        surrogate="fast_sigmoid",
        activation=None,
        detach_reset=False,
        encoder="current",
        preprocess=True,
        alpha=1e-4,
        spike_penalty=0.0,
        init_firing_rate=None,
        solver="adam",
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_iter=200,
        max_fun=15000,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=False,
        warm_start=False,
        precision="auto",
        device="auto",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, n_steps=n_steps, decay=decay, threshold=threshold,
            refractory_penalty=refractory_penalty, reset=reset, surrogate=surrogate, activation=activation,
            detach_reset=detach_reset, encoder=encoder, preprocess=preprocess, alpha=alpha, spike_penalty=spike_penalty,
            init_firing_rate=init_firing_rate, solver=solver, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, max_iter=max_iter, max_fun=max_fun, tol=tol,
            n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
            validation_fraction=validation_fraction, shuffle=shuffle, random_state=random_state,
            verbose=verbose, warm_start=warm_start, precision=precision, device=device,
        )

    def fit(self, X, y, sample_weight=None):
        """Fit the network to data ``X`` and targets ``y``.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Training data; DataFrames may hold categorical columns.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss (see :class:`SNNClassifier`'s
            Notes: zero is the row absent); None weighs all alike. The
            target's standardization is learned from the rows of positive
            weight, unweighted.

        Returns
        -------
        self : SNNRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``(X, y)``, keeping the weights learned so far.

        The first call fixes the input scaling and the target standardization.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss; None weighs all alike.

        Returns
        -------
        self : SNNRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets for ``X``.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in the units of the training target.
        """
        predictions = self._forward(X) * self._y_scale + self._y_mean
        return predictions.ravel() if self._y_is_1d else predictions

    def staged_predict(self, X):
        """Predictions after each time step: an answer at any time.

        Stage ``t`` (``t = 1, ..., n_steps``) uses the readout membrane
        averaged over the first ``t`` time steps only. The last stage is
        :meth:`predict`.

        Parameters
        ----------
        X : {{array-like, DataFrame}} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        generator of ndarray of shape (n_samples,) or (n_samples, n_targets)
            The predictions at each of the ``n_steps`` stages.
        """
        stages = self._staged_outputs(X)  # computed now, so errors surface at the call
        return (self._unscale(outputs) for outputs in stages)

    def _unscale(self, outputs):
        predictions = outputs * self._y_scale + self._y_mean
        return predictions.ravel() if self._y_is_1d else predictions

    # --- hooks of BaseSNN
    def _check_y(self, y, n_samples):
        check_labels(y, "targets")  # missing values and text mixed with numbers, with the rows
        y = check_array(y, ensure_2d=False, dtype="numeric", ensure_all_finite=False, input_name="y")
        check_labels(y, "targets")  # NaN and infinity, with the rows
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}.")
        if len(y) != n_samples:
            raise ValueError(f"X has {n_samples} rows but y has {len(y)} targets; they must match.")
        return y

    def _encode_targets(self, y, reset, classes=None, weights=None):
        y2d = y.reshape(len(y), -1).astype(np.float64)
        if reset:
            self._y_is_1d = y.ndim == 1 or y.shape[1] == 1
            self.n_outputs_ = y2d.shape[1]
            self._y_mean, std = mean_std(y2d) if weights is None else _weighted_mean_std(y2d, weights)
            # A constant target is predicted exactly: its value, times a scale of 0 for the network.
            constant = (y2d == y2d[:1]).all(axis=0)
            self._y_mean = np.where(constant, y2d[0], self._y_mean)
            self._y_scale = np.where(constant, 0.0, np.where(std > 0, std, 1.0))
        elif y2d.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y2d.shape[1]} target(s) but the model was fitted with {self.n_outputs_}."
            )
        else:  # a target constant so far that now varies is learnt from here on, in its units
            varies = (self._y_scale == 0) & (y2d != self._y_mean).any(axis=0)
            self._y_scale = np.where(varies, 1.0, self._y_scale)
        scale = np.where(self._y_scale > 0, self._y_scale, 1.0)
        # Halves: the same numbers as (y - mean) / scale, without overflow near 1e308.
        return ((y2d * 0.5 - self._y_mean * 0.5) / (scale * 0.5)).astype(np.float32)

    def _n_outputs(self, targets):
        return self.n_outputs_

    def _check_fitted_targets(self):
        """The target scaling of a rebuilt model: one finite mean and positive scale per target."""
        self._refuse_attributes(["classes_"], "SNNClassifier")
        n_outputs = getattr(self, "n_outputs_", None)
        if not isinstance(n_outputs, (int, np.integer)) or isinstance(n_outputs, (bool, np.bool_)) or n_outputs < 1:
            raise ValueError(f"the fitted attribute n_outputs_ must be a positive int, got {n_outputs!r}.")
        for name in ("_y_mean", "_y_scale"):
            value = getattr(self, name, None)
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.shape != (n_outputs,):
                raise ValueError(
                    f"the fitted attribute {name} must be a float array of shape ({n_outputs},), one value "
                    f"per target, got {getattr(value, 'dtype', type(value).__name__)} of shape {np.shape(value)}."
                )
            if not np.isfinite(value).all() or (name == "_y_scale" and (value <= 0).any()):
                raise ValueError(
                    f"the fitted attribute {name} must be finite (and a scale positive), got {value.tolist()}."
                )
        is_1d = getattr(self, "_y_is_1d", None)
        if not isinstance(is_1d, (bool, np.bool_)) or (is_1d and n_outputs != 1):
            raise ValueError(
                f"the fitted attribute _y_is_1d must be a bool, True only for 1 target, got {is_1d!r} "
                f"with n_outputs_={n_outputs}."
            )
        return int(n_outputs)

    def _loss(self, outputs, targets, weights=None):
        """Mean squared error on the standardized targets, weighted per row."""
        if weights is None:
            return F.mse_loss(outputs, targets)
        return (F.mse_loss(outputs, targets, reduction="none").mean(dim=1) * weights).mean()

    def row_losses(self, outputs, targets):
        """The training loss of each row: squared error averaged over the standardized targets.

        ``fit`` minimizes their mean over a minibatch. ``outputs`` and
        ``targets`` have shape (..., n_outputs), targets as :meth:`start_fit`
        returns them; the result has shape (...).
        """
        return F.mse_loss(outputs, targets, reduction="none").mean(-1)

    def _score_outputs(self, outputs, y, sample_weight=None):
        predictions = outputs * self._y_scale + self._y_mean
        return r2_score(y.reshape(len(y), -1), predictions, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# Fitted attributes only a regressor has: a classifier that holds them is not one.
_REGRESSOR_TARGETS = ["n_outputs_", "_y_mean", "_y_scale", "_y_is_1d"]



def _weighted_mean_std(values, weights):
    """Weighted mean and standard deviation of each column, finite even for values near 1e308."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.average(values, axis=0, weights=weights)
        std = np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weights))
    if np.isfinite(mean).all() and np.isfinite(std).all():
        return mean, std
    unit = np.abs(values).max(axis=0)  # squares of huge values overflow: work in units of the peak
    unit = np.where(unit > 0, unit, 1.0)
    mean, std = _weighted_mean_std(values / unit, weights)
    return mean * unit, std * unit


def _logsumexp(logits):
    peak = logits.max(axis=1, keepdims=True)
    return peak + np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))


def _softmax(logits):
    return np.exp(logits - _logsumexp(logits))
