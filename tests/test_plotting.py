"""The displays draw exactly what the estimator recorded, and import matplotlib lazily."""

import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from pynmsnn import SNNClassifier, SNNRegressor
from pynmsnn.plotting import (
    FiringRateDisplay,
    MembraneDisplay,
    PredictionDisplay,
    ResultDisplay,
    SpikeRasterDisplay,
    TrainingCurveDisplay,
)

matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(n_steps=6, max_iter=30, learning_rate_init=0.01, random_state=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def classifier(iris):
    """Two hidden layers, a spiking readout and a threshold that is not the default."""
    X, y = iris
    return SNNClassifier((16, 12), readout="spikes", threshold=0.8, early_stopping=True, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def regressor():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return SNNRegressor((16,), **FAST).fit(X, y), X, y


def raster_points(collection):
    """(time step, unit) of each tick of a raster."""
    return sorted((round(seg[0, 0]), round(seg[:, 1].mean())) for seg in collection.get_segments())


def test_importing_the_package_does_not_import_matplotlib():
    """Plotting costs nothing until a figure is drawn."""
    code = (
        "import sys, pynmsnn, pynmsnn.plotting; "
        "loaded = [m for m in ('matplotlib', 'seaborn') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_training_curve_draws_loss_and_validation_scores(classifier):
    display = TrainingCurveDisplay.from_estimator(classifier)
    np.testing.assert_allclose(display.loss_line_.get_ydata(), classifier.loss_curve_)
    np.testing.assert_allclose(display.score_line_.get_ydata(), classifier.validation_scores_)
    np.testing.assert_array_equal(display.loss_line_.get_xdata(), np.arange(1, classifier.n_iter_ + 1))
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    assert display.figure_ is display.ax_.figure


def test_training_curve_without_early_stopping_has_one_axis(regressor):
    reg, _, _ = regressor
    _, ax = plt.subplots()
    display = TrainingCurveDisplay.from_estimator(reg, ax=ax)
    assert display.ax_ is ax
    assert display.score_line_ is None and display.score_ax_ is None
    np.testing.assert_allclose(display.loss_line_.get_ydata(), reg.loss_curve_)


def test_raster_draws_one_tick_per_recorded_spike(classifier, iris):
    """Each layer's panel holds exactly the spikes that simulate records for that row."""
    X, _ = iris
    row = 70
    record = classifier.simulate(X)  # the whole table: the display simulates one row alone
    display = SpikeRasterDisplay.from_estimator(classifier, X, row=row)
    assert len(display.axes_) == 1 + len(record.layer_names)
    for layer, spikes in enumerate(record.spikes):
        expected = sorted(zip(*(index.tolist() for index in np.nonzero(spikes[:, row]))))
        assert raster_points(display.rasters_[layer + 1]) == expected
    assert sum(len(r.get_segments()) for r in display.rasters_[1:]) > 0  # the check is not vacuous


def test_raster_input_panel_is_labelled_with_the_columns(classifier, iris):
    X, _ = iris
    display = SpikeRasterDisplay.from_estimator(classifier, X, row=3)
    input_ax = display.axes_[0]
    assert [t.get_text() for t in input_ax.get_yticklabels()] == list(X.columns)
    # A constant current is a heatmap of the scaled row, the same at every step.
    record = classifier.simulate(X.iloc[3:4])
    np.testing.assert_allclose(display.images_[0].get_array(), record.input[:, 0].T)
    assert [t.get_text() for t in display.axes_[-1].get_yticklabels()] == ["0", "1", "2"]
    assert display.axes_[-1].get_xlabel() == "time step"


def test_raster_of_a_membrane_readout_shows_its_membrane(regressor):
    reg, X, _ = regressor
    display = SpikeRasterDisplay.from_estimator(reg, X, row=1, layers=["hidden 1", "output"])
    assert [ax.get_title(loc="left") for ax in display.axes_][1] == "output (membrane readout)"
    membrane = reg.simulate(X.iloc[1:2]).membranes[-1][:, 0, 0]
    np.testing.assert_allclose(display.images_[1].get_array().ravel(), membrane)
    assert display.images_[0] is None and display.rasters_[1] is None


def test_raster_from_data_picks_raster_or_heatmap():
    spikes = np.array([[1, 0], [0, 1], [1, 1]])
    display = SpikeRasterDisplay([spikes, spikes * 0.5], ["spikes", "currents"]).plot()
    assert raster_points(display.rasters_[0]) == [(0, 0), (1, 1), (2, 0), (2, 1)]
    assert display.images_[1] is not None and display.rasters_[1] is None


def test_membrane_lines_are_the_record_and_threshold_is_the_estimators(classifier, iris):
    X, _ = iris
    row, neurons = 12, [0, 5, 11]
    display = MembraneDisplay.from_estimator(classifier, X, layer="hidden 2", neurons=neurons, row=row)
    record = classifier.simulate(X)
    for line, neuron in zip(display.lines_, neurons):
        np.testing.assert_allclose(line.get_ydata(), record.membranes[1][:, row, neuron])
    np.testing.assert_allclose(display.threshold_line_.get_ydata(), [0.8, 0.8])
    assert classifier.threshold == 0.8


def test_membrane_default_neurons_are_the_most_active(classifier, iris):
    X, _ = iris
    display = MembraneDisplay.from_estimator(classifier, X, layer=0, row=0)
    spikes = classifier.simulate(X.iloc[:1]).spikes[0][:, 0]
    chosen = [int(line.get_label().split()[-1]) for line in display.lines_]
    assert len(chosen) == 5
    assert spikes[:, chosen].sum(axis=0).min() >= np.sort(spikes.sum(axis=0))[-5]


def test_membrane_readout_has_no_threshold(regressor):
    reg, X, _ = regressor
    display = MembraneDisplay.from_estimator(reg, X, layer="output")
    assert display.threshold_line_ is None
    np.testing.assert_allclose(display.lines_[0].get_ydata(), reg.simulate(X.iloc[:1]).membranes[-1][:, 0, 0])


def test_firing_rate_bars_are_the_recorded_rates(classifier, iris):
    X, _ = iris
    display = FiringRateDisplay.from_estimator(classifier, X)
    record = classifier.simulate(X)
    heights = [bar.get_height() for bar in display.bars_]
    # Hidden layers, then the spiking output layer.
    np.testing.assert_allclose(heights[:2], list(record.firing_rates.values()))
    np.testing.assert_allclose(heights[2], record.spikes[-1].mean())
    for points, spikes in zip(display.points_, record.spikes):
        np.testing.assert_allclose(points.get_offsets()[:, 1], spikes.mean(axis=(0, 1)))


def test_firing_rate_leaves_out_a_membrane_readout(regressor):
    reg, X, _ = regressor
    display = FiringRateDisplay.from_estimator(reg, X.iloc[:50])
    assert list(display.rates) == ["hidden 1"]


def test_confusion_matrix_counts_every_row(classifier, iris):
    X, y = iris
    display = ResultDisplay.from_estimator(classifier, X, y)
    matrix = display.display_.confusion_matrix
    assert matrix.sum() == len(X)
    np.testing.assert_array_equal(matrix, confusion_matrix(y, classifier.predict(X)))
    np.testing.assert_array_equal(display.display_.im_.get_array(), matrix)
    assert f"{classifier.score(X, y):.3f}" in display.ax_.get_title()


def test_regression_result_plots_predictions_against_truth(regressor):
    reg, X, y = regressor
    display = ResultDisplay.from_estimator(reg, X, y)
    offsets = display.display_.scatters_[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], y)
    np.testing.assert_allclose(offsets[:, 1], reg.predict(X))
    assert display.score == pytest.approx(reg.score(X, y))
    assert display.ax_.get_xlabel() == "true target"


def test_prediction_display_has_one_panel_per_target():
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 33.0]])
    display = PredictionDisplay(y, y * 1.1, target_names=["a", "b"]).plot()
    assert len(display.axes_) == 2
    np.testing.assert_allclose(display.scatters_[1].get_offsets()[:, 1], y[:, 1] * 1.1)
    assert display.axes_[1].get_ylabel() == "predicted b"


def test_pipeline_and_search_are_unwrapped(iris):
    """The raster of a pipeline's SNN is labelled with the columns the SNN sees."""
    X, y = iris
    pipe = make_pipeline(SelectKBest(f_classif, k=2), SNNClassifier((8,), **FAST)).set_output(transform="pandas")
    search = GridSearchCV(pipe, {"snnclassifier__n_steps": [4]}, cv=2).fit(X, y)
    display = SpikeRasterDisplay.from_estimator(search, X, row=0)
    kept = list(search.best_estimator_[0].get_feature_names_out())
    assert [t.get_text() for t in display.axes_[0].get_yticklabels()] == kept
    assert ResultDisplay.from_estimator(search, X, y).display_.confusion_matrix.sum() == len(X)


def test_clear_errors(classifier, iris):
    X, y = iris
    with pytest.raises(ValueError, match="row=150 is out of range for X with 150 rows"):
        SpikeRasterDisplay.from_estimator(classifier, X, row=150)
    with pytest.raises(ValueError, match=r"layer='hidden 3' is not a layer.*'hidden 1'"):
        MembraneDisplay.from_estimator(classifier, X, layer="hidden 3")
    with pytest.raises(ValueError, match=r"neurons \[16\] do not exist in layer 'hidden 1' of 16"):
        MembraneDisplay.from_estimator(classifier, X, neurons=[16])
    with pytest.raises(TypeError, match="Expected a fitted SNNClassifier or SNNRegressor.*LogisticRegression"):
        SpikeRasterDisplay.from_estimator(LogisticRegression().fit(X, y), X)
    with pytest.raises(NotFittedError):
        SpikeRasterDisplay.from_estimator(SNNClassifier(), X)
