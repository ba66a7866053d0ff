"""The preload server (``neural_mi.preload``): rule steps forked from a process that has
imported them already, with the client's arguments, directory, environment, streams and
signals, and the same numbers as a step run in a fresh process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from neural_mi.preload import ENV_VAR, SHUTDOWN_GRACE, preload_server, run_step
from neural_mi.store import read_results
from neural_mi.workflow.plan import workflow_plan

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the preload server runs on Linux only"
)

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "config" / "test_tiny.yaml"
NEURAL_MI = Path(sys.executable).parent / "neural-mi"
FAIL_ONCE = REPO / "tests" / "support" / "fail_once.py"


@pytest.fixture(scope="module")
def server() -> str:
    """Socket path of a preload server that lives as long as this module's tests."""
    with preload_server() as env:
        yield env[ENV_VAR]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A folder with the tiny config planned twice (results ``forked`` and ``fresh``), as
    the workflow plans it; the current directory during the test."""
    config = yaml.safe_load(TINY.read_text())
    # The estimate analysis trains long enough to be interrupted (1 task, 1 pack).
    config["analyses"][1]["base_params"].update(n_epochs=100_000, patience=100_000)
    config["plugins"] = [str(FAIL_ONCE)]
    monkeypatch.chdir(tmp_path)
    for results in ("forked", "fresh"):
        workflow_plan({**config, "results_dir": results}).write_files()
    return tmp_path


def pack_args(analysis: str, results: str) -> list[str]:
    plan = workflow_plan({**yaml.safe_load(TINY.read_text()), "results_dir": results})
    pack = next(iter(plan.analyses[("tiny", analysis)].packs))
    return [
        "train-tasks",
        plan.pack_marker("tiny", analysis, pack),
        "--data",
        f"{results}/tiny/data.zarr",
    ]


def prepare(results: str = "forked") -> list[str]:
    return ["prepare", "--out", f"{results}/tiny/data.zarr"]


PREPARE = prepare()


def test_a_step_gets_the_clients_directory_environment_and_streams(
    server, workdir, monkeypatch, capfd
):
    monkeypatch.setenv(ENV_VAR, server)
    # Relative paths: the step works in the client's directory.
    assert run_step(PREPARE) == 0
    assert (workdir / "forked" / "tiny" / "data.zarr").is_dir()
    # The test plugin reads the client's environment and argv; the error reaches the
    # client's stderr.
    marker = workdir / "failed-once"
    monkeypatch.setenv("NEURAL_MI_FAIL_ONCE", str(marker))
    assert run_step(pack_args("rigorous", "forked")) == 1
    assert marker.exists()
    err = capfd.readouterr().err
    assert "neural-mi train-tasks: error: " in err and "test plugin NEURAL_MI_FAIL_ONCE" in err


def test_a_forked_step_gives_the_numbers_of_a_step_in_a_fresh_process(server, workdir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, server)
    assert run_step(PREPARE) == 0
    assert run_step(pack_args("rigorous", "forked")) == 0
    monkeypatch.delenv(ENV_VAR)
    assert subprocess.run([str(NEURAL_MI), *prepare("fresh")], cwd=workdir).returncode == 0
    fresh = subprocess.run(
        [str(NEURAL_MI), *pack_args("rigorous", "fresh")],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    forked, fresh = (
        read_results(workdir / name / "tiny" / "rigorous" / "tasks" / "p000")
        for name in ("forked", "fresh")
    )
    assert forked.sizes["task"] == 3
    assert list(forked["key"].values) == list(fresh["key"].values)
    assert (forked["test_mi"].values == fresh["test_mi"].values).all()


def test_exit_statuses_and_what_is_not_served(server, workdir, monkeypatch, capfd):
    monkeypatch.setenv(ENV_VAR, server)
    assert run_step(["aggregate"]) == 2  # argparse: missing arguments
    assert "the following arguments are required" in capfd.readouterr().err
    assert run_step(["plan", "config.yaml"]) is None  # not a rule step
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    assert run_step(PREPARE) is None  # a SLURM job keeps its step in its own allocation
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv(ENV_VAR, str(workdir / "no-such-socket"))
    assert run_step(PREPARE) is None  # no server: the caller runs the step itself
    assert "no preload server answers" in capfd.readouterr().err


def _start_long_step(workdir: Path, env: dict[str, str]) -> subprocess.Popen:
    """A client running the long estimate task; returns once training has begun."""
    assert run_step(PREPARE) in (0, None) and (workdir / "forked" / "tiny" / "data.zarr").is_dir()
    log = workdir / "long.log"
    with log.open("w") as out:
        client = subprocess.Popen(
            [str(NEURAL_MI), *pack_args("quick", "forked")],
            cwd=workdir,
            env={**os.environ, **env},
            stdout=out,
            stderr=out,
        )
    deadline = time.monotonic() + 120
    while "Training 1 task(s)" not in log.read_text():
        assert client.poll() is None, log.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return client


def test_sigterm_to_the_client_ends_the_step(server, workdir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, server)
    client = _start_long_step(workdir, {ENV_VAR: server})
    client.send_signal(signal.SIGTERM)
    # The step died of the forwarded SIGTERM, reported as a shell does: 128 + 15.
    assert client.wait(timeout=30) == 128 + signal.SIGTERM
    assert not any((workdir / "forked" / "tiny" / "quick" / "tasks").glob("*/*.zarr"))


def test_closing_the_server_ends_the_steps_still_running(workdir, monkeypatch):
    with preload_server() as env:
        monkeypatch.setenv(ENV_VAR, env[ENV_VAR])
        client = _start_long_step(workdir, env)
        start = time.monotonic()
    assert time.monotonic() - start < SHUTDOWN_GRACE
    assert client.wait(timeout=30) == 128 + signal.SIGTERM
    assert not Path(env[ENV_VAR]).exists()


def test_no_server_is_started_when_disabled():
    with preload_server(enabled=False) as env:
        assert env == {}


def test_a_socket_path_too_long_for_unix_sockets_means_no_server(tmp_path, monkeypatch, caplog):
    deep = tmp_path / ("x" * 100)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    with caplog.at_level(logging.WARNING), preload_server() as env:
        assert env == {}
    assert "longer than Unix sockets allow" in caplog.text
    assert list(deep.iterdir()) == []
