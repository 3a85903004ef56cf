"""Hyperparameter search that trains every candidate and fold of one architecture as one batched network.

:class:`SNNGridSearchCV` and :class:`SNNRandomizedSearchCV` take the
parameters of scikit-learn's ``GridSearchCV`` and ``RandomizedSearchCV`` and
give the same attributes (``cv_results_``, ``best_params_``, ``best_score_``,
``best_estimator_``, ...). What differs is how the fits run. Each
(candidate, fold) pair is a *member*; members whose networks have the same
shapes (``hidden_layer_sizes``, ``n_steps``, ``encoder``, ``readout``, the
input and output widths) and minibatch size are trained side by side as one
network with stacked weights (:mod:`pynmsnn._stacked`): one batched matmul per
layer for all of them, each with its own decay, threshold, refractory penalty,
learning rate, ``alpha``, seed, rows and stopping rule. A member that stops
(``tol``, ``n_iter_no_change``, ``max_iter``) leaves the stack and costs
nothing more.

The batch is an implementation detail, not a different model: a member's
rows are scaled, shuffled and cut into minibatches as its own ``fit`` would,
and its weights, loss curve and predictions equal those of ``fit`` on the
same rows with the same ``random_state`` on one torch thread, bit for bit
(``tests/test_model_selection.py``). Each member then becomes a fitted
estimator through the estimator's own ``finish_fit``, so scorers, ``refit``
and ``best_estimator_`` work as with ``GridSearchCV``; ``refit`` trains the
best candidate on all rows with a plain ``fit``.

Candidates that cannot be batched are fitted one by one, as ``GridSearchCV``
fits them: ``early_stopping=True`` (each fit scores its own validation split),
fit parameters such as ``sample_weight``, a searched pre-processing step of a
``Pipeline``, an estimator that is not an SNN estimator or a ``Pipeline``
ending in one, networks without hidden layers, and bfloat16 matmuls of
spike-fed layers (``precision='auto'`` with two or more hidden layers on a CPU
with native bfloat16). ``cv_results_['batched']`` says which candidates were
batched and ``cv_results_['not_batched_because']`` why not.

Memory is bounded by ``memory_budget``: a stack holds as many members as
:func:`pynmsnn._stacked.member_bytes` of each fits in it; a larger group is
split into several stacks, trained one after the other. The stacks (and the
one-by-one fits) are tasks for joblib: ``n_jobs`` spreads them over processes,
and ``joblib.parallel_backend("dask")`` over a Dask cluster
(``examples/dask_batched_search.py``); with ``n_jobs`` above one, a group is
split into at least that many stacks so that every worker has one.

Scikit-learn's own search machinery lays out ``cv_results_``
(``BaseSearchCV._format_results``) and scores each fitted member
(``sklearn.model_selection._validation._score``), so the results read as
``GridSearchCV``'s do.
"""

import numbers
import time
from collections import defaultdict
from numbers import Integral, Real
from traceback import format_exc

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.metrics._scorer import _check_multimetric_scoring
from sklearn.model_selection._validation import (
    _fit_and_score,
    _insert_error_scores,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, indexable

from ._base import BaseSNN, resolve_device
from ._engine import spike_matmul_dtype
from ._stacked import Member, member_bytes, split_by_budget, stack_key, train_members
from .encoders import BINARY_ENCODERS

__all__ = ["SNNGridSearchCV", "SNNRandomizedSearchCV"]

_NOT_SNN = "the estimator is neither an SNN estimator nor a Pipeline that ends in one"


class _BatchedSearchCV(BaseSearchCV):
    """The search shared by :class:`SNNGridSearchCV` and :class:`SNNRandomizedSearchCV`."""

    _parameter_constraints = {
        **BaseSearchCV._parameter_constraints,
        "memory_budget": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, estimator, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False, memory_budget=1024):
        super().__init__(
            estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
            pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score,
        )
        self.memory_budget = memory_budget

    def _candidates(self):  # pragma: no cover - each subclass defines it
        raise NotImplementedError

    def fit(self, X, y=None, **params):
        """Run fit with every candidate, batched where it can be, and refit the best.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        **params : dict
            ``groups`` for the splitter, and parameters passed to the
            estimator's ``fit`` (candidates are then fitted one by one).

        Returns
        -------
        self : object
            The fitted search.
        """
        self._validate_params()
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, **routed.splitter.split))
        self.n_splits_ = len(splits)
        candidates = list(self._candidates())
        if not candidates or not splits:
            raise ValueError("No fits were performed. Was the CV iterator empty? Were there no candidates?")
        fit_params = routed.estimator.fit
        reasons = [_why_not_batched(self.estimator, candidate, fit_params) for candidate in candidates]
        if self.verbose > 0:
            batched = sum(reason is None for reason in reasons)
            print(f"Fitting {self.n_splits_} folds for each of {len(candidates)} candidates, totalling "
                  f"{len(candidates) * self.n_splits_} fits; {batched} candidates batched.")
        out = self._run(X, y, candidates, splits, reasons, scorers, fit_params, routed.scorer.score)
        _warn_or_raise_about_fit_failures(out, self.error_score)
        if callable(self.scoring):
            _insert_error_scores(out, self.error_score)
        more = {"batched": [reason is None for reason in reasons],
                "not_batched_because": [reason or "" for reason in reasons]}
        results = self._format_results(candidates, self.n_splits_, out, more)
        self.multimetric_ = isinstance(out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(out[0]["test_scores"])
            refit_metric = self.refit
        self._select_best(results, refit_metric)
        if self.refit:
            self._refit_best(X, y, fit_params)
        self.scorer_ = self._metrics() or scorers
        self.cv_results_ = results
        return self

    def _metrics(self):
        """``{name: scorer}`` when ``scoring`` names several metrics (a list, tuple or dict), else None."""
        if self.scoring is None or callable(self.scoring) or isinstance(self.scoring, str):
            return None
        return _check_multimetric_scoring(self.estimator, self.scoring)

    def _run(self, X, y, candidates, splits, reasons, scorers, fit_params, score_params):
        """Every (candidate, fold)'s result, in ``GridSearchCV``'s order: candidates, then folds."""
        common = dict(scorer=scorers, score_params=score_params, return_train_score=self.return_train_score,
                      error_score=self.error_score)
        metrics = self._metrics()
        tasks, slots = [], []
        for members in self._stacks(X, y, candidates, splits, reasons):
            tasks.append(delayed(_fit_and_score_stack)(self.estimator, X, y, members, self.memory_budget,
                                                       self.verbose, metrics=metrics and list(metrics), **common))
            slots.append([(c, s) for c, _, s, _, _ in members])
        for c, (candidate, reason) in enumerate(zip(candidates, reasons)):
            if reason is None:
                continue
            for s, (train, test) in enumerate(splits):
                tasks.append(delayed(_fit_and_score)(
                    clone(self.estimator), X, y, train=train, test=test, verbose=self.verbose,
                    parameters=candidate, fit_params=fit_params, return_n_test_samples=True, return_times=True,
                    split_progress=(s, len(splits)), candidate_progress=(c, len(candidates)), **common,
                ))
                slots.append([(c, s)])
        with Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch) as parallel:
            done = parallel(tasks)
        by_slot = {}
        for task_slots, result in zip(slots, done):
            for slot, one in zip(task_slots, result if isinstance(result, list) else [result]):
                by_slot[slot] = one
        return [by_slot[(c, s)] for c in range(len(candidates)) for s in range(len(splits))]

    def _stacks(self, X, y, candidates, splits, reasons):
        """The batched members in groups of one architecture, split so that each worker gets some."""
        groups = defaultdict(list)
        for c, (candidate, reason) in enumerate(zip(candidates, reasons)):
            if reason is not None:
                continue
            key = _architecture(self.estimator, candidate)
            for s, (train, test) in enumerate(splits):
                groups[key].append((c, candidate, s, train, test))
        workers = effective_n_jobs(self.n_jobs)
        stacks = []
        for members in groups.values():
            n_parts = min(len(members), max(1, workers))
            bounds = np.linspace(0, len(members), n_parts + 1).round().astype(int)
            stacks.extend(members[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
        return stacks

    def _select_best(self, results, refit_metric):
        """``best_index_``, ``best_score_`` and ``best_params_``, as ``GridSearchCV`` sets them."""
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]

    def _refit_best(self, X, y, fit_params):
        """A plain fit of the best candidate on every row."""
        self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        start = time.time()
        if y is None:
            self.best_estimator_.fit(X, **fit_params)
        else:
            self.best_estimator_.fit(X, y, **fit_params)
        self.refit_time_ = time.time() - start
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_


class SNNGridSearchCV(_BatchedSearchCV):
    """Exhaustive search over a grid, training every candidate and fold of one architecture as one network.

    A drop-in for :class:`sklearn.model_selection.GridSearchCV` with an
    :class:`~pynmsnn.SNNClassifier` or :class:`~pynmsnn.SNNRegressor`, or a
    ``Pipeline`` that ends in one, as the estimator. Candidates and folds that
    share their network's shapes train side by side, each exactly as its own
    ``fit`` would (see :mod:`pynmsnn.model_selection`); candidates that cannot
    be batched are fitted one by one.

    Parameters
    ----------
    estimator : SNNClassifier, SNNRegressor or Pipeline
        The model; a ``Pipeline``'s last step is searched through
        ``step__parameter`` names.
    param_grid : dict or list of dicts
        Parameter names (``get_params`` names) and the values to try, as for
        ``GridSearchCV``.
    scoring : str, callable, list, tuple or dict, default=None
        As for ``GridSearchCV``; None uses the estimator's ``score``.
    n_jobs : int, default=None
        Number of joblib workers the stacks and the one-by-one fits are
        spread over; None is 1 unless in a ``joblib.parallel_backend``
        context.
    refit : bool, str or callable, default=True
        Refit the best candidate on the whole data (a plain ``fit``); as for
        ``GridSearchCV``.
    cv : int, cross-validation generator or iterable, default=None
        As for ``GridSearchCV`` (5-fold, stratified for classifiers).
    verbose : int, default=0
        Print what is run.
    pre_dispatch : int or str, default='2*n_jobs'
        As for ``GridSearchCV``.
    error_score : 'raise' or numeric, default=np.nan
        The score of a fit that fails, or 'raise'.
    return_train_score : bool, default=False
        Also score each fit on its training rows.
    memory_budget : float, default=1024
        Memory, in MiB (2**20 bytes), that one stack of members may hold
        while it trains: about ``6 x 4 bytes x batch x n_steps x (sum of the
        hidden widths + outputs)`` per member
        (:func:`pynmsnn._stacked.member_bytes`). A larger group of members is
        split into several stacks, trained one after the other.

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        As ``GridSearchCV``'s, with two more columns: ``batched`` (bool) and
        ``not_batched_because`` (str, empty when batched). A batched fit's
        ``fit_time`` is its own set-up time plus its share of its stack's.
    best_estimator_ : estimator
        The best candidate refit on the whole data (with ``refit``).
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Its index in ``cv_results_``.
    scorer_ : callable or dict
        The scorer(s) used.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds the refit took.
    multimetric_ : bool
        Whether several scorers were used.

    See Also
    --------
    SNNRandomizedSearchCV : Candidates sampled from distributions.
    sklearn.model_selection.GridSearchCV : The search this one mirrors.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.model_selection import SNNGridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SNNGridSearchCV(
    ...     SNNClassifier((16,), n_steps=8, max_iter=20, random_state=0),
    ...     {"decay": [0.8, 0.95], "learning_rate_init": [3e-3, 1e-2]}, cv=3,
    ... ).fit(X, y)
    >>> bool(search.cv_results_["batched"].all()), sorted(search.best_params_)
    (True, ['decay', 'learning_rate_init'])
    """

    _parameter_constraints = {
        **_BatchedSearchCV._parameter_constraints,
        "param_grid": [dict, list],
    }

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False, memory_budget=1024):
        super().__init__(
            estimator, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
            pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score,
            memory_budget=memory_budget,
        )
        self.param_grid = param_grid

    def _candidates(self):
        return ParameterGrid(self.param_grid)


class SNNRandomizedSearchCV(_BatchedSearchCV):
    """Randomized search, training every sampled candidate and fold of one architecture as one network.

    A drop-in for :class:`sklearn.model_selection.RandomizedSearchCV`; see
    :class:`SNNGridSearchCV` for how the fits run and for the parameters and
    attributes they share.

    Parameters
    ----------
    estimator : SNNClassifier, SNNRegressor or Pipeline
        The model.
    param_distributions : dict or list of dicts
        Parameter names and distributions (with an ``rvs`` method) or lists
        to sample from, as for ``RandomizedSearchCV``.
    n_iter : int, default=10
        Number of candidates sampled.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score, memory_budget
        As for :class:`SNNGridSearchCV`.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling of candidates (not the networks: give the
        estimator its own ``random_state``).

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, \
multimetric_
        As for :class:`SNNGridSearchCV`.

    See Also
    --------
    SNNGridSearchCV : Every candidate of a grid.
    sklearn.model_selection.RandomizedSearchCV : The search this one mirrors.

    Examples
    --------
    >>> from scipy.stats import loguniform, uniform
    >>> from sklearn.datasets import load_iris
    >>> from pynmsnn import SNNClassifier
    >>> from pynmsnn.model_selection import SNNRandomizedSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SNNRandomizedSearchCV(
    ...     SNNClassifier((16,), n_steps=8, max_iter=20, random_state=0),
    ...     {"decay": uniform(0.7, 0.29), "learning_rate_init": loguniform(1e-3, 3e-2)},
    ...     n_iter=4, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> len(search.cv_results_["params"])
    4
    """

    _parameter_constraints = {
        **_BatchedSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None, refit=True,
                 cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None, error_score=np.nan,
                 return_train_score=False, memory_budget=1024):
        super().__init__(
            estimator, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
            pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score,
            memory_budget=memory_budget,
        )
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.random_state = random_state

    def _candidates(self):
        return ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state)


# --------------------------------------------------------------- what batches
def _snn_step(estimator):
    """``(name, snn)``: the SNN estimator and the prefix of its parameters, or None when there is none."""
    if isinstance(estimator, BaseSNN):
        return "", estimator
    if isinstance(estimator, Pipeline) and isinstance(estimator.steps[-1][1], BaseSNN):
        name, snn = estimator.steps[-1]
        return f"{name}__", snn
    return None


def _candidate_snn(estimator, candidate):
    """The unfitted SNN estimator of ``candidate``, and its parameters without the step prefix."""
    prefix, snn = _snn_step(estimator)
    own = {name[len(prefix):]: value for name, value in candidate.items()}
    return clone(snn).set_params(**clone(own, safe=False)), own


def _why_not_batched(estimator, candidate, fit_params):
    """Why ``candidate``'s fits cannot train in a stack, or None when they can."""
    step = _snn_step(estimator)
    if step is None:
        return _NOT_SNN
    prefix = step[0]
    others = sorted({name.split("__")[0] for name in candidate if not name.startswith(prefix)})
    if others:
        return f"searches a pre-processing step or the pipeline itself ({', '.join(others)})"
    if fit_params:
        return f"fit parameters ({', '.join(sorted(fit_params))}) go to each fit"
    try:
        snn, _ = _candidate_snn(estimator, candidate)
    except ValueError as error:  # a name the estimator does not take: each fit fails as in GridSearchCV
        return f"set_params refuses it: {error}"
    params = snn.get_params(deep=False)
    if params["solver"] != "adam":
        return f"solver={params['solver']!r}: only Adam's steps are batched"
    if params["early_stopping"]:
        return "early_stopping=True: each fit scores its own validation split"
    sizes = params["hidden_layer_sizes"]
    n_hidden = 1 if isinstance(sizes, numbers.Integral) else len(sizes)
    if n_hidden == 0:
        return "no hidden layer"
    spike_fed = n_hidden > 1 or params["encoder"] in BINARY_ENCODERS
    try:
        low = spike_matmul_dtype(params["precision"], resolve_device(params["device"]))
    except ValueError:
        return None  # the fit reports the bad value
    if spike_fed and low is not None:
        return "bfloat16 matmuls of spike-fed layers (precision='auto' on this CPU, or 'bfloat16')"
    return None


def _architecture(estimator, candidate):
    """The parameters that must agree for members to share a stack (shapes and minibatch size)."""
    snn, _ = _candidate_snn(estimator, candidate)
    params = snn.get_params(deep=False)
    sizes = params["hidden_layer_sizes"]
    sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
    return (type(snn).__name__, sizes, params["n_steps"], params["encoder"], params.get("readout"),
            params["batch_size"], params["device"])


# ----------------------------------------------------------------- the tasks
def _fit_and_score_stack(estimator, X, y, members, memory_budget, verbose, *, metrics, scorer, score_params,
                         return_train_score, error_score):
    """Fit and score members of one architecture, trained in stacks; one result dict each, in order.

    ``members`` are ``(candidate index, candidate, split index, train, test)``;
    ``metrics`` the names of several scorers, or None for one.
    A result has the keys of ``_fit_and_score``'s: ``fit_error``,
    ``test_scores`` (and ``train_scores``), ``n_test_samples``, ``fit_time``
    and ``score_time``.
    """
    prepared = _PreparedFolds(estimator, X, y)
    started, results = [], [None] * len(members)
    for i, (_, candidate, split, train, test) in enumerate(members):
        start = time.time()
        try:
            member = prepared.start(candidate, split, train)
        except Exception:
            if error_score == "raise":
                raise
            results[i] = _failed(metrics, error_score, return_train_score, len(test), time.time() - start)
            continue
        started.append((i, member, time.time() - start))
    for stack in _split_stacks(started, memory_budget):
        start = time.time()
        trained = train_members([member for _, member, _ in stack])
        share = (time.time() - start) / len(stack)
        if verbose > 1:
            print(f"trained a stack of {len(stack)} fits in {time.time() - start:.2f} s")
        for (i, member, setup), result in zip(stack, trained):
            _, _, split, train, test = members[i]
            results[i] = _finish_and_score(prepared, member, result, split, train, test, setup + share,
                                           metrics, scorer, score_params, return_train_score, error_score)
    return results


def _split_stacks(started, memory_budget):
    """The started members by :func:`stack_key`, each group cut to fit ``memory_budget`` MiB."""
    groups = defaultdict(list)
    for entry in started:
        groups[stack_key(entry[1])].append(entry)
    stacks = []
    for group in groups.values():
        module = group[0][1].estimator.module_
        widths = [layer.out_features for layer in module.layers]
        each = member_bytes(group[0][1].plan.batch_size, module.n_steps, widths)
        position = 0
        for size in split_by_budget(len(group), each, memory_budget * 2**20):
            stacks.append(group[position : position + size])
            position += size
    return stacks


def _finish_and_score(prepared, member, result, split, train, test, fit_time, metrics, scorer, score_params,
                      return_train_score, error_score):
    """End a member's fit with ``finish_fit`` and score it as ``_fit_and_score`` would."""
    start = time.time()
    try:
        member.estimator.finish_fit(member.inputs, result.state_dict, result.loss_curve, result.stopped,
                                    result.diverged_loss)
    except Exception:
        if error_score == "raise":
            raise
        return _failed(metrics, error_score, return_train_score, len(test), fit_time + time.time() - start)
    fit_time += time.time() - start
    fitted = prepared.fitted(member.estimator, split)
    X_test, y_test = _safe_split(fitted, prepared.X, prepared.y, test, train)
    start = time.time()
    test_scores = _score(fitted, X_test, y_test, scorer, _check_method_params(prepared.X, score_params, test),
                         error_score)
    score_time = time.time() - start
    out = {"fit_error": None, "test_scores": test_scores, "n_test_samples": len(test), "fit_time": fit_time,
           "score_time": score_time}
    if return_train_score:
        X_train, y_train = _safe_split(fitted, prepared.X, prepared.y, train)
        out["train_scores"] = _score(fitted, X_train, y_train, scorer,
                                     _check_method_params(prepared.X, score_params, train), error_score)
    return out


def _failed(metrics, error_score, return_train_score, n_test, fit_time):
    """The result of a fit that raised, as ``_fit_and_score`` records it (``metrics``: names of several scorers)."""
    scores = error_score if metrics is None else {name: error_score for name in metrics}
    out = {"fit_error": format_exc(), "test_scores": scores, "n_test_samples": n_test, "fit_time": fit_time,
           "score_time": 0.0}
    if return_train_score:
        out["train_scores"] = scores.copy() if isinstance(scores, dict) else scores
    return out


class _PreparedFolds:
    """Each fold's training rows as the SNN step sees them; a Pipeline's pre-processing fitted once per fold."""

    def __init__(self, estimator, X, y):
        self.estimator, self.X, self.y = estimator, X, y
        self.prefix, _ = _snn_step(estimator)
        self._folds = {}  # split index -> (fitted pre-processing steps or None, rows, targets)

    def _fold(self, split, train):
        if split not in self._folds:
            X_train, y_train = _safe_split(self.estimator, self.X, self.y, train)
            pre = None
            if isinstance(self.estimator, Pipeline):
                pre = clone(self.estimator)[:-1]
                X_train = pre.fit_transform(X_train, y_train)
            self._folds[split] = (pre, X_train, y_train)
        return self._folds[split]

    def start(self, candidate, split, train):
        """The member of ``candidate`` on fold ``split``, after ``start_fit``."""
        _, X_train, y_train = self._fold(split, train)
        snn, _ = _candidate_snn(self.estimator, candidate)
        inputs, targets = snn.start_fit(X_train, y_train)
        return Member(snn, inputs, targets, snn.training_plan(len(inputs)))

    def fitted(self, snn, split):
        """The fitted estimator to score: the SNN itself, or the Pipeline with its fold's pre-processing."""
        pre = self._folds[split][0]
        if pre is None:
            return snn
        fitted = clone(self.estimator)
        fitted.steps = [*pre.steps, (fitted.steps[-1][0], snn)]
        return fitted
