"""Shared fixtures: small, fast data sets and parameters for engine tests; a live SLURM cluster."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import neural_mi as nmi

#: Training settings small enough for unit tests (a task takes a fraction of a second).
FAST_PARAMS = {
    "n_epochs": 4,
    "batch_size": 64,
    "hidden_dim": 16,
    "embedding_dim": 4,
    "n_layers": 1,
    "patience": 2,
    "learning_rate": 1e-3,
}


@pytest.fixture
def fast_params() -> dict:
    return dict(FAST_PARAMS)


@pytest.fixture
def gauss_small() -> tuple[np.ndarray, np.ndarray]:
    """1 bit between two 2-d Gaussians, 900 samples, as (channels, time) arrays."""
    x, y = nmi.datasets.generate_correlated_gaussians(900, 2, 1.0, use_torch=False, seed=3)
    return x.T.copy(), y.T.copy()


# --------------------------------------------------------------------------------------
# Live single-node SLURM cluster (scripts/slurm/up.sh), for the tests marked `slurm`
# --------------------------------------------------------------------------------------
# The session fixture ``slurm_cluster`` starts the cluster (munged, MariaDB, slurmdbd,
# slurmctld, slurmd inside the loopback-only network namespace ``nmi-slurm``) and stops it
# at teardown.  It skips where the machine cannot host it (not root, no apt for missing
# packages, no network namespaces); any other start failure fails the tests, with the
# daemons' log tails in the message.  Set NMI_SLURM_STATE_DIR to use that state directory
# instead of a fresh temporary one (a cluster already running from it is reused, and
# stopped at the end of the session).

REPO = Path(__file__).resolve().parents[1]
SLURM_UP_SH = REPO / "scripts" / "slurm" / "up.sh"
SLURM_DOWN_SH = REPO / "scripts" / "slurm" / "down.sh"
SLURM_EXIT_UNSUPPORTED = 3  # up.sh: this machine cannot host the cluster
SLURM_UP_TIMEOUT_S = 600  # generous: a first run may apt-get install the packages
SLURM_DOWN_TIMEOUT_S = 120
#: sacct states of a job that has not ended yet.
SLURM_ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"})


@dataclass(frozen=True)
class SlurmCluster:
    """Handle on the running test cluster.

    Attributes
    ----------
    state_dir : Path
        Directory with configs, logs, PID files and ``env.sh``.
    env : dict[str, str]
        Process environment for SLURM clients (``SLURM_CONF`` set).
    exec_prefix : tuple[str, ...]
        Command prefix that runs a client inside the cluster's network namespace.
    partition : str
        Name of the default partition.
    """

    state_dir: Path
    env: dict[str, str]
    exec_prefix: tuple[str, ...]
    partition: str

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a client command inside the namespace; returns the finished process (text output).

        ``env`` replaces :attr:`env` (keep ``SLURM_CONF`` in it).
        """
        return subprocess.run(
            [*self.exec_prefix, *args],
            cwd=cwd,
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def up_sh(self, timeout: float = SLURM_UP_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run ``scripts/slurm/up.sh`` on :attr:`state_dir` (idempotent)."""
        return run_slurm_script(SLURM_UP_SH, self.state_dir, timeout)

    def down_sh(self, timeout: float = SLURM_DOWN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run ``scripts/slurm/down.sh`` on :attr:`state_dir` (idempotent)."""
        return run_slurm_script(SLURM_DOWN_SH, self.state_dir, timeout)

    def sacct_state(self, job_id: str, timeout_s: float = 60) -> str:
        """Poll sacct until it reports a final state for ``job_id``; return the last state seen."""
        state = ""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            out = self.run("sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State")
            state = out.stdout.strip()
            if state and state not in SLURM_ACTIVE_STATES:
                break
            time.sleep(0.5)
        return state


def run_slurm_script(
    script: Path, state_dir: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``up.sh`` or ``down.sh`` on ``state_dir``; returns the finished process."""
    return subprocess.run(
        ["bash", str(script), str(state_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _read_env_sh(state_dir: Path) -> dict[str, str]:
    """Parse the ``export NAME=VALUE`` lines of ``env.sh`` (values may be double-quoted)."""
    exports = {}
    for line in (state_dir / "env.sh").read_text().splitlines():
        match = re.fullmatch(r'export (\w+)=(?:"(.*)"|(\S*))', line)
        if match:
            exports[match[1]] = match[2] if match[2] is not None else match[3]
    return exports


def start_slurm_cluster(state_dir: Path) -> SlurmCluster:
    """Run ``up.sh`` on ``state_dir``; skip the test where this machine cannot host a cluster.

    Raises
    ------
    pytest.skip.Exception
        up.sh exited 3 (not root, no apt for missing packages, no namespaces...).
    pytest.fail.Exception
        up.sh failed otherwise (the message holds its output and the daemons' log tails).
    """
    result = run_slurm_script(SLURM_UP_SH, state_dir, SLURM_UP_TIMEOUT_S)
    output = f"{result.stdout}\n{result.stderr}".strip()
    if result.returncode == SLURM_EXIT_UNSUPPORTED:
        pytest.skip(f"SLURM test cluster cannot start here: {result.stderr.strip()}")
    if result.returncode != 0:
        pytest.fail(f"scripts/slurm/up.sh failed (exit {result.returncode}):\n{output}")
    exports = _read_env_sh(state_dir)
    return SlurmCluster(
        state_dir=state_dir,
        env={**os.environ, "SLURM_CONF": exports["SLURM_CONF"]},
        exec_prefix=tuple(exports["NMI_SLURM_EXEC"].split()),
        partition=exports["NMI_SLURM_PARTITION"],
    )


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A running single-node SLURM cluster with accounting; stopped again after the session."""
    if os.geteuid() != 0:
        pytest.skip("SLURM test cluster needs root (daemons run as root in a network namespace)")
    state_dir = Path(os.environ.get("NMI_SLURM_STATE_DIR") or tmp_path_factory.mktemp("slurm"))
    cluster = start_slurm_cluster(state_dir)
    yield cluster
    result = cluster.down_sh()
    assert result.returncode == 0, f"down.sh failed:\n{result.stdout}\n{result.stderr}"
