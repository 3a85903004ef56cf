"""Multilabel classification: a 0/1 indicator target, one sigmoid output per label."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import is_classifier
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, hamming_loss
from sklearn.utils import get_tags

from pynmsnn import SNNClassifier, load, save

FAST = dict(hidden_layer_sizes=(32,), n_steps=6, max_iter=60, learning_rate_init=0.02, random_state=0)


@pytest.fixture(scope="module")
def labelled():
    X, Y = make_multilabel_classification(n_samples=300, n_features=8, n_classes=4, n_labels=2, random_state=0)
    return X, Y


@pytest.fixture(scope="module")
def fitted(labelled):
    X, Y = labelled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SNNClassifier(**FAST).fit(X, Y)


def test_one_output_per_label_and_scikit_learns_conventions(fitted, labelled):
    """classes_ are the label indices; predict gives the 0/1 matrix; score is subset accuracy."""
    X, Y = labelled
    assert is_classifier(fitted) and get_tags(fitted).classifier_tags.multi_label
    np.testing.assert_array_equal(fitted.classes_, np.arange(4))
    assert fitted.module_.output.out_features == 4
    predicted = fitted.predict(X)
    assert predicted.shape == Y.shape and predicted.dtype == Y.dtype
    assert set(np.unique(predicted)) <= {0, 1}
    assert fitted.score(X, Y) == accuracy_score(Y, predicted)


def test_probabilities_are_per_label_and_agree_with_predict(fitted, labelled):
    """predict_proba holds each label's own probability (rows need not sum to 1); above 0.5 is on."""
    X, _ = labelled
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 4) and ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(X), (proba > 0.5).astype(int))
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X)), proba, rtol=1e-12)
    stages = list(fitted.staged_predict(X))
    np.testing.assert_array_equal(stages[-1], fitted.predict(X))
    # The stages average the readout step by step, in float32: equal up to its rounding.
    np.testing.assert_allclose(list(fitted.staged_predict_proba(X))[-1], proba, rtol=1e-5)


def test_it_learns_the_labels(fitted, labelled):
    """Better than the best constant answer per label."""
    X, Y = labelled
    constant = np.tile((Y.mean(axis=0) > 0.5).astype(int), (len(Y), 1))
    assert hamming_loss(Y, fitted.predict(X)) < hamming_loss(Y, constant) - 0.1


@pytest.mark.parametrize("form", ["list of lists", "sparse", "bool"])
def test_other_forms_of_the_indicator_train_the_same_model(form, fitted, labelled):
    X, Y = labelled
    given = {"list of lists": Y.tolist(), "sparse": sparse.csr_matrix(Y), "bool": Y.astype(bool)}[form]
    np.testing.assert_array_equal(SNNClassifier(**FAST).fit(X, given).predict_proba(X), fitted.predict_proba(X))


def test_sample_weight_and_partial_fit(labelled):
    """Weights and partial_fit work for multilabel targets; zero weight is the row absent here too."""
    X, Y = labelled
    w = np.where(np.arange(len(X)) % 3 == 0, 0.0, 1.0)
    weighted = SNNClassifier(**FAST).fit(X, Y, sample_weight=w)
    absent = SNNClassifier(**FAST).fit(X[w > 0], Y[w > 0])
    np.testing.assert_array_equal(weighted.predict_proba(X), absent.predict_proba(X))
    clf = SNNClassifier(**FAST).partial_fit(X[:150], Y[:150]).partial_fit(X[150:], Y[150:])
    assert clf.n_iter_ == 2 and clf.predict(X).shape == Y.shape


def test_switching_kinds_of_target_is_refused(fitted, labelled):
    X, Y = labelled
    with pytest.raises(ValueError, match="fitted on a multilabel indicator y of 4 labels"):
        SNNClassifier(**FAST).fit(X, Y).partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="indicator of 3 labels, but SNNClassifier was fitted on 4 labels"):
        SNNClassifier(**FAST).fit(X, Y).partial_fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="indicator of 4 labels, but SNNClassifier was fitted on 1-D labels"):
        SNNClassifier(**FAST).fit(X, Y[:, 0]).partial_fit(X, Y)


def test_targets_that_are_not_indicators_are_refused_with_the_fix(labelled):
    X, Y = labelled
    with pytest.raises(ValueError, match="'multiclass-multioutput'.*MultiLabelBinarizer"):
        SNNClassifier(**FAST).fit(X, Y + Y[:, :1])  # values 0, 1 and 2
    with pytest.raises(ValueError, match=r"values \[0, 2\].*0 \(label off\) and 1 \(label on\) only"):
        SNNClassifier(**FAST).fit(X, Y * 2)
    with pytest.raises(ValueError, match="class_weight applies to single-label classification"):
        SNNClassifier(class_weight={0: 2.0}, **FAST).fit(X, Y)


def test_save_and_load_keep_it_multilabel(fitted, labelled, tmp_path):
    X, _ = labelled
    save(fitted, tmp_path / "multilabel.pnm")
    loaded = load(tmp_path / "multilabel.pnm")
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
