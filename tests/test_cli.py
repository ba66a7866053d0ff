"""Tests of the ``neural-mi`` command and the workflow steps it runs (no Snakemake here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr

from neural_mi import cli, launch
from neural_mi.config import load_config, load_session_arrays
from neural_mi.errors import ConfigError, IncompleteStoreError
from neural_mi.plan import plan_tasks
from neural_mi.prepared import load_prepared, write_prepared
from neural_mi.store import write_task
from neural_mi.tasks import TaskResult

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("run", "plan", "show", "prepare", "train-tasks", "aggregate", "collect")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: neural-mi {command}")


def test_plan_of_default_config_has_55_jobs_per_combination(capsys):
    assert cli.main(["plan", str(REPO / "config" / "config.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "session",
        "analysis",
        "mode",
        "combinations",
        "tasks",
        "train_jobs",
    ]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines[1:-1]}
    # rigorous, gamma 1..10: 55 tasks of one combination, one job each.
    assert rows[("demo_gauss", "rigorous")] == ["rigorous", "1", "55", "55"]
    assert rows[("demo_lagged", "rigorous")] == ["rigorous", "1", "55", "55"]
    assert rows[("demo_lagged", "lag")] == ["lag", "1", "5", "5"]
    assert rows[("demo_gauss", "sweep_embedding")] == ["sweep", "3", "3", "3"]
    assert lines[-1].split() == ["total", "118", "118"]


def test_plan_reports_config_errors(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    config = yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text())
    config["analyses"][0]["gama_range"] = [1]
    path.write_text(yaml.safe_dump(config))
    assert cli.main(["plan", str(path)]) == 1
    err = capsys.readouterr().err
    assert "neural-mi plan: error:" in err
    assert "analyses[0] (rigorous): unknown key 'gama_range'" in err


def test_unknown_arguments_are_refused_except_for_run(capsys):
    with pytest.raises(SystemExit):
        cli.main(["plan", "c.yaml", "--cores", "2"])
    assert "unrecognized arguments: --cores 2" in capsys.readouterr().err


def test_run_passes_snakemake_arguments_through():
    command = launch.snakemake_command("my.yaml", "2", ["-n", "--forcerun", "train"])
    assert command[1:3] == ["-m", "snakemake"]
    assert command[command.index("--snakefile") + 1] == str(REPO / "workflow" / "Snakefile")
    assert command[command.index("--profile") + 1] == str(REPO / "profiles" / "local")
    assert command[command.index("--configfile") + 1] == "my.yaml"
    assert command[command.index("--cores") + 1] == "2"
    assert command[-3:] == ["-n", "--forcerun", "train"]


def test_run_refuses_a_missing_config_before_starting_snakemake(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"neural-mi run: error: config file '{tmp_path / 'missing.yaml'}' not found." in err
    assert "Snakemake" not in err


def test_show_prints_the_summary_table(tmp_path, capsys):
    pd.DataFrame({"session": ["a"], "analysis": ["rig"], "mi": [1.25]}).to_csv(
        tmp_path / "summary.csv", index=False
    )
    assert cli.main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["session", "analysis", "mi"]
    assert out[1].split() == ["a", "rig", "1.25"]
    assert cli.main(["show", str(tmp_path / "missing")]) == 1


# --------------------------------------------------------------------------------------
# prepare
# --------------------------------------------------------------------------------------


def test_prepare_writes_the_session_arrays(tmp_path):
    config_path = REPO / "config" / "test_tiny.yaml"
    out = tmp_path / "results" / "tiny" / "data.zarr"
    assert (
        cli.main(["prepare", "--config", str(config_path), "--session", "tiny", "--out", str(out)])
        == 0
    )
    prepared = load_prepared(out)
    config = load_config(config_path)
    x, y = load_session_arrays(config.session("tiny"), config)
    np.testing.assert_array_equal(prepared["x"], x)
    np.testing.assert_array_equal(prepared["y"], y)
    assert prepared["processor_type_x"] == prepared["processor_type_y"] == "continuous"
    assert [p.name for p in out.parent.iterdir()] == ["data.zarr"]


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
        "sessions": [
            {
                "name": "rec",
                "x": {"path": str(tmp_path / "x.npy")},
                "y": {"path": str(tmp_path / "y.npy")},
            }
        ],
        "analyses": [{"name": "e", "mode": "estimate"}],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="NaN"):
        cli.prepare_session(tmp_path / "c.yaml", "rec", tmp_path / "data.zarr")
    assert not (tmp_path / "data.zarr").exists()


# --------------------------------------------------------------------------------------
# train-tasks (refusals only: training is covered end to end in test_workflow.py)
# --------------------------------------------------------------------------------------


def test_train_refuses_an_unknown_pack_and_a_changed_plan(tmp_path):
    config_path = REPO / "config" / "test_tiny.yaml"
    with pytest.raises(ConfigError, match="no train pack 'p999'"):
        cli.train_pack(config_path, "tiny", "rigorous", "p999", tmp_path / "d.zarr", tmp_path)
    with pytest.raises(ConfigError, match="digest mismatch"):
        cli.train_pack(
            config_path,
            "tiny",
            "rigorous",
            "p000",
            tmp_path / "d.zarr",
            tmp_path,
            digest="0000000000000000",
        )
    assert list(tmp_path.iterdir()) == []


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


def test_aggregate_writes_summaries_with_the_fit(tmp_path, caplog):
    # MI = 1 - 0.1 * gamma nats, exactly linear: the fit extrapolates to 1 nat at gamma 0,
    # i.e. 1 / ln 2 = 1.4427 bits.
    specs = plan_tasks("rigorous", random_seed=1, gamma_range=[1, 2, 3])
    packs = [tmp_path / "tasks" / "p000", tmp_path / "tasks" / "p001"]
    for i, spec in enumerate(specs):
        write_task(_fake_result(spec, 1.0 - 0.1 * spec.gamma), packs[i % 2])
    # A store whose write was cut short is skipped, with a warning naming it.
    zarr.open_group(packs[1] / "half.zarr", mode="w").attrs["test_mi"] = 5.0
    out = tmp_path / "out"
    status = cli.main(
        [
            "aggregate",
            *map(str, packs),
            "--session",
            "s",
            "--analysis",
            "rig",
            "--mode",
            "rigorous",
            "--out-dir",
            str(out),
            "--min-gamma-points",
            "3",
            "--confidence-level",
            "0.9",
        ]
    )
    assert status == 0
    assert any("half.zarr" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert sorted(p.name for p in out.iterdir()) == [
        "figure.png",
        "results.json",
        "summary.csv",
        "summary.json",
        "summary.nc",
        "tasks.nc",
    ]
    headline = json.loads((out / "summary.json").read_text())
    assert (headline["session"], headline["analysis"], headline["mode"]) == ("s", "rig", "rigorous")
    assert headline["mi_corrected"] == pytest.approx(1 / math.log(2), rel=1e-9)
    meta = json.loads((out / "results.json").read_text())
    assert meta["params"]["session"] == "s" and meta["params"]["analysis"] == "rig"
    assert meta["params"]["fit"] == {"min_gamma_points": 3, "confidence_level": 0.9}
    assert meta["params"]["n_tasks"] == 6
    assert meta["headline"]["units"] == "bits"
    assert meta["headline"]["mi_estimate"] == pytest.approx(1 / math.log(2), rel=1e-9)
    from neural_mi.results import Results

    loaded = Results.load(out)
    assert loaded.mi_estimate == pytest.approx(1 / math.log(2), rel=1e-9)
    assert int(loaded.tasks.sizes["task"]) == 6


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
    assert (
        cli.main(
            [
                "collect",
                *files,
                "--out-csv",
                str(tmp_path / "summary.csv"),
                "--out-png",
                str(tmp_path / "overview.png"),
            ]
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table.columns) == list(cli.SUMMARY_COLUMNS)
    assert table["session"].tolist() == ["a", "b"]
    assert table["mi"].tolist() == [1.5, 0.5]
    assert table["mi_error"].iloc[0] == 0.2 and np.isnan(table["mi_error"].iloc[1])
    assert (tmp_path / "overview.png").stat().st_size > 0
