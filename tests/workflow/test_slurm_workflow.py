"""The workflow on a live SLURM cluster, submitted through ``profiles/slurm`` as a user would.

One module fixture runs the tiny config (``config/test_tiny.yaml`` with ``tasks_per_job: 1``:
one session, 7 training tasks in 7 train jobs, 2 aggregations, 1 collection) twice, side by
side: through SLURM, and on this machine with ``profiles/local``.  The tests then read the
two runs, SLURM's accounting (``sacct``) and the snakemake log.

How the SLURM run is set up, and why:

- The profile is a copy of ``profiles/slurm/config.yaml`` in which the two lines marked
  ``EDIT`` (partition and account) are filled in: the only edit the profile asks of a user.
- Test-only settings go on the command line, not into the profile: fast status checks
  (``--slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 1``).
- Snakemake runs inside the cluster's network namespace (``SlurmCluster.exec_prefix``),
  with this environment's scripts first on PATH (the rules call ``neural-mi``; sbatch
  exports the environment to the jobs).
- The test plugin ``tests/support/fail_once.py`` (the config's ``plugins:``) makes the first
  train job fail once while ``NEURAL_MI_FAIL_ONCE`` names a missing file; the profile's
  ``retries: 1`` must resubmit it.

Runtime: about 2 minutes (the SLURM run; the local run overlaps it).  Skipped where the
cluster cannot start (see the ``slurm_cluster`` fixture in conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from helpers import task_mi

from neural_mi.config import load_config, plan_config
from neural_mi.store import find_task_stores
from neural_mi.workflow.packing import pack_tasks

if TYPE_CHECKING:
    from conftest import SlurmCluster

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "workflow" / "Snakefile"
SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
LOCAL_PROFILE = REPO / "profiles" / "local"
TINY = REPO / "config" / "test_tiny.yaml"
FAIL_ONCE = REPO / "tests" / "support" / "fail_once.py"
FAIL_ONCE_ENV = "NEURAL_MI_FAIL_ONCE"
#: What the test adds on the command line (a user keeps the plugin's defaults).
TEST_ONLY_ARGS = (
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
)
RUN_TIMEOUT_S = 480
#: The rules call `neural-mi`: this environment's scripts come first on PATH.
PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@dataclass(frozen=True)
class SlurmJob:
    """One SLURM job of the run, from sacct.

    Attributes
    ----------
    job_id : int
    state : str
        Final state (COMPLETED, FAILED...).
    submit_line : str
        The sbatch call.
    steps : dict[str, str]
        ``{target: state}`` of every job step: each step runs one Snakemake job, named as in
        ``--target-jobs`` (``rule:wildcard=value,...``).
    """

    job_id: int
    state: str
    submit_line: str
    steps: dict[str, str]


@dataclass(frozen=True)
class Runs:
    """The two finished runs of the tiny config and what the SLURM one left behind.

    Attributes
    ----------
    slurm_dir, local_dir : Path
        Working directories of the SLURM run and the local run.
    config : Path
        The SLURM run's workflow config (the local run's is a copy).
    profile : Path
        The filled-in copy of the SLURM profile.
    env : dict[str, str]
        The SLURM run's environment (``SLURM_CONF``, PATH, the fail-once hook).
    log : str
        Snakemake's output (stdout and stderr).
    jobs : list of SlurmJob
        The run's SLURM jobs, by job id.
    marker : Path
        The fail-once hook's marker file.
    """

    slurm_dir: Path
    local_dir: Path
    config: Path
    profile: Path
    env: dict[str, str]
    log: str
    jobs: list[SlurmJob]
    marker: Path


def user_profile(dest: Path, partition: str, account: str) -> Path:
    """Copy the SLURM profile into ``dest``, filling in its two lines marked ``EDIT``."""
    lines = SLURM_PROFILE.read_text().splitlines(keepends=True)
    edit = [i for i, line in enumerate(lines) if re.search(r"#\s*EDIT\b", line)]
    assert len(edit) == 2, "profiles/slurm/config.yaml must mark exactly two lines EDIT"
    for i, value in zip(edit, (partition, account)):
        assert lines[i].count("CHANGEME") == 1, lines[i]
        lines[i] = lines[i].replace("CHANGEME", value)
    dest.mkdir()
    (dest / "config.yaml").write_text("".join(lines))
    return dest


def expected_targets(config: Path) -> set[str]:
    """Every Snakemake job of a full run of ``config``, as ``--target-jobs`` names it."""
    cfg = load_config(config)
    targets = {"collect:"}
    for (session, analysis), specs in plan_config(cfg).items():
        targets |= {
            f"prepare:session={session}",
            f"aggregate:session={session},analysis={analysis}",
        }
        targets |= {
            f"train:session={session},analysis={analysis},pack={pack}"
            for pack in pack_tasks(specs, cfg.tasks_per_job)
        }
    return targets


def slurm_command(config: Path, profile: Path, workdir: Path, *args: str) -> list[str]:
    """The user's command (plus :data:`TEST_ONLY_ARGS`), to run inside the namespace."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--configfile",
        str(config),
        "--profile",
        str(profile),
        "--directory",
        str(workdir),
        *TEST_ONLY_ARGS,
        *args,
    ]


def sacct_jobs(cluster: SlurmCluster, run_id: str) -> list[SlurmJob]:
    """The run's SLURM jobs (sacct selects them by name: the plugin names each job by run id)."""
    # -S: without it sacct lists only jobs since midnight.
    out = cluster.run(
        "sacct",
        "-n",
        "-P",
        "--delimiter",
        "\t",
        "--name",
        run_id,
        "-S",
        "now-1days",
        "-o",
        "JobID,State,SubmitLine",
    )
    assert out.returncode == 0, out.stderr
    jobs: dict[int, SlurmJob] = {}
    for line in out.stdout.splitlines():
        job_id, state, submit_line = line.split("\t", 2)
        main_id, _, step = job_id.partition(".")
        if not step:
            jobs[int(main_id)] = SlurmJob(int(main_id), state.split()[0], submit_line, {})
        elif step.isdigit():  # not .batch / .extern
            target = re.search(r"--target-jobs (\S+)", submit_line)
            assert target, f"step {job_id} runs no Snakemake job: {submit_line}"
            jobs[int(main_id)].steps[target[1]] = state.split()[0]
    return sorted(jobs.values(), key=lambda job: job.job_id)


def _stop(process: subprocess.Popen, cluster: SlurmCluster, log: Path) -> None:
    """Interrupt a snakemake that ran too long (SIGINT: it cancels its jobs), then scancel."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    run_id = re.search(r"SLURM run ID: (\S+)", log.read_text())
    if run_id:
        cluster.run("scancel", "--name", run_id[1])


@pytest.fixture(scope="module")
def runs(slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The tiny config run through SLURM (one train job failing once) and locally."""
    tmp = tmp_path_factory.mktemp("slurm_workflow")
    config_dict = yaml.safe_load(TINY.read_text())
    config_dict["tasks_per_job"] = 1
    config_dict["plugins"] = [str(FAIL_ONCE)]
    slurm_dir, local_dir = tmp / "slurm", tmp / "local"
    for workdir in (slurm_dir, local_dir):
        workdir.mkdir()
        (workdir / "config.yaml").write_text(yaml.safe_dump(config_dict, sort_keys=False))
    profile = user_profile(tmp / "profile", slurm_cluster.partition, "root")
    marker = tmp / "failed_once"

    local_env = {k: v for k, v in os.environ.items() if k != FAIL_ONCE_ENV}
    local_log = tmp / "local.log"
    with open(local_log, "w") as out:
        local = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--snakefile",
                str(SNAKEFILE),
                "--configfile",
                str(local_dir / "config.yaml"),
                "--profile",
                str(LOCAL_PROFILE),
                "--cores",
                "2",
                "--directory",
                str(local_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**local_env, "PATH": PATH},
        )

    env = {**slurm_cluster.env, "PATH": PATH, FAIL_ONCE_ENV: str(marker)}
    log = tmp / "slurm.log"
    command = slurm_command(slurm_dir / "config.yaml", profile, slurm_dir)
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*slurm_cluster.exec_prefix, *command], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        status = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop(process, slurm_cluster, log)
        local.kill()
        local.wait()
        pytest.fail(f"the SLURM run took over {RUN_TIMEOUT_S} s:\n{log.read_text()[-5000:]}")
    local_status = local.wait(timeout=RUN_TIMEOUT_S)
    text = log.read_text()
    assert status == 0, text[-6000:]
    assert local_status == 0, local_log.read_text()[-4000:]
    run_id = re.search(r"SLURM run ID: (\S+)", text)
    assert run_id, text[-3000:]
    return Runs(
        slurm_dir=slurm_dir,
        local_dir=local_dir,
        config=slurm_dir / "config.yaml",
        profile=profile,
        env=env,
        log=text,
        jobs=sacct_jobs(slurm_cluster, run_id[1]),
        marker=marker,
    )


# --------------------------------------------------------------------------------------
# (a) every job ran as a SLURM job and completed
# --------------------------------------------------------------------------------------


def test_every_job_ran_as_a_completed_slurm_job(runs: Runs):
    submitted = {int(i) for i in re.findall(r"submitted with SLURM jobid (\d+)", runs.log)}
    assert {job.job_id for job in runs.jobs} == submitted
    # Every Snakemake job of the workflow ran as a step of a SLURM job of this run that
    # completed; the one failed attempt (test e) is the only job that did not complete.
    completed = [job for job in runs.jobs if job.state == "COMPLETED"]
    ran = [
        target for job in completed for target, state in job.steps.items() if state == "COMPLETED"
    ]
    assert sorted(ran) == sorted(expected_targets(runs.config))
    assert len(ran) == 11  # prepare, 7 train, 2 aggregate, collect
    assert [job.state for job in runs.jobs if job.state != "COMPLETED"] == ["FAILED"]
    assert all(state == "COMPLETED" for job in completed for state in job.steps.values())
    # Each job went to the partition and account the user filled in.
    assert all(
        " -p debug " in job.submit_line and " -A root " in job.submit_line for job in runs.jobs
    )
    assert "localrule all:" in runs.log  # only the target rule ran in snakemake itself


# --------------------------------------------------------------------------------------
# (b) grouping: fewer SLURM jobs than train tasks, each small enough for the node
# --------------------------------------------------------------------------------------


def test_train_jobs_are_grouped_into_fewer_slurm_jobs_that_fit_the_node(
    runs: Runs, slurm_cluster: SlurmCluster
):
    train_tasks = sum(len(specs) for specs in plan_config(load_config(runs.config)).values())
    assert train_tasks == 7
    train_jobs = [
        job for job in runs.jobs if any(target.startswith("train:") for target in job.steps)
    ]
    completed = [job for job in train_jobs if job.state == "COMPLETED"]
    # 7 train tasks, 1 SLURM job (plus the failed first attempt of it).
    assert len(completed) == 1 and len(completed[0].steps) == 7
    assert len(train_jobs) == 2 < train_tasks
    # A group runs its jobs one after another; the profile's `cores: 1` sizes it so: the
    # CPUs and memory of one train job, the sum of the runtimes (7 x 15 min).
    node = slurm_cluster.run("sinfo", "-h", "-N", "-o", "%c %m")
    cpus, memory_mb = map(int, node.stdout.split())
    first = train_jobs[0].submit_line
    assert " --cpus-per-task=1 " in first and " --mem 2000 " in first and " -t 105 " in first
    for job in train_jobs:
        requested_cpus = int(re.search(r"--cpus-per-task=(\d+)", job.submit_line)[1])
        requested_mb = int(re.search(r"--mem (\d+)", job.submit_line)[1])
        assert requested_cpus <= cpus and requested_mb <= memory_mb


# --------------------------------------------------------------------------------------
# (c) the same numbers as a local run
# --------------------------------------------------------------------------------------


def test_numbers_equal_those_of_a_local_run(runs: Runs):
    slurm_mi, local_mi = task_mi(runs.slurm_dir), task_mi(runs.local_dir)
    assert len(slurm_mi) == 7
    assert slurm_mi == local_mi  # exactly: same seeds, same code, one torch thread
    for table in ("summary.csv", "tiny/rigorous/summary.csv", "tiny/quick/summary.csv"):
        slurm_table = (runs.slurm_dir / "results" / table).read_bytes()
        assert slurm_table == (runs.local_dir / "results" / table).read_bytes(), table


# --------------------------------------------------------------------------------------
# (d) a rerun has nothing to do
# --------------------------------------------------------------------------------------


def test_rerun_has_nothing_to_do(runs: Runs, slurm_cluster: SlurmCluster):
    out = slurm_cluster.run(
        *slurm_command(runs.config, runs.profile, runs.slurm_dir, "--dry-run"),
        env=runs.env,
        timeout=120,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Nothing to be done" in text
    assert re.search(r"^\s*rule \w+:", text, re.MULTILINE) is None


# --------------------------------------------------------------------------------------
# (e) a train job that fails once is resubmitted and succeeds
# --------------------------------------------------------------------------------------


def test_failed_train_job_is_resubmitted_with_more_resources(runs: Runs):
    assert runs.marker.is_file()  # the hook fired
    assert f"{FAIL_ONCE_ENV}: created" in runs.log  # the failed job's log, shown by snakemake
    assert "Trying to restart job" in runs.log
    failed = [job for job in runs.jobs if job.state == "FAILED"]
    assert len(failed) == 1
    failed_steps = [target for target, state in failed[0].steps.items() if state == "FAILED"]
    assert len(failed_steps) == 1 and failed_steps[0].startswith("train:")
    retry = [
        job for job in runs.jobs if job.job_id > failed[0].job_id and failed_steps[0] in job.steps
    ]
    assert len(retry) == 1 and retry[0].state == "COMPLETED"
    assert retry[0].steps[failed_steps[0]] == "COMPLETED"
    # Attempt 2 gets twice the memory and runtime (profile: train:mem_mb=2000*attempt,
    # train:runtime=15*attempt; a group of 7 run one after another: 7 x 15 min).
    assert "--attempt 1 " in failed[0].submit_line and "--attempt 2 " in retry[0].submit_line
    assert " --mem 2000 " in failed[0].submit_line and " -t 105 " in failed[0].submit_line
    assert " --mem 4000 " in retry[0].submit_line and " -t 210 " in retry[0].submit_line
    pack = dict(part.split("=") for part in failed_steps[0].split(":", 1)[1].split(","))
    stores = find_task_stores(
        runs.slurm_dir / "results" / pack["session"] / pack["analysis"] / "tasks" / pack["pack"]
    )
    assert len(stores) == 1
    assert (runs.slurm_dir / "results" / "summary.csv").is_file()


def test_fail_once_plugin_fails_only_the_first_train_job(tmp_path, monkeypatch):
    # Needs no cluster: the test plugin the SLURM run relies on, on its own.
    import importlib.util

    def load(argv: list[str]) -> None:
        monkeypatch.setattr(sys, "argv", argv)
        spec = importlib.util.spec_from_file_location("fail_once_under_test", FAIL_ONCE)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))

    marker = tmp_path / "marker"
    monkeypatch.delenv(FAIL_ONCE_ENV, raising=False)
    load(["neural-mi", "train-tasks"])
    monkeypatch.setenv(FAIL_ONCE_ENV, str(marker))
    load(["snakemake"])  # parsing the workflow, or another step: no failure
    assert not marker.exists()
    with pytest.raises(RuntimeError, match="failed this attempt on purpose"):
        load(["neural-mi", "train-tasks"])
    assert marker.is_file()
    load(["neural-mi", "train-tasks"])  # the marker exists: no failure
