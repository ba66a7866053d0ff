"""The workflow on a live SLURM cluster, through ``neural-mi run CONFIG --profile slurm``.

One module fixture runs a 20-session config (the tiny sessions of ``config/test_tiny.yaml``
with ``tasks_per_job: auto``; per session its rigorous analysis of 6 tasks: 60 jobs)
twice, side by side: through SLURM with the packaged profile as it is, and on this machine
with ``neural-mi run`` (the local profile).  The tests then read the two runs, SLURM's
accounting (``sacct``) and the run's log.

How the SLURM run is set up, and why:

- The command is the user's: ``neural-mi run CONFIG --profile slurm``, with the cluster's
  default partition and account (the packaged profile asks for no edit).
- ``target_job_minutes`` is small (0.5), so that the 20 sessions make several groups,
  each submitted as one SLURM job, whose requested runtime the tests check against the cost
  model (:class:`neural_mi.workflow.plan.WorkflowPlan`).
- Test-only settings go on the command line, not into the profile: fast status checks
  (``--slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 1``).
- It runs inside the cluster's network namespace (``SlurmCluster.exec_prefix``), with this
  environment's scripts first on PATH (sbatch exports the environment to the jobs).
- The test plugin ``tests/support/fail_once.py`` (the config's ``plugins:``) makes the first
  train job fail once while ``NEURAL_MI_FAIL_ONCE`` names a missing file; the profile's
  ``retries: 1`` must resubmit its group with twice the runtime and memory.

Runtime: a few minutes (the SLURM run; the local run overlaps it).  Skipped where the
cluster cannot start (see the ``slurm_cluster`` fixture in conftest.py).  Only one run of
these tests may use the machine's cluster at a time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from neural_mi.store import find_task_stores, load_dataset
from neural_mi.workflow.plan import WorkflowPlan, workflow_plan

if TYPE_CHECKING:
    from conftest import SlurmCluster

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "config" / "test_tiny.yaml"
FAIL_ONCE = REPO / "tests" / "support" / "fail_once.py"
FAIL_ONCE_ENV = "NEURAL_MI_FAIL_ONCE"
NEURAL_MI = Path(sys.executable).parent / "neural-mi"
N_SESSIONS = 20
#: What the test adds on the command line (a user keeps the plugin's defaults).
TEST_ONLY_ARGS = (
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
)
RUN_TIMEOUT_S = 900
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

    @property
    def group(self) -> str:
        """The workflow's group the job was submitted for (the plugin's --comment)."""
        return self.option(r"--comment '?rule_(nmi\d+)_")

    def option(self, pattern: str) -> str:
        match = re.search(pattern, self.submit_line)
        assert match, (pattern, self.submit_line)
        return match[1]


@dataclass(frozen=True)
class Runs:
    """The two finished runs and what the SLURM one left behind.

    Attributes
    ----------
    slurm_dir, local_dir : Path
        Working directories of the SLURM run and the local run.
    plan : WorkflowPlan
        The SLURM run's plan, as its start saw it (nothing finished yet).
    env : dict[str, str]
        The SLURM run's environment (``SLURM_CONF``, PATH, the fail-once hook).
    console, log : str
        What ``neural-mi run`` printed, and Snakemake's output (its log file).
    jobs : list of SlurmJob
        The run's SLURM jobs, by job id.
    marker : Path
        The fail-once hook's marker file.
    """

    slurm_dir: Path
    local_dir: Path
    plan: WorkflowPlan
    env: dict[str, str]
    console: str
    log: str
    jobs: list[SlurmJob]
    marker: Path


def study_config() -> dict:
    """20 tiny sessions (their data seeds derive from their names), auto packing, small
    cluster groups."""
    tiny = yaml.safe_load(TINY.read_text())
    (session,) = tiny["sessions"]
    sessions = [{**session, "name": f"s{i:02d}"} for i in range(N_SESSIONS)]
    return {
        **tiny,
        "analyses": [a for a in tiny["analyses"] if a["mode"] == "rigorous"],
        "tasks_per_job": "auto",
        "target_job_minutes": 0.5,
        "plugins": [str(FAIL_ONCE)],
        "sessions": sessions,
    }


def job_of(target: str) -> tuple[str, dict[str, str]]:
    """``train:session=s00,analysis=rigorous,pack=c...`` -> ``("train", {...})``."""
    rule, _, wildcards = target.partition(":")
    return rule, dict(item.split("=", 1) for item in wildcards.split(",") if item)


def plan_jobs(plan: WorkflowPlan) -> list[tuple[str, dict[str, str]]]:
    """Every job of the plan that SLURM runs (all but the local collection)."""
    jobs = []
    for (session, analysis), analysis_plan in plan.analyses.items():
        if ("prepare", {"session": session}) not in jobs:
            jobs.append(("prepare", {"session": session}))
        jobs += [
            ("train", {"session": session, "analysis": analysis, "pack": pack})
            for pack in analysis_plan.packs
        ]
        jobs.append(("aggregate", {"session": session, "analysis": analysis}))
    return jobs


def sacct_jobs(cluster: SlurmCluster, run_id: str) -> list[SlurmJob]:
    """The run's SLURM jobs (sacct selects them by name: the plugin names each job by run id)."""
    # -S: without it sacct lists only jobs since midnight.
    out = cluster.run(
        "sacct", "-n", "-P", "--delimiter", "\t", "--name", run_id, "-S", "now-1days",
        "-o", "JobID,State,SubmitLine",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    jobs: dict[int, SlurmJob] = {}
    for line in out.stdout.splitlines():
        job_id, state, submit_line = line.split("\t", 2)
        main_id, _, step = job_id.partition(".")
        if not step:
            jobs[int(main_id)] = SlurmJob(int(main_id), state.split()[0], submit_line, {})
        elif step.isdigit():  # not .batch / .extern
            # A step runs one Snakemake job, or several of a group that depend on each other.
            targets = re.search(r"--target-jobs (.*?)(?: --|$)", submit_line)
            assert targets, f"step {job_id} runs no Snakemake job: {submit_line}"
            for target in targets[1].split():
                jobs[int(main_id)].steps[target.strip("'\"")] = state.split()[0]
    return sorted(jobs.values(), key=lambda job: job.job_id)


def run_id_of(log: str) -> str:
    match = re.search(r"SLURM run ID: (\S+)", log)
    assert match, log[-3000:]
    return match[1]


def snakemake_log(workdir: Path) -> str:
    logs = sorted((workdir / "logs").glob("neural-mi-run-*.log"))
    assert logs, f"no log of neural-mi run in {workdir / 'logs'}"
    return logs[-1].read_text()


def _stop(process: subprocess.Popen, cluster: SlurmCluster, workdir: Path) -> None:
    """Interrupt a run that took too long (SIGINT: Snakemake cancels its jobs), then scancel."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    match = re.search(r"SLURM run ID: (\S+)", snakemake_log(workdir))
    if match:
        cluster.run("scancel", "--name", match[1])


@pytest.fixture(scope="module")
def runs(slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The 20-session config run through SLURM (one train job failing once) and locally."""
    tmp = tmp_path_factory.mktemp("slurm_workflow")
    slurm_dir, local_dir = tmp / "slurm", tmp / "local"
    for workdir in (slurm_dir, local_dir):
        workdir.mkdir()
        (workdir / "config.yaml").write_text(yaml.safe_dump(study_config(), sort_keys=False))
    previous = Path.cwd()
    os.chdir(slurm_dir)
    try:
        plan = workflow_plan(yaml.safe_load((slurm_dir / "config.yaml").read_text()))
        plan.job_runtime("prepare", "s00")  # the groups, as the run's start will see them
    finally:
        os.chdir(previous)
    marker = tmp / "failed_once"

    local_env = {k: v for k, v in os.environ.items() if k != FAIL_ONCE_ENV}
    local = subprocess.Popen(
        [str(NEURAL_MI), "run", "config.yaml", "--cores", "2"],
        cwd=local_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**local_env, "PATH": PATH},
    )
    env = {**slurm_cluster.env, "PATH": PATH, FAIL_ONCE_ENV: str(marker)}
    command = [str(NEURAL_MI), "run", "config.yaml", "--profile", "slurm", *TEST_ONLY_ARGS]
    console = tmp / "console.txt"
    with open(console, "w") as out:
        process = subprocess.Popen(
            [*slurm_cluster.exec_prefix, *command],
            cwd=slurm_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        status = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop(process, slurm_cluster, slurm_dir)
        local.kill()
        local.wait()
        pytest.fail(
            f"the SLURM run took over {RUN_TIMEOUT_S} s:\n{snakemake_log(slurm_dir)[-5000:]}"
        )
    local_status = local.wait(timeout=RUN_TIMEOUT_S)
    log = snakemake_log(slurm_dir)
    assert status == 0, console.read_text()[-3000:] + log[-6000:]
    assert local_status == 0, snakemake_log(local_dir)[-4000:]
    # Accounting may lag behind the end of the jobs: read it until every job is there.
    expected = {target_of(*job) for job in plan_jobs(plan)}
    deadline = time.monotonic() + 60
    while True:
        jobs = sacct_jobs(slurm_cluster, run_id_of(log))
        ran = {t for job in jobs for t, state in job.steps.items() if state == "COMPLETED"}
        if ran >= expected or time.monotonic() > deadline:
            break
        time.sleep(2)
    return Runs(
        slurm_dir=slurm_dir,
        local_dir=local_dir,
        plan=plan,
        env=env,
        console=console.read_text(),
        log=log,
        jobs=jobs,
        marker=marker,
    )


# --------------------------------------------------------------------------------------
# (a) every job ran in a SLURM job that completed, in the groups the plan made
# --------------------------------------------------------------------------------------


def plan_groups(plan: WorkflowPlan) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """``{group: [job, ...]}``: the jobs the plan puts in each cluster group."""
    groups: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for rule, wildcards in plan_jobs(plan):
        groups.setdefault(plan.job_group(rule, **wildcards), []).append((rule, wildcards))
    return groups


def target_of(rule: str, wildcards: dict[str, str]) -> str:
    return f"{rule}:{','.join(f'{k}={v}' for k, v in wildcards.items())}"


def test_every_job_ran_in_a_completed_slurm_job_of_its_group(runs: Runs):
    submitted = {int(i) for i in re.findall(r"submitted with SLURM jobid (\d+)", runs.log)}
    assert {job.job_id for job in runs.jobs} == submitted
    assert [job.state for job in runs.jobs if job.state != "COMPLETED"] == ["FAILED"]
    assert "localrule collect:" in runs.log  # the collection ran on the login node
    ran = {
        target for job in runs.jobs for target, state in job.steps.items() if state == "COMPLETED"
    }
    assert ran == {target_of(*job) for job in plan_jobs(runs.plan)}
    # One SLURM job per group of the plan (plus the retry), each running its group's jobs:
    # far fewer SLURM jobs than workflow jobs.
    groups = plan_groups(runs.plan)
    assert 2 < len(groups) < len(ran) / 5
    first_attempts = [job for job in runs.jobs if "--attempt 1 " in job.submit_line]
    assert sorted(job.group for job in first_attempts) == sorted(groups)
    for job in runs.jobs:
        assert set(job.steps) <= {target_of(*member) for member in groups[job.group]}, job


# --------------------------------------------------------------------------------------
# (b) every SLURM job asked for what the cost model gives its group
# --------------------------------------------------------------------------------------


def test_every_slurm_job_asks_for_the_runtime_and_memory_of_the_cost_model(runs: Runs):
    groups = plan_groups(runs.plan)
    for job in runs.jobs:
        attempt = int(job.option(r"--attempt (\d+)"))
        members = groups[job.group]
        runtime = sum(runs.plan.job_runtime(r, attempt=attempt, **w) for r, w in members)
        memory = max(runs.plan.job_memory_mb(r, attempt=attempt, **w) for r, w in members)
        assert int(job.option(r" -t (\d+) ")) == runtime, job
        assert int(job.option(r" --mem (\d+) ")) == memory, job
        assert job.option(r"--cpus-per-task=(\d+)") == "1"


# --------------------------------------------------------------------------------------
# (c) the same numbers as a local run
# --------------------------------------------------------------------------------------


def test_numbers_equal_those_of_a_local_run(runs: Runs):
    tables = ["summary.csv"]
    for (session, analysis), analysis_plan in runs.plan.analyses.items():
        values = []
        for workdir in (runs.slurm_dir, runs.local_dir):
            ds = load_dataset(workdir / "results" / session / analysis / "tasks.nc")
            values.append(dict(zip(ds["key"].values, ds["test_mi"].values.tolist())))
        assert values[0] == values[1]  # exactly: same seeds, same code, one torch thread
        assert sorted(values[0]) == sorted(spec.key for spec in analysis_plan.tasks)
        tables.append(f"{session}/{analysis}/summary.csv")
    for table in tables:
        slurm_table = (runs.slurm_dir / "results" / table).read_bytes()
        assert slurm_table == (runs.local_dir / "results" / table).read_bytes(), table


# --------------------------------------------------------------------------------------
# (d) a rerun has nothing to do; the console shows progress, not job records
# --------------------------------------------------------------------------------------


def test_rerun_has_nothing_to_do(runs: Runs, slurm_cluster: SlurmCluster):
    out = slurm_cluster.run(
        str(NEURAL_MI), "run", "config.yaml", "--profile", "slurm", "-n", *TEST_ONLY_ARGS,
        cwd=runs.slurm_dir, env=runs.env, timeout=300,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Nothing to be done" in text
    assert re.search(r"^\s*rule \w+:", text, re.MULTILINE) is None


def test_console_shows_progress_and_the_failure(runs: Runs):
    assert re.search(r"neural-mi run: (\d+)/\1 jobs done, 1 failed, 1 retried", runs.console)
    assert "neural-mi run: job failed:" in runs.console
    assert re.search(r"^\s*rule \w+:", runs.console, re.MULTILINE) is None
    lines = runs.console.splitlines()
    last_progress = max(i for i, line in enumerate(lines) if line.startswith("neural-mi run:"))
    assert lines[last_progress + 1].split()[:2] == ["session", "analysis"]  # then the table


# --------------------------------------------------------------------------------------
# (e) a train job that fails once is resubmitted with twice the runtime and memory
# --------------------------------------------------------------------------------------


def test_failed_train_job_is_resubmitted_with_more_resources(runs: Runs):
    assert runs.marker.is_file()  # the hook fired
    assert f"{FAIL_ONCE_ENV}: created" in runs.log  # the failed job's log, shown by snakemake
    assert "Trying to restart job" in runs.log
    (failed,) = [job for job in runs.jobs if job.state == "FAILED"]
    # (A step runs a session's prepare, train and aggregate jobs together when they are in
    # one group: all of that step failed with its train job.)
    failed_steps = [target for target, state in failed.steps.items() if state == "FAILED"]
    (train,) = [target for target in failed_steps if target.startswith("train:")]
    (retry,) = [job for job in runs.jobs if "--attempt 2 " in job.submit_line]
    assert retry.group == failed.group and retry.job_id > failed.job_id
    assert retry.state == "COMPLETED"
    assert all(retry.steps[target] == "COMPLETED" for target in failed_steps)
    assert "--attempt 1 " in failed.submit_line
    # (test b checks each against the cost model; here: the retry asks for twice as much)
    assert int(retry.option(r" -t (\d+) ")) == 2 * int(failed.option(r" -t (\d+) "))
    assert int(retry.option(r" --mem (\d+) ")) == 2 * int(failed.option(r" --mem (\d+) "))
    _, wildcards = job_of(train)
    stores = find_task_stores(
        runs.slurm_dir / "results" / wildcards["session"] / wildcards["analysis"] / "tasks"
        / wildcards["pack"]
    )  # fmt: skip
    assert len(stores) == len(
        runs.plan.analyses[(wildcards["session"], wildcards["analysis"])].packs[wildcards["pack"]]
    )


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
