"""Tests of neural_mi.aggregate: the rigorous fit, per-mode summaries, units and headline."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from helpers import make_result

from neural_mi.aggregate import summarize
from neural_mi.errors import DataShapeError, DataValueError, ParameterError
from neural_mi.fit import fit_rigorous
from neural_mi.modes.dimensionality import aggregate_dimensionality
from neural_mi.modes.rigorous import aggregate_rigorous
from neural_mi.params import UNIT_FACTORS
from neural_mi.store import load_dataset, results_to_dataset, save_dataset


def rigorous_gammas(max_gamma: int = 10) -> np.ndarray:
    """gamma k repeated k times (one task per chunk), shape (sum(1..max_gamma),)."""
    return np.concatenate([np.full(k, k) for k in range(1, max_gamma + 1)])


# --------------------------------------------------------------------------------------
# fit_rigorous
# --------------------------------------------------------------------------------------


def test_linear_data_with_noise_recovers_the_intercept():
    # seed 0, noise sd 0.01 nats; tolerance 0.02 on the intercept
    gammas = rigorous_gammas()
    rng = np.random.default_rng(0)
    mi = 2.0 - 0.05 * gammas + rng.normal(0.0, 0.01, gammas.size)
    fit = fit_rigorous(gammas, mi)
    assert abs(fit.mi_corrected - 2.0) < 0.02
    assert fit.mi_corrected - fit.mi_error <= 2.0 <= fit.mi_corrected + fit.mi_error
    assert fit.slope == pytest.approx(-0.05, abs=0.005)
    assert fit.is_reliable
    assert fit.gammas_used == tuple(range(1, 11))
    assert fit.delta <= 0.1
    assert fit.per_gamma["n"].tolist() == list(range(1, 11))
    assert fit.per_gamma["gamma"].tolist() == list(range(1, 11))


def test_every_gamma_carries_equal_total_weight():
    # per-gamma means 1.9, 1.8, 1.5 from 1, 2 and 3 tasks.  Equal weight per gamma is an
    # ordinary fit of the three means: slope -0.2, intercept 1.7333 + 0.2 * 2 = 32/15.
    # An unweighted fit of the six points gives the means weights 1:2:3 (intercept 2.18).
    gammas = [1, 2, 2, 3, 3, 3]
    mi = [1.9, 1.7, 1.9, 1.4, 1.5, 1.6]
    fit = fit_rigorous(gammas, mi, min_gamma_points=3)
    assert fit.mi_corrected == pytest.approx(32 / 15, abs=1e-12)
    assert fit.slope == pytest.approx(-0.2, abs=1e-12)
    assert np.polyfit(gammas, mi, 1)[1] == pytest.approx(2.18, abs=1e-12)
    np.testing.assert_allclose(fit.per_gamma["mean"], [1.9, 1.8, 1.5])
    np.testing.assert_allclose(fit.per_gamma["std"], [np.nan, np.sqrt(0.02), 0.1])


def test_interval_adds_the_variance_of_one_per_gamma_mean():
    # Worked by hand: ordinary fit of (1, 2.0), (2, 1.9), (3, 1.7): slope -0.15, intercept
    # 13/6, residuals (-1, 2, -1) / 60, so s^2 = (6 / 3600) / 1 = 3 / 1800 and
    # Var(b0) = s^2 * sum(x^2) / (n * Sxx) = s^2 * 14 / 6 = 7 / 1800.  The interval's
    # variance is Var(b0) + s^2 = 10 / 1800 (the gammas share the data's sampling error).
    # With one degree of freedom t is Cauchy: the quantile of p is tan(pi * (p - 1/2)).
    fit = fit_rigorous(
        [1, 2, 3], [2.0, 1.9, 1.7], min_gamma_points=3, delta_threshold=1e9, confidence_level=0.68
    )
    assert fit.mi_corrected == pytest.approx(13 / 6, abs=1e-12)
    assert fit.slope == pytest.approx(-0.15, abs=1e-12)
    half_width = math.tan(math.pi * 0.34) * math.sqrt(10 / 1800)
    assert fit.mi_error == pytest.approx(half_width, rel=1e-10)
    wider = fit_rigorous(
        [1, 2, 3], [2.0, 1.9, 1.7], min_gamma_points=3, delta_threshold=1e9, confidence_level=0.9
    )
    assert wider.mi_error == pytest.approx(
        math.tan(math.pi * 0.45) * math.sqrt(10 / 1800), rel=1e-10
    )


def test_curving_large_gammas_are_dropped():
    # linear up to gamma 6, then bending down by 0.1 * (gamma - 6)^2
    gammas = rigorous_gammas()
    mi = 2.0 - 0.05 * gammas - 0.1 * np.clip(gammas - 6, 0, None) ** 2
    fit = fit_rigorous(gammas, mi)
    assert fit.gammas_used == (1, 2, 3, 4, 5, 6, 7)
    assert fit.is_reliable
    assert fit.delta <= 0.1
    assert abs(fit.mi_corrected - 2.0) < 0.05
    all_gammas = fit_rigorous(gammas, mi, delta_threshold=1e9)
    assert all_gammas.gammas_used == tuple(range(1, 11))
    assert abs(all_gammas.mi_corrected - 2.0) > 5 * abs(fit.mi_corrected - 2.0)


def test_too_few_gammas_is_unreliable():
    gammas = rigorous_gammas(3)
    fit = fit_rigorous(gammas, 1.0 - 0.1 * gammas)
    assert fit.gammas_used == (1, 2, 3)
    assert math.isfinite(fit.mi_corrected)
    assert not fit.is_reliable
    single = fit_rigorous([2, 2], [1.0, 1.2])
    assert math.isnan(single.mi_corrected) and not single.is_reliable


def test_fit_rejects_bad_arguments():
    gammas, mi = [1, 2, 3], [1.0, 0.9, 0.8]
    for kwargs, name in [
        ({"confidence_level": 1.0}, "confidence_level"),
        ({"confidence_level": 0.0}, "confidence_level"),
        ({"min_gamma_points": 1}, "min_gamma_points"),
        ({"min_gamma_points": 2.5}, "min_gamma_points"),
        ({"delta_threshold": -0.1}, "delta_threshold"),
    ]:
        with pytest.raises(ParameterError, match=name):
            fit_rigorous(gammas, mi, **kwargs)
    with pytest.raises(DataShapeError, match="shape"):
        fit_rigorous([1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(DataValueError, match="finite"):
        fit_rigorous([1, 2, 3], [1.0, np.nan, 3.0])
    with pytest.raises(DataValueError, match="positive"):
        fit_rigorous([0, 1, 2], [1.0, 2.0, 3.0])


# --------------------------------------------------------------------------------------
# Per-mode summaries
# --------------------------------------------------------------------------------------


def rigorous_dataset() -> xr.Dataset:
    """Two combos (embedding_dim 4 and 8), gammas 1..10; noise seed 0, sd 0.01 nats."""
    rng = np.random.default_rng(0)
    results = []
    for combo, dim, true_mi in (("ca", 4, 1.0), ("cb", 8, 2.0)):
        for gamma in range(1, 11):
            for subset in range(gamma):
                mi = true_mi - 0.04 * gamma + rng.normal(0.0, 0.01)
                results.append(
                    make_result(
                        f"{combo}-g{gamma:02d}-s{subset:02d}",
                        combo,
                        "rigorous",
                        mi,
                        coords={"embedding_dim": dim},
                        gamma=gamma,
                        subset=subset,
                    )
                )
    return results_to_dataset(results)


def test_aggregate_rigorous_one_fit_per_combo():
    ds = rigorous_dataset()
    summary = aggregate_rigorous(ds)
    assert summary.sizes == {"combo": 2, "gamma": 10}
    assert summary["combo"].values.tolist() == ["ca", "cb"]
    assert summary["embedding_dim"].values.tolist() == [4, 8]
    for combo, true_mi in (("ca", 1.0), ("cb", 2.0)):
        tasks = ds.where(ds["combo"] == combo, drop=True)
        direct = fit_rigorous(tasks["gamma"].values, tasks["test_mi"].values)
        row = summary.sel(combo=combo)
        assert float(row["mi_corrected"]) == direct.mi_corrected
        assert float(row["mi_error"]) == direct.mi_error
        assert abs(float(row["mi_corrected"]) - true_mi) < 0.02
        assert bool(row["is_reliable"])
        assert row["gamma_used"].values.all() and row["gamma_used"].sizes == {"gamma": 10}
        assert int(row["n_gammas_used"]) == 10
        assert row["n"].values.tolist() == list(range(1, 11))
        at_gamma3 = tasks["test_mi"].values[tasks["gamma"].values == 3]
        assert float(row["mi_mean"].sel(gamma=3)) == pytest.approx(at_gamma3.mean(), rel=1e-12)
    assert summary.attrs["mi_var"] == "test_mi"
    assert summary.attrs["min_gamma_points"] == 5
    with pytest.raises(ParameterError, match="delta_treshold"):
        aggregate_rigorous(ds, delta_treshold=0.2)


def test_summaries_round_trip_through_netcdf(tmp_path):
    summary, _ = summarize(rigorous_dataset(), "rigorous")
    back = load_dataset(save_dataset(summary, tmp_path / "summary.nc"))
    xr.testing.assert_identical(back, summary)
    assert back["is_reliable"].dtype == bool


def test_units_conversion_is_exact():
    ds = rigorous_dataset()
    in_nats, head_nats = summarize(ds, "rigorous", output_units="nats")
    in_bits, head_bits = summarize(ds, "rigorous", output_units="bits")
    factor = 1.0 / math.log(2.0)
    assert UNIT_FACTORS["bits"] == factor
    for name in ("mi_corrected", "mi_error", "slope", "mi_mean", "mi_std"):
        np.testing.assert_array_equal(in_bits[name].values, in_nats[name].values * factor)
        assert in_bits[name].attrs["units"] == "bits"
    for name in ("delta", "n", "n_gammas_used"):
        np.testing.assert_array_equal(in_bits[name].values, in_nats[name].values)
    assert head_bits["mi_estimate"] == head_nats["mi_estimate"] * factor
    assert head_bits["units"] == "bits" and in_bits.attrs["units"] == "bits"
    assert head_bits["is_reliable"] is True
    json.dumps(head_bits, allow_nan=False)


def test_sweep_mean_std_count_by_hand():
    values = {("c4", 4): [1.0, 1.2, 1.4], ("c8", 8): [2.0, 2.4]}
    results = [
        make_result(f"{combo}-r{r}", combo, "sweep", mi, coords={"embedding_dim": dim}, repeat=r)
        for (combo, dim), mis in values.items()
        for r, mi in enumerate(mis)
    ]
    summary, head = summarize(results_to_dataset(results), "sweep", output_units="nats")
    np.testing.assert_allclose(summary["mi_mean"].values, [1.2, 2.2])
    np.testing.assert_allclose(summary["mi_std"].values, [0.2, math.sqrt(0.08)])
    assert summary["n"].values.tolist() == [3, 2]
    assert summary["embedding_dim"].values.tolist() == [4, 8]
    # The headline is the best combination (the largest mean), with its std over repeats.
    assert head["mi_estimate"] == pytest.approx(2.2)
    assert head["mi_error"] == pytest.approx(math.sqrt(0.08)) and head["is_reliable"] is None
    assert head["best"] == {"embedding_dim": 8}


def test_estimate_is_summarised_like_a_one_combo_sweep():
    ds = results_to_dataset([make_result("only", "c", "estimate", 0.7)])
    summary, head = summarize(ds, "estimate", output_units="bits")
    assert summary.attrs["mode"] == "estimate"
    assert head["mi_estimate"] == 0.7 * (1.0 / math.log(2.0))
    assert head["mi_error"] is None
    assert math.isnan(float(summary["mi_std"][0]))
    json.dumps(head, allow_nan=False)


def test_lag_peak_per_combo():
    peaks = {"early": 2, "late": 5}
    results = [
        make_result(
            f"{combo}-l{lag:+d}-r{r}",
            combo,
            "lag",
            1.0 - 0.1 * abs(lag - peak) + 0.01 * r,
            lag=lag,
            repeat=r,
        )
        for combo, peak in peaks.items()
        for lag in range(-3, 9)
        for r in range(2)
    ]
    summary, head = summarize(results_to_dataset(results), "lag", output_units="nats")
    assert summary["peak_lag"].values.tolist() == [2, 5]
    assert summary["peak_lag"].dtype == np.int64
    np.testing.assert_allclose(summary["mi_peak"].values, [1.005, 1.005])
    np.testing.assert_allclose(summary["mi_mean"].sel(combo="late", lag=0), 0.505)
    assert head["peak_lag"] == 2 and isinstance(head["peak_lag"], int)
    assert head["mi_estimate"] == pytest.approx(1.005)


def test_dimensionality_saturation_on_a_hand_made_curve():
    curve = {1: 0.5, 2: 1.0, 4: 1.7, 8: 1.92, 16: 2.0}
    results = [
        make_result(
            f"d{dim:02d}-s{split}",
            f"c{dim}",
            "dimensionality",
            mi + offset,
            coords={"embedding_dim": dim},
            split=split,
            extras={"participation_ratio": dim / 2 + split},
        )
        for dim, mi in curve.items()
        for split, offset in enumerate((-0.01, 0.0, 0.01))
    ]
    ds = results_to_dataset(results)
    summary = aggregate_dimensionality(ds, strictness=(0.8, 0.9, 0.95, 1.0))
    np.testing.assert_allclose(summary["mi_mean"].values, list(curve.values()))
    # peak 2.0: >= 1.6 first at 4, >= 1.8 and >= 1.9 first at 8, >= 2.0 only at 16
    assert summary["saturation_dim"].values.tolist() == [4, 8, 8, 16]
    np.testing.assert_allclose(
        summary["participation_ratio_mean"].values, [d / 2 + 1 for d in curve]
    )
    np.testing.assert_allclose(summary["participation_ratio_std"].values, 1.0)
    _, head = summarize(ds, "dimensionality", output_units="nats")
    assert head["saturation_dim"] == {"0.8": 4, "0.9": 8, "0.95": 8}
    assert head["mi_estimate"] == pytest.approx(2.0)
    with pytest.raises(ParameterError, match="strictness"):
        aggregate_dimensionality(ds, strictness=(0.5, 1.5))


def test_summarize_rejects_bad_requests():
    ds = rigorous_dataset()
    with pytest.raises(ParameterError, match="mode"):
        summarize(ds, "rigourous")
    with pytest.raises(ParameterError, match="output_units"):
        summarize(ds, "rigorous", output_units="bit")
    with pytest.raises(ParameterError, match="rigorous"):
        summarize(ds, "sweep", options={"delta_threshold": 0.2})
    with pytest.raises(ParameterError, match="mi_var"):
        summarize(ds, "sweep", mi_var="val_mi")


def test_combinations_are_ordered_by_their_swept_values():
    # Combination ids are hashes: "ca" sorts before "cb", but "cb" has the smaller value.
    results = [
        make_result("ca-r00", "ca", "sweep", 1.0, coords={"embedding_dim": 8}),
        make_result("cb-r00", "cb", "sweep", 0.5, coords={"embedding_dim": 4}),
    ]
    summary, headline = summarize(results_to_dataset(results), "sweep", output_units="nats")
    assert summary["embedding_dim"].values.tolist() == [4, 8]
    assert headline["mi_estimate"] == pytest.approx(1.0)  # the best, not the first
    assert headline["best"] == {"embedding_dim": 8}
