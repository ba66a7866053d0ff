"""``neural-mi run``'s profiles and console: one command per place, progress a person reads."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from neural_mi import cli, launch
from neural_mi.errors import ConfigError
from neural_mi.progress import Progress

REPO = Path(__file__).resolve().parent.parent


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_local_profile_runs_on_all_cores_by_default():
    command = launch.snakemake_command("c.yaml", None, ["-n"])
    assert option(command, "--profile") == str(REPO / "profiles" / "local")
    assert option(command, "--cores") == "all"
    assert option(command, "--snakefile") == str(REPO / "workflow" / "Snakefile")


def test_slurm_profile_gets_nothing_of_the_local_one():
    command = launch.snakemake_command("c.yaml", None, ["-n"], profile="slurm")
    assert option(command, "--profile") == str(REPO / "profiles" / "slurm")
    assert command.count("--profile") == 1
    assert "--cores" not in command  # the profile's `cores: 1` sizes the job groups
    assert not launch.profile_is_local("slurm") and launch.profile_is_local("local")
    # Cores given on purpose are passed on.
    assert option(launch.snakemake_command("c.yaml", "4", [], profile="slurm"), "--cores") == "4"


def test_a_profile_folder_of_ones_own(tmp_path):
    (tmp_path / "config.yaml").write_text("executor: slurm\njobs: 5\n")
    command = launch.snakemake_command("c.yaml", None, [], profile=str(tmp_path))
    assert option(command, "--profile") == str(tmp_path.resolve())
    assert "--cores" not in command
    with pytest.raises(ConfigError, match="neither a packaged profile"):
        launch.profile_dir(tmp_path / "missing")


def test_run_parses_the_profile(monkeypatch, tmp_path):
    seen = {}

    def fake_run(config, cores, extra, preload, profile):
        seen.update(config=config, cores=cores, extra=list(extra), profile=profile)
        return 0, None

    monkeypatch.setattr(launch, "run_workflow", fake_run)
    assert cli.main(["run", "c.yaml", "--profile", "slurm", "-n"]) == 0
    assert seen == {"config": "c.yaml", "cores": None, "extra": ["-n"], "profile": "slurm"}


def test_packaged_profiles_ask_for_no_edit_and_group_cluster_jobs():
    import yaml

    slurm = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert slurm["group-components"] == ["nmi=100000"] and slurm["cores"] == 1
    # Partition and account are the cluster's defaults unless a user fills them in.
    assert not any("CHANGEME" in str(item) for item in slurm["default-resources"])
    # Runtime and memory come from the rules (the cost model), not from the profile.
    assert "set-resources" not in slurm
    assert not any(str(r).startswith(("runtime", "train:")) for r in slurm["default-resources"])


# --------------------------------------------------------------------------------------
# The console
# --------------------------------------------------------------------------------------

SNAKEMAKE_OUTPUT = """\
Building DAG of jobs...
Job stats:
job          count
---------  -------
prepare          1
train            2
total            4

[Mon Nov 30 22:41:43 2026]
localrule train:
    jobid: 2
1 of 4 steps (25%) done
[Mon Nov 30 22:41:43 2026]
Error in rule train:
    message: None
    jobid: 3
    input: results/tiny/data.zarr
    log: logs/train/tiny/rigorous/c0b98a98f.log (check log file(s) for error details)
    wildcards: session=tiny, analysis=rigorous, pack=c0b98a98f

Trying to restart job 3.
2 of 4 steps (50%) done
"""


def test_progress_reads_jobs_done_failures_and_retries(tmp_path):
    stream = io.StringIO()
    progress = Progress(tmp_path / "logs", stream=stream)
    for line in SNAKEMAKE_OUTPUT.splitlines():
        progress.read(line)
    assert (progress.done, progress.total, progress.failed, progress.retries) == (2, 4, 1, 1)
    status = progress.status()
    assert re.fullmatch(
        r"neural-mi run: 2/4 jobs done, 1 failed, 1 retried, about \d+ s left "
        r"\(elapsed \d+ s\)",
        status,
    ), status
    assert stream.getvalue() == (
        "neural-mi run: job failed: rule train, jobid 3, log logs/train/tiny/rigorous/"
        "c0b98a98f.log (check log file(s) for error details), wildcards session=tiny, "
        "analysis=rigorous, pack=c0b98a98f\n"
    )


def test_a_failed_run_shows_the_end_of_the_log(tmp_path):
    stream = io.StringIO()
    progress = Progress(tmp_path / "logs", stream=stream)
    with progress.log_file() as handle:
        handle.write("".join(f"line {i}\n" for i in range(100)))
    progress.finish(1)
    text = stream.getvalue()
    assert f"Snakemake's log: {progress.log}" in text
    assert "exited with status 1" in text and "  | line 99" in text and "line 74" not in text
