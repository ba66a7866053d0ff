"""The data of a null task: which recording moves, how, and that nothing leaks or drifts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neural_mi.engine.inputs import SessionData
from neural_mi.engine.null import (
    minimum_shift,
    move_raw,
    null_method,
    null_move,
    null_session,
    raw_length,
)
from neural_mi.engine.task import task_data
from neural_mi.errors import InsufficientDataError, ParameterError
from neural_mi.plan import plan_tasks

FAST = {"n_epochs": 1, "batch_size": 32, "hidden_dim": 8, "embedding_dim": 2, "n_layers": 1}


def _null(mode="estimate", n_permutations=2, **kwargs):
    specs = plan_tasks(mode, base_params=FAST, n_permutations=n_permutations, **kwargs)
    return [s for s in specs if s.permutation]


def _covered(move, length):
    """Where every raw point of [0, length) goes under ``move`` (an index map)."""
    source = np.full(length, -1)
    for start, target, size in move.segments:
        source[int(target) : int(target + size)] = np.arange(int(start), int(start + size))
    return source


def test_a_circular_shift_is_at_least_the_minimum_and_moves_every_point_once():
    spec = _null(processor_params_x={"window_size": 5}, processor_params_y={"window_size": 5})[0]
    move = null_move(spec, "y", length=1000, n_samples=996)
    # default minimum: the window's 5 points (gap 4 + 1 windows of step 1), no lag
    assert move.method == "circular" and move.minimum == 5
    assert 5 <= move.shift <= 995
    source = _covered(move, 1000)
    assert sorted(source.tolist()) == list(range(1000))  # a bijection: no point twice
    assert np.array_equal(source, np.roll(np.arange(1000), move.shift))


def test_every_task_of_a_permutation_moves_the_same_way_and_permutations_differ():
    specs = _null("lag", n_permutations=3, lag_range=[0, 4])
    first = [s for s in specs if s.permutation == 1]
    shifts = {null_move(s, "y", 1000, 1000, None).shift for s in first}
    assert len(shifts) == 1  # both lags of permutation 1 see one shift...
    others = {null_move(s, "y", 1000, 1000, None).shift for s in specs if s.lag == 0}
    assert len(others) == 3  # ...and each permutation its own


def test_the_default_minimum_shift_covers_the_window_and_the_largest_lag():
    specs = _null(
        "lag",
        lag_range=[0, -6],
        processor_params_x={"window_size": 4, "step_size": 2},
        processor_params_y={"window_size": 4, "step_size": 2},
    )
    # gap: 1 window (overlap) + 3 windows (the largest lag): 5 windows of 2 points, plus
    # the largest lag; the same for every lag
    assert [minimum_shift(s, "y", n_samples=100) for s in specs] == [5 * 2 + 6] * len(specs)
    spec = specs[0]
    given = dataclasses.replace(spec, params={**spec.params, "null_min_shift": 50})
    assert minimum_shift(given, "y", n_samples=100) == 50


def test_a_recording_too_short_for_the_shift_is_refused_naming_the_task():
    spec = _null(null_min_shift=60)[0]
    with pytest.raises(InsufficientDataError, match=spec.key):
        null_move(spec, "y", length=100, n_samples=100)
    blocks = _null(null_method="block", null_min_shift=60)[0]
    with pytest.raises(InsufficientDataError, match="at least 2"):
        null_move(blocks, "y", length=100, n_samples=100)


def test_block_permutation_keeps_whole_blocks_and_the_tail_last():
    spec = _null(null_method="block", null_min_shift=10)[0]
    move = null_move(spec, "y", length=105, n_samples=105)
    source = _covered(move, 105)
    assert sorted(source.tolist()) == list(range(105))
    assert np.array_equal(source[100:], np.arange(100, 105))  # the 5-point tail stays
    for start in range(0, 100, 10):
        block = source[start : start + 10]
        assert block[0] % 10 == 0 and np.array_equal(block, np.arange(block[0], block[0] + 10))
    assert not np.array_equal(source, np.arange(105))


def test_auto_permutes_iid_samples_and_shifts_temporal_data():
    assert null_method(_null(split_mode="random")[0], "y") == "permute"
    assert null_method(_null(split_mode="blocked")[0], "y") == "circular"
    overlapping = {"window_size": 3, "step_size": 1}
    spec = _null(split_mode="random", processor_params_y=overlapping)[0]
    assert null_method(spec, "y") == "circular"  # overlapping windows are not IID samples
    refused = _null(null_method="permute", processor_params_y=overlapping)[0]
    with pytest.raises(ParameterError, match="overlap"):
        null_method(refused, "y")


def test_move_raw_follows_the_time_axis_and_moves_only_the_chosen_channels():
    spec = _null(null_method="block", null_min_shift=2)[0]
    move = null_move(spec, "y", length=6, n_samples=6)
    source = _covered(move, 6)
    signal = np.arange(12.0).reshape(2, 6)  # (channels, time)
    moved = move_raw(signal, "continuous", {"window_size": 1}, move)
    assert np.array_equal(moved, signal[:, source])
    time_first = move_raw(signal.T, "continuous", {"window_size": 1, "time_axis": 0}, move)
    assert np.array_equal(time_first, signal.T[source])
    one = dataclasses.replace(move, channels=(1,))
    partial = move_raw(signal, "continuous", {"window_size": 1}, one)
    assert np.array_equal(partial[0], signal[0]) and np.array_equal(partial[1], signal[1, source])
    rows = np.arange(24.0).reshape(6, 2, 2)  # processed: (rows, channels, features)
    assert np.array_equal(move_raw(rows, None, {}, move), rows[source])
    assert np.array_equal(signal, np.arange(12.0).reshape(2, 6))  # the input is untouched


def test_spike_times_move_with_their_piece_and_the_recording_keeps_its_length():
    spec = _null(
        processor_type_x="spike",
        processor_type_y="spike",
        processor_params_x={"window_size": 0.5},
        processor_params_y={"window_size": 0.5},
    )[0]
    spikes = [np.array([0.2, 1.3, 4.0]), np.array([2.5, 3.9])]
    length = raw_length(spikes, "spike", spec.params["processor_params_y"])
    assert length == 4.0
    move = null_move(spec, "y", length, n_samples=7)
    moved = move_raw(spikes, "spike", spec.params["processor_params_y"], move)
    np.testing.assert_allclose(moved[0][:2], np.sort(np.mod([0.2, 1.3], 4.0) + move.shift) % 4.0)
    assert moved[0][-1] == 4.0  # the last spike, which sets n_seconds, stays
    np.testing.assert_allclose(moved[1], np.sort(np.mod(spikes[1] + move.shift, 4.0)))


def test_a_null_session_moves_y_and_keeps_x_and_the_observed_session():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 200)), rng.standard_normal((1, 200))
    data = SessionData(x.copy(), y.copy())
    observed, null = plan_tasks("estimate", base_params=FAST, n_permutations=1)
    same, record = null_session(observed, data)
    assert same is data and record == {}
    moved, record = null_session(null, data)
    assert record["variable"] == "y" and record["method"] == "circular"
    assert np.array_equal(moved.x, x) and np.array_equal(data.y, y)
    assert np.array_equal(moved.y, np.roll(y, record["shift"], axis=1))
    xs, ys, _ = task_data(null, data)
    xo, yo, _ = task_data(observed, data)
    assert torch.equal(xs, xo) and xs.shape == xo.shape and not torch.equal(ys, yo)


def test_transfer_and_conditional_move_the_source_and_leave_the_reduced_fit_alone():
    transfer = plan_tasks("transfer", base_params=FAST, n_permutations=1)
    copied = {s.role for s in transfer if s.permutation}
    assert copied == {"x_to_y/full/h1k1", "y_to_x/full/h1k1"}
    rng = np.random.default_rng(1)
    data = SessionData(rng.standard_normal((1, 300)), rng.standard_normal((1, 300)))
    for spec in (s for s in transfer if s.permutation):
        moved, record = null_session(spec, data)
        source, target = ("x", "y") if spec.role.startswith("x_to_y") else ("y", "x")
        assert record["variable"] == source
        assert moved.raw(target)[0] is data.raw(target)[0]
        assert not np.array_equal(moved.raw(source)[0], data.raw(source)[0])
    conditional = plan_tasks("conditional", base_params=FAST, n_permutations=2)
    assert {s.role for s in conditional if s.permutation} == {"xz_y"}


def test_pairwise_moves_the_second_channel_set_of_each_pair():
    specs = plan_tasks("pairwise", base_params=FAST, channels=3, n_permutations=1)
    rng = np.random.default_rng(2)
    data = SessionData(rng.standard_normal((3, 300)), None, processor_type_y=None)
    null = next(s for s in specs if s.permutation and s.role == "x[0]|x[2]")
    moved, record = null_session(null, data)
    assert record["channels"] == [2]
    assert np.array_equal(moved.x[:2], data.x[:2]) and not np.array_equal(moved.x[2], data.x[2])
