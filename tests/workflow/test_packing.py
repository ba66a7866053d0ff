"""Cost model, automatic packing, cluster groups and the resources they set (torch-free)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from neural_mi.config import load_config, plan_analysis
from neural_mi.errors import ConfigError
from neural_mi.workflow import cost
from neural_mi.workflow.cost import Calibration, DataSize, task_seconds
from neural_mi.workflow.packing import pack_tasks
from neural_mi.workflow.plan import GROUP_PARENT, workflow_plan

REPO = Path(__file__).resolve().parents[2]
SIZE = DataSize(n_samples=5000, features_x=5, features_y=5, raw_mb=1.0)


def session(name: str, n_samples: int = 2000) -> dict:
    return {
        "name": name,
        "synthetic": {
            "generator": "correlated_gaussians",
            "n_samples": n_samples,
            "dim": 2,
            "mi": 1.0,
        },
        "x": {"type": "continuous", "params": {"window_size": 1}},
        "y": {"type": "continuous", "params": {"window_size": 1}},
    }


def sweep_config(embedding_dims: list[int], target_minutes: float, **extra) -> dict:
    """One session, a sweep of one task per embedding size (3 repeats each)."""
    return {
        "seed": 1,
        "tasks_per_job": "auto",
        "target_job_minutes": target_minutes,
        "sessions": [session("s")],
        "analyses": [
            {
                "name": "sweep",
                "mode": "sweep",
                "base_params": {"n_epochs": 20, "batch_size": 64},
                "sweep_grid": {"embedding_dim": embedding_dims},
                "n_repeats": 3,
                "split_mode": "random",
                **extra,
            }
        ],
    }


def packs_of(config: dict) -> dict[str, list[str]]:
    plan = workflow_plan(config).analyses[("s", "sweep")]
    return {pack: [spec.key for spec in specs] for pack, specs in plan.packs.items()}


# --------------------------------------------------------------------------------------
# The cost model
# --------------------------------------------------------------------------------------


def base_spec(**base):
    config = load_config(sweep_config([8], 10))
    spec = plan_analysis(config, "s", "sweep")[0]
    params = {**spec.params, "base": {**spec.params["base"], **base}}
    return type(spec)(**{**spec.__dict__, "params": params})


def test_estimate_grows_with_samples_epochs_and_model_size():
    spec = base_spec()
    seconds = task_seconds(spec, SIZE)
    assert task_seconds(spec, DataSize(50_000, 5, 5, 10.0)) > 5 * seconds
    assert task_seconds(base_spec(n_epochs=200), SIZE) > 3 * task_seconds(base_spec(), SIZE)
    assert task_seconds(base_spec(hidden_dim=512, n_layers=3), SIZE) > 3 * seconds
    # Tasks trained as one stacked model share the per-step overhead.
    assert task_seconds(spec, SIZE, stack=10) < seconds


def test_estimate_of_the_reference_setting_is_an_upper_bound_of_its_measurement():
    # 20 epochs without early stopping on 20,000 samples of 5-d Gaussians, hidden 256 x 2,
    # embedding 32, 20 features: 14.4 s measured on the reference machine (one thread).
    spec = base_spec(n_epochs=20, batch_size=128, hidden_dim=256, n_layers=2, embedding_dim=32)
    estimate = task_seconds(spec, DataSize(20_000, 20, 20, 3.2))
    assert 14.4 <= estimate <= 14.4 * 1.25


def test_requested_runtime_has_headroom_and_a_floor():
    assert cost.requested_minutes(0.0) == 1
    assert cost.requested_minutes(600.0) == math.ceil((600 * cost.HEADROOM + cost.STARTUP_S) / 60)


def test_calibration_is_the_ratio_of_sums_within_bounds():
    assert Calibration.from_records([]) == Calibration(1.0, 0)
    calibration = Calibration.from_records([(2.0, 1.0), (6.0, 3.0), (float("nan"), 1.0)])
    assert calibration == Calibration(2.0, 2)
    assert Calibration.from_records([(1e6, 1.0)]).factor == cost.FACTOR_BOUNDS[1]


# --------------------------------------------------------------------------------------
# Automatic packing
# --------------------------------------------------------------------------------------


def test_auto_packs_are_deterministic_hold_every_task_once_and_keep_plan_order():
    config = sweep_config(list(range(1, 41)), target_minutes=0.2)
    first, second = packs_of(config), packs_of(config)
    assert first == second
    keys = [spec.key for spec in plan_analysis(load_config(config), "s", "sweep")]
    assert sorted(k for members in first.values() for k in members) == sorted(keys)
    for members in first.values():
        assert members == sorted(members, key=keys.index)
    assert 1 < len(first) < 40  # combinations were merged, and more than one pack made


def test_auto_packs_stay_within_the_target():
    config = sweep_config(list(range(1, 41)), target_minutes=0.2)
    plan = workflow_plan(config).analyses[("s", "sweep")]
    for specs in plan.packs.values():
        assert sum(plan.costs[s.key] for s in specs) <= 0.2 * 60 + 1e-9


def test_a_changed_combination_repacks_only_its_own_pack_and_neighbours():
    dims = list(range(1, 41))
    before = packs_of(sweep_config(dims, target_minutes=0.2))
    after = packs_of(sweep_config([*dims[:-1], 99], target_minutes=0.2))  # one changed
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    unchanged = [p for p in before if before[p] == after.get(p)]
    assert len(before) >= 8
    assert len(unchanged) >= len(before) - 3, (sorted(changed), len(before))


def test_a_combination_above_the_target_gets_packs_of_its_own():
    config = {
        "seed": 1,
        "target_job_minutes": 0.1,
        "sessions": [session("s", 5000)],
        "analyses": [
            {
                "name": "rig",
                "mode": "rigorous",
                "base_params": {"n_epochs": 30, "batch_size": 64},
                "split_mode": "random",
                "gamma_range": [1, 2, 3, 4],
            }
        ],
    }
    plan = workflow_plan(config).analyses[("s", "rig")]
    (combo,) = {spec.combo for spec in plan.tasks}
    total = sum(plan.costs.values())
    assert total > 6  # the target
    assert sorted(plan.packs) == [f"{combo}-{i}" for i in range(len(plan.packs))]
    assert len(plan.packs) == min(10, math.ceil(total / 6))
    # Tasks that train together (same gamma) stay in one pack.
    for gamma in (1, 2, 3, 4):
        homes = {p for p, specs in plan.packs.items() for s in specs if s.gamma == gamma}
        assert len(homes) == 1


def test_integer_tasks_per_job_packs_as_before():
    config = sweep_config([4, 8], target_minutes=10)
    specs = plan_analysis(load_config(config), "s", "sweep")
    assert list(pack_tasks(specs, 1)) == [s.key for s in specs]
    assert list(pack_tasks(specs, 4)) == ["p000", "p001"]
    with pytest.raises(ConfigError, match="'auto' or an integer >= 1"):
        pack_tasks(specs, 0)


def test_config_takes_auto_or_an_integer():
    assert load_config(sweep_config([4], 10)).tasks_per_job == "auto"
    assert load_config({**sweep_config([4], 10), "tasks_per_job": 3}).tasks_per_job == 3
    with pytest.raises(ConfigError, match="tasks_per_job"):
        load_config({**sweep_config([4], 10), "tasks_per_job": "many"})
    with pytest.raises(ConfigError, match="target_job_minutes"):
        load_config({**sweep_config([4], 10), "target_job_minutes": 0})


# --------------------------------------------------------------------------------------
# Calibration, cluster groups and resources
# --------------------------------------------------------------------------------------


def many_sessions(n: int, target_minutes: float) -> dict:
    return {
        "seed": 1,
        "target_job_minutes": target_minutes,
        "sessions": [session(f"s{i:02d}") for i in range(n)],
        "analyses": [
            {
                "name": "est",
                "mode": "sweep",
                "base_params": {"n_epochs": 10, "batch_size": 64},
                "sweep_grid": {"embedding_dim": [8]},
                "n_repeats": 4,
                "split_mode": "random",
            }
        ],
    }


def fake_store(plan, session: str, analysis: str, pack: str, wall_time: float) -> None:
    """A finished first task of a pack: only the metadata the calibration reads."""
    key = plan.analyses[(session, analysis)].packs[pack][0].key
    folder = Path(plan.pack_dir(session, analysis, pack)) / f"{key}.zarr"
    folder.mkdir(parents=True)
    (folder / "zarr.json").write_text(json.dumps({"attributes": {"wall_time": wall_time}}))


def test_calibration_scales_runtimes_but_never_changes_packs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = many_sessions(3, target_minutes=10)
    plan = workflow_plan(config)
    assert plan.calibration == Calibration()
    estimate = plan.job_seconds(
        "train", "s00", "est", next(iter(plan.analyses[("s00", "est")].packs))
    )
    for s in ("s00", "s01"):
        first = next(iter(plan.analyses[(s, "est")].packs))
        spec = plan.analyses[(s, "est")].packs[first][0]
        fake_store(plan, s, "est", first, 5 * plan.analyses[(s, "est")].costs[spec.key])
    again = workflow_plan(config)
    assert again.calibration.factor == pytest.approx(5) and again.calibration.n_tasks == 2
    assert {k: a.packs for k, a in again.analyses.items()} == {
        k: a.packs for k, a in plan.analyses.items()
    }
    pack = next(iter(again.analyses[("s00", "est")].packs))
    assert again.job_seconds("train", "s00", "est", pack) == pytest.approx(5 * estimate)


def test_groups_follow_the_dependencies_and_add_up_to_their_estimate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = workflow_plan(many_sessions(12, target_minutes=0.3))
    jobs = []
    for (s, a), analysis in plan.analyses.items():
        jobs.append(("prepare", s, "", ""))
        jobs += [("train", s, a, p) for p in analysis.packs]
        jobs.append(("aggregate", s, a, ""))
    group = {job: plan.job_group(*job) for job in jobs}
    assert all(re.fullmatch(rf"{GROUP_PARENT}\d{{5}}", g) for g in group.values())
    number = {job: int(g[len(GROUP_PARENT) :]) for job, g in group.items()}
    for (s, a), analysis in plan.analyses.items():
        for p in analysis.packs:
            assert number[("prepare", s, "", "")] <= number[("train", s, a, p)]
            assert number[("train", s, a, p)] <= number[("aggregate", s, a, "")]
    members: dict[str, list] = {}
    for job, g in group.items():
        members.setdefault(g, []).append(job)
    assert len(members) > 1
    target = 0.3 * 60
    for g, in_group in members.items():
        seconds = sum(plan.job_seconds(*job) for job in in_group)
        assert len(in_group) == 1 or seconds <= target + 1e-9
        minutes = sum(plan.job_runtime(*job) for job in in_group)
        assert minutes == math.ceil((seconds * cost.HEADROOM + cost.STARTUP_S) / 60), g
        # A retry asks for twice as much.
        assert sum(plan.job_runtime(*job, attempt=2) for job in in_group) == 2 * minutes


def test_dry_run_with_the_slurm_profile_submits_the_groups_with_their_runtime(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(many_sessions(6, target_minutes=0.3)))
    out = subprocess.run(
        [
            sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
            "--configfile", str(config), "--profile", str(REPO / "profiles" / "slurm"),
            "--directory", str(tmp_path), "--dry-run",
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    groups = re.findall(rf"Group job ({GROUP_PARENT}\d+)", text)
    plan = workflow_plan(yaml.safe_load(config.read_text()))
    expected = {plan.job_group("prepare", f"s{i:02d}") for i in range(6)}
    expected |= {plan.job_group("aggregate", f"s{i:02d}", "est") for i in range(6)}
    assert sorted(set(groups)) == sorted(expected) and len(groups) == len(set(groups)) > 1
    # Every job's runtime is the plan's.
    jobs = re.findall(
        r"rule (\w+):\n(?:.*\n)*?\s+wildcards: (.*)\n\s+resources: .*runtime=(\d+)", text
    )
    n_packs = sum(len(a.packs) for a in plan.analyses.values())
    assert len(jobs) == 6 + n_packs + 6
    for rule, wildcards, runtime in jobs:
        values = dict(item.split("=") for item in wildcards.split(", "))
        assert int(runtime) == plan.job_runtime(rule, **values), (rule, values)
