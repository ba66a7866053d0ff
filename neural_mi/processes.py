"""Which processes still run, and temporary folders that go away with the process owning them.

``neural-mi run`` must tell a run that is still going from one that was killed outright
(SIGKILL, the out-of-memory killer, a power loss), which cleans up nothing.  A process is
named by its pid *and* its start stamp (:func:`start_stamp`), since the kernel hands a dead
process' pid to the next program that starts.  The processes a run started are found by an
environment variable they all inherit (:func:`processes_with_env`).  Process tables are read
with psutil (a dependency of Snakemake), so this works wherever Snakemake does.

Temporary folders (:func:`owned_temp_dir`) carry their owner's host, pid and start stamp in
their name; :func:`remove_orphaned_temp_dirs` deletes those of owners that no longer run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import zlib
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

#: Prefix of the temporary folders made by :func:`owned_temp_dir`.
TEMP_PREFIX = "neural-mi-"

_TEMP_NAME = re.compile(rf"{TEMP_PREFIX}[a-z]+-([0-9a-f]{{8}})-(\d+)-(\d+)-[^-]+")


def host_id() -> str:
    """This machine's network name (the host a run record names)."""
    return socket.gethostname()


def start_stamp(pid: int | None = None) -> int:
    """When process ``pid`` (default: this one) started, as an integer that never changes.

    On Linux: clock ticks from boot to the start (``/proc/<pid>/stat``), unaffected by
    changes of the wall clock; elsewhere: the start time in hundredths of a second, as the
    kernel recorded it.  Together with the pid it names one process of this host's boot.

    Raises
    ------
    ProcessLookupError
        No process ``pid`` exists (or it is a zombie: it ended, unreaped).
    """
    pid = os.getpid() if pid is None else pid
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            raise ProcessLookupError(pid) from None
        # Fields after the command name (in parentheses, which may hold spaces): state is
        # field 3 of stat(5), starttime field 22.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] in ("Z", "X"):
            raise ProcessLookupError(pid)
        return int(fields[19])
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            raise ProcessLookupError(pid)
        return round(process.create_time() * 100)
    except psutil.NoSuchProcess:
        raise ProcessLookupError(pid) from None


def boot_id() -> str:
    """An identifier of this host's current boot ('' where the system offers none).

    Start stamps count from boot on Linux: a record from an earlier boot names no process
    that still runs.
    """
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return ""


def is_running(pid: int, stamp: int) -> bool:
    """Whether the process ``pid`` that started at ``stamp`` (:func:`start_stamp`) still runs.

    False when ``pid`` is gone, is a zombie, or now belongs to a process that started later.
    """
    try:
        return start_stamp(pid) == stamp
    except (ProcessLookupError, PermissionError):
        return False


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of this host's running processes (other than this one) started with
    ``name=value`` in their environment.

    A process' starting environment is what the kernel shows of it; every process started
    from one holding ``name=value`` holds it too, unless it was started with another
    environment.  Processes of other users, which cannot be read, are not listed.
    """
    pids = []
    for process in psutil.process_iter(["environ"]):
        environ = process.info["environ"]
        if environ and environ.get(name) == value and process.pid != os.getpid():
            pids.append(process.pid)
    return sorted(pids)


def snakemake_processes_in(directory: str | os.PathLike[str]) -> list[int]:
    """Pids of this host's running Snakemake processes whose working directory is
    ``directory`` (the processes of other users are not seen)."""
    directory = os.path.realpath(directory)
    pids = []
    for process in psutil.process_iter(["cwd", "cmdline"]):
        cwd, cmdline = process.info["cwd"], process.info["cmdline"]
        if cwd is None or not cmdline or os.path.realpath(cwd) != directory:
            continue
        # `python -m snakemake ...`, `python .../bin/snakemake ...` or `.../bin/snakemake ...`
        if any(Path(arg).name.startswith("snakemake") for arg in cmdline[:3]):
            pids.append(process.pid)
    return sorted(pids)


def _host_tag() -> str:
    return f"{zlib.crc32(host_id().encode()):08x}"


def owned_temp_dir(kind: str) -> Path:
    """A new temporary folder owned by this process.

    Its name, ``neural-mi-<kind>-<host>-<pid>-<stamp>-<random>`` in the temporary directory,
    says which process owns it, so that :func:`remove_orphaned_temp_dirs` can delete it once
    that process has ended without deleting it (SIGKILL).  The owner deletes it when done.

    Parameters
    ----------
    kind
        Lower-case letters: what the folder holds (``preload``, ``run``).
    """
    if not kind.isalpha() or not kind.islower():
        raise ValueError(f"kind must be lower-case letters, got {kind!r}")
    prefix = f"{TEMP_PREFIX}{kind}-{_host_tag()}-{os.getpid()}-{start_stamp()}-"
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove_orphaned_temp_dirs() -> list[Path]:
    """Delete the folders of :func:`owned_temp_dir` whose owner no longer runs on this host.

    Returns
    -------
    list of Path
        The folders deleted.
    """
    removed = []
    host = _host_tag()
    for path in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        match = _TEMP_NAME.fullmatch(path.name)
        if match is None or match[1] != host or is_running(int(match[2]), int(match[3])):
            continue
        shutil.rmtree(path, ignore_errors=True)
        logger.debug("Removed %s, left by process %s, which no longer runs.", path, match[2])
        removed.append(path)
    return removed
