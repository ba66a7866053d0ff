"""The preload server's process (:mod:`neural_mi.preload`, started by
:func:`~neural_mi.preload.preload_server` as ``python -m neural_mi.preload_serve FD``):
imports what the steps need, then forks one process per step a client asks for and sends
the client its pid and exit status."""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import time
import traceback

from .preload import LENGTH, PID, PRELOAD_MODULES, SHUTDOWN_GRACE, STATUS, exactly, send_signal


def serve(listener_fd: int) -> None:
    """Fork a process per step asked for on the listening socket ``listener_fd`` until
    standard input closes.

    The server preloads :data:`PRELOAD_MODULES` one by one and serves the requests that
    arrive meanwhile between two imports, so a step never waits for more than one of
    them (it imports the rest itself).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = socket.socket(fileno=listener_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    server = _Server(listener, wake_r, wake_w)
    try:
        for name in PRELOAD_MODULES:
            importlib.import_module(name)
            if not server.poll(timeout=0):
                return
        # Imported objects stay out of the steps' garbage collections (and their pages
        # shared); each step ends with os._exit, without a final collection either.
        gc.freeze()
        while server.poll(timeout=None):
            pass
    finally:
        server.stop()
        listener.close()


class _Server:
    """The server's descriptors and running steps (pid -> connection to its client)."""

    def __init__(self, listener: socket.socket, wake_r: int, wake_w: int) -> None:
        self.listener, self.wake_r, self.wake_w = listener, wake_r, wake_w
        self.stdin = sys.stdin.fileno()
        self.steps: dict[int, socket.socket] = {}

    def poll(self, timeout: float | None) -> bool:
        """Handle what is ready within ``timeout`` seconds; False once stdin has closed."""
        ready = select.select([self.listener, self.wake_r, self.stdin], [], [], timeout)[0]
        if self.wake_r in ready:
            os.read(self.wake_r, 4096)
            _reap(self.steps, block=False)
        if self.listener in ready:
            conn = self.listener.accept()[0]
            pid = os.fork()
            if pid == 0:
                _step(conn, closing=(self.listener, self.wake_r, self.wake_w, self.stdin))
            self.steps[pid] = conn
            with contextlib.suppress(OSError):
                conn.sendall(PID.pack(pid))
        return not (self.stdin in ready and not os.read(self.stdin, 4096))

    def stop(self) -> None:
        """Terminate the steps still running (SIGTERM; SIGKILL after
        :data:`SHUTDOWN_GRACE` seconds) and send their statuses."""
        for pid in self.steps:
            send_signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self.steps and time.monotonic() < deadline:
            _reap(self.steps, block=False)
            time.sleep(0.05)
        for pid in self.steps:
            send_signal(pid, signal.SIGKILL)
        _reap(self.steps, block=True)


def _reap(steps: dict[int, socket.socket], block: bool) -> None:
    """Send the exit status of every ended step to its client."""
    while steps:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            steps.clear()
            return
        if pid == 0:
            return
        conn = steps.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(STATUS.pack(os.waitstatus_to_exitcode(status)))
            conn.close()


def _step(conn: socket.socket, closing: tuple) -> None:
    """In the forked process: become ``neural-mi ARGV`` as the client asked, run, exit."""
    status = 1
    try:
        listener, *fds = closing
        listener.close()
        for fd in fds:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        argv, cwd, env = _request(conn)
        conn.close()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["neural-mi", *argv]
        from .cli import main

        status = main(argv)
    except SystemExit as exc:  # argparse's errors (status 2), sys.exit(...)
        if isinstance(exc.code, int):
            status = exc.code
        elif exc.code is None:
            status = 0
        else:
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(int(status))


def _request(conn: socket.socket) -> tuple[list[str], str, dict[str, str]]:
    """Receive a client's request; its descriptors become this process' 0, 1 and 2."""
    header, fds, _, _ = socket.recv_fds(conn, LENGTH.size, 3)
    if len(fds) != 3:
        raise ConnectionError(f"preload request with {len(fds)} descriptors instead of 3")
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    length = LENGTH.unpack(header + exactly(conn, LENGTH.size - len(header)))[0]
    data = exactly(conn, length)
    request = json.loads(data)
    return request["argv"], request["cwd"], request["env"]


if __name__ == "__main__":
    serve(int(sys.argv[1]))
    # Skip the interpreter's teardown of everything preloaded (`neural-mi run` would wait for
    # it).
    os._exit(0)
