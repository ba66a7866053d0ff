"""Permutation tests in the workflow.

Fast: null tasks in plan files and train-job signatures (observed tasks unchanged, so
nothing reruns), the config keys, and the plan-time check of a null move.  Slow
(Snakemake): an analysis with ``n_permutations: 20`` over 3 sessions runs its null tasks as
ordinary train tasks packed into jobs, writes p-values into ``summary.csv``, reruns
nothing when repeated, and gives ``nmi.run``'s numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import run_snakemake

import neural_mi as nmi
from neural_mi.config import load_config, plan_config
from neural_mi.errors import ConfigError
from neural_mi.plan import plan_tasks
from neural_mi.store import load_dataset
from neural_mi.tasks import TaskSpec
from neural_mi.workflow.plan import AnalysisPlan, workflow_plan

TRAIN = {
    "n_epochs": 3,
    "batch_size": 64,
    "embedding_dim": 4,
    "hidden_dim": 16,
    "n_layers": 1,
    "patience": 3,
}
SESSIONS = {"a": 0.0, "b": 0.5, "c": 1.0}  # MI (bits) of each synthetic session
N_SAMPLES = 800


def _config(n_permutations: int = 20, **settings) -> dict:
    variable = {"type": "continuous", "params": {"window_size": 1}}
    return {
        "seed": 11,
        "tasks_per_job": 8,
        **settings,
        "sessions": [
            {
                "name": name,
                "synthetic": {
                    "generator": "correlated_gaussians",
                    "n_samples": N_SAMPLES,
                    "dim": 1,
                    "mi": mi,
                },
                "x": variable,
                "y": variable,
            }
            for name, mi in SESSIONS.items()
        ],
        "analyses": [
            {
                "name": "tested",
                "mode": "estimate",
                "base_params": TRAIN,
                "split_mode": "random",
                "n_permutations": n_permutations,
                "fit": {"alpha": 0.05, "allow_partial": True},
            }
        ],
    }


def test_plan_files_and_train_signatures_carry_null_tasks_and_leave_observed_ones_alone():
    plan = workflow_plan(_config(n_permutations=3)).analyses[("a", "tested")]
    again = AnalysisPlan.from_json(plan.to_json())
    assert again.tasks == plan.tasks
    assert sorted(spec.permutation for spec in again.tasks) == [0, 1, 2, 3]
    raw = json.loads(plan.to_json())
    entries = [task for tasks in raw["packs"].values() for task in tasks]
    assert [("permutation" in task) for task in entries] == [s.permutation > 0 for s in plan.tasks]
    wp = workflow_plan(_config(n_permutations=3))
    for pack, specs in plan.packs.items():
        signature = json.loads(wp.pack_signature("a", "tested", pack))
        assert signature == [json.loads(spec.to_json()) for spec in specs]
    observed = plan_tasks("estimate", n_permutations=2)[0]
    assert "permutation" not in json.loads(observed.to_json())
    null = plan_tasks("estimate", n_permutations=2)[1]
    assert json.loads(null.to_json())["permutation"] == 1
    assert TaskSpec.from_json(null.to_json()) == null


def test_the_config_takes_the_test_and_keeps_alpha_and_correction_for_aggregation():
    config = load_config(_config(n_permutations=5))
    analysis = config.analysis("tested")
    assert analysis.mode_options()["n_permutations"] == 5
    assert analysis.mode_options()["alpha"] == 0.05
    bad = _config()
    bad["analyses"][0]["alpha"] = 0.01  # aggregation-only: under fit
    with pytest.raises(ConfigError, match="alpha"):
        load_config(bad)


def test_a_null_move_the_recording_cannot_hold_is_refused_at_plan_time():
    config = _config(n_permutations=2)
    config["analyses"][0]["null_method"] = "circular"
    config["analyses"][0]["null_min_shift"] = N_SAMPLES  # needs 2 x 800 points
    with pytest.raises(ConfigError, match=r"session 'a', analysis 'tested'.*null_min_shift"):
        plan_config(load_config(config))


# --------------------------------------------------------------------------------------
# A Snakemake run
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("permutations")
    (workdir / "config.yaml").write_text(yaml.safe_dump(_config(), sort_keys=False))
    out = run_snakemake(workdir, timeout=1200)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return workdir


@pytest.mark.slow
def test_null_tasks_run_as_packed_train_tasks_and_a_second_run_has_nothing_to_do(finished):
    for session in SESSIONS:
        tasks = finished / "results" / session / "tested" / "tasks"
        assert len(list(tasks.glob("*/*.zarr"))) == 21
        assert len(list(tasks.glob("*.done"))) == 3  # 21 tasks, 8 per job
    out = run_snakemake(finished, "--dry-run")
    assert out.returncode == 0 and "Nothing to be done" in out.stdout + out.stderr


@pytest.mark.slow
def test_summary_csv_has_the_p_values_of_nmi_run(finished):
    table = pd.read_csv(finished / "results" / "summary.csv")
    assert list(table["session"]) == list(SESSIONS)
    for session, mi in SESSIONS.items():
        x, y = nmi.datasets.generate_correlated_gaussians(
            N_SAMPLES, 1, mi, use_torch=False, seed=nmi.plan.derive_seed(11, session)
        )
        direct = nmi.run(
            x.T,
            y.T,
            processor_params={"window_size": 1},
            base_params=TRAIN,
            split_mode="random",
            random_seed=11,
            n_permutations=20,
            allow_partial=True,
            verbose=False,
        )
        folder = finished / "results" / session / "tested"
        tasks = load_dataset(folder / "tasks.nc")
        assert tasks["key"].values.tolist() == direct.tasks["key"].values.tolist()
        np.testing.assert_array_equal(tasks["test_mi"].values, direct.tasks["test_mi"].values)
        headline = json.loads((folder / "summary.json").read_text())
        for key, value in direct.headline.items():
            assert headline[key] == value, key
        row = table[table["session"] == session].iloc[0]
        assert math.isclose(row["p_value"], direct.headline["p_value"], rel_tol=1e-12)
        assert bool(row["is_significant"]) == direct.headline["is_significant"]
    # 1 bit between 800 samples stands far above every one of 20 shuffles: the smallest
    # p-value, but for permutations whose task failed (on independent data this tiny critic
    # can end below -0.1 bit), which count as null values above the observed (conservative).
    folder = finished / "results" / "c" / "tested"
    summary = json.loads((folder / "summary.json").read_text())
    null_values = load_dataset(folder / "summary.nc")["null_values"].values
    assert np.nanmax(null_values) < summary["mi_estimate"]
    expected = (1 + summary["failed_permutations"]) / 21
    assert table.set_index("session").loc["c", "p_value"] == pytest.approx(expected)
