"""Live single-node SLURM cluster brought up by scripts/slurm/up.sh.

The session fixture ``slurm_cluster`` (tests/conftest.py) starts the cluster and stops it at
teardown; it skips where the machine cannot host it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SlurmCluster

pytestmark = pytest.mark.slurm

NETNS = "nmi-slurm"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
# Every process name the cluster can start; none may survive down.sh.
CLUSTER_PROCESSES = (*DAEMONS, "slurmstepd", "slurmscriptd")


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
    result = slurm_cluster.up_sh(timeout=60)
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
    assert slurm_cluster.sacct_state(job_id) == "COMPLETED"
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
    assert slurm_cluster.sacct_state(job_id) == "COMPLETED"


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

    result = slurm_cluster.down_sh()
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
    assert slurm_cluster.down_sh().returncode == 0

    # Restart on the kept state (MariaDB data, munge key) so later users of the fixture still
    # have a cluster.
    restarted = slurm_cluster.up_sh()
    assert restarted.returncode == 0, f"{restarted.stdout}\n{restarted.stderr}"
    node = slurm_cluster.run("sinfo", "-h", "-n", "localhost", "-o", "%T")
    assert node.stdout.strip() == "idle", node.stderr
