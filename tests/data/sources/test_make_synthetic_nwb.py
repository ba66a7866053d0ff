"""scripts/make_synthetic_nwb.py: the sessions read back through the NWB source, with the
dependence the script documents."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from helpers import load_script

from neural_mi.data.sources import describe_source, load_source

synthetic = load_script("make_synthetic_nwb")

DURATION = 60.0
# A short latent time constant gives many independent stretches in a short session.
MODEL = synthetic.Model(duration=DURATION, tau=0.05)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    sheet = synthetic.make_sessions(out, 2, MODEL, seed=11)
    with sheet.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return out, rows


def nwb(out, row, obj, **selection):
    return {"path": str(out / row["path"]), "object": obj, **selection}


def test_sheet_and_ground_truth(sessions):
    out, rows = sessions
    assert [r["name"] for r in rows] == ["session_000", "session_001"]
    assert [r["condition"] for r in rows] == ["coupled", "control"]
    assert set(rows[0]) == {"name", "path", "subject", "area", "condition"}
    truth = json.loads((out / "ground_truth.json").read_text())
    coupled = truth["sessions"]["session_000"]["mi_lfp_position_bits"]
    assert coupled["pointwise"] == pytest.approx(synthetic.pointwise_mi_bits(MODEL))
    assert truth["sessions"]["session_001"]["mi_lfp_position_bits"]["pointwise"] == 0.0


def test_variables_and_time_bases(sessions):
    out, rows = sessions
    for row in rows:
        lfp = describe_source(nwb(out, row, "processing/ecephys/LFP/LFP"))
        assert (lfp.n_channels, lfp.n_times, lfp.rate, lfp.start_time) == (4, 15000, 250.0, 0.0)
        position = describe_source(nwb(out, row, "processing/behavior/Position/position"))
        assert (position.n_channels, position.n_times, position.rate) == (1, 3000, 50.0)
        units = describe_source(nwb(out, row, "units"))
        assert units.n_units == 10 and units.span == (0.0, DURATION)
        good = describe_source(nwb(out, row, "units", units={"where": {"quality": "good"}}))
        assert good.unit_ids == tuple(range(8))


def test_dependence_matches_the_model(sessions):
    """Channel 0 of the LFP against the position, at the position's sample times: the
    correlation is g_0 b / sqrt((g_0^2 + sigma_x^2)(b^2 + sigma_y^2)) when coupled, 0 in
    control.  Seed 11 (0.60 and 0.02); over seeds 0-19 the correlations spread with
    standard deviations 0.014 (coupled) and 0.024 (control): tolerances 0.1 and 0.15."""
    out, rows = sessions
    expected = (
        MODEL.lfp_gains[0]
        * MODEL.b
        / math.sqrt((MODEL.lfp_gains[0] ** 2 + MODEL.sigma_x**2) * (MODEL.b**2 + MODEL.sigma_y**2))
    )
    correlations = []
    for row in rows:
        lfp = load_source(nwb(out, row, "processing/ecephys/LFP/LFP", channels=[0]))
        position = load_source(nwb(out, row, "processing/behavior/Position/position"))
        step = int(lfp.time_base.rate / position.time_base.rate)
        correlations.append(np.corrcoef(lfp.values[0, ::step], position.values[0])[0, 1])
    assert correlations[0] == pytest.approx(expected, abs=0.1)
    assert abs(correlations[1]) < 0.15


def test_units_fire_at_the_model_rate(sessions):
    """Every unit's mean rate is ``rate`` (exp(beta z - beta^2/2) has mean 1); over 10 units
    and 60 s the pooled rate is within 10% (seed 11)."""
    out, rows = sessions
    trains = load_source(nwb(out, rows[0], "units"))
    pooled = sum(t.size for t in trains.times) / (trains.n_units * DURATION)
    assert pooled == pytest.approx(MODEL.rate, rel=0.1)
    for train in trains.times:
        assert np.all(np.diff(train) >= 0) and train[0] >= 0 and train[-1] < DURATION


def test_window_mi_closed_form():
    same_rate = synthetic.Model(lfp_rate=50, position_rate=50)
    # one LFP and one position sample per window: the pointwise formula
    assert synthetic.window_mi_bits(same_rate, 0.02) == pytest.approx(
        synthetic.pointwise_mi_bits(same_rate), rel=1e-12
    )
    g2 = sum(g * g for g in MODEL.lfp_gains)
    rho2 = g2 / (g2 + 1.0) * 1.0 / 1.25
    assert synthetic.pointwise_mi_bits(MODEL) == pytest.approx(-0.5 * math.log2(1 - rho2))
    longer = [synthetic.window_mi_bits(synthetic.Model(), w) for w in (0.02, 0.1, 0.2)]
    assert longer[0] < longer[1] < longer[2]  # more samples of the shared latent
