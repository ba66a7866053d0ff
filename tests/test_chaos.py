"""Chaos: ``neural-mi run`` stopped outright at random times, then run again as it is.

Each run works in a folder of its own under ``tmp_path``, with its own temporary directory
(TMPDIR) and cache directory (XDG_CACHE_HOME), so that whatever a run leaves behind is seen.
The config is the tiny one (``config/test_tiny.yaml``: 7 tasks in 3 train jobs, a few
seconds).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import task_mi

from neural_mi.ownership import RUN_ID_ENV, read_record, snakemake_locks
from neural_mi.processes import processes_with_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tables"),
]

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "config" / "test_tiny.yaml"
NEURAL_MI = Path(sys.executable).parent / "neural-mi"

#: Seed of the kill times; number of kills.
SEED, N_KILLS = 2024, 10


@contextlib.contextmanager
def environment(folder: Path) -> Iterator[dict[str, str]]:
    """Environment of runs with a cache directory of their own in ``folder``, and a
    temporary directory of their own (short: it holds the preload server's socket)."""
    with tempfile.TemporaryDirectory(prefix="nmi-") as temp:
        env = {**os.environ, "TMPDIR": temp, "XDG_CACHE_HOME": str(folder / "cache")}
        env.pop(RUN_ID_ENV, None)
        Path(env["XDG_CACHE_HOME"]).mkdir()
        yield env


@pytest.fixture
def env(tmp_path) -> Iterator[dict[str, str]]:
    with environment(tmp_path) as env:
        yield env


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, float]:
    """A workdir of an uninterrupted run, and the run's wall time (s)."""
    folder = tmp_path_factory.mktemp("reference")
    with environment(folder) as env:
        return _reference_run(folder / "run", env)


def _reference_run(workdir: Path, env: dict[str, str]) -> tuple[Path, float]:
    begin = time.monotonic()
    process = start(workdir, env)
    finish(process)
    wall = time.monotonic() - begin
    assert_clean(workdir, env, process.pid)
    return workdir, wall


def start(workdir: Path, env: dict[str, str]) -> subprocess.Popen:
    """``neural-mi run config.yaml`` in ``workdir``, leading a process group of its own."""
    workdir.mkdir(exist_ok=True)
    (workdir / "config.yaml").write_text(TINY.read_text())
    return subprocess.Popen(
        [str(NEURAL_MI), "run", "config.yaml"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen) -> str:
    """Wait for a run; its stdout and stderr, after checking that it succeeded."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-5000:]
    return out + err


def live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that still run (zombies, which have ended, are not)."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                members.append(process.pid)
        except ProcessLookupError:
            pass
    return members


def wait_until_gone(pgid: int, run_id: str | None) -> None:
    """Wait up to 10 s until no process of group ``pgid`` (or of run ``run_id``) runs."""
    deadline = time.monotonic() + 10
    while live_members(pgid) or (run_id and processes_with_env(RUN_ID_ENV, run_id)):
        assert time.monotonic() < deadline, (live_members(pgid), run_id)
        time.sleep(0.1)


def assert_clean(workdir: Path, env: dict[str, str], pgid: int) -> None:
    """Nothing of a finished run is left: lock, record, temporary folders, processes."""
    assert snakemake_locks(workdir) == []
    assert read_record(workdir) is None
    assert sorted(os.listdir(env["TMPDIR"])) == []
    assert list(Path(env["XDG_CACHE_HOME"]).rglob("snakemake-runtime-cache/*")) == []
    wait_until_gone(pgid, None)


def test_runs_killed_at_random_times_resume_to_the_numbers_of_an_uninterrupted_run(
    tmp_path, env, reference
):
    """10 SIGKILLs of the whole process group of ``neural-mi run`` (itself, Snakemake, the
    preload server, the jobs), each at a random time of a run, each followed by a plain
    ``neural-mi run``, which must finish by itself (removing a lock left behind) with a
    ``summary.csv`` bit-identical to that of an uninterrupted run."""
    reference, wall = reference
    summary = (reference / "results" / "summary.csv").read_bytes()

    rng = random.Random(SEED)
    kills, locks_removed = 0, 0
    for attempt in range(N_KILLS + 5):
        if kills == N_KILLS:
            break
        workdir = tmp_path / f"run{attempt}"
        process = start(workdir, env)
        deadline = time.monotonic() + rng.uniform(0.02, 0.9) * wall
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is not None:  # finished before its kill time: not a kill
            finish(process)
            continue
        record = read_record(workdir)  # None if killed before it was written
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        kills += 1
        wait_until_gone(process.pid, record.run_id if record else None)
        locked = bool(snakemake_locks(workdir))

        rerun = start(workdir, env)
        output = finish(rerun)
        removed = f"removed the lock of run pid {process.pid} started at" in output
        assert removed == locked, output[-3000:]
        locks_removed += removed
        assert (workdir / "results" / "summary.csv").read_bytes() == summary
        assert task_mi(workdir) == task_mi(reference)
        assert_clean(workdir, env, rerun.pid)
    assert kills == N_KILLS
    print(f"{kills} kills, {locks_removed} of them after Snakemake locked (lock removed)")
    # Most kills come after Snakemake has locked the directory (about 1 s into a run).
    assert locks_removed >= 1


def test_sigterm_to_neural_mi_run_stops_the_run_and_cleans_up(tmp_path, env, reference):
    """SIGTERM to ``neural-mi run`` alone: Snakemake is told, lets its running jobs
    finish and stops; the command waits for it, leaves nothing behind, and a plain
    rerun finishes the work without having to remove a lock."""
    workdir = tmp_path / "terminated"
    process = start(workdir, env)
    train_logs = workdir / "logs" / "train"
    deadline = time.monotonic() + 120
    while not (train_logs.exists() and any(train_logs.rglob("*.log"))):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    record = read_record(workdir)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode != 0
    assert not (workdir / "results" / "summary.csv").exists()
    assert_clean(workdir, env, process.pid)
    wait_until_gone(process.pid, record.run_id)
    output = finish(start(workdir, env))
    assert "removed the lock" not in output
    summary = reference[0] / "results" / "summary.csv"
    assert (workdir / "results" / "summary.csv").read_bytes() == summary.read_bytes()
    assert task_mi(workdir) == task_mi(reference[0])
