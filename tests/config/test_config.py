"""Tests of the workflow config model, its parse-time checks, planning and packing."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from helpers import load_script

from neural_mi.config import (
    DataExtent,
    load_config,
    load_session_arrays,
    plan_analysis,
    plan_config,
    processed_samples,
)
from neural_mi.errors import ConfigError
from neural_mi.plan import derive_seed, plan_tasks
from neural_mi.workflow.packing import pack_tasks

REPO = Path(__file__).resolve().parents[2]


def _gauss_session(name: str = "g", n_samples: int = 1000) -> dict:
    return {
        "name": name,
        "synthetic": {
            "generator": "correlated_gaussians",
            "n_samples": n_samples,
            "dim": 2,
            "mi": 1.0,
        },
        "x": {"type": "continuous"},
        "y": {"type": "continuous"},
    }


def _config(**analysis) -> dict:
    analysis = {
        "name": "rig",
        "mode": "rigorous",
        "gamma_range": [1, 2, 3],
        "base_params": {"batch_size": 64},
        **analysis,
    }
    analysis = {key: value for key, value in analysis.items() if value is not None}
    return {"seed": 5, "sessions": [_gauss_session()], "analyses": [analysis]}


def _file_config(tmp_path: Path, x_shape=(2, 1000), y_shape=(2, 1000), **analysis) -> dict:
    np.save(tmp_path / "x.npy", np.zeros(x_shape, dtype=np.float32))
    np.save(tmp_path / "y.npy", np.zeros(y_shape, dtype=np.float32))
    config = _config(**analysis)
    config["sessions"] = [
        {
            "name": "rec",
            "x": {"path": str(tmp_path / "x.npy")},
            "y": {"path": str(tmp_path / "y.npy")},
        }
    ]
    return config


# --------------------------------------------------------------------------------------
# Schema and model
# --------------------------------------------------------------------------------------


def test_committed_schema_matches_the_model():
    make_schema = load_script("make_schema")
    committed = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()
    assert committed == make_schema.render_schema(), (
        "workflow/schemas/config.schema.yaml is out of date: run python scripts/make_schema.py"
    )


def test_shipped_configs_load_and_plan():
    for name in ("config.yaml", "test_tiny.yaml"):
        config = load_config(REPO / "config" / name)
        assert plan_config(config)


def test_unknown_analysis_key_names_analysis_and_suggests_the_key():
    raw = _config(gama_range=[1, 2])
    with pytest.raises(
        ConfigError,
        match=r"analyses\[0\] \(rig\): unknown key 'gama_range' "
        r"\(did you mean 'gamma_range'\?\)",
    ):
        load_config(raw)


def test_unknown_nested_key_names_its_place():
    raw = _config(fit={"confidence": 0.9})
    with pytest.raises(
        ConfigError,
        match=r"analyses\[0\] \(rig\): unknown key 'confidence' in "
        r"fit \(did you mean 'confidence_level'\?\)",
    ):
        load_config(raw)
    raw = _config()
    raw["sessions"][0]["x"]["window"] = 3
    with pytest.raises(ConfigError, match=r"sessions\[0\] \(g\): unknown key 'window' in x"):
        load_config(raw)


def test_value_errors_name_the_key():
    with pytest.raises(
        ConfigError,
        match=r"analyses\[0\] \(rig\): fit.confidence_level: "
        r"must be a finite number > 0 and < 1, got 1.5",
    ):
        load_config(_config(fit={"confidence_level": 1.5}))
    with pytest.raises(ConfigError, match=r"config: tasks_per_job"):
        load_config({**_config(), "tasks_per_job": 0})


def test_unknown_processor_parameter_is_reported_with_session_and_analysis():
    raw = _config()
    raw["sessions"][0]["x"]["params"] = {"windw_size": 3}
    config = load_config(raw)
    with pytest.raises(
        ConfigError,
        match=r"session 'g', analysis 'rig': Unknown key "
        r"'windw_size' in processor_params_x",
    ):
        plan_config(config)


def test_names_must_be_unique_and_references_known():
    raw = _config()
    raw["sessions"].append(_gauss_session("g"))
    with pytest.raises(ConfigError, match="session names must be unique; repeated: g"):
        load_config(raw)
    raw = _config(sessions=["gg"])
    with pytest.raises(ConfigError, match=r"unknown session 'gg' \(did you mean 'g'\?\)"):
        load_config(raw)


def test_synthetic_generator_and_arguments_are_checked():
    raw = _config()
    raw["sessions"][0]["synthetic"]["dims"] = 3
    with pytest.raises(
        ConfigError,
        match=r"sessions\[0\] \(g\): unknown key 'dims' in synthetic "
        r"\(generator 'correlated_gaussians'\) \(did you mean "
        r"'dim'\?\)",
    ):
        load_config(raw)
    raw = _config()
    raw["sessions"][0]["synthetic"] = {"generator": "corelated_gaussians"}
    with pytest.raises(
        ConfigError,
        match="unknown synthetic generator 'corelated_gaussians' "
        r"\(did you mean 'correlated_gaussians'\?\)",
    ):
        load_config(raw)


def test_session_sources_are_consistent():
    raw = _config()
    raw["sessions"][0]["x"]["path"] = "x.npy"
    with pytest.raises(ConfigError, match="x.path is set, but the session is synthetic"):
        load_config(raw)
    raw = _config()
    del raw["sessions"][0]["synthetic"]
    with pytest.raises(ConfigError, match=r"x.path is missing"):
        load_config(raw)


def test_mode_needing_y_on_x_only_session_fails():
    raw = _config(mode="estimate", gamma_range=None)
    raw["sessions"][0]["y"] = None
    with pytest.raises(ConfigError, match="session 'g', analysis 'rig': mode 'estimate' needs Y"):
        plan_config(load_config(raw))


def test_arguments_of_other_modes_name_the_mode_that_uses_them():
    raw = _config(mode="estimate", gamma_range=None, fit={"confidence_level": 0.9})
    with pytest.raises(
        ConfigError,
        match=r"analyses\[0\] \(rig\): 'confidence_level' in fit is not used in this mode "
        r"\(it is an argument of mode 'conditional' / 'rigorous' / 'transfer'\)",
    ):
        load_config(raw)
    with pytest.raises(
        ConfigError,
        match=r"analyses\[0\] \(rig\): 'lag_range' is not used in this mode \(it is an "
        r"argument of mode 'lag'\)",
    ):
        load_config(_config(lag_range=[0, 1]))
    with pytest.raises(
        ConfigError,
        match=r"analyses\[0\] \(rig\): unknown mode 'rigourous' \(did you mean "
        r"'rigorous'\?\)",
    ):
        load_config(_config(mode="rigourous"))


def test_planner_errors_are_wrapped_with_context():
    with pytest.raises(
        ConfigError, match="session 'g', analysis 'rig': sweep_grid key 'hiden_dim' is neither"
    ):
        plan_config(load_config(_config(sweep_grid={"hiden_dim": [2]})))


# --------------------------------------------------------------------------------------
# Parse-time data checks
# --------------------------------------------------------------------------------------


def test_missing_data_file_names_session_and_path(tmp_path):
    raw = _file_config(tmp_path)
    raw["sessions"][0]["y"]["path"] = str(tmp_path / "nope.npy")
    with pytest.raises(ConfigError, match=r"session 'rec', y: data file '.*nope.npy' not found"):
        plan_config(load_config(raw))


def test_unalignable_sample_counts_fail_with_the_numbers(tmp_path):
    # 1000 vs 400 time points, window 1: 400 < 0.5 * 1000.
    raw = _file_config(tmp_path, y_shape=(2, 400))
    with pytest.raises(
        ConfigError,
        match=r"session 'rec', analysis 'rig': X gives 1000 and Y gives 400 windows, "
        "and X and Y have no time base.*align='truncate'",
    ):
        plan_config(load_config(raw))
    # Unequal counts without a time base are paired by index only when asked to.
    raw["sessions"][0]["align"] = "truncate"
    assert plan_config(load_config(raw))


def test_swept_window_is_checked_per_combination(tmp_path):
    # window 700 on 1000 points leaves 301 windows, under half of Y's 1000.
    raw = _file_config(
        tmp_path, mode="sweep", gamma_range=None, sweep_grid={"window_size": [1, 700]}
    )
    raw["sessions"][0]["y"]["type"] = None
    raw["sessions"][0]["y"]["path"] = str(tmp_path / "yp.npy")
    np.save(tmp_path / "yp.npy", np.zeros((1000, 3), dtype=np.float32))
    with pytest.raises(
        ConfigError,
        match=r"\(sweep values \{'window_size': 700\}\): X gives 301 "
        "and Y gives 1000 windows",
    ):
        plan_config(load_config(raw))


def test_gamma_leaving_less_than_a_batch_fails_with_the_numbers(tmp_path):
    # 1000 samples, gamma 20 -> chunks of 50 < batch_size 64; gammas up to 15 are fine.
    raw = _file_config(tmp_path, gamma_range=[1, 10, 20])
    with pytest.raises(
        ConfigError,
        match=r"session 'rec', analysis 'rig': gamma=20 cuts 1000 "
        r"samples into chunks of 50, fewer than one batch "
        r"\(batch_size=64\)\. Use gammas up to 15 or a "
        "batch_size of at most 50",
    ):
        plan_config(load_config(raw))


def test_synthetic_sample_count_comes_from_n_samples():
    raw = _config(gamma_range=[1, 20])
    raw["sessions"][0]["synthetic"]["n_samples"] = 1000
    with pytest.raises(ConfigError, match="gamma=20 cuts 1000 samples"):
        plan_config(load_config(raw))


def test_npz_and_zarr_headers_and_keys(tmp_path):
    np.savez(tmp_path / "rec.npz", lfp=np.zeros((3, 1000)), other=np.zeros(5))
    group = zarr.open_group(tmp_path / "rec.zarr", mode="w")
    group.create_array("rates", data=np.zeros((4, 900)))
    raw = _config()
    raw["sessions"] = [
        {
            "name": "rec",
            "x": {"path": str(tmp_path / "rec.npz"), "key": "lfp"},
            "y": {"path": str(tmp_path / "rec.zarr")},
            "align": "truncate",
        }
    ]
    assert len(plan_config(load_config(raw))[("rec", "rig")]) == 6
    raw["sessions"][0]["x"]["key"] = None
    with pytest.raises(
        ConfigError,
        match=r"session 'rec', x: .*rec\.npz' holds 2 arrays; pass key= one of: lfp, other",
    ):
        plan_config(load_config(raw))


def test_spike_file_extent_uses_the_last_spike(tmp_path):
    np.savez(tmp_path / "spikes.npz", ch0=np.array([0.5, 9.99]), ch1=np.array([3.0]))
    np.save(tmp_path / "x.npy", np.zeros((1, 199)))
    raw = _config(gamma_range=[1, 3], base_params={"batch_size": 64})
    raw["sessions"] = [
        {
            "name": "rec",
            "x": {"path": str(tmp_path / "x.npy")},
            "y": {
                "path": str(tmp_path / "spikes.npz"),
                "type": "spike",
                "params": {"window_size": 0.05},
            },
        }
    ]
    # floor((9.99 - 0.05) / 0.05) + 1 = 199 windows, as many as X's 199 points: gamma 3 gives
    # chunks of 66 >= 64; gamma 4 would give 49.
    assert plan_config(load_config(raw))
    raw["analyses"][0]["gamma_range"] = [1, 4]
    with pytest.raises(ConfigError, match="gamma=4 cuts 199 samples into chunks of 49"):
        plan_config(load_config(raw))


@pytest.mark.parametrize(
    "ptype, shape, params",
    [
        ("continuous", (3, 100), {"window_size": 7, "step_size": 3}),
        ("continuous", (100, 3), {"window_size": 5, "step_size": 1, "time_axis": 0}),
        ("continuous", (50,), {"window_size": 50, "step_size": 1}),
        ("categorical", (2, 64), {"window_size": 4, "step_size": 4}),
        (None, (40, 6), {}),
    ],
)
def test_processed_samples_matches_the_processors(ptype, shape, params):
    from neural_mi.data import process
    from neural_mi.params import resolve_processor_params

    resolved = resolve_processor_params(ptype, params)
    data = np.zeros(shape, dtype=np.int64 if ptype == "categorical" else np.float32)
    expected = process(data, ptype, resolved).shape[0]
    assert processed_samples(DataExtent(shape=shape), ptype, resolved) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"window_size": 0.1},
        {"window_size": 0.1, "step_size": 0.05},
        {"window_size": 0.25, "n_seconds": 2.0},
    ],
)
def test_processed_samples_matches_the_spike_processor(params):
    from neural_mi.data import process
    from neural_mi.params import resolve_processor_params

    spikes = [np.array([0.0, 0.3, 1.0]), np.array([0.95])]
    resolved = resolve_processor_params("spike", params)
    expected = process(spikes, "spike", resolved).shape[0]
    assert processed_samples(DataExtent(last_spike=1.0), "spike", resolved) == expected


def test_config_module_and_file_plan_never_import_torch(tmp_path):
    raw = _file_config(tmp_path)
    path = tmp_path / "config.yaml"
    import yaml

    path.write_text(yaml.safe_dump(raw))
    code = (
        "import sys; from neural_mi.config import load_config, plan_config;"
        f"p = plan_config(load_config({str(path)!r}));"
        "assert 'torch' not in sys.modules, 'torch was imported'; print(len(p))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_synthetic_plan_never_imports_torch():
    code = (
        "import sys; from neural_mi.config import load_config, plan_config;"
        f"plan_config(load_config({str(REPO / 'config' / 'test_tiny.yaml')!r}));"
        "assert 'torch' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("source", ["file", "synthetic"])
def test_prepare_step_validates_and_writes_without_torch(tmp_path, source):
    # The workflow's prepare step (one process per session) never pays torch's import.
    from neural_mi.workflow.plan import workflow_plan

    if source == "file":
        plan = workflow_plan(_file_config(tmp_path))
        session = "rec"
    else:
        plan = workflow_plan(load_config(REPO / "config" / "test_tiny.yaml"))
        session = plan.config.sessions[0].name
    out = tmp_path / "data.zarr"
    (tmp_path / "session.json").write_text(plan.session_json(session))
    code = (
        "import sys; from neural_mi.workflow.steps import prepare;"
        f"prepare({str(out)!r});"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.is_dir()


# --------------------------------------------------------------------------------------
# Planning and packing
# --------------------------------------------------------------------------------------


def test_plan_matches_plan_tasks_with_session_processing():
    config = load_config(_config(sweep_grid={"embedding_dim": [4, 8]}))
    specs = plan_analysis(config, "g", "rig")
    expected = plan_tasks(
        "rigorous",
        random_seed=5,
        base_params={"batch_size": 64},
        processor_type_x="continuous",
        processor_params_x={},
        processor_type_y="continuous",
        processor_params_y={},
        split_mode="blocked",
        sweep_grid={"embedding_dim": [4, 8]},
        gamma_range=[1, 2, 3],
    )
    assert specs == expected
    assert len(specs) == 12


def test_dimensionality_ignores_y():
    raw = _config(
        mode="dimensionality", gamma_range=None, n_splits=2, sweep_grid={"embedding_dim": [1, 2]}
    )
    raw["sessions"][0]["y"] = None
    specs = plan_config(load_config(raw))[("g", "rig")]
    assert len(specs) == 4
    assert specs[0].params["mode"] == "dimensionality"


def _rigorous_specs(gammas):
    return plan_tasks("rigorous", random_seed=1, gamma_range=gammas)


def test_one_task_per_job_uses_task_keys():
    specs = _rigorous_specs([1, 2])
    packs = pack_tasks(specs, 1)
    assert list(packs) == [s.key for s in specs]
    assert all(packs[s.key] == [s] for s in specs)


def test_packing_is_greedy_longest_first_by_cost():
    # gammas 1..3: costs 1, 1/2, 1/2, 1/3, 1/3, 1/3 into ceil(6 / 2) = 3 packs.
    # g1 -> p0 (1); g2s0 -> p1 (.5); g2s1 -> p2 (.5); g3s0 -> p1 (.83); g3s1 -> p2 (.83);
    # g3s2 -> p1 (loads 1, .83, .83: lowest index among the least loaded).
    specs = _rigorous_specs([1, 2, 3])
    packs = pack_tasks(specs, 2)
    as_ids = {p: [(s.gamma, s.subset) for s in members] for p, members in packs.items()}
    assert as_ids == {"p000": [(1, 0)], "p001": [(2, 0), (3, 0), (3, 2)], "p002": [(2, 1), (3, 1)]}


def test_packing_covers_every_task_once_and_balances_cost():
    specs = _rigorous_specs(list(range(1, 11)))
    packs = pack_tasks(specs, 10)
    assert len(packs) == 6 == math.ceil(55 / 10)
    keys = [s.key for members in packs.values() for s in members]
    assert sorted(keys) == sorted(s.key for s in specs)
    costs = [sum(1 / s.gamma for s in members) for members in packs.values()]
    # Total cost 10 over 6 packs: the greedy assignment stays within the largest task (1).
    assert max(costs) - min(costs) <= 1.0
    assert pack_tasks(list(reversed(specs)), 10).keys() == packs.keys()
    assert {p: [s.key for s in m] for p, m in pack_tasks(specs, 10).items()} == {
        p: [s.key for s in m] for p, m in packs.items()
    }


# --------------------------------------------------------------------------------------
# Raw arrays
# --------------------------------------------------------------------------------------


def test_synthetic_arrays_are_channels_by_time_with_derived_seed():
    from neural_mi.datasets import generate_correlated_gaussians

    config = load_config(_config())
    x, y, _ = load_session_arrays(config.session("g"), config.seed)
    ex, ey = generate_correlated_gaussians(1000, 2, 1.0, use_torch=False, seed=derive_seed(5, "g"))
    assert x.shape == (2, 1000)
    np.testing.assert_array_equal(x, ex.T)
    np.testing.assert_array_equal(y, ey.T)


def test_channels_first_generators_are_not_transposed_and_x_only_sessions_drop_y():
    raw = _config()
    raw["sessions"] = [
        {
            "name": "lagged",
            "synthetic": {"generator": "linear_data", "n_samples": 300, "seed": 1},
            "x": {},
        }
    ]
    config = load_config(raw)
    x, y, _ = load_session_arrays(config.session("lagged"), config.seed)
    assert x.shape == (1, 300) and y is None


def test_single_output_generator_refuses_y():
    raw = _config()
    raw["sessions"] = [
        {
            "name": "lat",
            "synthetic": {
                "generator": "latent_factor_data",
                "n_samples": 300,
                "latent_dim": 2,
                "n_channels": 4,
            },
            "x": {},
            "y": {},
        }
    ]
    config = load_config(raw)
    with pytest.raises(ConfigError, match="makes X only"):
        load_session_arrays(config.session("lat"), config.seed)


def test_file_sessions_read_arrays_and_spikes(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    np.savez(tmp_path / "s.npz", ch1=np.array([0.5]), ch0=np.array([0.1, 0.2]))
    raw = _config()
    raw["sessions"] = [
        {
            "name": "rec",
            "x": {"path": str(tmp_path / "x.npy")},
            "y": {"path": str(tmp_path / "s.npz"), "type": "spike"},
        }
    ]
    config = load_config(raw)
    x, y, _ = load_session_arrays(config.session("rec"), config.seed)
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))
    assert [list(c) for c in y] == [[0.1, 0.2], [0.5]]


def test_synthetic_length_argument_must_fit_the_type():
    raw = _config()
    raw["sessions"][0]["x"]["type"] = "spike"
    raw["sessions"][0]["x"]["params"] = {"window_size": 0.1}
    with pytest.raises(
        ConfigError,
        match="session 'g', x: generator 'correlated_gaussians' has no 'duration' argument",
    ):
        plan_config(load_config(raw))
    raw = _config()
    raw["sessions"][0]["synthetic"]["n_samples"] = "many"
    with pytest.raises(ConfigError, match="synthetic n_samples must be a finite number > 0"):
        plan_config(load_config(raw))


def test_npy_with_key_and_non_npz_spikes_are_refused(tmp_path):
    raw = _file_config(tmp_path)
    raw["sessions"][0]["x"]["key"] = "lfp"
    with pytest.raises(ConfigError, match="key 'lfp' was given, but a .npy file holds a single"):
        plan_config(load_config(raw))
    raw = _file_config(tmp_path)
    raw["sessions"][0]["y"].update(type="spike", params={"window_size": 0.1})
    with pytest.raises(ConfigError, match="Spike times must be an .npz archive"):
        plan_config(load_config(raw))
