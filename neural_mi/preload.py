"""Run the workflow's steps in processes forked from one that has imported them already.

Every job of the workflow is a shell command (``neural-mi prepare``, ``train-tasks``,
``aggregate``, ``collect``), so a run starts Python once per job, and each job imports
what its step needs again: torch for a train job, xarray, pandas, zarr and matplotlib for
aggregate and collect (what that costs: ``docs/performance.md``).  On Linux,
``neural-mi run`` therefore
starts a *preload server* next to Snakemake (:func:`preload_server`): one process that
imports all of it once, on the second core while Snakemake parses the workflow, and then
forks one process per step on request.  The ``neural-mi`` command started by a rule hands
the server its arguments, working directory, environment and standard streams
(:func:`run_step`), waits, and exits with the step's status.  When no server answers, the
command runs the step itself, as it always does under plain ``snakemake``; so does every
SLURM job, which must run inside its own allocation.  The server changes how fast a step
starts, never what it computes.

The server process is :mod:`neural_mi.preload_serve`.

Protocol, one Unix stream connection per step: the client sends an 8-byte payload length
with its descriptors 0, 1 and 2 attached (``SCM_RIGHTS``), then the JSON payload
``{"argv", "cwd", "env"}``; the server answers the pid of the step's process (8 bytes)
and, once that process has ended, its exit status (4 bytes, as
:func:`os.waitstatus_to_exitcode`: minus the signal number if a signal ended it).

Signals: a Ctrl-C at the terminal reaches the step's process directly (it is in the
terminal's process group), so the client ignores SIGINT; SIGTERM and SIGHUP sent to the
client are passed on to the step.  The server ignores SIGINT, and when ``neural-mi run``
closes its standard input (or dies) it terminates the steps still running and exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType

#: Environment variable naming the server's socket (set by ``neural-mi run``).
ENV_VAR = "NEURAL_MI_PRELOAD"

#: ``neural-mi`` subcommands that the server runs (the workflow's rule steps).
STEPS = frozenset({"prepare", "train-tasks", "aggregate", "collect"})

#: What the server imports (everything the steps import), one by one, serving the requests
#: that arrive in between; in the order the workflow needs them: prepare's modules first,
#: then train's, then those of aggregate and collect.
PRELOAD_MODULES = (
    "neural_mi.cli",
    "neural_mi.workflow.steps",
    "neural_mi.config",
    "neural_mi.data",
    "neural_mi.prepared",
    "neural_mi.store",
    "zarr",
    "zarr.api.asynchronous",
    "torch",
    "neural_mi.engine.execution",
    "scipy.special",
    "pandas",
    "xarray",
    "neural_mi.aggregate",
    "neural_mi.results",
    "h5netcdf",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "neural_mi.plot",
)

#: Size of a Unix socket's path field (``sun_path``, with its final NUL) on Linux.
SOCKET_PATH_MAX = 108

#: Seconds the server gives its steps to stop after SIGTERM when it shuts down.
SHUTDOWN_GRACE = 10.0

logger = logging.getLogger(__name__)

LENGTH = struct.Struct("!Q")
PID = struct.Struct("!q")
STATUS = struct.Struct("!i")


# --------------------------------------------------------------------------------------
# Client: the `neural-mi` command of a rule
# --------------------------------------------------------------------------------------


def run_step(argv: Sequence[str]) -> int | None:
    """Run ``neural-mi ARGV`` in a process forked by the preload server, if there is one.

    Parameters
    ----------
    argv
        The command's arguments (without the program name).

    Returns
    -------
    int or None
        The step's exit status (``128 + N`` if signal ``N`` ended it, as a shell
        reports it); None when ``argv`` is not a rule step or no server answers
        (:data:`ENV_VAR` unset, nobody listening on its socket (a warning on stderr says
        so), or a SLURM job): the caller then runs the step itself.
    """
    path = os.environ.get(ENV_VAR)
    # A SLURM job runs its step itself, inside the resources SLURM gave it.
    if not path or not argv or argv[0] not in STEPS or "SLURM_JOB_ID" in os.environ:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        print(
            f"neural-mi: warning: {ENV_VAR} names {path!r}, but no preload server answers "
            f"({exc.strerror}); the step starts in this process.",
            file=sys.stderr,
        )
        return None
    with sock:
        payload = json.dumps(
            {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}
        ).encode()
        socket.send_fds(sock, [LENGTH.pack(len(payload))], [0, 1, 2])
        sock.sendall(payload)
        pid = _receive(sock, PID)
        if pid is None:
            return _lost()

        def forward(signum: int, frame: FrameType | None) -> None:
            send_signal(pid, signum)

        handlers: dict[int, Callable[[int, FrameType | None], None] | signal.Handlers] = {
            signal.SIGINT: signal.SIG_IGN,
            signal.SIGTERM: forward,
            signal.SIGHUP: forward,
        }
        previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
        try:
            status = _receive(sock, STATUS)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    if status is None:
        return _lost()
    return status if status >= 0 else 128 - status


def _lost() -> int:
    print("neural-mi: error: the preload server stopped before the step ended.", file=sys.stderr)
    return 1


def send_signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _receive(sock: socket.socket, fmt: struct.Struct) -> int | None:
    """One integer of format ``fmt``; None if the connection closed first."""
    try:
        return fmt.unpack(exactly(sock, fmt.size))[0]
    except ConnectionError:
        return None


def exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock``; ConnectionError if it closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def preload_server(
    enabled: bool = True, env: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Run a preload server for the duration of the block (Linux only).

    The server's socket lies in a temporary folder named for this process
    (:func:`neural_mi.processes.owned_temp_dir`), deleted when the block ends, also on
    Ctrl-C; if this process is killed outright, the next ``neural-mi run`` deletes it
    (:func:`neural_mi.processes.remove_orphaned_temp_dirs`).

    Parameters
    ----------
    enabled
        False: start nothing (the block's steps start Python themselves).
    env
        The server's environment (default: this process').

    Yields
    ------
    dict
        Environment variables that point the steps at the server (:data:`ENV_VAR`);
        empty when no server was started.
    """
    if not enabled or not sys.platform.startswith("linux"):
        yield {}
        return
    from .processes import owned_temp_dir

    folder = owned_temp_dir("preload")
    path = str(folder / "socket")
    if len(os.fsencode(path)) >= SOCKET_PATH_MAX:
        shutil.rmtree(folder, ignore_errors=True)
        logger.warning(
            "No preload server: its socket path %r is longer than Unix sockets allow (%d "
            "bytes); every step starts its own interpreter. A shorter TMPDIR avoids this.",
            path,
            SOCKET_PATH_MAX - 1,
        )
        yield {}
        return
    try:
        # Bound and listening before any step can ask: early clients wait in the backlog.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            listener.listen(64)
            server = subprocess.Popen(
                [sys.executable, "-m", "neural_mi.preload_serve", str(listener.fileno())],
                stdin=subprocess.PIPE,
                pass_fds=[listener.fileno()],
                env=env,
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield {ENV_VAR: path}
    finally:
        if server.stdin is not None:  # always: the server was started with stdin=PIPE
            server.stdin.close()
        try:
            server.wait(timeout=SHUTDOWN_GRACE + 5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)
