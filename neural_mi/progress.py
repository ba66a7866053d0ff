"""The console of ``neural-mi run``: one line of progress read from Snakemake's log.

Snakemake's own output goes to ``logs/neural-mi-run-<time>.log`` in the working
directory; the console shows one line of progress (jobs done of total, failures, retries,
an estimate of the time left), each failure as it happens, and at the end the log's last
lines if the run failed (:class:`Progress`).  Dry runs and ``--unlock`` print Snakemake's
output as it is.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
