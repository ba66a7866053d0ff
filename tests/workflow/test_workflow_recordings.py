"""Recordings through the workflow: NWB sessions from a sheet (paired by time, lags in
seconds), an X-only session (dimensionality), and every classic mode end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from helpers import run_snakemake, write_tiny_nwb

from neural_mi.prepared import load_prepared
from neural_mi.workflow.plan import workflow_plan
from neural_mi.workflow.steps import prepare

TRAIN = {"n_epochs": 2, "batch_size": 16, "embedding_dim": 2, "hidden_dim": 8, "n_layers": 1}


def _config(folder: Path) -> dict:
    for name in ("a", "b"):
        write_tiny_nwb(folder / f"{name}.nwb", seconds=12.0)
    (folder / "sessions.tsv").write_text(
        "name\tpath\tsubject\tcondition\na\ta.nwb\tm1\tcoupled\nb\tb.nwb\tm2\tcontrol\n"
    )
    rng = np.random.default_rng(0)  # 6 channels driven by 2 latents: the split halves share MI
    latents = rng.standard_normal((2, 1000))
    np.save(
        folder / "pop.npy",
        rng.standard_normal((6, 2)) @ latents + 0.3 * rng.standard_normal((6, 1000)),
    )
    recorded = {"sessions": ["a", "b"], "base_params": TRAIN, "split_mode": "random"}
    return {
        "seed": 5,
        "results_dir": "results",
        "sessions": [{"name": "pop", "x": {"path": str(folder / "pop.npy")}}],  # X only
        "sessions_table": str(folder / "sessions.tsv"),
        "session_defaults": {
            "x": {
                "object": "processing/ecephys/LFP/LFP",
                "params": {"window_size": "0.2 s", "step_size": "0.1 s"},
            },
            "y": {
                "object": "units",
                "units": {"where": {"quality": "good"}},
                "params": {"window_size": 0.2, "step_size": 0.1},
            },
        },
        "analyses": [
            {"name": "est", "mode": "estimate", **recorded},
            {"name": "swp", "mode": "sweep", "sweep_grid": {"embedding_dim": [2, 4]}, **recorded},
            {"name": "rig", "mode": "rigorous", "gamma_range": [1, 2], **recorded},
            {"name": "lag", "mode": "lag", "lag_range": ["-0.2 s", "0 s", "0.2 s"], **recorded},
            {
                "name": "dim",
                "mode": "dimensionality",
                "sessions": ["pop"],
                "sweep_grid": {"embedding_dim": [1, 2]},
                "n_splits": 2,
                "base_params": {**TRAIN, "n_epochs": 10, "batch_size": 64, "hidden_dim": 16},
                "split_mode": "random",
            },
        ],
    }


def test_an_x_only_session_plans_and_prepares(tmp_path):
    raw = {**_config(tmp_path), "results_dir": str(tmp_path / "results")}
    plan = workflow_plan(raw)
    assert json.loads(plan.session_json("pop"))["session"]["y"] is None
    plan.write_files()
    data = load_prepared(prepare(tmp_path / "results" / "pop" / "data.zarr"))
    assert data["y"] is None and np.shape(data["x"]) == (6, 1000)
    nwb = load_prepared(prepare(tmp_path / "results" / "a" / "data.zarr"))
    assert nwb["time_x"].rate == 250.0 and len(nwb["y"]) == 2  # the two good units


@pytest.mark.slow
def test_every_mode_runs_on_recordings_from_a_sheet(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(tmp_path), sort_keys=False))
    out = run_snakemake(tmp_path)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    table = pd.read_csv(tmp_path / "results" / "summary.csv")
    assert len(table) == 2 * 4 + 1
    assert np.isfinite(table["mi"]).all()
    rows = table.set_index(["session", "analysis"])
    assert rows.loc[("a", "lag"), "subject"] == "m1" and rows.loc[("b", "est"), "subject"] == "m2"
    assert rows.loc[("a", "swp"), "best"] in ('{"embedding_dim": 2}', '{"embedding_dim": 4}')
    ds = xr.open_dataset(tmp_path / "results" / "summary.nc")
    assert ds["condition"].sel(session="b").item() == "control"
    assert set(ds["mi"].groupby("subject").mean()["subject"].values) == {"m1", "m2", ""}
