"""Tests of the workflow's steps (neural_mi.workflow.steps) and plan files, without Snakemake."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from neural_mi import cli
from neural_mi.config import load_config, load_session_arrays
from neural_mi.errors import ConfigError, IncompleteResultsError, IncompleteStoreError
from neural_mi.prepared import load_prepared, write_prepared
from neural_mi.results import Results
from neural_mi.store import write_task
from neural_mi.tasks import TaskResult
from neural_mi.workflow import steps
from neural_mi.workflow.plan import AnalysisPlan, workflow_plan

REPO = Path(__file__).resolve().parents[2]


def _tiny_plan(tmp_path: Path, **changes):
    raw = yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text())
    raw["results_dir"] = str(tmp_path / "results")
    raw.update(changes)
    plan = workflow_plan(raw)
    plan.write_files()
    return plan


# --------------------------------------------------------------------------------------
# Plan files
# --------------------------------------------------------------------------------------


def test_plan_files_round_trip_and_are_rewritten_only_when_they_change(tmp_path):
    plan = _tiny_plan(tmp_path)
    path = Path(plan.plan_file("tiny", "rigorous"))
    back = AnalysisPlan.from_json(path.read_text())
    assert back == plan.analyses[("tiny", "rigorous")]
    assert back.tasks == plan.analyses[("tiny", "rigorous")].tasks
    assert plan.write_files() == []  # nothing changed
    changed = workflow_plan(
        {
            **yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text()),
            "results_dir": str(tmp_path / "results"),
            "seed": 4,
        }
    )
    written = changed.write_files()
    assert path in written and Path(changed.session_file("tiny")) in written


def test_plan_counts_per_session_and_analysis(tmp_path):
    text = _tiny_plan(tmp_path).describe().splitlines()
    rows = {tuple(line.split()[:2]): line.split()[2:6] for line in text[1:-1]}
    assert rows[("tiny", "rigorous")] == ["rigorous", "1", "6", "2"]
    assert rows[("tiny", "quick")] == ["estimate", "1", "1", "1"]
    assert text[-1].split()[:3] == ["total", "7", "3"]  # then the estimated minutes


# --------------------------------------------------------------------------------------
# prepare
# --------------------------------------------------------------------------------------


def test_prepare_writes_the_session_arrays(tmp_path):
    plan = _tiny_plan(tmp_path)
    out = tmp_path / "results" / "tiny" / "data.zarr"
    assert cli.main(["prepare", "--out", str(out)]) == 0
    prepared = load_prepared(out)
    config = load_config(REPO / "config" / "test_tiny.yaml")
    x, y, _ = load_session_arrays(config.session("tiny"), config.seed)
    np.testing.assert_array_equal(prepared["x"], x)
    np.testing.assert_array_equal(prepared["y"], y)
    assert prepared["processor_type_x"] == prepared["processor_type_y"] == "continuous"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "data.zarr",
        "quick",
        "rigorous",
        "session.json",
    ]
    assert plan.config.seed == 3


def test_prepared_spikes_round_trip_and_replace(tmp_path):
    spikes = [np.array([0.1, 0.5]), np.array([]), np.array([2.0])]
    path = write_prepared(tmp_path / "data.zarr", spikes, None, "spike", None, session="s")
    loaded = load_prepared(path)
    assert [list(c) for c in loaded["x"]] == [[0.1, 0.5], [], [2.0]]
    assert loaded["y"] is None and loaded["processor_type_x"] == "spike"
    write_prepared(path, np.ones((1, 4)), np.zeros((1, 4)), "continuous", "categorical")
    loaded = load_prepared(path)
    np.testing.assert_array_equal(loaded["x"], np.ones((1, 4)))
    assert loaded["processor_type_y"] == "categorical"


def test_incomplete_prepared_store_is_refused(tmp_path):
    import zarr

    zarr.open_group(tmp_path / "data.zarr", mode="w").attrs["session"] = "s"
    with pytest.raises(IncompleteStoreError, match="incomplete; rerun prepare"):
        load_prepared(tmp_path / "data.zarr")


def test_prepare_validates_the_data(tmp_path):
    data = np.zeros((1, 200))
    data[0, 5] = np.nan
    np.save(tmp_path / "x.npy", data)
    np.save(tmp_path / "y.npy", np.zeros((1, 200)))
    config = {
        "results_dir": str(tmp_path / "results"),
        "sessions": [
            {
                "name": "rec",
                "x": {"path": str(tmp_path / "x.npy")},
                "y": {"path": str(tmp_path / "y.npy")},
            }
        ],
        "analyses": [{"name": "e", "mode": "estimate", "base_params": {"batch_size": 32}}],
    }
    workflow_plan(config).write_files()
    out = tmp_path / "results" / "rec" / "data.zarr"
    with pytest.raises(ValueError, match="NaN"):
        steps.prepare(out)
    assert not out.exists()


# --------------------------------------------------------------------------------------
# train-tasks
# --------------------------------------------------------------------------------------


def test_train_refuses_an_unknown_pack_and_a_missing_plan(tmp_path):
    plan = _tiny_plan(tmp_path)
    marker = Path(plan.pack_marker("tiny", "rigorous", "p999"))
    with pytest.raises(ConfigError, match="no train pack 'p999'"):
        steps.train_pack(marker, tmp_path / "d.zarr")
    with pytest.raises(ConfigError, match="Cannot read the plan file"):
        steps.train_pack(tmp_path / "elsewhere" / "tasks" / "p000.done", tmp_path / "d.zarr")
    assert not marker.exists()


def test_train_keeps_finished_stores_and_writes_the_marker_last(tmp_path, monkeypatch):
    plan = _tiny_plan(tmp_path)
    data = tmp_path / "results" / "tiny" / "data.zarr"
    steps.prepare(data)
    marker = Path(plan.pack_marker("tiny", "rigorous", "p000"))
    paths = steps.train_pack(marker, data)
    assert json.loads(marker.read_text())["tasks"] == [p.stem for p in paths]
    first = [p.stat().st_mtime_ns for p in paths]
    # A second attempt (e.g. after the job was killed before its marker) trains nothing.
    import neural_mi.engine.execution

    monkeypatch.setattr(
        neural_mi.engine.execution,
        "run_group",
        lambda *a, **k: pytest.fail("a finished task was trained again"),
    )
    marker.unlink()
    steps.train_pack(marker, data)
    assert [p.stat().st_mtime_ns for p in paths] == first and marker.exists()


# --------------------------------------------------------------------------------------
# aggregate and collect
# --------------------------------------------------------------------------------------


def _fake_result(spec, test_mi: float) -> TaskResult:
    curve = np.array([test_mi / 2, test_mi])
    return TaskResult(
        spec=spec,
        train_mi=test_mi + 0.1,
        test_mi=test_mi,
        best_epoch=1,
        n_epochs_run=2,
        history={
            "train_mi": curve + 0.1,
            "test_mi": curve,
            "test_mi_smoothed": curve,
            "loss": -curve,
        },
        n_train=100,
        n_test=10,
        wall_time=0.1,
        versions={"neural_mi": "0"},
    )


def _linear_stores(plan, tmp_path):
    """MI = 1 - 0.1 * gamma nats in every store: the fit gives 1 nat at gamma 0."""
    analysis = plan.analyses[("tiny", "rigorous")]
    for pack, specs in analysis.packs.items():
        for spec in specs:
            write_task(
                _fake_result(spec, 1.0 - 0.1 * spec.gamma), plan.pack_dir("tiny", "rigorous", pack)
            )
        marker = Path(plan.pack_marker("tiny", "rigorous", pack))
        marker.write_text(json.dumps({"tasks": [spec.key for spec in specs]}))
    return analysis


def test_aggregate_writes_summaries_with_the_fit(tmp_path):
    raw = yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text())
    raw["analyses"][0]["fit"] = {"min_gamma_points": 3, "confidence_level": 0.9}
    plan = _tiny_plan(tmp_path, analyses=raw["analyses"])
    _linear_stores(plan, tmp_path)
    out = tmp_path / "results" / "tiny" / "rigorous"
    assert cli.main(["aggregate", "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "figure.png",
        "plan.json",
        "results.json",
        "summary.csv",
        "summary.json",
        "summary.nc",
        "tasks",
        "tasks.nc",
    ]
    headline = json.loads((out / "summary.json").read_text())
    assert (headline["session"], headline["analysis"], headline["mode"]) == (
        "tiny",
        "rigorous",
        "rigorous",
    )
    assert headline["mi_corrected"] == pytest.approx(1 / math.log(2), rel=1e-9)
    assert headline["gammas_used"] == [1, 2, 3]
    meta = json.loads((out / "results.json").read_text())
    assert meta["params"]["options"]["min_gamma_points"] == 3
    assert meta["params"]["options"]["confidence_level"] == 0.9
    assert meta["params"]["n_tasks"] == 6
    loaded = Results.load(out)
    assert loaded.mi_estimate == pytest.approx(1 / math.log(2), rel=1e-9)
    assert int(loaded.tasks.sizes["task"]) == 6


def test_aggregate_refuses_missing_or_foreign_stores_and_names_each(tmp_path):
    plan = _tiny_plan(tmp_path)
    analysis = _linear_stores(plan, tmp_path)
    (gone_pack, gone), (foreign_pack, foreign) = [
        (pack, specs[0]) for pack, specs in analysis.packs.items()
    ]
    shutil.rmtree(Path(plan.pack_dir("tiny", "rigorous", gone_pack)) / f"{gone.key}.zarr")
    other = analysis.packs[foreign_pack][1]
    shutil.rmtree(Path(plan.pack_dir("tiny", "rigorous", foreign_pack)) / f"{foreign.key}.zarr")
    shutil.copytree(
        Path(plan.pack_dir("tiny", "rigorous", foreign_pack)) / f"{other.key}.zarr",
        Path(plan.pack_dir("tiny", "rigorous", foreign_pack)) / f"{foreign.key}.zarr",
    )
    out = tmp_path / "results" / "tiny" / "rigorous"
    with pytest.raises(IncompleteResultsError) as info:
        steps.aggregate(out)
    message = str(info.value)
    assert "2 task store(s) missing or bad" in message
    assert f"{gone.key}.zarr': no store for this planned task" in message
    assert f"{foreign.key}.zarr': " in message and other.key in message
    assert not (out / "summary.json").exists()
    # Both packs lose their markers, so that the next run trains exactly those tasks.
    for pack in (gone_pack, foreign_pack):
        assert not Path(plan.pack_marker("tiny", "rigorous", pack)).exists()


def test_aggregate_refuses_a_store_transformed_without_the_many_channel_gain(tmp_path):
    # A result stored before the gain, whose X had 8 channels: this version would train on
    # other inputs, so it is removed with its pack's marker and trained again, not mixed.
    plan = _tiny_plan(tmp_path)
    analysis = _linear_stores(plan, tmp_path)
    pack, specs = next(iter(analysis.packs.items()))
    folder = Path(plan.pack_dir("tiny", "rigorous", pack))
    shutil.rmtree(folder / f"{specs[0].key}.zarr")
    old_fit = {"kind": "rank_gauss", "n_points": 90, "center": [0.0] * 8, "scale": [1.0] * 8}
    result = _fake_result(specs[0], 1.0 - 0.1 * specs[0].gamma)
    result.diagnostics["input_transform"] = {"kind": "rank_gauss", "x": old_fit}
    write_task(result, folder)
    out = tmp_path / "results" / "tiny" / "rigorous"
    with pytest.raises(IncompleteResultsError) as info:
        steps.aggregate(out)
    message = str(info.value)
    assert f"{specs[0].key}.zarr': its x input (8 columns) was transformed without" in message
    assert not (folder / f"{specs[0].key}.zarr").exists()
    assert not Path(plan.pack_marker("tiny", "rigorous", pack)).exists()


def test_collect_builds_one_row_per_analysis(tmp_path):
    files = []
    for session, mi, error in (("a", 1.5, 0.2), ("b", 0.5, None)):
        path = tmp_path / session / "results.json"
        path.parent.mkdir()
        mode = "rigorous" if error is not None else "estimate"
        path.write_text(
            json.dumps(
                {
                    "mode": mode,
                    "params": {"session": session, "analysis": mode},
                    "headline": {
                        "mi_estimate": mi,
                        "mi_error": error,
                        "units": "bits",
                        "is_reliable": True if error is not None else None,
                    },
                }
            )
        )
        files.append(str(path))
    args = [
        "collect",
        *files,
        "--out-csv",
        str(tmp_path / "summary.csv"),
        "--out-png",
        str(tmp_path / "overview.png"),
    ]
    assert cli.main(args) == 0
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table.columns) == list(steps.SUMMARY_COLUMNS)
    assert table["session"].tolist() == ["a", "b"]
    assert table["mi"].tolist() == [1.5, 0.5]
    assert table["mi_error"].iloc[0] == 0.2 and np.isnan(table["mi_error"].iloc[1])
    assert (tmp_path / "overview.png").stat().st_size > 0
