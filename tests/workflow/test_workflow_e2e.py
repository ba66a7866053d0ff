"""End-to-end tests of the Snakemake workflow on tiny configs (``snakemake`` in a subprocess).

Every run works in a temporary directory (``--directory``), never in the repository.  The
tiny config (``config/test_tiny.yaml``) has one synthetic session (600 samples), a rigorous
analysis with gamma 1..3 (6 tasks in 2 train jobs) and an estimate analysis (1 task).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import task_mi

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "workflow" / "Snakefile"
PROFILE = REPO / "profiles" / "local"
TINY = REPO / "config" / "test_tiny.yaml"
#: The rules call `neural-mi`: the environment's scripts come first on PATH.
ENV = {
    **os.environ,
    "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
}


def snakemake_args(workdir: Path, config: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--configfile",
        str(config),
        "--profile",
        str(PROFILE),
        "--cores",
        "2",
        "--directory",
        str(workdir),
        *args,
    ]


def snakemake(
    workdir: Path, config: Path, *args: str, python_flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """Run snakemake; ``.output`` holds stdout and stderr together (it logs to both)."""
    command = snakemake_args(workdir, config, *args)
    command[1:1] = python_flags
    out = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)
    out.output = out.stdout + out.stderr
    return out


def planned_jobs(workdir: Path, config: Path, *args: str) -> list[tuple[str, str]]:
    """``(rule, wildcards)`` of every job a dry run would execute."""
    out = snakemake(workdir, config, "--dry-run", *args)
    assert out.returncode == 0, out.output
    text = out.output
    if "Nothing to be done" in text:
        return []
    jobs: list[list[str]] = []
    for line in text.splitlines():
        rule = re.fullmatch(r"\s*(?:local)?rule (\w+):", line)
        if rule:
            jobs.append([rule.group(1), ""])
        elif jobs and line.strip().startswith("wildcards: "):
            jobs[-1][1] = line.strip().removeprefix("wildcards: ")
    return sorted((rule, wildcards) for rule, wildcards in jobs)


def write_config(path: Path, edit=None) -> Path:
    config = yaml.safe_load(TINY.read_text())
    if edit is not None:
        edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A workdir where the tiny config ran to completion."""
    workdir = tmp_path_factory.mktemp("finished")
    config = write_config(workdir / "config.yaml")
    out = snakemake(workdir, config)
    assert out.returncode == 0, out.output[-5000:]
    return workdir


def copy_run(finished: Path, tmp_path: Path) -> Path:
    """A copy of a finished workdir (outputs, timestamps and Snakemake metadata)."""
    workdir = tmp_path / "copy"
    shutil.copytree(finished, workdir, symlinks=True)
    return workdir


# --------------------------------------------------------------------------------------
# Parse time
# --------------------------------------------------------------------------------------


def _file_config(tmp_path: Path) -> Path:
    np.save(tmp_path / "x.npy", np.zeros((2, 600), dtype=np.float32))
    np.save(tmp_path / "y.npy", np.zeros((2, 600), dtype=np.float32))

    def edit(config):
        config["sessions"] = [{"name": "tiny", "x": {"path": "x.npy"}, "y": {"path": "y.npy"}}]

    return write_config(tmp_path / "config.yaml", edit)


def test_parsing_the_workflow_never_imports_torch(tmp_path):
    config = _file_config(tmp_path)
    out = snakemake(tmp_path, config, "--dry-run", python_flags=("-X", "importtime"))
    assert out.returncode == 0, out.output[-3000:]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in out.output.splitlines()
        if line.startswith("import time:")
    }
    assert "neural_mi.workflow.plan" in imported and "neural_mi.config" in imported
    assert "torch" not in imported


def test_config_errors_fail_before_any_job(tmp_path):
    def typo(config):
        config["analyses"][0]["gama_range"] = [1, 2]

    out = snakemake(tmp_path, write_config(tmp_path / "typo.yaml", typo), "--dry-run")
    assert out.returncode != 0
    assert "analyses[0] (rigorous): unknown key 'gama_range'" in out.output

    def missing(config):
        config["sessions"] = [{"name": "rec", "x": {"path": "lfp.npy"}, "y": {"path": "lfp.npy"}}]

    out = snakemake(tmp_path, write_config(tmp_path / "missing.yaml", missing), "--dry-run")
    assert out.returncode != 0
    assert "session 'rec', x: data file 'lfp.npy' not found" in out.output

    def too_large(config):
        config["analyses"][0]["gamma_range"] = [1, 2, 30]

    out = snakemake(tmp_path, write_config(tmp_path / "gamma.yaml", too_large), "--dry-run")
    assert out.returncode != 0
    assert (
        "session 'tiny', analysis 'rigorous': gamma=30 cuts 600 samples into chunks of 20"
        in out.output
    )
    assert not (tmp_path / "results").exists()


def test_config_overrides_reach_every_job_and_rerun_what_they_change(finished_run, tmp_path):
    workdir = copy_run(finished_run, tmp_path)
    config = workdir / "config.yaml"
    # The tiny config's seed is 3: overriding it with itself changes nothing.
    assert planned_jobs(workdir, config, "--config", "seed=3") == []
    # Seed 4 changes every task (and the synthetic data): everything runs again.
    out = snakemake(workdir, config, "--config", "seed=4")
    assert out.returncode == 0, out.output[-5000:]
    plan = json.loads((workdir / "results" / "tiny" / "rigorous" / "plan.json").read_text())
    assert {combo["params"]["run_seed"] for combo in plan["combos"].values()} == {4}
    seed4 = task_mi(workdir)
    assert seed4.keys() != task_mi(finished_run).keys()
    # Back to the file's seed: the train jobs rerun, find their stores and train nothing.
    out = snakemake(workdir, config)
    assert out.returncode == 0, out.output[-5000:]
    assert task_mi(workdir) == task_mi(finished_run)
    for log in (workdir / "logs" / "train").rglob("*.log"):
        assert "Read" in log.read_text() and "0 to train" in log.read_text(), log


def test_dry_run_of_100_sessions(tmp_path):
    config = tmp_path / "many.yaml"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_many_sessions_config.py"),
            "--sessions",
            "100",
            "--out",
            str(config),
        ],
        check=True,
    )
    out = snakemake(tmp_path, config, "--dry-run", "--quiet", "rules")
    assert out.returncode == 0, out.output[-3000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out.output, re.MULTILINE))
    assert stats["prepare"] == "100"
    # tasks_per_job auto: each session's 55 tasks (about 20 s estimated) make one pack.
    assert stats["train"] == "100"
    assert stats["aggregate"] == "100"
    assert stats["collect"] == "1"


# --------------------------------------------------------------------------------------
# A finished run
# --------------------------------------------------------------------------------------


def test_run_writes_every_output(finished_run):
    results = finished_run / "results"
    table = (results / "summary.csv").read_text().splitlines()
    assert table[0] == (
        "session,analysis,mode,mi,mi_error,is_reliable,partial,units,p_value,is_significant"
    )
    assert [row.split(",")[:3] for row in table[1:]] == [
        ["tiny", "rigorous", "rigorous"],
        ["tiny", "quick", "estimate"],
    ]
    assert all(row.split(",")[-2:] == ["", ""] for row in table[1:])  # no permutation test
    assert (results / "overview.png").stat().st_size > 0
    for analysis, n_tasks, n_packs in (("rigorous", 6, 2), ("quick", 1, 1)):
        folder = results / "tiny" / analysis
        assert len(list((folder / "tasks").glob("*.done"))) == n_packs
        assert len(list((folder / "tasks").glob("*/*.zarr"))) == n_tasks
        for name in ("figure.png", "summary.csv", "summary.nc", "tasks.nc", "results.json"):
            assert (folder / name).is_file()
    headline = json.loads((results / "tiny" / "rigorous" / "summary.json").read_text())
    assert headline["mode"] == "rigorous" and headline["units"] == "bits"
    assert (
        np.isfinite(headline["mi_estimate"]) and headline["mi_estimate"] == headline["mi_corrected"]
    )
    assert headline["mi_error"] is None or headline["mi_error"] > 0
    assert isinstance(headline["is_reliable"], bool)
    assert all(np.isfinite(list(task_mi(finished_run).values())))


def test_second_invocation_has_nothing_to_do(finished_run):
    assert planned_jobs(finished_run, finished_run / "config.yaml") == []


def test_changing_an_analysis_parameter_reruns_only_its_train_jobs(finished_run, tmp_path):
    def more_epochs(config):
        config["analyses"][1]["base_params"]["n_epochs"] = 4

    jobs = planned_jobs(finished_run, write_config(tmp_path / "epochs.yaml", more_epochs))
    train = [wildcards for rule, wildcards in jobs if rule == "train"]
    assert train == ["session=tiny, analysis=quick, pack=p000"]
    assert [rule for rule, _ in jobs] == ["aggregate", "all", "collect", "train"]
    assert ("aggregate", "session=tiny, analysis=quick") in jobs


def test_changing_the_confidence_level_reruns_only_the_aggregation(finished_run, tmp_path):
    def level(config):
        config["analyses"][0]["fit"] = {"confidence_level": 0.9}

    jobs = planned_jobs(finished_run, write_config(tmp_path / "level.yaml", level))
    assert jobs == [("aggregate", "session=tiny, analysis=rigorous"), ("all", ""), ("collect", "")]


def test_deleting_a_pack_reruns_one_train_job_with_the_same_numbers(finished_run, tmp_path):
    workdir = copy_run(finished_run, tmp_path)
    shutil.rmtree(workdir / "results" / "tiny" / "rigorous" / "tasks" / "p001")
    # The parse drops the marker of a pack whose stores are gone, and says so.
    out = snakemake(workdir, workdir / "config.yaml", "--dry-run")
    assert "p001.done was removed: its pack lost or damaged task stores" in out.output
    assert ".zarr: missing" in out.output
    jobs = planned_jobs(workdir, workdir / "config.yaml")
    assert jobs == [
        ("aggregate", "session=tiny, analysis=rigorous"),
        ("all", ""),
        ("collect", ""),
        ("train", "session=tiny, analysis=rigorous, pack=p001"),
    ]
    # Through the user's command, with this environment's scripts *not* on PATH: `neural-mi
    # run` puts them there for the rules.
    neural_mi = Path(sys.executable).parent / "neural-mi"
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if Path(p) != Path(sys.executable).parent
    )
    out = subprocess.run(
        [str(neural_mi), "run", "config.yaml", "--cores", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        timeout=600,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    assert out.stdout.splitlines()[0].split() == [
        "session",
        "analysis",
        "mode",
        "mi",
        "mi_error",
        "is_reliable",
        "partial",
        "units",
        "p_value",
        "is_significant",
    ]
    assert task_mi(workdir) == task_mi(finished_run)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="preload runs on Linux only")
def test_neural_mi_run_forks_its_steps_from_a_preload_server_with_the_same_numbers(
    finished_run, tmp_path
):
    workdir = tmp_path / "preloaded"
    workdir.mkdir()
    write_config(workdir / "config.yaml")
    neural_mi = Path(sys.executable).parent / "neural-mi"
    # Every fresh interpreter logs its imports to stderr (a rule's log for a step).
    out = subprocess.run(
        [str(neural_mi), "run", "config.yaml", "--cores", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    # The train jobs' `neural-mi` started, imported the client and handed the step to the
    # server, whose fork had torch imported already (finished_run ran plain snakemake).
    logs = sorted((workdir / "logs" / "train").rglob("*.log"))
    assert len(logs) == 3
    for log in logs:
        imports = [
            line.rsplit("|", 1)[-1].strip()
            for line in log.read_text().splitlines()
            if line.startswith("import time:")
        ]
        assert "neural_mi.preload" in imports and "torch" not in imports, log
    assert task_mi(workdir) == task_mi(finished_run)


def test_one_pack_on_a_pool_of_two_workers_gives_the_same_numbers(finished_run, tmp_path):
    def one_pack(config):
        config.update(tasks_per_job=6, threads_per_job=2)

    workdir = tmp_path / "pool"
    workdir.mkdir()
    out = snakemake(workdir, write_config(workdir / "config.yaml", one_pack))
    assert out.returncode == 0, out.output[-5000:]
    tasks = workdir / "results" / "tiny" / "rigorous" / "tasks"
    assert sorted(p.name for p in tasks.iterdir()) == ["p000", "p000.done"]
    log = (workdir / "logs" / "train" / "tiny" / "rigorous" / "p000.log").read_text()
    assert "Training 6 task(s) of pack p000 with 2 worker process(es)." in log
    assert task_mi(workdir) == task_mi(finished_run)


def test_report(finished_run, tmp_path):
    workdir = copy_run(finished_run, tmp_path)
    out = snakemake(workdir, workdir / "config.yaml", "--report", "report.html")
    assert out.returncode == 0, out.output[-3000:]
    html = (workdir / "report.html").read_text()
    assert "overview.png" in html and "figure.png" in html


@pytest.mark.slow
@pytest.mark.parametrize("interrupt", ["sigterm_snakemake", "ctrl_c", "ctrl_c_neural_mi_run"])
def test_interrupted_run_resumes_to_the_same_numbers(finished_run, tmp_path, interrupt):
    """Interrupt a run while a train job runs, run again: the numbers of an uninterrupted run.

    ``sigterm_snakemake``: SIGTERM to snakemake alone (it lets running jobs finish, then
    stops).  ``ctrl_c``: SIGINT to snakemake and its jobs, as a terminal's Ctrl-C sends it
    (the running train jobs die half-way).  ``ctrl_c_neural_mi_run``: the same to
    ``neural-mi run``, its preload server and the steps forked from it, which must all
    be gone when the command returns.  A second full run each: about 30 s.
    """
    workdir = tmp_path / "interrupted"
    workdir.mkdir()
    config = write_config(workdir / "config.yaml")
    command = snakemake_args(workdir, config)
    if interrupt == "ctrl_c_neural_mi_run":
        command = [
            str(Path(sys.executable).parent / "neural-mi"),
            "run",
            str(config),
            "--cores",
            "2",
            "--directory",
            str(workdir),
        ]
    process = subprocess.Popen(
        command,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    train_logs = workdir / "logs" / "train"
    deadline = time.monotonic() + 300
    while not (train_logs.exists() and any(train_logs.rglob("*.log"))):
        assert process.poll() is None, "snakemake ended before any train job started"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    if interrupt.startswith("ctrl_c"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) != 0
    if interrupt == "ctrl_c_neural_mi_run":
        time.sleep(1)
        with pytest.raises(ProcessLookupError):  # nothing left in its process group
            os.killpg(process.pid, 0)
    assert not (workdir / "results" / "summary.csv").exists()
    out = snakemake(workdir, config)
    assert out.returncode == 0, out.output[-5000:]
    assert task_mi(workdir) == task_mi(finished_run)


def test_task_mi_equals_nmi_run_on_the_same_data_and_seed(finished_run):
    import neural_mi as nmi
    from neural_mi.plan import derive_seed

    config = yaml.safe_load(TINY.read_text())
    synthetic = dict(config["sessions"][0]["synthetic"])
    synthetic.pop("generator")
    x, y = nmi.datasets.generate_correlated_gaussians(
        **synthetic, use_torch=False, seed=derive_seed(config["seed"], "tiny")
    )
    workflow_mi = task_mi(finished_run)
    for analysis in config["analyses"]:
        results = nmi.run(
            x.T,
            y.T,
            mode=analysis["mode"],
            processor_type="continuous",
            processor_params={"window_size": 1},
            base_params=analysis["base_params"],
            gamma_range=analysis.get("gamma_range"),
            split_mode=analysis["split_mode"],
            random_seed=config["seed"],
            output_units="nats",
            verbose=False,
        )
        direct = {
            f"{analysis['name']}/{k}": float(v)
            for k, v in zip(results.tasks["key"].values, results.tasks["test_mi"].values)
        }
        assert direct == {
            k: v for k, v in workflow_mi.items() if k.startswith(analysis["name"] + "/")
        }
