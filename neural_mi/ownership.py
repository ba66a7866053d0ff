"""Run ownership of a working directory: which ``neural-mi run`` holds it, and its stale locks.

Snakemake locks its working directory while it runs: files
``.snakemake/locks/<n>.input.lock`` and ``<n>.output.lock`` list the files of its jobs, and
a later Snakemake refuses to start on any of them.  It removes them when it exits, also
after an error, a Ctrl-C or SIGTERM; a Snakemake killed outright (SIGKILL, the
out-of-memory killer, a power loss) leaves them behind, and every later run stops with
"Directory cannot be locked" until ``snakemake --unlock``.  ``neural-mi run`` therefore
records who holds the run, in ``.snakemake/neural-mi-run.json`` (:class:`RunRecord`), and
marks every process it starts with the run's id (environment variable :data:`RUN_ID_ENV`,
inherited by Snakemake, its jobs and the preload server).  At the next start,
:func:`claim_workdir` decides:

- the recorded run still has a process on this host: refuse (:class:`WorkdirLockedError`
  naming its pid, host and start time), touching nothing;
- a lock is present and the recorded run (on this host) has no process left, and no other
  Snakemake runs in the directory: the lock is that run's, stale; remove it and say so;
- a lock is present with no record, or with the record of another host: refuse, saying how
  to check and unlock (the run holding it cannot be seen from here).

The record is removed when the run ends, unless Snakemake left its lock behind (it was
killed): then the record stays, for the next start to recognise the lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from .errors import WorkdirLockedError
from .processes import (
    boot_id,
    host_id,
    is_running,
    processes_with_env,
    snakemake_processes_in,
    start_stamp,
)

logger = logging.getLogger(__name__)

#: Environment variable holding the run id, inherited by every process of a run.
RUN_ID_ENV = "NEURAL_MI_RUN_ID"

#: The run record, in the working directory's ``.snakemake`` folder.
RECORD_NAME = "neural-mi-run.json"


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """Who holds a working directory: one ``neural-mi run`` while it runs.

    Attributes
    ----------
    run_id
        Unique id, in the environment (:data:`RUN_ID_ENV`) of every process of the run.
    pid, pgid
        The ``neural-mi run`` process and its process group.
    host, boot
        The machine (:func:`neural_mi.processes.host_id`) and its boot
        (:func:`neural_mi.processes.boot_id`).
    stamp
        The process' start stamp (:func:`neural_mi.processes.start_stamp`): with ``pid``,
        it names the process even after the pid is reused.
    started
        Start time (seconds since the epoch), for people.
    command
        The process' command line.
    """

    run_id: str
    pid: int
    pgid: int
    host: str
    boot: str
    stamp: int
    started: float
    command: tuple[str, ...]

    @classmethod
    def of_this_process(cls) -> RunRecord:
        """The record of a run held by this process."""
        process = psutil.Process()
        return cls(
            run_id=uuid.uuid4().hex,
            pid=process.pid,
            pgid=os.getpgrp(),
            host=host_id(),
            boot=boot_id(),
            stamp=start_stamp(),
            started=process.create_time(),
            command=tuple(process.cmdline()),
        )

    def describe(self) -> str:
        """``neural-mi run pid N on HOST, started at TIME (COMMAND)``."""
        return (
            f"neural-mi run pid {self.pid} on {self.host}, started at {self.started_at} "
            f"({' '.join(self.command)})"
        )

    @property
    def started_at(self) -> str:
        """Start time, local, to the second."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))

    def on_this_host(self) -> bool:
        """Whether the run was started on this machine."""
        return self.host == host_id()

    def running(self) -> list[int]:
        """Pids of the run's processes still running on this host (empty once all ended).

        The ``neural-mi run`` process if it still runs (same pid and start stamp), and any
        process started with the run's id in its environment: Snakemake, its jobs, the
        preload server and its steps, which may outlive a ``neural-mi run`` killed alone.
        """
        if not self.on_this_host() or self.boot != boot_id():
            return []
        pids = processes_with_env(RUN_ID_ENV, self.run_id)
        if is_running(self.pid, self.stamp):
            pids = sorted({self.pid, *pids})
        return pids


def read_record(workdir: str | os.PathLike[str]) -> RunRecord | None:
    """The run record of ``workdir``; None if there is none (or it cannot be read)."""
    try:
        data = json.loads((Path(workdir) / ".snakemake" / RECORD_NAME).read_text())
        return RunRecord(**{**data, "command": tuple(data["command"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def snakemake_locks(workdir: str | os.PathLike[str]) -> list[Path]:
    """Snakemake's lock files in ``workdir`` (empty: not locked)."""
    return sorted((Path(workdir) / ".snakemake" / "locks").glob("*.lock"))


@contextlib.contextmanager
def claim_workdir(
    workdir: str | os.PathLike[str], config: str | Path, unlock_stale: bool = True
) -> Iterator[RunRecord]:
    """Hold ``workdir`` for a run of this process for the duration of the block.

    Decides as the module docstring says, then writes this process' :class:`RunRecord`;
    removes it at the end unless Snakemake left a lock behind.  Two starts at once are
    decided one after the other (an exclusive ``flock`` on ``.snakemake/neural-mi-run.lock``).

    Parameters
    ----------
    workdir
        Snakemake's working directory.
    config
        The run's config file (named in the messages).
    unlock_stale
        Remove the stale lock of a run that has ended (False: leave locks to the run, e.g.
        ``snakemake --unlock``); a live run is refused either way.

    Yields
    ------
    RunRecord
        This run's record.

    Raises
    ------
    WorkdirLockedError
        Another run holds ``workdir``, or a lock cannot be told stale.
    """
    state = Path(workdir) / ".snakemake"
    state.mkdir(parents=True, exist_ok=True)
    path = state / RECORD_NAME
    with open(state / "neural-mi-run.lock", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        previous = read_record(workdir)
        if previous is not None and (running := previous.running()):
            raise WorkdirLockedError(_in_use_message(workdir, previous, running))
        locks = snakemake_locks(workdir)
        if locks and unlock_stale:
            _remove_stale_lock(workdir, config, previous, locks)
        record = RunRecord.of_this_process()
        partial = path.with_name(f"{RECORD_NAME}.{record.pid}")
        partial.write_text(json.dumps(dataclasses.asdict(record), indent=2))
        partial.replace(path)
    try:
        yield record
    finally:
        # A lock left behind means Snakemake was killed: keep the record, so that the next
        # start knows whose lock it is.
        if not snakemake_locks(workdir) and read_record(workdir) == record:
            path.unlink(missing_ok=True)


def _remove_stale_lock(
    workdir: str | os.PathLike[str],
    config: str | Path,
    previous: RunRecord | None,
    locks: Sequence[Path],
) -> None:
    """Remove ``locks`` if they are the lock of the ended run ``previous``; else refuse."""
    unlock = f"`neural-mi run {config} --unlock`"
    where = f"{str(workdir)!r} is locked by Snakemake ({', '.join(p.name for p in locks)})"
    if previous is None:
        raise WorkdirLockedError(
            f"{where}, and no neural-mi run recorded holding it (a plain `snakemake` run, "
            "or a neural-mi run of another version). Make sure that no Snakemake runs in this "
            "directory (`ps -ef | grep snakemake`, on every machine that shares it); then "
            f"remove the lock with {unlock} and run again."
        )
    if not previous.on_this_host():
        raise WorkdirLockedError(
            f"{where} for {previous.describe()}; whether that run still runs cannot be seen "
            f"from {host_id()}. Check on {previous.host} (`ps -p {previous.pid}`); once it "
            f"has ended, remove the lock with {unlock} and run again."
        )
    others = snakemake_processes_in(workdir)
    if others:
        raise WorkdirLockedError(
            f"{where}; the run that took it ({previous.describe()}) has ended, but Snakemake "
            f"processes {', '.join(map(str, others))} run in this directory. Wait for them to "
            "end (or stop them), then run again."
        )
    # Exactly the files seen, as `snakemake --unlock` would (it deletes the locks folder),
    # without reading the workflow, and never a lock taken after this check.
    for lock in locks:
        lock.unlink(missing_ok=True)
    logger.warning(
        "removed the lock of run pid %d started at %s, which is no longer running (%s).",
        previous.pid,
        previous.started_at,
        workdir,
    )


def _in_use_message(
    workdir: str | os.PathLike[str], record: RunRecord, running: Sequence[int]
) -> str:
    stop = f"kill {record.pid}" if record.pid in running else f"kill {' '.join(map(str, running))}"
    return (
        f"{str(workdir)!r} is in use by {record.describe()}: its processes "
        f"{', '.join(map(str, running))} still run. Wait for the run to end, or stop it "
        f"(Ctrl-C where it runs, or `{stop}`), then run again."
    )
