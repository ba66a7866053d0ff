"""Live single-node SLURM cluster brought up by scripts/slurm/up.sh.

The session fixture ``slurm_cluster`` starts the cluster (munged, MariaDB, slurmdbd, slurmctld,
slurmd inside the loopback-only network namespace ``nmi-slurm``) and stops it at teardown. It
skips where the machine cannot host it (not root, no apt for missing packages, no network
namespaces); any other start failure fails the tests, with the daemons' log tails in the message.
Set NMI_SLURM_STATE_DIR to use that state directory instead of a fresh temporary one (a cluster
already running from it is reused, and stopped at the end of the session).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
UP_SH = REPO / "scripts" / "slurm" / "up.sh"
DOWN_SH = REPO / "scripts" / "slurm" / "down.sh"
NETNS = "nmi-slurm"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
# Every process name the cluster can start; none may survive down.sh.
CLUSTER_PROCESSES = (*DAEMONS, "slurmstepd", "slurmscriptd")
EXIT_UNSUPPORTED = 3  # up.sh: this machine cannot host the cluster
UP_TIMEOUT_S = 600  # generous: a first run may apt-get install the packages
DOWN_TIMEOUT_S = 120


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
        self, *args: str, cwd: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a client command inside the namespace; returns the finished process (text output)."""
        return subprocess.run(
            [*self.exec_prefix, *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _run_script(script: Path, state_dir: Path, timeout: float) -> subprocess.CompletedProcess[str]:
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


def _start(state_dir: Path) -> SlurmCluster:
    result = _run_script(UP_SH, state_dir, UP_TIMEOUT_S)
    output = f"{result.stdout}\n{result.stderr}".strip()
    if result.returncode == EXIT_UNSUPPORTED:
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
    cluster = _start(state_dir)
    yield cluster
    result = _run_script(DOWN_SH, state_dir, DOWN_TIMEOUT_S)
    assert result.returncode == 0, f"down.sh failed:\n{result.stdout}\n{result.stderr}"


def _sacct_state(cluster: SlurmCluster, job_id: str, timeout_s: float = 60) -> str:
    """Poll sacct until it reports a final state for ``job_id``; return the last state seen."""
    state = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = cluster.run("sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State")
        state = out.stdout.strip()
        if state and state not in {"PENDING", "RUNNING", "COMPLETING"}:
            break
        time.sleep(0.5)
    return state


def _running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (an init that is slow to reap leaves those)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_is_idempotent_when_healthy(slurm_cluster: SlurmCluster) -> None:
    pids_before = {
        name: (slurm_cluster.state_dir / "pids" / f"{name}.pid").read_text() for name in DAEMONS
    }
    result = _run_script(UP_SH, slurm_cluster.state_dir, 60)
    assert result.returncode == 0, result.stderr
    assert "already up and healthy" in result.stdout
    pids_after = {
        name: (slurm_cluster.state_dir / "pids" / f"{name}.pid").read_text() for name in DAEMONS
    }
    assert pids_after == pids_before


def test_sbatch_job_completes_and_is_accounted(slurm_cluster: SlurmCluster) -> None:
    out_file = slurm_cluster.state_dir / "sbatch_probe.out"
    submitted = slurm_cluster.run(
        "sbatch", "--parsable", f"--output={out_file}",
        f"--partition={slurm_cluster.partition}", "--wrap", "echo probe-$SLURM_JOB_ID",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    assert job_id.isdigit(), submitted.stdout
    assert _sacct_state(slurm_cluster, job_id) == "COMPLETED"
    assert out_file.read_text().strip() == f"probe-{job_id}"


def test_daemons_listen_only_inside_namespace(slurm_cluster: SlurmCluster) -> None:
    inside = slurm_cluster.run("ss", "-Hltunp")
    assert inside.returncode == 0, inside.stderr
    # Positive control: the same ss call does show the daemons in the namespace.
    for name in ("slurmctld", "slurmd", "slurmdbd"):
        assert f'(("{name}"' in inside.stdout, inside.stdout
    host = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True, check=True, timeout=30)
    offenders = [
        line for line in host.stdout.splitlines()
        if any(f'(("{name}"' in line for name in CLUSTER_PROCESSES)
    ]  # fmt: skip
    assert offenders == []


def test_snakemake_slurm_executor_runs_a_rule(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "done.txt"\n\n'
        'rule hello:\n    output: "done.txt"\n    shell: "echo $SLURM_JOB_ID > {output}"\n'
    )
    result = slurm_cluster.run(
        sys.executable, "-m", "snakemake", "--executor", "slurm", "--jobs", "2",
        "--default-resources", f"slurm_partition={slurm_cluster.partition}", "slurm_account=root",
        "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1",
        cwd=tmp_path, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    job_id = (tmp_path / "done.txt").read_text().strip()
    assert job_id.isdigit(), "rule did not run inside a SLURM job"
    assert _sacct_state(slurm_cluster, job_id) == "COMPLETED"


def _comm(pid: int) -> str:
    """Process name of ``pid``; empty if it has exited."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _in_netns(pid: int, netns_inode: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == netns_inode
    except OSError:  # gone, or a zombie
        return False


def test_down_leaves_no_process_and_up_restarts(slurm_cluster: SlurmCluster) -> None:
    # Runs last in this file: stops the session's cluster, checks, and starts it again.
    netns_inode = os.stat(f"/run/netns/{NETNS}").st_ino
    netns_pids = subprocess.run(
        ["ip", "netns", "pids", NETNS], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    ours = {int(pid) for pid in netns_pids}
    ours |= {int((slurm_cluster.state_dir / "pids" / f"{n}.pid").read_text()) for n in DAEMONS}
    assert {_comm(pid) for pid in ours} >= set(DAEMONS)

    result = _run_script(DOWN_SH, slurm_cluster.state_dir, DOWN_TIMEOUT_S)
    assert result.returncode == 0, result.stderr

    assert [pid for pid in ours if _running(pid)] == []
    # Nothing of that name may be left in the old namespace either (a host's own munged, say,
    # is not ours and is ignored).
    leftovers = []
    for name in CLUSTER_PROCESSES:
        found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True, timeout=30)
        leftovers += [
            (name, pid) for pid in map(int, found.stdout.split())
            if _running(pid) and (pid in ours or _in_netns(pid, netns_inode))
        ]  # fmt: skip
    assert leftovers == []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert NETNS not in netns.stdout.split()
    assert list((slurm_cluster.state_dir / "pids").glob("*.pid")) == []
    # down.sh is idempotent.
    assert _run_script(DOWN_SH, slurm_cluster.state_dir, DOWN_TIMEOUT_S).returncode == 0

    # Restart on the kept state (MariaDB data, munge key) so later users of the fixture still
    # have a cluster.
    restarted = _start(slurm_cluster.state_dir)
    node = restarted.run("sinfo", "-h", "-n", "localhost", "-o", "%T")
    assert node.stdout.strip() == "idle", node.stderr
