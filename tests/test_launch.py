"""Run ownership of ``neural-mi run`` (``neural_mi.ownership``) and temporary folders that go
with their owner (``neural_mi.processes``), without training: each decision about a
Snakemake lock found at start is made on a hand-made ``.snakemake`` folder."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from neural_mi import cli, launch, ownership
from neural_mi.errors import WorkdirLockedError
from neural_mi.processes import (
    host_id,
    is_running,
    owned_temp_dir,
    processes_with_env,
    remove_orphaned_temp_dirs,
    start_stamp,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="run ownership is tested on Linux"
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """The temporary directory of this test (TMPDIR) and of the processes it starts."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    return folder


@pytest.fixture
def sleeper():
    """Start a process that sleeps until the test ends: ``sleeper(env=..., argv=...)``."""
    started = []

    def start(env: dict[str, str] | None = None, argv: list[str] | None = None, cwd=None):
        process = subprocess.Popen(
            argv or [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def ended_process() -> tuple[int, int]:
    """Pid and start stamp of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    stamp = start_stamp(process.pid)
    process.communicate()
    return process.pid, stamp


def record_of(pid: int, stamp: int, **fields) -> ownership.RunRecord:
    """A run record of process ``pid`` on this host (fields as given)."""
    mine = ownership.RunRecord.of_this_process()
    return dataclasses.replace(
        mine, run_id=uuid.uuid4().hex, pid=pid, pgid=pid, stamp=stamp, **fields
    )


def hold(workdir: Path, record: ownership.RunRecord | None, locked: bool = True) -> list[Path]:
    """Give ``workdir`` the record and (``locked``) a Snakemake lock; returns the lock files."""
    state = workdir / ".snakemake"
    (state / "locks").mkdir(parents=True)
    if record is not None:
        (state / ownership.RECORD_NAME).write_text(json.dumps(dataclasses.asdict(record)))
    if not locked:
        return []
    locks = [state / "locks" / "0.input.lock", state / "locks" / "0.output.lock"]
    for lock in locks:
        lock.write_text("results/summary.csv\n")
    return locks


def claim(workdir: Path, config: str) -> None:
    """Claim ``workdir`` and let go at once."""
    with ownership.claim_workdir(workdir, config):
        pass


# --------------------------------------------------------------------------------------
# The decisions at start
# --------------------------------------------------------------------------------------


def test_the_stale_lock_of_an_ended_run_is_removed_with_a_message(tmp_path, caplog):
    pid, stamp = ended_process()
    previous = record_of(pid, stamp)
    locks = hold(tmp_path, previous)
    with caplog.at_level(logging.WARNING), ownership.claim_workdir(tmp_path, "c.yaml") as record:
        assert not any(lock.exists() for lock in locks)
        assert ownership.read_record(tmp_path) == record != previous
        assert record.pid == os.getpid() and record.run_id != previous.run_id
    assert (
        f"removed the lock of run pid {pid} started at {previous.started_at}, which is no "
        "longer running" in caplog.text
    )
    # The run ended and Snakemake released its lock: the record goes.
    assert ownership.read_record(tmp_path) is None


def test_a_lock_whose_pid_now_belongs_to_another_program_is_stale(tmp_path, sleeper, caplog):
    other = sleeper()
    locks = hold(tmp_path, record_of(other.pid, start_stamp(other.pid) - 1))
    with caplog.at_level(logging.WARNING), ownership.claim_workdir(tmp_path, "c.yaml"):
        pass
    assert not any(lock.exists() for lock in locks)
    assert f"removed the lock of run pid {other.pid}" in caplog.text


def test_a_live_run_is_refused_without_touching_anything(tmp_path, sleeper, temp_dir, capsys):
    owner = sleeper()
    previous = record_of(owner.pid, start_stamp(owner.pid), host=host_id())
    locks = hold(tmp_path, previous)
    (tmp_path / "config.yaml").write_text((REPO / "config" / "test_tiny.yaml").read_text())
    # Through the command: refused before Snakemake starts.
    status = cli.main(["run", str(tmp_path / "config.yaml"), "--directory", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert (
        f"neural-mi run: error: {str(tmp_path)!r} is in use by neural-mi run pid {owner.pid} "
        f"on {previous.host}, started at {previous.started_at}" in err
    )
    assert f"`kill {owner.pid}`" in err
    assert all(lock.exists() for lock in locks)
    assert ownership.read_record(tmp_path) == previous
    assert list(temp_dir.iterdir()) == []  # the refused run's own folder is gone
    assert not (tmp_path / "results").exists()


def test_a_run_whose_snakemake_outlived_it_is_refused(tmp_path, sleeper):
    """`neural-mi run` killed alone: its pid is gone, Snakemake and its jobs still run."""
    pid, stamp = ended_process()
    previous = record_of(pid, stamp)
    job = sleeper(env={**os.environ, ownership.RUN_ID_ENV: previous.run_id})
    locks = hold(tmp_path, previous)
    with pytest.raises(WorkdirLockedError, match=rf"its processes {job.pid} still run") as error:
        claim(tmp_path, "c.yaml")
    assert f"`kill {job.pid}`" in str(error.value)
    assert all(lock.exists() for lock in locks)
    assert processes_with_env(ownership.RUN_ID_ENV, previous.run_id) == [job.pid]


def test_a_live_run_is_refused_even_before_it_locks(tmp_path, sleeper):
    owner = sleeper()
    hold(tmp_path, record_of(owner.pid, start_stamp(owner.pid)), locked=False)
    with pytest.raises(WorkdirLockedError, match=f"in use by neural-mi run pid {owner.pid}"):
        claim(tmp_path, "c.yaml")


def test_a_lock_without_a_record_is_refused(tmp_path):
    locks = hold(tmp_path, None)
    with pytest.raises(WorkdirLockedError) as error:
        claim(tmp_path, "my.yaml")
    message = str(error.value)
    assert f"{str(tmp_path)!r} is locked by Snakemake (0.input.lock, 0.output.lock)" in message
    assert "no neural-mi run recorded holding it" in message
    assert "`ps -ef | grep snakemake`" in message
    assert "`neural-mi run my.yaml --unlock`" in message
    assert all(lock.exists() for lock in locks)
    assert ownership.read_record(tmp_path) is None


def test_a_lock_recorded_on_another_host_is_refused(tmp_path):
    pid, stamp = ended_process()
    locks = hold(tmp_path, record_of(pid, stamp, host="login-node-7"))
    with pytest.raises(WorkdirLockedError, match=r"Check on login-node-7 \(`ps -p \d+`\)"):
        claim(tmp_path, "c.yaml")
    assert all(lock.exists() for lock in locks)


def test_a_stale_record_does_not_release_the_lock_of_a_plain_snakemake(tmp_path, sleeper):
    """The recorded run ended, but a Snakemake started since runs in the directory."""
    pid, stamp = ended_process()
    locks = hold(tmp_path, record_of(pid, stamp))
    program = tmp_path / "snakemake"
    program.write_text("import sys\nsys.stdin.read()\n")
    snakemake = sleeper(argv=[sys.executable, str(program)], cwd=tmp_path)
    with pytest.raises(WorkdirLockedError, match=f"Snakemake processes {snakemake.pid} run"):
        claim(tmp_path, "c.yaml")
    assert all(lock.exists() for lock in locks)


def test_the_record_stays_while_snakemake_left_its_lock(tmp_path):
    hold(tmp_path, None, locked=False)
    with ownership.claim_workdir(tmp_path, "c.yaml") as record:
        # Snakemake locks, then dies without unlocking.
        (tmp_path / ".snakemake" / "locks" / "0.input.lock").write_text("x\n")
    assert ownership.read_record(tmp_path) == record


def test_unlock_through_neural_mi_run(tmp_path, temp_dir):
    """`neural-mi run CONFIG --unlock` reaches Snakemake; the lock and record are gone."""
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text()))
    )
    locks = hold(tmp_path, None)
    status, table = launch.run_workflow(config, "1", ["--unlock", "--directory", str(tmp_path)])
    assert (status, table) == (0, None)
    assert not any(lock.exists() for lock in locks)
    assert ownership.read_record(tmp_path) is None
    assert list(temp_dir.iterdir()) == []


def test_snakemake_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert launch.snakemake_directory(["-n"]) == tmp_path
    for extra in (
        ["--directory", "w"],
        ["--directory=w"],
        ["--dir", "w"],
        ["-d", "w"],
        ["-dw"],
        ["-n", "--directory", "w", "--forcerun", "train"],
    ):
        assert launch.snakemake_directory(extra) == tmp_path / "w", extra


# --------------------------------------------------------------------------------------
# Processes and temporary folders
# --------------------------------------------------------------------------------------


def test_a_process_is_named_by_pid_and_start_stamp(sleeper):
    process = sleeper()
    stamp = start_stamp(process.pid)
    assert is_running(process.pid, stamp)
    assert not is_running(process.pid, stamp + 1)
    process.kill()
    process.wait()
    assert not is_running(process.pid, stamp)


def test_orphaned_temp_folders_are_removed_and_live_ones_kept(temp_dir):
    mine = owned_temp_dir("preload")
    orphan = subprocess.run(
        [
            sys.executable,
            "-c",
            "from neural_mi.processes import owned_temp_dir; print(owned_temp_dir('run'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(orphan).parent == temp_dir
    (Path(orphan) / "socket").write_text("")
    other_host = temp_dir / f"neural-mi-run-00000000-{os.getpid()}-1-abcd"
    older_format = temp_dir / "neural-mi-preload-x1y2z3w4"
    for folder in (other_host, older_format):
        folder.mkdir()
    assert remove_orphaned_temp_dirs() == [Path(orphan)]
    assert sorted(temp_dir.iterdir()) == sorted([mine, other_host, older_format])
