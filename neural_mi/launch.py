"""Start Snakemake for ``neural-mi run``: profile, preload server, run ownership.

``neural-mi run CONFIG`` uses the workflow of the checkout this package is installed from (an
editable install, ``pip install -e .``): ``<repo>/workflow/Snakefile`` and
``<repo>/profiles/local``, where ``<repo>`` is the parent of the ``neural_mi`` package
directory.  It runs Snakemake in the current directory (or Snakemake's ``--directory``), so
``results_dir`` and relative data paths resolve against it.

Run ownership.  Snakemake locks its working directory while it runs: files
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

Temporary files: each run has a temporary folder of its own
(:func:`neural_mi.processes.owned_temp_dir`), Snakemake's ``TMPDIR`` and runtime source
cache, deleted at the end; every start deletes those of runs that were killed, and the
preload servers' socket folders likewise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from .errors import ConfigError, NeuralMIError, WorkdirLockedError
from .preload import preload_server
from .processes import (
    boot_id,
    host_id,
    is_running,
    owned_temp_dir,
    processes_with_env,
    remove_orphaned_temp_dirs,
    snakemake_processes_in,
    start_stamp,
)

logger = logging.getLogger(__name__)

#: The repository checkout holding the workflow (editable install: the package's parent).
REPO_DIR = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO_DIR / "workflow" / "Snakefile"
LOCAL_PROFILE = REPO_DIR / "profiles" / "local"

#: Environment variable holding the run id, inherited by every process of a run.
RUN_ID_ENV = "NEURAL_MI_RUN_ID"

#: The run record, in the working directory's ``.snakemake`` folder.
RECORD_NAME = "neural-mi-run.json"

#: Snakemake arguments that make it a dry run (no lock, no jobs).
DRY_RUN_FLAGS = frozenset({"-n", "--dry-run", "--dryrun"})


def snakemake_command(config: str | Path, cores: str, extra: Sequence[str]) -> list[str]:
    """The Snakemake command line ``neural-mi run`` executes.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of ``--cores`` (a number or ``all``).
    extra
        Further Snakemake arguments, passed through unchanged.
    """
    if not SNAKEFILE.is_file():
        raise ConfigError(
            f"neural-mi run needs the workflow at {str(SNAKEFILE)!r}; install neural_mi from a "
            "checkout of its repository with `pip install -e .`."
        )
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--configfile",
        str(config),
        "--profile",
        str(LOCAL_PROFILE),
        "--cores",
        str(cores),
        *extra,
    ]


def snakemake_directory(extra: Sequence[str]) -> Path:
    """The working directory Snakemake runs in: the ``--directory`` (``-d``) of ``extra``,
    else the current one (absolute)."""
    directory = "."
    args = list(extra)
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        # Snakemake takes any unambiguous prefix of a long option: --dir, --direc...
        if len(name) >= 4 and "--directory".startswith(name):
            directory = value if value else args[i + 1] if i + 1 < len(args) else directory
        elif arg == "-d" and i + 1 < len(args):
            directory = args[i + 1]
        elif arg.startswith("-d") and not arg.startswith("--") and len(arg) > 2:
            directory = arg[2:]
    return Path(directory).resolve()


# --------------------------------------------------------------------------------------
# Run ownership
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def run_workflow(
    config: str | Path, cores: str = "all", extra: Sequence[str] = (), preload: bool = True
) -> tuple[int, Path | None]:
    """Run the workflow in Snakemake's working directory (the current one by default).

    The working directory is claimed first (:func:`claim_workdir`; not for dry runs).  Then
    the preload server and Snakemake start; while Snakemake parses the config and builds the
    DAG, this process reads the config too (for the results folder), imports pandas (for the
    table) and deletes the temporary folders of killed runs, so none of it adds to the run's
    wall time.  Errors in the config are Snakemake's to report.
    A Ctrl-C reaches Snakemake too; this process then waits for it to stop its jobs.
    SIGTERM is passed on to Snakemake (which lets its running jobs finish, then stops) and
    waited for likewise.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of Snakemake's ``--cores``.
    extra
        Further Snakemake arguments, passed through unchanged.
    preload
        Start the rules' steps from a preload server (:mod:`neural_mi.preload`; Linux,
        not for dry runs) instead of a fresh interpreter each.

    Returns
    -------
    status : int
        Snakemake's exit status.
    table : Path or None
        ``<results_dir>/summary.csv`` when the run succeeded, ran the workflow and was not a
        dry run.

    Raises
    ------
    ConfigError
        ``config`` does not exist.
    WorkdirLockedError
        Another run holds the working directory (see :func:`claim_workdir`).
    """
    if not Path(config).is_file():
        raise ConfigError(f"config file {str(config)!r} not found.")
    dry_run = any(arg in DRY_RUN_FLAGS for arg in extra)
    unlock = "--unlock" in extra
    temp = owned_temp_dir("run")
    try:
        # The rules call `neural-mi`: make this environment's scripts directory come first.
        # Snakemake's temporary files (and its jobs') go to the run's folder.
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "TMPDIR": str(temp),
        }
        # (An option Snakemake otherwise sets for its own subprocesses: without it, it keeps
        # the cache in a temporary folder of the user's cache directory.)
        command = snakemake_command(
            config, cores, ["--runtime-source-cache-path", str(temp / "source-cache"), *extra]
        )
        with contextlib.ExitStack() as stack:
            if not dry_run:
                workdir = snakemake_directory(extra)
                record = stack.enter_context(
                    claim_workdir(workdir, config, unlock_stale=not unlock)
                )
                env[RUN_ID_ENV] = record.run_id
            enabled = preload and not dry_run and not unlock
            preload_env = stack.enter_context(preload_server(enabled=enabled, env=env))
            process = subprocess.Popen(command, env={**env, **preload_env})
            with _sigterm_passed_to(process):
                table = None
                try:
                    table = _summary_path(config)
                    remove_orphaned_temp_dirs()
                finally:
                    status = _wait(process)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    ok = status == 0 and not (dry_run or unlock) and table is not None and table.is_file()
    return status, table if ok else None


def _summary_path(config: str | Path) -> Path | None:
    """``<results_dir>/summary.csv`` of ``config``; None if the config is invalid."""
    import pandas  # noqa: F401  (for format_summary, imported while Snakemake works)
    import yaml

    from .config import load_config

    try:
        return Path(load_config(config).results_dir) / "summary.csv"
    except (NeuralMIError, OSError, yaml.YAMLError):
        return None


@contextlib.contextmanager
def _sigterm_passed_to(process: subprocess.Popen) -> Iterator[None]:
    """While the block runs, a SIGTERM to this process goes to ``process`` instead (from
    the main thread only, where Python handles signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: process.send_signal(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait(process: subprocess.Popen) -> int:
    """Snakemake's exit status; a Ctrl-C reaches Snakemake too, so keep waiting for it."""
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue
