"""Per-channel input transforms: fits, invariances, layouts and the raw points they use."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neural_mi.data.transforms as transforms
from neural_mi.data.transforms import (
    fit_transform,
    transform_input,
    window_time_points,
)
from neural_mi.errors import ParameterError


def _heavy(n=500, channels=3, seed=0):
    """Student-t (1 dof) values, continuous (no ties)."""
    return np.random.default_rng(seed).standard_t(1, size=(n, channels))


# --------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "increasing",
    [
        lambda v: 1e6 * v,
        lambda v: 1e-3 * v + 7.0,
        np.arcsinh,
        lambda v: v**3 + v,
        lambda v: np.exp(v / 50.0),
    ],
)
def test_rank_gauss_is_unchanged_by_increasing_maps(increasing):
    values = _heavy()
    reference = fit_transform("rank_gauss", values).apply(values)
    mapped = increasing(values)
    # The fit depends on the training values only through their ranks: identical output.
    np.testing.assert_array_equal(fit_transform("rank_gauss", mapped).apply(mapped), reference)


def test_rank_gauss_flips_sign_under_a_decreasing_map():
    values = _heavy()
    reference = fit_transform("rank_gauss", values).apply(values)
    np.testing.assert_array_equal(fit_transform("rank_gauss", -values).apply(-values), -reference)


def test_rank_gauss_gives_standard_normal_training_values_whatever_the_tails():
    values = _heavy(n=4000)
    out = fit_transform("rank_gauss", values).apply(values)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=0.01)  # mid-rank levels: 0.9994
    # Extremes are the normal quantiles of the extreme mid-rank levels 1/8000, 7999/8000.
    np.testing.assert_allclose(out.max(axis=0), 3.66, atol=0.01)


def test_rank_gauss_ties_share_a_level_and_the_row_order_does_not_matter():
    values = np.random.default_rng(1).integers(0, 4, size=(200, 2)).astype(float)
    fitted = fit_transform("rank_gauss", values)
    out = fitted.apply(values)
    for c in range(2):
        for v in np.unique(values[:, c]):
            assert np.unique(out[values[:, c] == v, c]).size == 1
    shuffled = values[np.random.default_rng(2).permutation(len(values))]
    np.testing.assert_array_equal(fit_transform("rank_gauss", shuffled).apply(values), out)


def test_rank_gauss_maps_new_values_through_the_training_cdf():
    train = np.array([[0.0], [1.0], [2.0], [3.0]])
    fitted = fit_transform("rank_gauss", train)
    levels = fitted.apply(train)[:, 0]
    out = fitted.apply(np.array([[-5.0], [0.5], [3.0], [99.0]]))[:, 0]
    # Below/above the training range: the extreme levels; between knots: linear.
    np.testing.assert_allclose(out, [levels[0], levels[:2].mean(), levels[3], levels[3]], rtol=1e-6)
    assert np.all(np.diff(levels) > 0)


def test_rank_gauss_keeps_at_most_max_knots_and_stays_monotone(monkeypatch):
    monkeypatch.setattr(transforms, "MAX_KNOTS", 50)
    values = _heavy(n=1000, channels=1)
    fitted = fit_transform("rank_gauss", values)
    assert fitted.summary()["n_knots"] == [50]
    assert fitted.knots[0][0] == values.min() and fitted.knots[0][-1] == values.max()
    order = np.argsort(values[:, 0])
    assert np.all(np.diff(fitted.apply(values)[order, 0]) >= 0)


def test_standardize_and_robust_centre_and_scale_the_training_values():
    values = _heavy(n=1001)
    out = fit_transform("standardize", values).apply(values)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-5)
    out = fit_transform("robust", values).apply(values)
    q25, q50, q75 = np.percentile(out, [25, 50, 75], axis=0)
    np.testing.assert_allclose(q50, 0.0, atol=1e-6)
    np.testing.assert_allclose(q75 - q25, 1.0, atol=1e-5)


@pytest.mark.parametrize("kind", ["standardize", "robust", "rank_gauss"])
def test_many_columns_are_scaled_to_a_summed_variance_of_five(kind):
    # Up to TOTAL_VARIANCE (5) columns the gain is exactly 1; above, every column is
    # multiplied by sqrt(5 / n_columns), the same factor for every column.
    assert transforms.TOTAL_VARIANCE == 5.0
    few = _heavy(n=1001, channels=5)
    fitted = fit_transform(kind, few)
    assert fitted.gain == 1.0 and fitted.summary()["gain"] == 1.0
    many = np.hstack([few, _heavy(n=1001, channels=15, seed=1)])
    wide = fit_transform(kind, many)
    assert wide.gain == pytest.approx(0.5)  # sqrt(5 / 20)
    out = wide.apply(many)
    # Each column is its unscaled transform (the one fitted on its first 5) times the gain.
    np.testing.assert_allclose(out[:, :5], fitted.apply(few) * 0.5, rtol=1e-6, atol=1e-7)
    if kind == "standardize":
        np.testing.assert_allclose((out.std(axis=0) ** 2).sum(), 5.0, rtol=1e-5)


def test_the_gain_keeps_rank_gauss_invariant_to_increasing_maps():
    values = _heavy(n=800, channels=40)
    reference = fit_transform("rank_gauss", values).apply(values)
    mapped = 1e4 * np.arcsinh(values) - 3.0
    np.testing.assert_array_equal(fit_transform("rank_gauss", mapped).apply(mapped), reference)
    # Summed variance of the training values: 40 columns of (nearly) unit variance x 5/40.
    assert (reference.std(axis=0) ** 2).sum() == pytest.approx(5.0, rel=0.01)


def test_fits_recorded_without_the_gain_are_outdated_only_above_five_columns():
    wide = fit_transform("rank_gauss", _heavy(channels=8)).summary()
    narrow = fit_transform("rank_gauss", _heavy(channels=5)).summary()
    without = {k: v for k, v in wide.items() if k != "gain"}
    assert transforms.outdated_fit({"kind": "rank_gauss", "x": wide, "y": wide}) == ""
    reason = transforms.outdated_fit({"kind": "rank_gauss", "x": narrow, "y": without})
    assert reason.startswith("its y input (8 columns)") and "gain" in reason
    narrow_without = {k: v for k, v in narrow.items() if k != "gain"}
    assert transforms.outdated_fit({"kind": "rank_gauss", "x": narrow_without}) == ""
    assert transforms.outdated_fit({"kind": "rank_gauss"}) == ""  # spikes: nothing fitted
    assert transforms.outdated_fit(None) == ""


@pytest.mark.parametrize("kind", ["standardize", "robust", "rank_gauss"])
def test_constant_and_mostly_constant_channels_give_finite_values(kind):
    values = np.zeros((100, 2))
    values[:3, 1] = [5.0, -2.0, 9.0]  # IQR 0 but not constant: falls back to the std
    fitted = fit_transform(kind, values)
    out = fitted.apply(np.vstack([values, [[1.0, 100.0]]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:100, 0], out[0, 0])
    json.dumps(fitted.summary())  # recordable in a task's diagnostics


def test_none_fits_nothing_and_unknown_kinds_are_named():
    assert fit_transform("none", _heavy()) is None
    with pytest.raises(ParameterError, match="input_transform.*'rank_gauss'"):
        fit_transform("quantile", _heavy())


def test_a_fit_refuses_arrays_of_another_width():
    fitted = fit_transform("standardize", _heavy(channels=3))
    with pytest.raises(ParameterError, match="3 column"):
        fitted.apply(np.zeros((4, 2)))


# --------------------------------------------------------------------------------------
# Raw points of training windows, and the engine's entry point
# --------------------------------------------------------------------------------------


def test_window_time_points_hand_example():
    # Windows of 4 with step 2: window 0 -> 0..3, 3 -> 6..9, 5 -> 10..13.
    np.testing.assert_array_equal(
        window_time_points(np.array([5, 0, 3, 3]), 4, 2, 20),
        [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13],
    )
    np.testing.assert_array_equal(window_time_points(np.array([1, 2]), 1, 3, 8), [3, 6])


def test_window_time_points_refuses_windows_outside_the_recording():
    with pytest.raises(ParameterError, match="within the 10 time points"):
        window_time_points(np.array([4]), 4, 2, 10)


def _continuous(layout_time_first=False):
    rng = np.random.default_rng(3)
    raw = rng.standard_t(2, size=(4, 300)).astype(np.float32) * [[1], [10], [1e3], [1e-2]]
    return (
        (raw.T.copy(), {"window_size": 5, "step_size": 2, "time_axis": 0})
        if (layout_time_first)
        else (raw, {"window_size": 5, "step_size": 2, "time_axis": -1})
    )


@pytest.mark.parametrize("time_first", [False, True])
def test_continuous_input_is_fitted_on_the_raw_points_of_the_training_windows(time_first):
    raw, params = _continuous(time_first)
    train = np.arange(20, 60)  # windows 20..59 cover time points 40..122
    out, fitted = transform_input(raw, "continuous", params, "rank_gauss", train)
    assert out.shape == raw.shape and out.dtype == np.float32
    series = raw if time_first else raw.T
    assert fitted.n_points == 83
    reference = fit_transform("rank_gauss", series[40:123])
    np.testing.assert_array_equal(out if time_first else out.T, reference.apply(series))


def test_held_out_values_do_not_change_the_fit():
    raw, params = _continuous()
    train = np.arange(20, 60)
    out, fitted = transform_input(raw, "continuous", params, "robust", train)
    changed = raw.copy()
    changed[:, :40] = 1e9  # only time points no training window covers
    changed[:, 123:] = -7.0
    out2, fitted2 = transform_input(changed, "continuous", params, "robust", train)
    assert fitted2.summary() == fitted.summary()
    np.testing.assert_array_equal(out2[:, 40:123], out[:, 40:123])


def test_one_dimensional_and_processed_inputs_keep_their_shape():
    raw, params = _continuous()
    out, fitted = transform_input(raw[2], "continuous", params, "standardize", np.arange(10))
    assert out.shape == (300,) and len(fitted.center) == 1
    processed = np.random.default_rng(4).normal(size=(50, 2, 3)) * 1e4
    train = np.arange(0, 50, 2)
    out, fitted = transform_input(processed, None, {}, "standardize", train)
    assert out.shape == (50, 2, 3) and len(fitted.center) == 6  # one fit per feature
    # Six features: each is standardized, then scaled by sqrt(5 / 6) (TOTAL_VARIANCE).
    assert fitted.gain == pytest.approx(np.sqrt(5 / 6))
    np.testing.assert_allclose(
        out[train].reshape(len(train), -1).std(axis=0), np.sqrt(5 / 6), atol=1e-5
    )


def test_categorical_spike_and_none_pass_through_untouched():
    labels = np.array([[0, 1, 2, 1, 0, 2]])
    spikes = [np.array([0.1, 0.5]), np.array([0.3])]
    assert transform_input(labels, "categorical", {}, "rank_gauss", np.arange(3)) == (labels, None)
    assert transform_input(spikes, "spike", {}, "rank_gauss", np.arange(3)) == (spikes, None)
    raw, params = _continuous()
    assert transform_input(raw, "continuous", params, "none", np.arange(3))[0] is raw


def test_torch_input_is_accepted():
    torch = pytest.importorskip("torch")
    raw, params = _continuous()
    out, _ = transform_input(torch.as_tensor(raw), "continuous", params, "rank_gauss", [1, 2])
    np.testing.assert_array_equal(
        out, transform_input(raw, "continuous", params, "rank_gauss", [1, 2])[0]
    )
