"""Input transforms in the engine: fitted per task on its training windows only, applied
the same way in every mode and front door, and recorded with each task.

Rank-Gauss depends on the training values only through their ranks, so rescaling a
channel (any affine map with a positive factor) leaves a task's training data, and so its
training, unchanged; held-out values are interpolated between rescaled knots, equal up to
float rounding.
"""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest

import neural_mi as nmi
from neural_mi.config import load_config, plan_analysis
from neural_mi.config.model import AnalysisConfig
from neural_mi.data.transforms import window_time_points
from neural_mi.engine import task as engine_task
from neural_mi.engine.inputs import SessionData
from neural_mi.engine.split import task_split
from neural_mi.engine.task import run_task, task_data
from neural_mi.engine.transform import transformed_task_data
from neural_mi.errors import ConfigError, ParameterError
from neural_mi.modes import get_mode
from neural_mi.params import INPUT_TRANSFORMS
from neural_mi.plan import plan_tasks


@pytest.mark.parametrize("lag, expected_x, expected_y", [(0, 0, 0), (6, 0, 3), (-4, 2, 0)])
def test_task_windows_undo_the_lag_shift(lag, expected_x, expected_y):
    spec = plan_tasks(
        "lag",
        processor_params_x={"window_size": 4, "step_size": 2},
        processor_params_y={"window_size": 4, "step_size": 2},
        lag_range=[lag],
    )[0]
    samples = np.array([0, 5, 9])
    windows_x, windows_y = get_mode("lag").task_windows(spec, samples)
    np.testing.assert_array_equal(windows_x, samples + expected_x)
    np.testing.assert_array_equal(windows_y, samples + expected_y)
    # The windows behind the samples are the rows task_data took them from.
    x = np.arange(60, dtype=np.float32)[None, :]
    data = SessionData(x, x.copy())
    tx, ty, _ = task_data(spec, data)
    full = data.processed("x", spec.params["processor_params_x"])
    np.testing.assert_array_equal(tx[samples].numpy(), full[windows_x].numpy())
    np.testing.assert_array_equal(ty[samples].numpy(), full[windows_y].numpy())


def test_rank_gauss_makes_a_task_blind_to_the_scale_of_its_inputs(gauss_small, fast_params):
    x, y = gauss_small
    spec = plan_tasks(
        "estimate",
        base_params=fast_params,
        processor_params_x={"window_size": 1},
        processor_params_y={"window_size": 1},
        split_mode="random",
        input_transform="rank_gauss",
    )[0]
    results = [run_task(spec, SessionData(x * s, y * s)) for s in (1.0, 1e-3, 1e6)]
    # Identical training data (ranks do not change): identical training and kept state;
    # held-out values are interpolated between rescaled knots, equal up to float rounding.
    assert len({(r.train_mi, r.best_epoch) for r in results}) == 1
    assert max(r.test_mi for r in results) - min(r.test_mi for r in results) < 1e-5
    summary = results[0].diagnostics["input_transform"]
    assert summary["kind"] == "rank_gauss" and summary["x"]["n_points"] == results[0].n_train


def test_the_none_transform_leaves_task_parameters_and_numbers_alone(gauss_small, fast_params):
    common = dict(
        base_params=fast_params,
        processor_params_x={"window_size": 1},
        processor_params_y={"window_size": 1},
    )
    explicit = plan_tasks("estimate", input_transform="none", **common)[0]
    assert "input_transform" not in explicit.params
    transformed = plan_tasks("estimate", input_transform="standardize", **common)[0]
    assert transformed.params == {**explicit.params, "input_transform": "standardize"}
    assert transformed.key != explicit.key
    result = run_task(explicit, SessionData(*gauss_small))
    assert "input_transform" not in result.diagnostics
    with pytest.raises(ParameterError, match="input_transform"):
        plan_tasks("estimate", input_transform="rank", **common)


def _rescaled(data: np.ndarray, seed: int) -> np.ndarray:
    """Each channel (row) times its own positive factor (1e-3 to 1e6) plus an offset."""
    rng = np.random.default_rng(seed)
    factors = 10.0 ** rng.uniform(-3, 6, size=(data.shape[0], 1))
    return (data * factors + rng.normal(0, 1e3, size=(data.shape[0], 1))).astype(np.float64)


def _per_task(results):
    ds = results.details["dataset"]
    return dict(zip(ds["key"].values, ds["test_mi"].values)), dict(
        zip(ds["key"].values, ds["train_mi"].values)
    )


@pytest.mark.parametrize("mode", ["lag", "rigorous", "dimensionality"])
def test_every_mode_gives_the_same_numbers_in_any_units(mode, fast_params):
    if mode == "lag":
        x, y = nmi.datasets.generate_linear_data(n_samples=900, true_lag=4, noise=0.5, seed=1)
        kwargs = dict(x_data=x, y_data=y, lag_range=[-4, 0, 4])
        params = {"window_size": 3}
    elif mode == "rigorous":
        x, y = nmi.datasets.generate_correlated_gaussians(900, 2, 1.0, use_torch=False, seed=2)
        kwargs = dict(x_data=x.T.copy(), y_data=y.T.copy(), gamma_range=[1, 2])
        params = {"window_size": 1}
    else:
        x = nmi.datasets.generate_latent_factor_data(900, 2, 4, noise=0.5, seed=3)
        kwargs = dict(x_data=x, sweep_grid={"embedding_dim": [2]}, n_splits=2)
        params = {"window_size": 1}
    common = dict(
        mode=mode,
        processor_params=params,
        base_params=fast_params,
        input_transform="rank_gauss",
        verbose=False,
        random_seed=5,
    )
    plain = nmi.run(**kwargs, **common)
    rescaled_kwargs = {
        **kwargs,
        "x_data": _rescaled(np.atleast_2d(kwargs["x_data"]), 0),
        **({"y_data": _rescaled(np.atleast_2d(kwargs["y_data"]), 1)} if "y_data" in kwargs else {}),
    }
    rescaled = nmi.run(**rescaled_kwargs, **common)
    test_a, train_a = _per_task(plain)
    test_b, train_b = _per_task(rescaled)
    assert train_a == train_b
    assert test_a.keys() == test_b.keys()
    assert max(abs(test_a[k] - test_b[k]) for k in test_a) < 1e-5
    assert plain.params["input_transform"] == "rank_gauss"


def test_processed_inputs_are_transformed_per_feature(fast_params):
    x, y = nmi.datasets.generate_correlated_gaussians(800, 4, 1.0, use_torch=False, seed=4)
    x3, y3 = x.reshape(800, 2, 2), y.reshape(800, 2, 2)
    scale = np.array([[1e-3, 1e5], [7.0, 1e2]])
    runs = [
        nmi.run(
            a,
            b,
            processor_type=None,
            base_params=fast_params,
            split_mode="random",
            input_transform="rank_gauss",
            verbose=False,
        )
        for a, b in ((x3, y3), (x3 * scale, y3 / scale))
    ]
    fit = runs[0].details["dataset"]
    assert runs[0].details["tasks"]["train_mi"][0] == runs[1].details["tasks"]["train_mi"][0]
    assert runs[0].mi_estimate == pytest.approx(runs[1].mi_estimate, abs=1e-5)
    assert fit.attrs["input_transform"] == "rank_gauss"


def _lag_spec(lag, fast_params):
    return plan_tasks(
        "lag",
        base_params=fast_params,
        processor_params_x={"window_size": 3, "step_size": 1},
        processor_params_y={"window_size": 3, "step_size": 1},
        input_transform="robust",
        lag_range=[lag],
    )[0]


@pytest.mark.parametrize("lag", [6, -6])
def test_the_fit_sees_the_training_windows_only(lag, fast_params):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 500)), rng.standard_normal((1, 500))
    spec = _lag_spec(lag, fast_params)
    data = SessionData(x, y)
    tx, _, gap = task_data(spec, data)
    train_idx, _ = task_split(spec, len(tx), gap)
    _, _, summary = transformed_task_data(spec, data, train_idx)
    windows_x, windows_y = get_mode("lag").task_windows(spec, train_idx)
    points_x = window_time_points(windows_x, 3, 1, 500)
    points_y = window_time_points(windows_y, 3, 1, 500)
    assert summary["x"]["n_points"] == len(points_x) and summary["y"]["n_points"] == len(points_y)
    np.testing.assert_allclose(summary["x"]["center"], np.median(x[:, points_x], axis=1))
    # Held-out values, however wild, do not move the fit.
    wild_x, wild_y = x.copy(), y.copy()
    wild_x[:, np.setdiff1d(np.arange(500), points_x)] = 1e9
    wild_y[:, np.setdiff1d(np.arange(500), points_y)] = -1e9
    _, _, wild = transformed_task_data(spec, SessionData(wild_x, wild_y), train_idx)
    assert wild == summary


def test_spike_trains_are_never_transformed(fast_params):
    # Nothing to transform: the task is planned as without a transform (the same key and
    # seed, so the numbers of an analysis without one), and even a task that names a
    # transform gets its spike windows as given.
    x, y = nmi.datasets.generate_correlated_spike_trains(n_neurons=2, duration=20.0, seed=1)
    spike = dict(
        base_params=fast_params,
        processor_type_x="spike",
        processor_params_x={"window_size": 0.05},
        processor_type_y="spike",
        processor_params_y={"window_size": 0.05},
    )
    spec = plan_tasks("estimate", input_transform="rank_gauss", **spike)[0]
    assert spec == plan_tasks("estimate", input_transform="none", **spike)[0]
    assert "input_transform" not in spec.params
    named = dataclasses.replace(spec, params={**spec.params, "input_transform": "rank_gauss"})
    data = SessionData(x, y, "spike", "spike")
    assert transformed_task_data(named, data, np.arange(10)) == (None, None, {"kind": "rank_gauss"})
    result = run_task(named, data)
    assert result.diagnostics["input_transform"] == {"kind": "rank_gauss"}


def test_groups_cut_for_memory_give_the_same_numbers(monkeypatch, gauss_small, fast_params):
    x, y = gauss_small
    common = dict(
        mode="rigorous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        gamma_range=[1, 3],
        split_mode="random",
        input_transform="standardize",
        verbose=False,
    )
    together = _per_task(nmi.run(x, y, **common))
    monkeypatch.setattr(engine_task, "TRANSFORMED_GROUP_BYTES", 1)
    calls = []
    original = engine_task.train_critics
    monkeypatch.setattr(
        engine_task,
        "train_critics",
        lambda critics, *a, **k: calls.append(len(critics)) or original(critics, *a, **k),
    )
    apart = _per_task(nmi.run(x, y, **common))
    assert apart == together
    assert calls == []  # one task per group: each trained alone (train_critic)


def test_the_workflow_config_takes_an_input_transform(tmp_path):
    raw = {
        "sessions": [
            {
                "name": "s",
                "synthetic": {
                    "generator": "correlated_gaussians",
                    "n_samples": 500,
                    "dim": 2,
                    "mi": 1.0,
                },
                "x": {"params": {"window_size": 1}},
                "y": {"params": {"window_size": 1}},
            }
        ],
        "analyses": [{"name": "a", "mode": "estimate", "input_transform": "robust"}],
    }
    specs = plan_analysis(load_config(raw), "s", "a")
    assert specs[0].params["input_transform"] == "robust"
    raw["analyses"][0]["input_transform"] = "rank"
    with pytest.raises(ConfigError, match="input_transform"):
        load_config(raw)
    field = AnalysisConfig.model_fields["input_transform"]
    assert typing.get_args(field.annotation) == INPUT_TRANSFORMS


def test_a_third_variable_is_transformed_with_the_fit_on_x_s_training_windows(fast_params):
    # Conditional MI (seed 11, 1,200 samples, 1-channel Gaussians): Z in other units gives
    # the same per-task MI (ranks do not change; held-out values equal up to float
    # rounding, tolerance 1e-5 nats), and each task's store records Z's fit on its
    # training samples.
    x, y, z = nmi.datasets.generate_conditional_gaussians(1200, dim=1, cmi=1.0, seed=11)
    common = dict(
        mode="conditional",
        base_params=fast_params,
        split_mode="random",
        random_seed=3,
        verbose=False,
        input_transform="rank_gauss",
    )
    plain, rescaled = (nmi.run(x, y, z_data=z * s, **common) for s in (1.0, 1e6))
    np.testing.assert_allclose(
        rescaled.tasks["test_mi"].values, plain.tasks["test_mi"].values, rtol=0, atol=1e-5
    )
    spec = plan_tasks(
        "conditional",
        base_params=fast_params,
        split_mode="random",
        input_transform="rank_gauss",
        processor_params_x={"window_size": 1},
        processor_params_y={"window_size": 1},
        processor_params_z={"window_size": 1},
    )[0]
    result = run_task(spec, SessionData(x, y, z=z))
    fits = result.diagnostics["input_transform"]
    assert fits["z"]["n_points"] == fits["x"]["n_points"] == result.n_train
