"""Sessions from a sheet or a glob of tiny NWB files: planning paired by time, errors that
name the row and column, and metadata carried into summary.csv and summary.nc."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import write_tiny_nwb

from neural_mi.config import load_config, plan_config
from neural_mi.errors import ConfigError
from neural_mi.workflow.plan import workflow_plan
from neural_mi.workflow.steps import collect

DEFAULTS = {
    "x": {
        "object": "processing/ecephys/LFP/LFP",
        "params": {"window_size": "0.2 s", "step_size": "0.1 s"},
    },
    "y": {
        "object": "units",
        "units": {"where": {"quality": "good"}},
        "params": {"window_size": 0.2, "step_size": 0.1},
    },
}
ANALYSIS = {
    "name": "est",
    "mode": "estimate",
    "base_params": {"n_epochs": 1, "batch_size": 16, "embedding_dim": 2, "hidden_dim": 8},
}


@pytest.fixture(scope="module")
def sheet_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sheet")
    for name in ("a", "b", "c"):
        write_tiny_nwb(folder / f"{name}.nwb")
    (folder / "sessions.tsv").write_text(
        "name\tpath\tsubject\tcondition\tdepth\n"
        "s_a\ta.nwb\tm1\tcoupled\t120\n"
        "s_b\tb.nwb\tm1\tcontrol\t250.5\n"
        "s_c\tc.nwb\tm2\tcoupled\t\n"
    )
    return folder


def _config(folder: Path, **extra) -> dict:
    return {
        "sessions": [],
        "sessions_table": str(folder / "sessions.tsv"),
        "session_defaults": DEFAULTS,
        "analyses": [ANALYSIS],
        **extra,
    }


def test_a_sheet_gives_one_session_per_row_with_its_metadata(sheet_folder):
    config = load_config(_config(sheet_folder))
    assert [s.name for s in config.sessions] == ["s_a", "s_b", "s_c"]
    first = config.session("s_a")
    assert first.x.path == str(sheet_folder / "a.nwb") == first.y.path
    assert first.metadata == {"subject": "m1", "condition": "coupled", "depth": 120}
    assert config.session("s_b").metadata["depth"] == 250.5
    assert "depth" not in config.session("s_c").metadata  # an empty cell gives no value
    plan = plan_config(config)
    assert set(plan) == {("s_a", "est"), ("s_b", "est"), ("s_c", "est")}


def test_the_metadata_does_not_change_what_prepare_depends_on(sheet_folder):
    raw = _config(sheet_folder)
    plan = workflow_plan(raw)
    assert "coupled" not in plan.session_json("s_a")
    assert json.loads(plan.sessions_json())["s_b"] == {
        "subject": "m1",
        "condition": "control",
        "depth": 250.5,
    }


def test_a_glob_names_sessions_after_their_files(sheet_folder):
    raw = _config(sheet_folder)
    del raw["sessions_table"]
    raw["sessions_glob"] = str(sheet_folder / "*.nwb")
    config = load_config(raw)
    assert [s.name for s in config.sessions] == ["a", "b", "c"]
    assert config.session("c").y.path == str(sheet_folder / "c.nwb")


@pytest.mark.parametrize(
    ("sheet", "pattern"),
    [
        ("session\tpath\nx\ta.nwb\n", r"has no 'name' column; its columns: session, path"),
        (
            "name\tpath\ns1\ta.nwb\ns1\tb.nwb\n",
            r"row 3 \(session 's1'\): session name 's1' repeats",
        ),
        (
            "name\tpath\tx.channels\ns1\ta.nwb\t[0,\n",
            r"row 2 \(session 's1'\), column 'x.channels'",
        ),
        ("name\tpath\tmi\ns1\ta.nwb\t3\n", r"column 'mi': the name is taken"),
        ("name\tpath\ns 1\ta.nwb\n", r"row 2 .*column 'name'"),
    ],
)
def test_sheet_errors_name_the_row_and_column(sheet_folder, tmp_path, sheet, pattern):
    (tmp_path / "sessions.tsv").write_text(sheet)
    raw = _config(sheet_folder)
    raw["sessions_table"] = str(tmp_path / "sessions.tsv")
    with pytest.raises(ConfigError, match=pattern):
        load_config(raw)


def test_a_session_whose_spans_barely_overlap_is_refused_at_plan(sheet_folder, tmp_path):
    # LFP 6-14 s; the good units fire with it, but their spike times stop at 8 s
    write_tiny_nwb(tmp_path / "late.nwb", lfp_start=6.0)
    (tmp_path / "sessions.tsv").write_text(f"name\tpath\nlate\t{tmp_path / 'late.nwb'}\n")
    raw = _config(sheet_folder)
    raw["sessions_table"] = str(tmp_path / "sessions.tsv")
    with pytest.raises(
        ConfigError,
        match=r"session 'late'.*X spans 6.000-14.000 s; Y spans 6\.\d+-7\.\d+ s: their "
        r"common span covers 24\.\d% of the longest, less than min_overlap=0.5",
    ):
        plan_config(load_config(raw))


def _results(folder: Path, session: str, analysis: str, mode: str, mi: float, **more) -> Path:
    path = folder / session / analysis / "results.json"
    path.parent.mkdir(parents=True)
    headline = {"mi_estimate": mi, "mi_error": 0.1, "is_reliable": True, "units": "bits"}
    meta = {"params": {"session": session, "analysis": analysis}, "mode": mode}
    path.write_text(json.dumps({**meta, "headline": {**headline, **more}}))
    return path


def test_collect_carries_metadata_into_the_csv_and_the_dataset(tmp_path):
    metadata = {
        "s_a": {"subject": "m1", "depth": 120},
        "s_b": {"subject": "m1", "depth": 250.5},
        "s_c": {"subject": "m2"},
    }
    (tmp_path / "sessions.json").write_text(json.dumps(metadata))
    files = [
        _results(tmp_path, "s_a", "est", "estimate", 1.0),
        _results(tmp_path, "s_b", "est", "estimate", 2.0),
        _results(tmp_path, "s_c", "est", "estimate", 4.0),
        _results(tmp_path, "s_a", "sw", "sweep", 3.0, best={"window_size": 20}),
    ]
    csv, png, nc = tmp_path / "summary.csv", tmp_path / "overview.png", tmp_path / "summary.nc"
    collect(files, csv, png, nc, tmp_path / "sessions.json")
    table = pd.read_csv(csv)
    assert list(table.columns[-3:]) == ["best", "subject", "depth"]
    assert table.loc[table["analysis"] == "sw", "best"].item() == '{"window_size": 20}'
    assert table.set_index(["session", "analysis"]).loc[("s_c", "est"), "subject"] == "m2"
    ds = xr.open_dataset(nc)
    assert ds["subject"].values.tolist() == ["m1", "m1", "m2"]
    assert np.isnan(ds["depth"].sel(session="s_c"))
    means = ds["mi"].sel(analysis="est").groupby("subject").mean()
    assert means.sel(subject="m1").item() == pytest.approx(1.5)
    assert means.sel(subject="m2").item() == pytest.approx(4.0)
    assert np.isnan(ds["mi"].sel(session="s_b", analysis="sw"))  # did not run there
    assert png.stat().st_size > 0
