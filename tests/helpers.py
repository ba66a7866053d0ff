"""Helpers shared by several test files: hand-built task records, task MI of a workflow run,
tiny NWB files."""

from __future__ import annotations

import datetime
import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np

from neural_mi.store import load_dataset
from neural_mi.tasks import TaskResult, TaskSpec

REPO = Path(__file__).resolve().parents[1]

#: The seed tutorial's training parameters (tests/seed/), which the accuracy tests train
#: with.
SEED_TUTORIAL_PARAMS = {
    "n_epochs": 50,
    "learning_rate": 5e-4,
    "batch_size": 128,
    "patience": 10,
    "embedding_dim": 16,
    "hidden_dim": 64,
    "n_layers": 2,
}

#: The workflow's rules call `neural-mi`: the environment's scripts come first on PATH.
WORKFLOW_ENV = {
    **os.environ,
    "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
}


def load_script(name: str) -> ModuleType:
    """The module of ``scripts/<name>.py``, loaded once and registered in ``sys.modules``
    (dataclasses look their module up there), so that a test checks what the script
    itself computes."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def run_snakemake(
    workdir: Path, *args: str, configfile: str = "config.yaml", timeout: float = 900
) -> subprocess.CompletedProcess:
    """Snakemake on the repository's workflow in ``workdir`` (local profile, 2 cores);
    ``.output`` holds stdout and stderr together (Snakemake logs to both)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--configfile",
        configfile,
        "--profile",
        str(REPO / "profiles" / "local"),
        "--cores",
        "2",
        *args,
    ]
    out = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, env=WORKFLOW_ENV, timeout=timeout
    )
    out.output = out.stdout + out.stderr
    return out


def make_result(
    key: str,
    combo: str,
    mode: str,
    mi: float,
    *,
    coords: dict | None = None,
    extras: dict | None = None,
    **spec_fields,
) -> TaskResult:
    """A hand-built TaskResult whose train and test MI are ``mi`` (nats)."""
    spec = TaskSpec(
        key=key,
        combo=combo,
        params={"mode": mode, "run_seed": 1},
        coords=coords or {},
        **spec_fields,
    )
    return TaskResult(
        spec=spec,
        train_mi=mi,
        test_mi=mi,
        best_epoch=0,
        n_epochs_run=1,
        history={"test_mi": np.array([mi])},
        n_train=90,
        n_test=10,
        wall_time=0.1,
        versions={"numpy": "2"},
        extras=extras or {},
    )


def task_mi(workdir: Path) -> dict[str, float]:
    """``{analysis/key: test_mi}`` of every task of a finished run of ``config/test_tiny.yaml``."""
    values = {}
    for analysis in ("rigorous", "quick"):
        ds = load_dataset(workdir / "results" / "tiny" / analysis / "tasks.nc")
        values.update(
            {f"{analysis}/{k}": float(v) for k, v in zip(ds["key"].values, ds["test_mi"].values)}
        )
    return values


def write_tiny_nwb(path: Path, *, seconds: float = 8.0, lfp_start: float = 0.0) -> Path:
    """An NWB file with a 2-channel LFP at 250 Hz (from ``lfp_start`` s) and a Units table
    of 3 units on the clock from 0 s: two good units that fire when LFP channel 0 or 1 is
    high (so the LFP and the good units share information), and one noise unit."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import LFP, ElectricalSeries

    rng = np.random.default_rng(0)
    nwb = NWBFile(
        session_description="tiny",
        identifier=path.stem,
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    device = nwb.create_device("probe")
    group = nwb.create_electrode_group("shank", description="s", location="CA1", device=device)
    for _ in range(2):
        nwb.add_electrode(group=group, location="CA1")
    region = nwb.create_electrode_table_region([0, 1], "all electrodes")
    container = LFP()
    nwb.create_processing_module("ecephys", "LFP").add(container)
    container.add_electrical_series(
        ElectricalSeries(
            name="LFP",
            data=rng.standard_normal((int(seconds * 250), 2)).astype(np.float32),
            electrodes=region,
            rate=250.0,
            starting_time=lfp_start,
        )
    )
    nwb.add_unit_column("quality", "sorting quality")
    lfp = nwb.processing["ecephys"]["LFP"]["LFP"].data
    times = lfp_start + np.arange(lfp.shape[0]) / 250.0
    for channel in (0, 1):
        fired = times[lfp[:, channel] > 1.0] + rng.uniform(
            0, 0.002, int((lfp[:, channel] > 1.0).sum())
        )
        nwb.add_unit(spike_times=fired[fired < seconds], quality="good")
    noise = np.sort(rng.uniform(0, seconds, int(5 * seconds)))
    nwb.add_unit(spike_times=noise, quality="noise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)
    return path
