"""Tests of the ``neural-mi`` command line (the steps it runs: tests/workflow/test_steps.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from neural_mi import cli, launch

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("run", "plan", "show", "prepare", "train-tasks", "aggregate", "collect")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: neural-mi {command}")


def test_plan_of_default_config_counts_tasks_and_jobs(capsys):
    assert cli.main(["plan", str(REPO / "config" / "config.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "session",
        "analysis",
        "mode",
        "combinations",
        "tasks",
        "train_jobs",
        "train_minutes",
    ]
    rows = {tuple(line.split()[:2]): line.split()[2:-1] for line in lines[1:-1]}
    # rigorous, gamma 1..10: 55 tasks of one combination; tasks_per_job auto: each
    # analysis' tasks fit one job of the target length.
    assert rows[("demo_gauss", "rigorous")] == ["rigorous", "1", "55", "1"]
    assert rows[("demo_lagged", "rigorous")] == ["rigorous", "1", "55", "1"]
    assert rows[("demo_lagged", "lag")] == ["lag", "1", "5", "1"]
    assert rows[("demo_gauss", "sweep_embedding")] == ["sweep", "3", "3", "1"]
    assert lines[-1].split()[:3] == ["total", "118", "4"]
    assert float(lines[-1].split()[3]) > 0  # estimated minutes of training


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
