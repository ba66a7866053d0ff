"""nmi.run on top of the engine: determinism, pools, resumable stores, Results."""

from __future__ import annotations

import dataclasses
import gc
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pytest

import neural_mi as nmi
import neural_mi.engine.execution
from neural_mi import store as task_store
from neural_mi.results import Results


def _rigorous(x, y, params, **kw):
    return nmi.run(
        x,
        y,
        mode="rigorous",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=params,
        gamma_range=[1, 2, 3],
        split_mode="random",
        random_seed=5,
        verbose=False,
        min_gamma_points=2,
        **kw,
    )


def _per_task(results):
    return dict(zip(results.tasks["key"].values.tolist(), results.tasks["test_mi"].values.tolist()))


def _count_trained(monkeypatch) -> list:
    """One entry per task trained from now on (tasks are trained in groups)."""
    calls: list = []
    real = neural_mi.engine.execution.run_group

    def counting(group, *args, **kwargs):
        calls.extend(spec.key for spec in group)
        return real(group, *args, **kwargs)

    monkeypatch.setattr(neural_mi.engine.execution, "run_group", counting)
    return calls


def test_same_numbers_with_one_and_two_workers(gauss_small, fast_params):
    x, y = gauss_small
    serial = _per_task(_rigorous(x, y, fast_params, n_workers=1))
    pooled = _per_task(_rigorous(x, y, fast_params, n_workers=2))
    assert len(serial) == 6
    assert serial == pooled
    # The pool freezes this process's objects out of the garbage collector while it forks
    # and runs; afterwards they are collectable again.
    assert gc.get_freeze_count() == 0


def test_interrupted_run_resumes_from_store(gauss_small, fast_params, tmp_path, monkeypatch):
    x, y = gauss_small
    full = _rigorous(x, y, fast_params, store=tmp_path / "a")
    stores = task_store.find_task_stores(tmp_path / "a")
    assert len(stores) == 6
    # Simulate an interruption: two tasks never finished, one was cut mid-write.
    shutil.rmtree(stores[0])
    shutil.rmtree(stores[1])
    (stores[2] / "zarr.json").write_text(
        '{"zarr_format": 3, "node_type": "group", "attributes": {}}'
    )
    calls = _count_trained(monkeypatch)
    resumed = _rigorous(x, y, fast_params, store=tmp_path / "a")
    assert len(calls) == 3
    assert _per_task(resumed) == _per_task(full)
    assert resumed.mi_estimate == full.mi_estimate


def test_store_with_other_parameters_is_retrained(gauss_small, fast_params, tmp_path, monkeypatch):
    x, y = gauss_small
    _rigorous(x, y, fast_params, store=tmp_path)
    calls = _count_trained(monkeypatch)
    _rigorous(x, y, {**fast_params, "n_epochs": 5}, store=tmp_path)
    assert len(calls) == 6


def test_store_of_a_result_without_the_many_channel_gain_is_retrained(
    fast_params, tmp_path, monkeypatch, caplog
):
    # 8 channels a side: the rank-Gauss inputs are scaled by sqrt(5 / 8).  A store written
    # before that gain (its transform record has no 'gain') holds other numbers: it is
    # trained again, never mixed with results of this version.
    x, y = nmi.datasets.generate_correlated_gaussians(600, 8, 1.0, use_torch=False, seed=4)
    full = _rigorous(x.T, y.T, fast_params, store=tmp_path)
    path = task_store.find_task_stores(tmp_path)[0]
    stored = task_store.read_task(path)
    record = stored.diagnostics["input_transform"]
    assert record["x"]["gain"] == pytest.approx(np.sqrt(5 / 8))
    old_record = {
        name: {k: v for k, v in fit.items() if k != "gain"} if isinstance(fit, dict) else fit
        for name, fit in record.items()
    }
    old = dataclasses.replace(
        stored, diagnostics={**stored.diagnostics, "input_transform": old_record}
    )
    shutil.rmtree(path)
    task_store.write_task(old, tmp_path)
    calls = _count_trained(monkeypatch)
    resumed = _rigorous(x.T, y.T, fast_params, store=tmp_path)
    assert calls == [stored.spec.key]
    assert "without the many-channel gain" in caplog.text and stored.spec.key in caplog.text
    assert _per_task(resumed) == _per_task(full)
    assert task_store.read_task(path).diagnostics["input_transform"] == record


def test_rigorous_results_carry_the_fit(gauss_small, fast_params, tmp_path):
    x, y = gauss_small
    res = _rigorous(x, y, fast_params, delta_threshold=1e6)  # keep every gamma in the fit
    d = res.details
    assert res.mi_estimate == pytest.approx(d["mi_corrected"])
    assert np.isfinite(d["mi_error"]) and d["mi_error"] > 0
    assert d["gammas_used"] == [1, 2, 3]
    assert len(d["tasks"]) == 6 and set(d["per_gamma"]["gamma"]) == {1, 2, 3}
    ax = res.plot(show=False)
    assert ax.get_xlabel().startswith("gamma")
    saved = res.save(tmp_path / "res")
    loaded = Results.load(saved)
    assert loaded.mi_estimate == res.mi_estimate
    assert loaded.details["gammas_used"] == d["gammas_used"]
    assert "corrected MI" in res.summary()


def test_estimate_details_and_units(gauss_small, fast_params):
    x, y = gauss_small
    kw = dict(
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        split_mode="random",
        random_seed=1,
        verbose=False,
    )
    bits = nmi.run(x, y, **kw)
    nats = nmi.run(x, y, output_units="nats", **kw)
    assert bits.mi_estimate == pytest.approx(nats.mi_estimate / np.log(2), rel=1e-12)
    d = bits.details
    assert d["test_mi"] == pytest.approx(bits.mi_estimate)
    assert len(d["history"]["test_mi"]) >= d["best_epoch"] + 1
    assert d["n_train"] + d["n_test"] <= 900
    assert bits.plot(show=False).get_xlabel() == "epoch"


def test_explicit_indices_are_used(gauss_small, fast_params):
    x, y = gauss_small
    res = nmi.run(
        x,
        y,
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        train_indices=np.arange(0, 600),
        test_indices=np.arange(650, 900),
        verbose=False,
    )
    assert (res.details["n_train"], res.details["n_test"]) == (600, 250)


def test_sweep_lag_and_dimensionality_results(fast_params):
    x, y = nmi.datasets.generate_linear_data(n_samples=800, true_lag=4, seed=0)
    sweep = nmi.run(
        x,
        y,
        mode="sweep",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        sweep_grid={"embedding_dim": [2, 4]},
        verbose=False,
    )
    assert sorted(sweep.dataframe["embedding_dim"]) == [2, 4]
    lag = nmi.run(
        x,
        y,
        mode="lag",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        lag_range=[0, 4],
        verbose=False,
    )
    assert sorted(lag.dataframe["lag"]) == [0, 4]
    assert lag.details["peak_lag"] in (0, 4)
    data = nmi.datasets.generate_latent_factor_data(800, 2, 6, seed=0)
    dim = nmi.run(
        data,
        mode="dimensionality",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        sweep_grid={"embedding_dim": [1, 2]},
        n_splits=2,
        verbose=False,
    )
    assert sorted(dim.dataframe["embedding_dim"].unique()) == [1, 2]
    assert "participation_ratio_mean" in dim.dataframe
    for res, xlabel in ((sweep, "embedding_dim"), (lag, "lag"), (dim, "embedding")):
        assert res.plot(show=False).get_xlabel().startswith(xlabel)


def test_processor_type_none_means_already_processed(fast_params):
    # 1000 samples x 20 features, already processed: 1000 samples, not 20 windows of 1000
    # channels (processor_type=None used to be read as "not given").
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 20)).astype(np.float32)
    y = x[:, :5] + 0.5 * rng.normal(size=(1000, 5)).astype(np.float32)
    res = nmi.run(
        x, y, processor_type=None, split_mode="random", base_params=fast_params, verbose=False
    )
    assert res.details["n_train"] + res.details["n_test"] == 1000
    assert res.params["task_params"]["processor_type_x"] is None
    assert res.params["task_params"]["processor_type_y"] is None


def test_y_takes_x_processing_when_only_x_is_given(fast_params):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 400)).astype(np.float32)
    res = nmi.run(
        x,
        x + 0.1,
        processor_params_x={"window_size": 8, "step_size": 2},
        split_mode="random",
        base_params=fast_params,
        verbose=False,
    )
    p = res.params["task_params"]
    assert p["processor_params_y"]["window_size"] == 8 and p["processor_params_y"]["step_size"] == 2
    # (400 - 8) // 2 + 1 windows for both
    assert res.details["n_train"] + res.details["n_test"] == 197


def test_a_tensor_that_requires_grad_is_used_detached(gauss_small, fast_params):
    import torch

    x, y = gauss_small
    tx = torch.tensor(x, requires_grad=True)
    from_tensor = nmi.run(tx, y, split_mode="random", base_params=fast_params, verbose=False)
    from_array = nmi.run(x, y, split_mode="random", base_params=fast_params, verbose=False)
    assert from_tensor.mi_estimate == from_array.mi_estimate
    assert tx.grad is None


def test_the_estimate_figure_draws_the_reported_numbers(gauss_small, fast_params):
    # The curves are converted to the output units once: at the best epoch the held-out
    # curve is the reported test MI (it used to be 1.44x too high in bits).
    x, y = gauss_small
    for units in ("bits", "nats"):
        res = nmi.run(
            x, y, split_mode="random", base_params=fast_params, verbose=False, output_units=units
        )
        ax = res.plot(show=False)
        (held_out,) = [line for line in ax.get_lines() if line.get_label() == "held-out"]
        drawn = held_out.get_ydata()[res.details["best_epoch"]]
        assert drawn == pytest.approx(res.details["test_mi"], rel=1e-12)
        assert drawn == pytest.approx(res.mi_estimate, rel=1e-12)


def test_results_load_refuses_what_is_not_a_saved_analysis(gauss_small, fast_params, tmp_path):
    import json

    from neural_mi.errors import ParameterError

    x, y = gauss_small
    saved = nmi.run(x, y, split_mode="random", base_params=fast_params, verbose=False).save(
        tmp_path / "res"
    )
    meta = json.loads((saved / "results.json").read_text())
    for edit, pattern in (
        (lambda m: m.update(mode="bogus"), r"Unknown mode 'bogus'"),
        (lambda m: m["headline"].pop("mi_estimate"), r"headline .* lacks \['mi_estimate'\]"),
        (lambda m: m["headline"].update(units="bytes"), r"units must be bits or nats"),
        (lambda m: m.pop("params"), r"must hold 'mode'"),
    ):
        broken = json.loads(json.dumps(meta))
        edit(broken)
        (saved / "results.json").write_text(json.dumps(broken))
        with pytest.raises(ParameterError, match=pattern):
            Results.load(saved)
    (saved / "results.json").write_text("{not json")
    with pytest.raises(ParameterError, match="not readable JSON"):
        Results.load(saved)
    with pytest.raises(ParameterError, match="summary.nc, tasks.nc missing|missing"):
        Results.load(tmp_path / "elsewhere")


# --------------------------------------------------------------------------------------
# Permutation tests (#18)
# --------------------------------------------------------------------------------------


def _lag_test(fast_params, **kw):
    x, y = nmi.datasets.generate_linear_data(n_samples=600, true_lag=2, noise=0.5, seed=4)
    return nmi.run(
        x,
        y,
        mode="lag",
        lag_range=[0, 2],
        base_params=fast_params,
        random_seed=5,
        verbose=False,
        allow_partial=True,
        **kw,
    )


def test_null_tasks_resume_from_the_store_and_more_permutations_reuse_them(
    fast_params, tmp_path, monkeypatch
):
    first = _lag_test(fast_params, n_permutations=2, store=tmp_path)
    assert first.tasks.sizes["task"] == 6
    assert sorted(set(first.tasks["permutation"].values.tolist())) == [0, 1, 2]
    calls = _count_trained(monkeypatch)
    again = _lag_test(fast_params, n_permutations=2, store=tmp_path)
    assert calls == [] and _per_task(again) == _per_task(first)
    assert again.headline == first.headline
    more = _lag_test(fast_params, n_permutations=3, store=tmp_path)
    assert sorted(calls) == sorted(k for k in _per_task(more) if k.endswith("-n0003"))
    plain = _lag_test(fast_params, store=tmp_path)  # the observed tasks alone, read back
    assert len(calls) == 2 and plain.mi_estimate == first.mi_estimate
    assert plain.headline["p_value"] is None and first.headline["p_value"] is not None


def test_the_lag_figure_draws_the_chance_curve(fast_params):
    res = _lag_test(fast_params, n_permutations=2)
    ax = res.plot(show=False)
    (chance,) = [line for line in ax.get_lines() if line.get_label().startswith("chance")]
    expected = res.summary_dataset["mi_mean_null_upper"].isel(combo=0).values
    np.testing.assert_allclose(chance.get_ydata(), expected)
    plt.close(ax.figure)


def test_a_permutation_test_refuses_a_custom_critic(gauss_small, fast_params):
    import torch

    x, y = gauss_small
    critic = torch.nn.Linear(2, 2)  # refused before it would be used
    with pytest.raises(nmi.errors.ParameterError, match="custom_critic"):
        nmi.run(x, y, custom_critic=critic, n_permutations=2, verbose=False)
