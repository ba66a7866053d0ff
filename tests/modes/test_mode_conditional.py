"""Mode ``conditional`` (I(X;Y|Z) = I([X,Z];Y) - I(Z;Y)) and the difference design it shares
with ``transfer``: planning, each role's data, the paired aggregation (by hand), and small
end-to-end runs.  Accuracy against closed forms is in tests/test_accuracy_modes.py (slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import make_result

import neural_mi as nmi
from neural_mi.aggregate import summarize
from neural_mi.engine.inputs import SessionData
from neural_mi.errors import DataShapeError, ParameterError
from neural_mi.fit import fit_rigorous
from neural_mi.modes import get_mode
from neural_mi.params import UNIT_FACTORS
from neural_mi.plan import plan_tasks
from neural_mi.store import load_dataset, results_to_dataset

BITS = UNIT_FACTORS["bits"]


@pytest.fixture(scope="module")
def xyz() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 bit of I(X;Y|Z) in 1-channel Gaussians, 1200 samples, (channels, time)."""
    return nmi.datasets.generate_conditional_gaussians(1200, dim=1, cmi=1.0, seed=11)


# --------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------


def test_two_roles_per_repeat_and_per_gamma_chunk_when_rigorous():
    plain = plan_tasks("conditional", n_repeats=2)
    assert [(s.role, s.gamma, s.subset, s.repeat) for s in plain] == [
        ("xz_y", 1, 0, 0),
        ("xz_y", 1, 0, 1),
        ("z_y", 1, 0, 0),
        ("z_y", 1, 0, 1),
    ]
    assert [s.key.split("-", 1)[1] for s in plain] == [
        "xz_y-g01-s00-r00",
        "xz_y-g01-s00-r01",
        "z_y-g01-s00-r00",
        "z_y-g01-s00-r01",
    ]
    assert len({s.seed for s in plain}) == 4
    rigorous = plan_tasks("conditional", rigorous=True, gamma_range=[1, 2, 3])
    assert len(rigorous) == 2 * (1 + 2 + 3)
    # Turning rigorous on keeps the whole-data tasks (same keys, same specs).
    assert plan_tasks("conditional")[0] == rigorous[0]
    # Z's processor is part of the task parameters (and so of the combination's identity).
    p = plain[0].params
    assert p["processor_type_z"] == "continuous" and p["processor_params_z"]["window_size"] == 1
    assert "processor_type_z" not in plan_tasks("estimate")[0].params
    other = plan_tasks("conditional", processor_params_z={"window_size": 2})
    assert other[0].combo != plain[0].combo
    # A processor parameter in the sweep grid applies to Z too.
    swept = plan_tasks("conditional", sweep_grid={"window_size": [1, 3]})
    assert {s.params["processor_params_z"]["window_size"] for s in swept} == {1, 3}


def test_rigorous_settings_without_rigorous_are_refused():
    for name, value in (
        ("gamma_range", [1, 2]),
        ("confidence_level", 0.9),
        ("min_gamma_points", 3),
        ("delta_threshold", 0.2),
    ):
        with pytest.raises(ParameterError, match=rf"{name} only apply.*rigorous=True"):
            plan_tasks("conditional", **{name: value})
    with pytest.raises(ParameterError, match="gamma_range"):
        plan_tasks("conditional", rigorous=True, gamma_range=[2, 2])


def test_z_data_is_required_by_conditional_and_refused_elsewhere(xyz):
    x, y, z = xyz
    with pytest.raises(ParameterError, match=r"mode 'conditional' needs z_data"):
        nmi.run(x, y, mode="conditional", verbose=False)
    with pytest.raises(ParameterError, match=r"z_data is not used in mode 'estimate'.*conditional"):
        nmi.run(x, y, z_data=z, verbose=False)


# --------------------------------------------------------------------------------------
# Each role's data
# --------------------------------------------------------------------------------------


def _specs(**kw):
    return {s.role: s for s in plan_tasks("conditional", **kw)}


def test_each_role_trains_on_its_own_pair():
    x = np.arange(20.0).reshape(2, 10)
    y = -np.arange(10.0)[None, :]
    z = 100 + np.arange(30.0).reshape(3, 10)
    data = SessionData(x, y, "continuous", "continuous", z=z, processor_type_z="continuous")
    mode, specs = get_mode("conditional"), _specs()
    source, target, gap = mode.task_data(specs["xz_y"], data)
    assert source.shape == (10, 5, 1) and target.shape == (10, 1, 1) and gap == 0
    np.testing.assert_array_equal(source[:, :, 0].numpy().T, np.concatenate([x, z]))
    np.testing.assert_array_equal(target[:, 0, 0].numpy(), y[0])
    source, target, _ = mode.task_data(specs["z_y"], data)
    np.testing.assert_array_equal(source[:, :, 0].numpy().T, z)


def test_z_is_aligned_and_its_windows_set_the_gap():
    x, y = np.zeros((1, 100)), np.zeros((1, 100))
    z = np.arange(90.0)[None, :]  # 10 samples shorter: X and Y are cut to Z's 90
    data = SessionData(x, y, "continuous", "continuous", z=z)
    specs = _specs(processor_params_x={"window_size": 1}, processor_params_z={"window_size": 5})
    source, target, gap = get_mode("conditional").task_data(specs["xz_y"], data)
    # Z's 5-sample windows (86 of them) do not match X's features: each side is flattened.
    assert source.shape == (86, 1, 1 + 5) and target.shape == (86, 1, 1)
    np.testing.assert_array_equal(source[3, 0, 1:].numpy(), np.arange(3.0, 8.0))
    assert gap == 4  # Z's windows overlap for 4 steps
    with pytest.raises(DataShapeError, match="X and Y give 100 samples, Z gives 6"):
        get_mode("conditional").task_data(specs["z_y"], SessionData(x, y, z=np.zeros((1, 10))))


# --------------------------------------------------------------------------------------
# Aggregation of paired differences (by hand)
# --------------------------------------------------------------------------------------


def _results(values: dict[tuple[str, int, int, int], float], mode: str = "conditional"):
    return results_to_dataset(
        [
            make_result(
                f"c-{role}-g{g:02d}-s{s:02d}-r{r:02d}",
                "c",
                mode,
                mi,
                role=role,
                gamma=g,
                subset=s,
                repeat=r,
            )
            for (role, g, s, r), mi in values.items()
        ]
    )


def test_the_estimate_is_the_mean_paired_difference_and_its_standard_error():
    full, reduced = [1.2, 1.0, 1.4], [0.5, 0.45, 0.55]
    values = {("xz_y", 1, 0, r): v for r, v in enumerate(full)}
    values |= {("z_y", 1, 0, r): v for r, v in enumerate(reduced)}
    summary, head = summarize(_results(values), "conditional", output_units="nats")
    diffs = np.subtract(full, reduced)
    assert head["mi_estimate"] == pytest.approx(diffs.mean(), abs=1e-12)
    assert float(summary["cmi"].squeeze()) == head["mi_estimate"]
    assert head["mi_error"] == pytest.approx(diffs.std(ddof=1) / math.sqrt(3), abs=1e-12)
    assert head["is_reliable"] is None
    assert head["mi_full"] == pytest.approx(np.mean(full)) and head["cmi"] == head["mi_estimate"]
    assert head["mi_reduced"] == pytest.approx(np.mean(reduced))
    bits, _ = summarize(_results(values), "conditional", output_units="bits")
    assert float(bits["cmi"].squeeze()) == pytest.approx(diffs.mean() * BITS)


def test_rigorous_differences_are_paired_per_chunk_and_fitted():
    rng = np.random.default_rng(0)
    values, diffs, gammas = {}, [], []
    for g in range(1, 6):
        for s in range(g):
            full, reduced = 2.0 - 0.1 * g + rng.normal(0, 0.02), 0.5 - 0.02 * g
            values[("xz_y", g, s, 0)], values[("z_y", g, s, 0)] = full, reduced
            diffs.append(full - reduced)
            gammas.append(g)
    options = {"rigorous": True, "confidence_level": 0.9}
    summary, head = summarize(_results(values), "conditional", "test_mi", "nats", options)
    fit = fit_rigorous(gammas, diffs, confidence_level=0.9)
    assert head["mi_estimate"] == pytest.approx(fit.mi_corrected, abs=1e-12)
    assert head["mi_error"] == pytest.approx(fit.mi_error, abs=1e-12)
    assert head["is_reliable"] is fit.is_reliable and head["gammas_used"] == [1, 2, 3, 4, 5]
    per_gamma = summary["mi_mean"].squeeze().values
    np.testing.assert_allclose(per_gamma[0], diffs[0])
    assert summary.attrs["confidence_level"] == 0.9


def test_a_task_without_its_partner_is_refused():
    values = {("xz_y", 1, 0, 0): 1.0, ("xz_y", 1, 0, 1): 1.1, ("z_y", 1, 0, 0): 0.4}
    with pytest.raises(DataShapeError, match=r"1 task\(s\) of role 'xz_y' or 'z_y' have no"):
        summarize(_results(values), "conditional")
    with pytest.raises(DataShapeError, match=r"no task of role\(s\) \['z_y'\]"):
        summarize(_results({("xz_y", 1, 0, 0): 1.0}), "conditional")


# --------------------------------------------------------------------------------------
# End to end (small)
# --------------------------------------------------------------------------------------


def test_run_resumes_from_its_store_and_saves(xyz, fast_params, tmp_path):
    x, y, z = xyz
    kw = dict(
        z_data=z,
        mode="conditional",
        n_repeats=2,
        base_params=fast_params,
        split_mode="random",
        random_seed=5,
        verbose=False,
    )
    first = nmi.run(x, y, store=tmp_path / "store", **kw)
    ds = first.tasks
    assert sorted(set(ds["role"].values)) == ["xz_y", "z_y"] and ds.sizes["task"] == 4
    # Paired: the two roles of one repeat trained and were evaluated on the same samples.
    by_role = {r: ds.where(ds["role"] == r, drop=True) for r in ("xz_y", "z_y")}
    np.testing.assert_array_equal(by_role["xz_y"]["n_test"], by_role["z_y"]["n_test"])
    again = nmi.run(x, y, store=tmp_path / "store", **kw)
    np.testing.assert_array_equal(again.tasks["test_mi"], ds["test_mi"])
    assert again.headline == first.headline
    assert "I(X;Y|Z)" in first.summary() and first.plot(show=False).lines
    loaded = nmi.Results.load(first.save(tmp_path / "saved"))
    assert loaded.headline == first.headline
    assert list(load_dataset(tmp_path / "saved" / "tasks.nc")["role"].values) == list(ds["role"])


def test_torch_inputs_work(xyz, fast_params):
    x, y, z = (torch.as_tensor(v) for v in xyz)
    res = nmi.run(x, y, z_data=z, mode="conditional", base_params=fast_params, verbose=False)
    assert math.isfinite(res.mi_estimate)
