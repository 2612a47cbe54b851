"""The time-series autoencoder lab's own modules (utils.py, public_tests.py) and its hidden tests."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import nbformat
import numpy as np
import pytest
from conftest import REPO_ROOT, import_lab_module

from grading.sample_class import CORPUS, read_entry
from grading.verdicts.checks import problems_with, run_in_process
from grading.verdicts.hidden_tests import timeseries_autoencoder as hidden

matplotlib.use("Agg")
LAB = "timeseries_autoencoder"


@pytest.fixture
def lab() -> SimpleNamespace:
    return SimpleNamespace(utils=import_lab_module(LAB, "utils"), public_tests=import_lab_module(LAB, "public_tests"))


@pytest.fixture
def utils(lab):
    return lab.utils


def answers_of(entry: str) -> dict:
    """The functions a corpus entry defines (entries without a cell take correct_vectorised's)."""
    cells = {
        **read_entry(CORPUS / LAB / "correct_vectorised.py").cells,
        **read_entry(CORPUS / LAB / f"{entry}.py").cells,
    }
    namespace: dict = {}
    for source in cells.values():
        exec(source, namespace)
    return namespace


def master_answers() -> dict:
    """The functions the master notebook's answer cells define."""
    notebook = nbformat.read(REPO_ROOT / "solutions" / LAB / f"{LAB}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


def identity_autoencoder(utils, width: int):
    """A one-layer 'network' whose linear output copies its input."""
    return utils.Autoencoder([np.eye(width)], [np.zeros(width)], [], [], 1)


# ---------------------------------------------------------------------------------------------
# The signal and the anomalies
# ---------------------------------------------------------------------------------------------


def test_the_signal_is_the_same_for_the_same_seed_and_another_for_another(utils):
    first, again, other = utils.make_cpu_signal(), utils.make_cpu_signal(), utils.make_cpu_signal(seed=1)
    assert first.shape == (100_000,)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_the_signal_repeats_every_day_apart_from_the_noise(utils):
    signal = utils.make_cpu_signal(4 * 288)
    day_apart = signal[288:] - signal[:-288]
    assert np.std(day_apart) < 2.5  # the difference of two noise terms of std 1.5 has std 2.1
    assert np.std(signal) > 8


def test_too_short_a_signal_is_refused_by_name(utils):
    with pytest.raises(ValueError, match="n_samples must be an integer of at least 2"):
        utils.make_cpu_signal(1)


def test_anomalies_are_written_where_the_lab_says_and_marked(utils):
    test = np.zeros(5000)
    target, is_anomaly = utils.insert_anomalies(test)
    ramp, cosine = utils.anomaly_shapes()
    assert target.shape == is_anomaly.shape == (3000,)
    assert np.array_equal(target[500:1500], ramp) and np.array_equal(target[2000:3000], cosine)
    assert np.flatnonzero(is_anomaly).tolist() == list(range(500, 1500)) + list(range(2000, 3000))
    assert np.all(test == 0), "the input must not change"


def test_a_test_part_shorter_than_the_scored_samples_is_refused(utils):
    with pytest.raises(ValueError, match="test has 2999 samples, fewer than the 3000 to score"):
        utils.insert_anomalies(np.zeros(2999))


def test_anomalous_windows_are_those_touching_an_anomaly(utils):
    _, is_anomaly = utils.insert_anomalies(np.zeros(3000))
    labels = utils.window_labels(is_anomaly, 30, 30)
    assert np.flatnonzero(labels).tolist() == list(range(16, 50)) + list(range(66, 100))


# ---------------------------------------------------------------------------------------------
# Windows: reconstruction and bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "window", "step"), [(90, 30, 30), (95, 30, 30), (50, 10, 3), (30, 30, 1)])
def test_reconstruct_puts_every_sample_back_in_place(utils, length, window, step):
    series = np.random.default_rng(length).normal(size=length)
    rebuilt = utils.reconstruct(identity_autoencoder(utils, window), series, window, step)
    np.testing.assert_allclose(rebuilt, series, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("window", "step", "message"),
    [
        (31, 1, "window of 31 samples is longer than the series (30 samples)"),
        (10, 0, "step must be a positive integer, got 0"),
        (10, -3, "step must be a positive integer, got -3"),
        (0, 1, "window must be a positive integer, got 0"),
        (2.5, 1, "window must be a positive integer, got 2.5"),
    ],
)
def test_bad_windowing_gets_one_clear_error(utils, window, step, message):
    with pytest.raises(ValueError) as error:
        utils.window_scores(np.zeros(30), window, step)
    assert str(error.value) == message


def test_reconstructing_a_series_shorter_than_the_window_is_refused(utils):
    with pytest.raises(ValueError, match="longer than the series"):
        utils.reconstruct(identity_autoencoder(utils, 30), np.zeros(29), 30)


def test_nan_in_a_series_is_refused_with_the_likely_cause(utils):
    series = np.zeros(60)
    series[7] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values: check the normalisation"):
        utils.reconstruct(identity_autoencoder(utils, 30), series, 30)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def small_windows(utils) -> np.ndarray:
    series = utils.make_cpu_signal(3000)
    series = (series - series.mean()) / series.std()
    return np.lib.stride_tricks.sliding_window_view(series, 6)


def train_small(utils, windows, cache_dir):
    return utils.train_autoencoder(windows, hidden_layers=(4, 2, 4), max_epochs=4, patience=2, cache_dir=cache_dir)


def test_training_keeps_the_weights_of_the_best_validation_epoch(utils, tmp_path):
    windows = small_windows(utils)
    model = train_small(utils, windows, tmp_path)
    assert model.layer_sizes == [6, 4, 2, 4, 6]
    assert len(model.train_loss) == len(model.validation_loss) <= 4
    assert model.validation_loss[model.best_epoch - 1] == min(model.validation_loss)
    validation = windows[-int(len(windows) * 0.1) :]
    assert np.mean((model.predict(validation) - validation) ** 2) == pytest.approx(min(model.validation_loss), rel=1e-9)


def test_training_again_on_the_same_windows_reads_the_cache_and_gives_the_same_network(utils, tmp_path):
    first = train_small(utils, small_windows(utils), tmp_path)
    second = train_small(utils, small_windows(utils), tmp_path)
    assert not first.from_cache and second.from_cache
    for a, b in zip(first.coefs_ + first.intercepts_, second.coefs_ + second.intercepts_):
        assert np.array_equal(a, b)
    assert second.validation_loss == first.validation_loss


def test_windows_that_differ_only_by_rounding_share_the_cached_network(utils, tmp_path):
    windows = small_windows(utils)
    train_small(utils, windows, tmp_path)
    assert train_small(utils, windows * (1 + 1e-13), tmp_path).from_cache
    assert not train_small(utils, windows * (1 + 1e-4), tmp_path).from_cache


def test_a_damaged_cache_entry_is_trained_again(utils, tmp_path):
    train_small(utils, small_windows(utils), tmp_path)
    for entry in tmp_path.glob("*.npz"):
        entry.write_bytes(b"not an npz file")
    assert not train_small(utils, small_windows(utils), tmp_path).from_cache


def test_training_on_a_constant_signal_is_refused(utils, tmp_path):
    with pytest.raises(ValueError, match="a constant signal cannot be learned"):
        utils.train_autoencoder(np.ones((3000, 6)), cache_dir=tmp_path)


def test_training_on_windows_with_nan_names_the_zero_standard_deviation(utils, tmp_path):
    windows = small_windows(utils).copy()
    windows[3, 2] = np.inf
    with pytest.raises(ValueError, match=r"a zero standard deviation\?"):
        utils.train_autoencoder(windows, cache_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def test_detection_scores_follow_the_counts(utils):
    flagged = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    truth = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    scores = utils.detection_scores(flagged, truth)
    assert (scores["true_positives"], scores["false_positives"], scores["false_negatives"]) == (2, 1, 1)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)


def test_detection_scores_of_nothing_flagged_are_zero(utils):
    scores = utils.detection_scores(np.zeros(4, dtype=bool), np.array([1, 0, 0, 0], dtype=bool))
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)


def test_detection_scores_of_different_lengths_are_refused(utils):
    with pytest.raises(ValueError, match="flagged has shape \\(3,\\) but is_anomaly has \\(4,\\)"):
        utils.detection_scores(np.zeros(3), np.zeros(4))


def test_separation_compares_nearest_normal_distances(utils):
    # Normal points 1 apart on a line; the anomalous one 10 away from its nearest normal point.
    projection = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [2, 10, 0]])
    spread = utils.separation(projection, np.array([False, False, False, True]))
    assert (spread["normal"], spread["anomalous"], spread["ratio"]) == (1.0, 10.0, 10.0)


def test_coverage_is_the_fraction_of_each_anomalys_windows_flagged(utils):
    flags = np.zeros(100, dtype=bool)
    flags[16:33] = True  # half of the ramp's 34 windows
    flags[66:] = True  # all of the cosine's
    assert utils.anomaly_coverage(flags) == {"exponential ramp": 0.5, "fast cosine": 1.0}


def test_isolation_forest_gives_the_same_flags_for_the_same_seed(utils):
    windows = small_windows(utils)
    first = utils.isolation_forest_flags(windows[::6], windows[:200])
    assert np.array_equal(first, utils.isolation_forest_flags(windows[::6], windows[:200]))


# ---------------------------------------------------------------------------------------------
# The bottleneck figure
# ---------------------------------------------------------------------------------------------


def bottleneck_figure(utils, interactive):
    _, is_anomaly = utils.insert_anomalies(np.zeros(3000))
    labels = utils.window_labels(is_anomaly)
    projection = np.random.default_rng(0).normal(0, 0.1, (100, 3))
    projection[70] = [5.0, 5.0, 5.0]  # a cosine window far from everything
    target = np.zeros(3000)
    return utils.plot_bottleneck(projection, labels, target, target, interactive=interactive)


def test_static_bottleneck_figure_marks_the_most_remote_anomalous_window(utils):
    figure = bottleneck_figure(utils, interactive=False)
    assert "Static view: window 70 is marked" in figure._suptitle.get_text()
    assert any(axis.get_title() == "Window 70 (fast cosine)" for axis in figure.axes)


def test_interactive_bottleneck_figure_shows_the_window_that_is_picked(utils):
    figure = bottleneck_figure(utils, interactive=True)
    view = next(
        axis
        for axis in figure.axes
        if axis.get_xlabel() == "PC 1" and axis.get_ylabel() == "PC 2" and axis.name == "rectilinear"
    )
    mouse = SimpleNamespace(xdata=5.0, ydata=5.0)
    figure.canvas.callbacks.process("pick_event", SimpleNamespace(artist=view.collections[2], mouseevent=mouse))
    assert "Click a point" in figure._suptitle.get_text()
    assert any(axis.get_title() == "Window 70 (fast cosine)" for axis in figure.axes)


# ---------------------------------------------------------------------------------------------
# Public tests: they pass right answers and name the mistakes
# ---------------------------------------------------------------------------------------------

PUBLIC_TESTS = {
    "split_and_normalise": "split_and_normalise_test",
    "make_windows": "make_windows_test",
    "score_reconstruction": "score_reconstruction_test",
    "bottleneck_activations": "bottleneck_activations_test",
}


@pytest.mark.parametrize(
    "entry", ["correct_vectorised", "correct_loops", "correct_library_helpers", "correct_running_sum"]
)
def test_public_tests_pass_every_correct_variant(lab, entry, capsys):
    answers = answers_of(entry)
    for function, test in PUBLIC_TESTS.items():
        getattr(lab.public_tests, test)(answers[function])
    assert capsys.readouterr().out.count("All tests passed!") == 4


@pytest.mark.parametrize(
    ("entry", "function", "hint"),
    [
        ("test_statistics", "split_and_normalise", "with the training mean and std, not with its own"),
        ("whole_series_statistics", "split_and_normalise", "of the training part only, not of the whole series"),
        ("shuffled_before_split", "split_and_normalise", "Split in time order, without shuffling"),
        ("sample_std", "split_and_normalise", "not the sample std (ddof=1)"),
        ("std_plus_epsilon", "split_and_normalise", "Divide by the std itself"),
        ("windows_one_short", "make_windows", "One window is missing"),
        ("squared_error", "score_reconstruction", "use the absolute difference"),
        ("centred_rolling_mean", "score_reconstruction", "The rolling mean looks back only"),
        ("greater_or_equal", "score_reconstruction", "strictly above the threshold"),
        ("flags_raw_error", "score_reconstruction", "by the rolling mean, not by the error itself"),
        ("rolling_nan_start", "score_reconstruction", "should average the samples there are, not be NaN"),
        ("bottleneck_without_bias", "bottleneck_activations", "Add each layer's intercepts"),
        ("bottleneck_one_layer_short", "bottleneck_activations", "Did you stop one layer early"),
    ],
)
def test_public_tests_name_the_mistake(lab, entry, function, hint):
    with pytest.raises(AssertionError) as failure:
        getattr(lab.public_tests, PUBLIC_TESTS[function])(answers_of(entry)[function])
    assert hint in str(failure.value)


def test_public_tests_say_to_replace_the_stub(lab):
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="Replace `raise NotImplementedError\\(\\)` with your code"):
        lab.public_tests.make_windows_test(stub)


# ---------------------------------------------------------------------------------------------
# Hidden tests: sound cases, and the master passes them
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=f"{seed}-{case.name}")
        for seed in range(20)
        for case in hidden.EXERCISES["test_score_reconstruction"].cases_for(seed)
    ],
)
def test_rolling_means_of_drawn_cases_are_not_within_rounding_of_the_threshold(case):
    _, rolling, _ = hidden.reference_score_reconstruction(*case.args)
    gaps = np.abs(rolling - case.args[3])
    assert np.all((gaps == 0) | (gaps > 1e-9)), "a rolling mean this close to the threshold depends on rounding"


@pytest.mark.parametrize("grade_id", hidden.EXERCISES)
@pytest.mark.parametrize("seed", range(5))
def test_the_masters_answers_pass_the_hidden_tests(grade_id, seed):
    exercise = hidden.EXERCISES[grade_id]
    function = master_answers()[exercise.function]
    assert problems_with(exercise, run_in_process(exercise, function, seed), seed) == []


def test_a_split_that_does_not_raise_on_a_constant_series_is_told_so():
    exercise = hidden.EXERCISES["test_split_and_normalise"]
    problems = problems_with(exercise, run_in_process(exercise, answers_of("std_plus_epsilon")["split_and_normalise"]))
    assert "a constant series (standard deviation 0): should raise ValueError, but returned a result" in problems
