"""Mode ``transfer`` (TE(X→Y) = I([X_past,Y_past];Y_future) - I(Y_past;Y_future)): roles,
past/future windows and their leakage gap, the closed form of the test process, the
directionality index, and a small end-to-end run.  Accuracy: tests/test_accuracy_modes.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import make_result

import neural_mi as nmi
from neural_mi.aggregate import summarize
from neural_mi.engine.inputs import SessionData
from neural_mi.engine.split import task_split
from neural_mi.errors import InsufficientDataError, ParameterError
from neural_mi.modes import get_mode
from neural_mi.plan import plan_tasks
from neural_mi.store import results_to_dataset

MODE = get_mode("transfer")


def _specs(**kw):
    return {s.role: s for s in plan_tasks("transfer", **kw)}


def test_four_roles_name_direction_part_history_and_horizon():
    specs = plan_tasks("transfer", history=3, horizon=2)
    assert [s.role for s in specs] == [
        "x_to_y/full/h3k2",
        "x_to_y/reduced/h3k2",
        "y_to_x/full/h3k2",
        "y_to_x/reduced/h3k2",
    ]
    assert [s.key.split("-", 1)[1] for s in specs] == [
        "xy-full-g01-s00-r00",
        "xy-reduced-g01-s00-r00",
        "yx-full-g01-s00-r00",
        "yx-reduced-g01-s00-r00",
    ]
    # The history is part of each task's identity (a stored task of another is not reused).
    assert plan_tasks("transfer", history=2)[0] != plan_tasks("transfer", history=3)[0]
    assert len(plan_tasks("transfer", both_directions=False)) == 2
    assert len(plan_tasks("transfer", rigorous=True, gamma_range=[1, 2])) == 4 * 3


def test_past_and_future_windows_and_their_gap():
    x = np.arange(10.0)[None, :]
    y = 100 + np.arange(10.0)[None, :]
    data = SessionData(x, y)
    specs = _specs(history=3, horizon=2)
    full, future, gap = MODE.task_data(specs["x_to_y/full/h3k2"], data)
    # Sample t: X and Y at t .. t+2 (side by side on the channels), Y at t + 2 + 2.
    assert full.shape == (10 - 2 - 2, 2, 3) and future.shape == (6, 1, 1)
    np.testing.assert_array_equal(full[1].numpy(), [[1, 2, 3], [101, 102, 103]])
    np.testing.assert_array_equal(future[:, 0, 0].numpy(), 100 + np.arange(4.0, 10.0))
    assert gap == 0 + 3 - 1 + 2
    reduced, future_r, gap_r = MODE.task_data(specs["x_to_y/reduced/h3k2"], data)
    np.testing.assert_array_equal(reduced[1].numpy(), [[101, 102, 103]])
    assert (future_r == future).all() and gap_r == gap
    backward, future_x, _ = MODE.task_data(specs["y_to_x/full/h3k2"], data)
    np.testing.assert_array_equal(backward[0].numpy(), [[100, 101, 102], [0, 1, 2]])
    np.testing.assert_array_equal(future_x[0, 0].numpy(), 4.0)
    # No held-out sample shares a raw time point with a training sample (blocked split).
    train, test = task_split(specs["x_to_y/full/h3k2"], 400, gap)
    spans = lambda idx: {t + k for t in idx for k in (*range(3), 2 + 2)}  # noqa: E731
    assert not spans(train) & spans(test)


def test_too_long_a_history_and_an_overlapping_future_are_refused():
    data = SessionData(np.zeros((1, 10)), np.zeros((1, 10)))
    with pytest.raises(InsufficientDataError, match=r"history=9 and horizon=1 leave 1"):
        MODE.task_data(_specs(history=9)["x_to_y/full/h9k1"], data)
    windows = {"window_size": 4, "step_size": 2}
    specs = _specs(processor_params_x=windows, processor_params_y=windows, horizon=1)
    with pytest.raises(ParameterError, match=r"horizon=1 puts the future window of Y over"):
        MODE.task_data(specs["x_to_y/full/h1k1"], data)
    with pytest.raises(ParameterError, match=r"of at least 2"):
        MODE.task_extent(specs["x_to_y/reduced/h1k1"], 100)


def test_closed_form_matches_a_regression_on_a_long_simulation():
    # seed 42, 200k samples: the residual variances of linear regressions give the Gaussian
    # TE to about 0.003 bit (tolerance 0.01).
    x, y = nmi.datasets.generate_coupled_autoregressive(200_000, coupling=1.0, a=0.6, b=0.4)
    x, y = x[0].astype(float), y[0].astype(float)

    def residual(target, *inputs):
        design = np.column_stack(inputs)
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        return np.var(target - design @ coef)

    te_xy, te_yx = nmi.datasets.autoregressive_transfer_entropy(coupling=1.0, a=0.6, b=0.4)
    past_x, past_y, fut_x, fut_y = x[:-1], y[:-1], x[1:], y[1:]
    assert te_yx == pytest.approx(0.0, abs=1e-12)
    assert 0.5 * math.log2(residual(fut_x, past_x) / residual(fut_x, past_x, past_y)) == (
        pytest.approx(0.0, abs=0.01)
    )
    assert te_xy == pytest.approx(
        0.5 * math.log2(residual(fut_y, past_y) / residual(fut_y, past_y, past_x)), abs=0.01
    )
    te2, _ = nmi.datasets.autoregressive_transfer_entropy(coupling=1.0, a=0.6, b=0.4, history=2)
    yp = (y[1:-1], y[:-2])
    assert te2 == pytest.approx(
        0.5 * math.log2(residual(y[2:], *yp) / residual(y[2:], *yp, x[1:-1], x[:-2])), abs=0.01
    )
    assert te2 < te_xy  # more of Y's own past explains more of what X gave


def test_directionality_index_by_hand():
    roles = {"x_to_y": (0.9, 0.3), "y_to_x": (0.42, 0.4)}
    results = [
        make_result(f"c-{d}-{part}", "c", "transfer", mi, role=f"{d}/{part}/h1k1")
        for d, values in roles.items()
        for part, mi in zip(("full", "reduced"), values)
    ]
    summary, head = summarize(results_to_dataset(results), "transfer", output_units="bits")
    te_xy, te_yx = 0.6 / math.log(2), 0.02 / math.log(2)
    assert head["te_x_to_y"] == pytest.approx(te_xy) and head["mi_estimate"] == head["te_x_to_y"]
    assert head["te_y_to_x"] == pytest.approx(te_yx)
    assert head["directionality"] == pytest.approx((0.6 - 0.02) / 0.62)  # unitless
    assert "units" not in summary["directionality"].attrs
    with pytest.raises(Exception, match=r"no task of role\(s\) \['x_to_y/full/h2k1'"):
        summarize(results_to_dataset(results), "transfer", options={"history": 2})


def test_small_run_points_from_x_to_y(fast_params):
    # seed 3, 3000 samples of a strongly coupled pair (TE(X→Y) 0.57 bit, TE(Y→X) 0):
    # even a short training sees the direction.
    x, y = nmi.datasets.generate_coupled_autoregressive(3000, coupling=1.0, a=0.6, b=0.4, seed=3)
    params = {**fast_params, "n_epochs": 8, "hidden_dim": 32}
    res = nmi.run(x, y, mode="transfer", base_params=params, random_seed=3, verbose=False)
    assert res.headline["te_x_to_y"] > 0.25
    assert abs(res.headline["te_y_to_x"]) < 0.1
    assert res.headline["directionality"] > 0.6
    assert "TE(Y→X)" in res.summary() and res.plot(show=False).get_figure()
    assert set(res.dataframe["direction"]) == {"x_to_y", "y_to_x"}
