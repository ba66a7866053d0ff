"""Start Snakemake for ``neural-mi run``: workflow, profile, progress, preload server, ownership.

Workflow and profiles.  An installed wheel carries the workflow (Snakefile, rules, schemas,
report templates) in ``neural_mi/_workflow`` and the profiles in ``neural_mi/_profiles``; a
checkout (an editable install, ``pip install -e .``) uses its top-level ``workflow/`` and
``profiles/`` (:func:`resource_dir`).  ``neural-mi run CONFIG`` runs with the ``local``
profile and ``--cores all``; ``--profile slurm`` (or any packaged name) or ``--profile DIR``
(a folder holding a Snakemake ``config.yaml``) runs with that profile alone, nothing of the
local one added (:func:`snakemake_command`).  Snakemake runs in the current directory (or
its ``--directory``), so ``results_dir`` and relative data paths resolve against it.

Progress.  Snakemake's own output goes to ``logs/neural-mi-run-<time>.log`` in the working
directory; the console shows one line of progress (jobs done of total, failures, retries,
an estimate of the time left), each failure as it happens, and at the end the log's last
lines if the run failed (:class:`Progress`).  Dry runs and ``--unlock`` print Snakemake's
output as it is.

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
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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

#: The installed package, and the checkout it may be installed from (editable install).
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

#: Profiles shipped with the package (``--profile NAME``).
PACKAGED_PROFILES = ("local", "slurm")

#: Environment variable holding the run id, inherited by every process of a run.
RUN_ID_ENV = "NEURAL_MI_RUN_ID"

#: The run record, in the working directory's ``.snakemake`` folder.
RECORD_NAME = "neural-mi-run.json"
#: Sessions whose data passed the checks at the start of a run (see
#: :func:`neural_mi.config.checks.check_config`), in Snakemake's folder.
CHECKED_NAME = "neural-mi-checked.json"

#: Snakemake arguments that make it a dry run (no lock, no jobs).
DRY_RUN_FLAGS = frozenset({"-n", "--dry-run", "--dryrun"})


def resource_dir(name: str) -> Path:
    """Where the package's ``workflow`` or ``profiles`` folder is.

    A wheel carries them as ``neural_mi/_<name>``; a checkout (editable install) has them at
    its top level.

    Raises
    ------
    ConfigError
        If neither exists (a broken installation).
    """
    for candidate in (PACKAGE_DIR / f"_{name}", REPO_DIR / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"neural-mi run cannot find its {name} folder (looked for {PACKAGE_DIR / f'_{name}'} "
        f"and {REPO_DIR / name}); reinstall neural_mi."
    )


def snakefile() -> Path:
    """The workflow's Snakefile."""
    return resource_dir("workflow") / "Snakefile"


def profile_dir(profile: str | os.PathLike[str]) -> Path:
    """The profile folder ``profile`` names: a packaged profile (``local``, ``slurm``) or a
    folder holding a Snakemake ``config.yaml``.

    Raises
    ------
    ConfigError
        If ``profile`` is neither.
    """
    text = str(profile)
    if text in PACKAGED_PROFILES:
        return resource_dir("profiles") / text
    folder = Path(text).expanduser()
    if (folder / "config.yaml").is_file():
        return folder.resolve()
    raise ConfigError(
        f"profile {text!r} is neither a packaged profile ({', '.join(PACKAGED_PROFILES)}) nor "
        "a folder holding a Snakemake config.yaml."
    )


def profile_is_local(profile: str | os.PathLike[str]) -> bool:
    """Whether a profile runs the jobs on this machine (no ``executor``, or ``local``)."""
    import yaml

    try:
        settings = yaml.safe_load((profile_dir(profile) / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the profile {str(profile)!r}: {exc}") from exc
    return settings.get("executor", "local") in (None, "local")


def snakemake_command(
    config: str | Path,
    cores: str | None,
    extra: Sequence[str],
    profile: str | os.PathLike[str] = "local",
) -> list[str]:
    """The Snakemake command line ``neural-mi run`` executes.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of ``--cores`` (a number or ``all``).  None: ``all`` with a local profile;
        with a cluster profile, none (the profile's ``cores`` sizes the job groups).
    extra
        Further Snakemake arguments, passed through unchanged.
    profile
        A packaged profile name or a profile folder (:func:`profile_dir`).
    """
    if cores is None and profile_is_local(profile):
        cores = "all"
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile()),
        "--configfile",
        str(config),
        "--profile",
        str(profile_dir(profile)),
        *(["--cores", str(cores)] if cores is not None else []),
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
    config: str | Path,
    cores: str | None = None,
    extra: Sequence[str] = (),
    preload: bool = True,
    profile: str | os.PathLike[str] = "local",
) -> tuple[int, Path | None]:
    """Run the workflow in Snakemake's working directory (the current one by default).

    Everything a job would refuse is checked first (the config, the plan against the data's
    headers, and the data of every session that changed since it last passed:
    :func:`neural_mi.config.checks.check_config`), so a bad input stops the run before any
    job.  The working directory is then claimed (:func:`claim_workdir`; not for dry runs).  Then
    the preload server and Snakemake start; while Snakemake parses the config and builds the
    DAG, this process reads the config too (for the results folder), imports pandas (for the
    table) and deletes the temporary folders of killed runs, so none of it adds to the run's
    wall time.
    A Ctrl-C reaches Snakemake too; this process then waits for it to stop its jobs.
    SIGTERM is passed on to Snakemake (which lets its running jobs finish, then stops) and
    waited for likewise.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of Snakemake's ``--cores``; None: see :func:`snakemake_command`.
    extra
        Further Snakemake arguments, passed through unchanged.
    preload
        Start the rules' steps from a preload server (:mod:`neural_mi.preload`; Linux,
        local profiles, not for dry runs) instead of a fresh interpreter each.
    profile
        A packaged profile name (``local``, ``slurm``) or a profile folder.

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
        ``config`` or the profile does not exist.
    WorkdirLockedError
        Another run holds the working directory (see :func:`claim_workdir`).
    """
    if not Path(config).is_file():
        raise ConfigError(f"config file {str(config)!r} not found.")
    local = profile_is_local(profile)
    dry_run = any(arg in DRY_RUN_FLAGS for arg in extra)
    unlock = "--unlock" in extra
    if not unlock:  # everything a job would refuse, refused now, before any job
        from .config.checks import check_config

        workdir = snakemake_directory(extra)
        check_config(config, checked=workdir / ".snakemake" / CHECKED_NAME)
    temp = owned_temp_dir("run")
    try:
        # The rules call `neural-mi`: make this environment's scripts directory come first.
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        if local:
            # Snakemake's temporary files (and its jobs') go to the run's folder; cluster
            # jobs inherit the environment, and this folder is not on their machines.
            env["TMPDIR"] = str(temp)
        # (An option Snakemake otherwise sets for its own subprocesses: without it, it keeps
        # the cache in a temporary folder of the user's cache directory.)
        command = snakemake_command(
            config,
            cores,
            ["--runtime-source-cache-path", str(temp / "source-cache"), *extra],
            profile,
        )
        workdir = snakemake_directory(extra)
        with contextlib.ExitStack() as stack:
            if not dry_run:
                record = stack.enter_context(
                    claim_workdir(workdir, config, unlock_stale=not unlock)
                )
                env[RUN_ID_ENV] = record.run_id
            enabled = preload and local and not dry_run and not unlock
            preload_env = stack.enter_context(preload_server(enabled=enabled, env=env))
            progress = None if dry_run or unlock else Progress(workdir / "logs")
            output = stack.enter_context(progress.log_file()) if progress else None
            process = subprocess.Popen(
                command,
                env={**env, **preload_env},
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
            if progress is not None:
                stack.enter_context(progress.following(process))
            with _sigterm_passed_to(process):
                table = None
                try:
                    table = _summary_path(config)
                    remove_orphaned_temp_dirs()
                finally:
                    status = _wait(process)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    if progress is not None:
        progress.finish(status)
    ok = status == 0 and not (dry_run or unlock) and table is not None and table.is_file()
    return status, table if ok else None


class Progress:
    """What a person sees of a run: one line of progress, failures, the log file's name.

    Snakemake writes everything to :attr:`log` (``<logs>/neural-mi-run-<time>.log``); a
    thread reads it as it grows (:meth:`following`) and writes to standard error: on a
    terminal, one line rewritten in place; elsewhere, a line whenever a job finishes (at
    most one every :data:`PLAIN_INTERVAL_S` seconds) or fails.

    Parameters
    ----------
    logs
        Folder of the log file (created).
    stream
        Where the progress goes (default: standard error).
    """

    #: Snakemake's lines the progress is read from.
    STEPS = re.compile(r"^(\d+) of (\d+) steps \(.*\) done")
    TOTAL = re.compile(r"^total\s+(\d+)\s*$")
    ERROR = re.compile(r"^Error in (rule|group job|group) (\S+?):?\s*$")
    DETAIL = re.compile(r"^\s+(wildcards|log|jobid):\s*(.*)$")
    RETRY = re.compile(r"Trying to restart job")
    #: Least seconds between two progress lines when standard error is not a terminal.
    PLAIN_INTERVAL_S = 10.0
    #: Lines of the log shown when the run fails.
    TAIL_LINES = 25

    def __init__(self, logs: Path, stream: Any = None) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.log = logs / f"neural-mi-run-{time.strftime('%Y%m%d-%H%M%S')}.log"
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = self.total = self.failed = self.retries = 0
        self.start = time.monotonic()
        self._last_line = 0.0
        self._error: list[str] | None = None

    @contextlib.contextmanager
    def log_file(self) -> Iterator[Any]:
        """The file Snakemake writes to, open for the block."""
        with open(self.log, "w") as handle:
            self._say(f"neural-mi run: Snakemake's log: {self.log}", newline=True)
            yield handle

    @contextlib.contextmanager
    def following(self, process: subprocess.Popen) -> Iterator[None]:
        """Follow the log in a thread while the block runs (and until ``process`` ends)."""
        stop = threading.Event()
        thread = threading.Thread(target=self._follow, args=(process, stop), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def finish(self, status: int) -> None:
        """Final line; on failure, the log's last lines and its name."""
        if self.total:
            self._show(force=True)
            if self.tty:
                self.stream.write("\n")
        if status != 0:
            lines = self.log.read_text(errors="replace").splitlines()[-self.TAIL_LINES :]
            tail = "\n".join(f"  | {line}" for line in lines)
            self._say(
                f"neural-mi run: Snakemake exited with status {status}; the end of its log "
                f"({self.log}):\n{tail}",
                newline=True,
            )
        self.stream.flush()

    def read(self, line: str) -> None:
        """Take in one line of Snakemake's output."""
        line = line.rstrip("\n")
        if self._error is not None:
            detail = self.DETAIL.match(line)
            if detail:
                self._error.append(f"{detail[1]} {detail[2]}")
            if not line.strip() or line.startswith(("Shell command", "[")):
                self._say(f"neural-mi run: job failed: {', '.join(self._error)}", newline=True)
                self._error = None
            return
        if match := self.STEPS.match(line):
            # (A smaller total is a cluster job's own Snakemake, in a failed job's log.)
            if int(match[2]) >= self.total:
                self.done, self.total = int(match[1]), int(match[2])
        elif match := self.TOTAL.match(line):
            self.total = max(self.total, int(match[1]))
        elif match := self.ERROR.match(line):
            self.failed += 1
            self._error = [f"{match[1]} {match[2]}"]
        elif self.RETRY.search(line):
            self.retries += 1

    def status(self) -> str:
        """``12/40 jobs done, 1 failed, 1 retried, about 3 min left (elapsed 1 min)``."""
        elapsed = time.monotonic() - self.start
        parts = [f"{self.done}/{self.total or '?'} jobs done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.retries:
            parts.append(f"{self.retries} retried")
        if 0 < self.done < self.total:
            left = elapsed / self.done * (self.total - self.done)
            parts.append(f"about {_duration(left)} left")
        return f"neural-mi run: {', '.join(parts)} (elapsed {_duration(elapsed)})"

    def _follow(self, process: subprocess.Popen, stop: threading.Event) -> None:
        with open(self.log, errors="replace") as handle:
            pending = ""
            while True:
                chunk = handle.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        before = (self.done, self.failed, self.retries)
                        self.read(line)
                        if (self.done, self.failed, self.retries) != before:
                            self._show(force=self.failed != before[1])
                elif process.poll() is not None or stop.is_set():
                    if pending:
                        self.read(pending)
                    return
                else:
                    if self.tty:
                        self._show(force=True)
                    stop.wait(0.5)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.tty and not force and now - self._last_line < self.PLAIN_INTERVAL_S:
            return
        self._last_line = now
        if self.tty:
            self.stream.write(f"\r\x1b[K{self.status()}")
            self.stream.flush()
        else:
            self._say(self.status(), newline=True)

    def _say(self, text: str, newline: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + ("\n" if newline else ""))
        self.stream.flush()


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


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
