"""Permutation tests on hand-built task datasets: p-values, family-wise correction, failed
permutations, stand-in tasks, and what Results shows."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from helpers import make_result

from neural_mi.aggregate import summarize
from neural_mi.results import Results
from neural_mi.store import results_to_dataset

LN2 = math.log(2.0)


def _failed(result):
    return dataclasses.replace(result, status="failed", test_mi=math.nan, train_mi=math.nan)


def _estimate(observed, nulls, **options):
    results = [make_result("c1", "c1", "estimate", observed)]
    results += [
        make_result(f"c1-n{k:04d}", "c1", "estimate", value, permutation=k)
        for k, value in enumerate(nulls, start=1)
    ]
    return results


def test_the_p_value_counts_the_observed_data_as_one_arrangement():
    ds = results_to_dataset(_estimate(0.5, [0.1, 0.6, 0.2, 0.5]))
    summary, head = summarize(ds, "estimate", output_units="nats")
    assert head["p_value"] == pytest.approx(3 / 5)  # 0.6 and 0.5 reach 0.5
    assert head["is_significant"] is False and head["n_permutations"] == 4
    assert head["mi_estimate"] == pytest.approx(0.5)  # the observed task alone
    assert head["null_mean"] == pytest.approx(np.mean([0.1, 0.6, 0.2, 0.5]))
    values = summary["null_values"].sel(combo="c1").values
    np.testing.assert_allclose(values, [0.1, 0.6, 0.2, 0.5])
    assert summary["null_std"].item() == pytest.approx(np.std([0.1, 0.6, 0.2, 0.5], ddof=1))
    assert summary["null_upper"].item() == pytest.approx(np.quantile([0.1, 0.6, 0.2, 0.5], 0.95))


def test_the_nulls_are_converted_to_the_output_units_and_p_values_are_not():
    ds = results_to_dataset(_estimate(0.5, [0.1] * 19))
    summary, head = summarize(ds, "estimate", output_units="bits")
    assert head["p_value"] == pytest.approx(1 / 20) and head["is_significant"] is True
    assert head["null_mean"] == pytest.approx(0.1 / LN2)
    assert summary["null_values"].attrs["units"] == "bits"
    assert summary["p_value"].item() == pytest.approx(0.05)


def test_alpha_sets_significance():
    ds = results_to_dataset(_estimate(0.5, [0.1] * 9))
    assert summarize(ds, "estimate", options={"alpha": 0.1})[1]["is_significant"] is True
    assert summarize(ds, "estimate", options={"alpha": 0.05})[1]["is_significant"] is False


def test_a_failed_null_task_counts_against_significance_and_refuses_nothing():
    results = _estimate(0.5, [0.1, 0.1, 0.1, 0.1])
    results[2] = _failed(results[2])
    summary, head = summarize(results_to_dataset(results), "estimate", output_units="nats")
    assert head["p_value"] == pytest.approx((1 + 1) / (1 + 4))
    assert head["failed_permutations"] == 1 and summary.attrs["failed_permutations"] == [2]
    assert head["null_mean"] == pytest.approx(0.1) and not head["partial"]
    assert summary["null_values"].sizes["permutation"] == 3


def test_when_every_permutation_failed_the_p_value_is_one_and_the_null_unknown():
    results = [_failed(r) if r.spec.permutation else r for r in _estimate(0.5, [0.1, 0.1])]
    summary, head = summarize(results_to_dataset(results), "estimate", output_units="nats")
    assert head["p_value"] == pytest.approx(1.0) and head["is_significant"] is False
    assert head["failed_permutations"] == 2 and head["n_permutations"] == 2
    assert head["null_upper"] is None and head["null_mean"] is None  # JSON: NaN is None
    assert summary["null_values"].sizes["permutation"] == 0


def test_lag_tests_each_lag_and_the_peak_against_the_null_peak():
    observed = {0: 0.3, 5: 0.05}
    nulls = {1: {0: 0.1, 5: 0.2}, 2: {0: 0.0, 5: 0.02}, 3: {0: 0.05, 5: 0.4}}
    results = [make_result(f"c1-L{lag}", "c1", "lag", v, lag=lag) for lag, v in observed.items()]
    results += [
        make_result(f"c1-L{lag}-n{k:04d}", "c1", "lag", v, lag=lag, permutation=k)
        for k, values in nulls.items()
        for lag, v in values.items()
    ]
    summary, head = summarize(results_to_dataset(results), "lag", output_units="nats")
    per_lag = summary.sel(combo="c1")
    np.testing.assert_allclose(per_lag["mi_mean_p_value"].values, [1 / 4, 3 / 4])
    # the largest null over lags: 0.2, 0.02, 0.4
    np.testing.assert_allclose(per_lag["mi_mean_p_value_fwer"].values, [2 / 4, 3 / 4])
    assert head["p_value"] == pytest.approx(2 / 4)  # the peak (0.3) against null peaks
    np.testing.assert_allclose(
        per_lag["mi_mean_null_upper"].values,
        [np.quantile([0.1, 0.0, 0.05], 0.95), np.quantile([0.2, 0.02, 0.4], 0.95)],
    )


def test_correction_max_makes_significance_family_wise():
    results = []
    for combo, value, last_null, dim in (("ca", 0.5, 0.3, 1), ("cb", 0.25, 0.2, 2)):
        coords = {"embedding_dim": dim}
        results.append(make_result(combo, combo, "sweep", value, coords=coords))
        results += [
            make_result(f"{combo}-n{k:04d}", combo, "sweep", null, coords=coords, permutation=k)
            for k, null in enumerate([0.1] * 18 + [last_null], start=1)
        ]
    ds = results_to_dataset(results)
    plain = summarize(ds, "sweep", output_units="nats")[0]
    family = summarize(ds, "sweep", output_units="nats", options={"correction": "max"})[0]
    np.testing.assert_allclose(plain["mi_mean_p_value"].values, [1 / 20, 1 / 20])
    np.testing.assert_allclose(plain["mi_mean_p_value_fwer"].values, [1 / 20, 2 / 20])
    assert plain["mi_mean_is_significant"].values.tolist() == [True, True]
    assert family["mi_mean_is_significant"].values.tolist() == [True, False]


def test_a_sweeps_headline_is_tested_against_the_nulls_best_combination():
    # The headline is the best combination, chosen after seeing the data: its null is the
    # largest null value over the combinations of each permutation, not one combination's.
    results = []
    for combo, value, nulls, dim in (
        ("ca", 0.2, [0.1] * 9 + [0.3], 1),
        ("cb", 0.25, [0.22] * 5 + [0.0] * 5, 2),
    ):
        coords = {"embedding_dim": dim}
        results.append(make_result(combo, combo, "sweep", value, coords=coords))
        results += [
            make_result(f"{combo}-n{k:04d}", combo, "sweep", null, coords=coords, permutation=k)
            for k, null in enumerate(nulls, start=1)
        ]
    summary, head = summarize(results_to_dataset(results), "sweep", output_units="nats")
    assert head["best"] == {"embedding_dim": 2}
    assert head["mi_estimate"] == pytest.approx(0.25)
    # null bests per permutation: 0.22 (1-5), 0.1 (6-9), 0.3 (10): two are >= 0.25
    assert head["p_value"] == pytest.approx(2 / 11)
    # each combination on its own: ca 0.2 against one 0.3; cb 0.25 against none
    np.testing.assert_allclose(summary["mi_mean_p_value"].values, [2 / 11, 1 / 11])


def test_a_fit_without_the_moved_variable_stands_in_for_every_permutation():
    def task(key, role, value, k=0):
        return make_result(
            key, "c1", "conditional", value, role=role, gamma=1, subset=0, repeat=0, permutation=k
        )

    results = [task("c1-xz", "xz_y", 0.5), task("c1-z", "z_y", 0.2)]
    results += [
        task(f"c1-xz-n{k:04d}", "xz_y", value, k) for k, value in enumerate([0.25, 0.6, 0.1], 1)
    ]
    summary, head = summarize(results_to_dataset(results), "conditional", output_units="nats")
    # null CMI: 0.25 - 0.2, 0.6 - 0.2, 0.1 - 0.2 against the observed 0.3
    np.testing.assert_allclose(summary["null_values"].values.ravel(), [0.05, 0.4, -0.1])
    assert head["p_value"] == pytest.approx(2 / 4)


def test_without_null_tasks_the_summary_has_no_test_and_says_so():
    ds = results_to_dataset([make_result("c1", "c1", "estimate", 0.5)])
    summary, head = summarize(ds, "estimate")
    assert head["p_value"] is None and head["is_significant"] is None
    assert (
        "p_value" not in summary
        and "permutation test" not in Results.from_tasks(ds, "estimate").summary()
    )


def test_results_show_the_test_and_keep_it_through_save_and_load(tmp_path):
    ds = results_to_dataset(_estimate(0.5, [0.1] * 19))
    results = Results.from_tasks(ds, "estimate")
    assert results.details["p_value"] == pytest.approx(0.05)
    np.testing.assert_allclose(results.details["null_distribution"], [0.1 / LN2] * 19)
    assert {"p_value", "p_value_fwer", "is_significant", "null_mean", "null_upper"} <= set(
        results.dataframe.columns
    )
    assert len(results.dataframe) == 1  # the null distribution is not a row per permutation
    text = results.summary()
    assert "permutation test: p = 0.050" in text and "significant at alpha = 0.05" in text
    loaded = Results.load(results.save(tmp_path / "saved"))
    assert loaded.headline == results.headline
    np.testing.assert_allclose(
        loaded.summary_dataset["null_values"].values, results.summary_dataset["null_values"].values
    )
