"""The modes conditional, transfer, pairwise and pairwise_xy in the workflow.

Fast: a session's Z in the config (plan-time checks, prepare, what the train jobs load)
and the plan file's roles.  Slow (Snakemake): one synthetic session with X, Y and Z, one
analysis per mode; the run finishes, a second run has nothing to do, and every task's MI
and every headline equal ``nmi.run``'s.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import run_snakemake

import neural_mi as nmi
from neural_mi import cli
from neural_mi.config import load_config, plan_config
from neural_mi.config.checks import check_config
from neural_mi.engine.inputs import SessionData
from neural_mi.errors import ConfigError
from neural_mi.plan import plan_tasks
from neural_mi.prepared import load_prepared
from neural_mi.store import load_dataset
from neural_mi.tasks import TaskSpec
from neural_mi.workflow.plan import AnalysisPlan, workflow_plan

REPO = Path(__file__).resolve().parents[2]
TRAIN = {
    "n_epochs": 3,
    "batch_size": 32,
    "embedding_dim": 4,
    "hidden_dim": 16,
    "n_layers": 1,
    "patience": 3,
}
SESSION = {"generator": "conditional_gaussians", "n_samples": 400, "dim": 3, "cmi": 1.0}
#: Each analysis' mode arguments, as in the config and as nmi.run takes them.
ANALYSES = {
    "cond": {"mode": "conditional", "n_repeats": 2},
    # Raw inputs here: with rank-Gauss inputs, a gamma=2 chunk (200 samples) of this 3-epoch
    # critic can end below -0.1 bit on held-out data and be refused as a failed task.
    "cond_rig": {
        "mode": "conditional",
        "rigorous": True,
        "gamma_range": [1, 2],
        "input_transform": "none",
    },
    "te": {"mode": "transfer", "history": 2},
    "pairs": {"mode": "pairwise", "channels": {"a": [0], "bc": [1, 2]}},
    "pairs_xy": {"mode": "pairwise_xy", "channels": [0, 1], "channels_y": [2]},
}


def _config(sessions: list[dict], **analysis) -> dict:
    analysis = {"name": "a", "base_params": {"batch_size": 32}, **analysis}
    return {"seed": 7, "sessions": sessions, "analyses": [analysis]}


def _files(tmp_path: Path, **shapes) -> dict:
    """A file session with one .npy per variable of the given (channels, time) shape."""
    session = {"name": "rec"}
    for variable, shape in shapes.items():
        np.save(tmp_path / f"{variable}.npy", np.zeros(shape, dtype=np.float32))
        session[variable] = {"path": str(tmp_path / f"{variable}.npy")}
    return session


def test_plan_time_checks_of_z_and_of_channels(tmp_path):
    ok = _files(tmp_path, x=(2, 1000), y=(1, 1000), z=(3, 1000))
    plan = plan_config(load_config(_config([ok], mode="conditional")))
    assert {s.role for s in plan[("rec", "a")]} == {"xz_y", "z_y"}
    short = _files(tmp_path, x=(2, 1000), y=(1, 1000), z=(3, 990))
    with pytest.raises(ConfigError, match=r"X gives 1000 and Y gives 1000 and Z gives 990"):
        plan_config(load_config(_config([short], mode="conditional")))
    short["align"] = "truncate"  # unequal counts without time bases only when asked
    assert plan_config(load_config(_config([short], mode="conditional")))
    without = _files(tmp_path, x=(2, 1000), y=(1, 1000))
    with pytest.raises(ConfigError, match=r"mode 'conditional' needs Z .* has no 'z'"):
        plan_config(load_config(_config([without], mode="conditional")))
    with pytest.raises(ConfigError, match=r"Channel\(s\) \[2\] of a pair are beyond X's 2"):
        plan_config(load_config(_config([without], mode="pairwise", channels=3)))
    with pytest.raises(
        ConfigError, match=r"xy-full-g01-s00-r00: history=999 and horizon=1 leave 1 past"
    ):
        plan_config(load_config(_config([without], mode="transfer", history=999)))
    no_z = {
        "name": "g",
        "synthetic": {"generator": "correlated_gaussians", "n_samples": 500, "dim": 1, "mi": 1},
        **{v: {} for v in "xyz"},
    }
    with pytest.raises(ConfigError, match=r"generator 'correlated_gaussians' makes no Z"):
        check_config(_config([no_z], mode="conditional"))


def test_prepare_writes_z_and_a_session_without_z_is_unchanged(tmp_path):
    session = {"name": "g", "synthetic": SESSION, **{v: {} for v in "xyz"}}
    raw = {**_config([session], mode="conditional"), "results_dir": str(tmp_path / "results")}
    plan = workflow_plan(raw)
    plan.write_files()
    out = tmp_path / "results" / "g" / "data.zarr"
    assert cli.main(["prepare", "--out", str(out)]) == 0
    prepared = load_prepared(out)
    arguments = {k: v for k, v in SESSION.items() if k != "generator"}
    x, y, z = nmi.datasets.generate_conditional_gaussians(
        **arguments, seed=nmi.plan.derive_seed(7, "g")
    )
    for name, values in (("x", x), ("y", y), ("z", z)):
        np.testing.assert_array_equal(prepared[name], values)
    assert prepared["processor_type_z"] == "continuous"
    assert SessionData(**prepared).z is not None
    # What prepare depends on is unchanged for sessions without Z (no rerun after upgrading).
    plain = {"name": "g", "synthetic": SESSION, "x": {}, "y": {}}
    source = workflow_plan(_config([plain], mode="estimate")).session_json("g")
    assert '"z"' not in source


def test_plan_files_keep_each_tasks_role(tmp_path):
    session = {"name": "g", "synthetic": SESSION, "x": {}, "y": {}}
    raw = _config([session], mode="transfer", history=2)
    plan = workflow_plan({**raw, "tasks_per_job": 2}).analyses[("g", "a")]
    again = AnalysisPlan.from_json(plan.to_json())
    assert again.tasks == plan.tasks
    assert [s.role for s in again.tasks] == [s.role for s in plan.tasks]
    assert {s.role for s in again.tasks} == {
        f"{d}/{p}/h2k1" for d in ("x_to_y", "y_to_x") for p in ("full", "reduced")
    }


def test_a_task_without_a_role_serialises_as_before_the_field():
    # A train job's parameters are its tasks' JSON: unchanged JSON, no rerun after upgrading.
    plain = plan_tasks("rigorous", gamma_range=[1, 2])[1]
    assert "role" not in json.loads(plain.to_json())
    assert TaskSpec.from_json(plain.to_json()) == plain
    with_role = plan_tasks("conditional")[0]
    assert json.loads(with_role.to_json())["role"] == "xz_y"
    assert TaskSpec.from_json(with_role.to_json()) == with_role


def test_the_example_config_plans():
    plan = plan_config(load_config(REPO / "config" / "example_flow.yaml"))
    counts = {analysis: len(specs) for (_, analysis), specs in plan.items()}
    assert counts == {
        "transfer": 4 * 15,
        "conditional": 2 * 3,
        "channel_pairs": 66,
        "area_pairs": 6,
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("modes")
    config = {
        "seed": 7,
        "tasks_per_job": 3,
        "sessions": [
            {
                "name": "s",
                "synthetic": SESSION,
                **{v: {"type": "continuous", "params": {"window_size": 1}} for v in "xyz"},
            }
        ],
        "analyses": [
            {"name": name, "base_params": TRAIN, "split_mode": "random", **arguments}
            for name, arguments in ANALYSES.items()
        ],
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = run_snakemake(workdir)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return workdir


@pytest.mark.slow
def test_a_second_run_has_nothing_to_do(finished):
    out = run_snakemake(finished, "--dry-run")
    assert out.returncode == 0 and "Nothing to be done" in out.stdout + out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("analysis", list(ANALYSES))
def test_workflow_numbers_equal_nmi_run(finished, analysis):
    arguments = dict(SESSION)
    arguments.pop("generator")
    x, y, z = nmi.datasets.generate_conditional_gaussians(
        **arguments, seed=nmi.plan.derive_seed(7, "s")
    )
    options = dict(ANALYSES[analysis])
    mode = options.pop("mode")
    variables = {"y_data": None} if mode == "pairwise" else {"y_data": y}
    if mode == "conditional":
        variables["z_data"] = z
    direct = nmi.run(
        x,
        mode=mode,
        base_params=TRAIN,
        split_mode="random",
        random_seed=7,
        verbose=False,
        **variables,
        **options,
    )
    folder = finished / "results" / "s" / analysis
    tasks = load_dataset(folder / "tasks.nc")
    assert tasks["key"].values.tolist() == direct.tasks["key"].values.tolist()
    assert tasks["role"].values.tolist() == direct.tasks["role"].values.tolist()
    np.testing.assert_array_equal(tasks["test_mi"].values, direct.tasks["test_mi"].values)
    headline = json.loads((folder / "summary.json").read_text())
    for key, value in direct.headline.items():
        assert headline[key] == value, key
    table = (finished / "results" / "summary.csv").read_text().splitlines()
    row = next(line.split(",") for line in table if line.startswith(f"s,{analysis},"))
    assert row[2] == mode and math.isclose(float(row[3]), direct.mi_estimate, rel_tol=1e-12)
    assert (folder / "figure.png").stat().st_size > 0
