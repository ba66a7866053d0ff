"""Processors: exact window contents on hand-worked examples, views, and alignment."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from neural_mi.data import (
    CategoricalProcessor,
    ContinuousProcessor,
    SpikeProcessor,
    align_samples,
    as_processed,
    find_max_spikes_per_window,
    process,
)
from neural_mi.errors import DataShapeError, DataValueError, InsufficientDataError
from neural_mi.params import resolve_processor_params


# ---------------------------------------------------------------- continuous
def test_continuous_windows_two_channels_step_two():
    data = np.arange(12, dtype=np.float32).reshape(2, 6)  # ch0: 0..5, ch1: 6..11
    out = ContinuousProcessor(window_size=3, step_size=2).process(data)
    expected = torch.tensor([[[0, 1, 2], [6, 7, 8]], [[2, 3, 4], [8, 9, 10]]], dtype=torch.float32)
    assert out.dtype == torch.float32
    assert torch.equal(out, expected)  # (6 - 3) // 2 + 1 = 2 windows


def test_continuous_time_axis_zero_matches_transposed_input():
    data = np.arange(12, dtype=np.float32).reshape(2, 6)
    out = ContinuousProcessor(window_size=3, step_size=2, time_axis=0).process(data.T.copy())
    assert torch.equal(out, ContinuousProcessor(3, 2).process(data))


def test_continuous_one_dimensional_input_is_one_channel():
    out = ContinuousProcessor(window_size=2).process(np.array([1.0, 2.0, 3.0]))
    assert torch.equal(out, torch.tensor([[[1.0, 2.0]], [[2.0, 3.0]]]))


def test_continuous_91_windows():
    out = ContinuousProcessor(window_size=10, step_size=1).process(
        np.random.default_rng(0).standard_normal((1, 100)).astype(np.float32)
    )
    assert out.shape == (91, 1, 10)


def test_continuous_output_shares_storage_with_float32_input():
    data = np.arange(2000, dtype=np.float32).reshape(2, 1000)
    out = ContinuousProcessor(window_size=50, step_size=1).process(data)
    assert out.shape == (951, 2, 50)
    assert out.untyped_storage().data_ptr() == data.__array_interface__["data"][0]
    assert out.untyped_storage().nbytes() == data.nbytes


def test_continuous_warns_when_channels_exceed_time(caplog):
    with caplog.at_level(logging.WARNING, logger="neural_mi.data.processors"):
        out = ContinuousProcessor().process(np.zeros((50, 10), dtype=np.float32))
    assert out.shape == (10, 50, 1)  # not transposed
    assert "(50, 10)" in caplog.text and "time_axis=0" in caplog.text


def test_continuous_window_longer_than_recording():
    with pytest.raises(InsufficientDataError, match=r"window_size=20.*10 time points"):
        ContinuousProcessor(window_size=20).process(np.zeros((1, 10)))


# ---------------------------------------------------------------- spikes
def test_spike_times_relative_to_window_start():
    # window 0.1 s, step 0.1 s, n_seconds = latest spike = 0.31 -> floor(0.21/0.1)+1 = 3
    # windows [0, .1), [.1, .2), [.2, .3); the spike at 0.31 lies after the last window.
    out = SpikeProcessor(window_size=0.1, step_size=0.1).process([np.array([0.05, 0.12, 0.31])])
    expected = torch.tensor([[[0.05]], [[0.02]], [[0.0]]])
    assert out.shape == (3, 1, 1)
    assert torch.allclose(out, expected, atol=1e-7)


def test_spike_padding_order_and_two_channels():
    spikes = [np.array([0.35, 0.05, 0.02]), np.array([0.15])]  # unsorted input is sorted
    out = SpikeProcessor(window_size=0.2, step_size=0.1, n_seconds=0.4).process(spikes)
    # windows start at 0, 0.1, 0.2 (floor((0.4 - 0.2) / 0.1) + 1 = 3); 2 slots per channel
    expected = torch.tensor(
        [
            [[0.02, 0.05], [0.15, 0.0]],
            [[0.0, 0.0], [0.05, 0.0]],
            [[0.15, 0.0], [0.0, 0.0]],
        ]
    )
    assert out.shape == (3, 2, 2)
    assert torch.allclose(out, expected, atol=1e-6)


def test_spike_on_window_edge_goes_to_the_later_window():
    # Window starts are k * 0.1, and 3 * 0.1 == 0.30000000000000004 > 0.3 in floats; the
    # spike at 0.3 (nearest float to the decimal) must still count in window 3, so every
    # window holds exactly one spike (at relative time 0).
    spikes = [np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])]
    assert find_max_spikes_per_window(spikes, window_size=0.1, n_seconds=1.0) == 1
    out = SpikeProcessor(window_size=0.1, n_seconds=1.0).process(spikes)
    assert out.shape == (10, 1, 1)
    assert torch.equal(out, torch.zeros(10, 1, 1))


def test_spike_max_spikes_truncates_and_warns(caplog):
    spikes = [np.array([0.01, 0.02, 0.03, 0.15])]
    with caplog.at_level(logging.WARNING, logger="neural_mi.data.processors"):
        processor = SpikeProcessor(window_size=0.1, max_spikes_per_window=2, n_seconds=0.2)
        out = processor.process(spikes)
    assert torch.allclose(out, torch.tensor([[[0.01, 0.02]], [[0.05, 0.0]]]), atol=1e-6)
    assert "dropped 1 spikes" in caplog.text


def test_find_max_spikes_per_window():
    spikes = [np.array([0.01, 0.02, 0.03, 0.5]), np.array([0.11, 0.12, 0.13, 0.14])]
    assert find_max_spikes_per_window(spikes, window_size=0.1) == 4
    assert find_max_spikes_per_window(spikes[:1], window_size=0.1) == 3
    assert find_max_spikes_per_window([np.array([0.9])], 0.1, n_seconds=0.5) == 1  # at least 1


def test_spike_window_longer_than_recording():
    with pytest.raises(InsufficientDataError, match=r"window_size=2.0 s.*n_seconds=1.0 s"):
        SpikeProcessor(window_size=2.0, n_seconds=1.0).process([np.array([0.5])])


# ---------------------------------------------------------------- categorical
def test_categorical_one_hot_layout():
    out = CategoricalProcessor(window_size=2, n_categories=3).process(np.array([[0, 2, 1]]))
    # feature t * K + k; windows (0, 2) and (2, 1)
    expected = torch.tensor([[[1, 0, 0, 0, 0, 1]], [[0, 0, 1, 0, 1, 0]]], dtype=torch.float32)
    assert torch.equal(out, expected)


def test_categorical_windows_are_a_view_of_one_one_hot_array():
    n_channels, n_time, k, w = 2, 1000, 4, 50
    labels = np.random.default_rng(0).integers(0, k, (n_channels, n_time))
    out = CategoricalProcessor(window_size=w).process(labels)
    assert out.shape == (n_time - w + 1, n_channels, w * k)
    assert out.untyped_storage().nbytes() == n_channels * n_time * k * 4  # no window copies
    per_position = out.reshape(-1, n_channels, w, k).sum(-1)  # one label per time point
    assert torch.equal(per_position, torch.ones_like(per_position))
    # the first label of every window
    first = out[:, :, :k].argmax(-1).T.numpy()
    assert np.array_equal(first, labels[:, : n_time - w + 1])


def test_categorical_default_n_categories_and_time_axis_zero():
    out = CategoricalProcessor(time_axis=0).process(np.array([[1], [0]]))  # (time, channels)
    assert torch.equal(out, torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]]))


@pytest.mark.parametrize(
    "labels, pattern",
    [
        (np.array([[0.0, 1.5]]), "whole numbers"),
        (np.array([[0, -1, 2, -3]]), r"2 are negative.*\(0, 1\)"),
    ],
)
def test_categorical_rejects_bad_labels(labels, pattern):
    with pytest.raises(DataValueError, match=pattern):
        CategoricalProcessor().process(labels)


def test_categorical_label_above_n_categories():
    with pytest.raises(DataValueError, match="n_categories=2"):
        CategoricalProcessor(n_categories=2).process(np.array([[0, 2]]))


# ---------------------------------------------------------------- processed / dispatch
def test_processed_input_shapes():
    flat = torch.zeros(5, 3)
    out = as_processed(flat)
    assert out.shape == (5, 1, 3) and out.data_ptr() == flat.data_ptr()
    assert as_processed(np.zeros((5, 2, 3), dtype=np.float32)).shape == (5, 2, 3)
    with pytest.raises(DataShapeError, match=r"\(5,\)"):
        as_processed(np.zeros(5))


def test_process_dispatches_with_resolved_params():
    data = np.arange(12, dtype=np.float32).reshape(2, 6)
    params = resolve_processor_params("continuous", {"window_size": 3, "step_size": 2})
    assert torch.equal(process(data, "continuous", params), ContinuousProcessor(3, 2).process(data))
    spike_params = resolve_processor_params("spike", {"window_size": 0.1})
    assert process([np.array([0.05, 0.12, 0.31])], "spike", spike_params).shape == (3, 1, 1)
    assert process(np.zeros((4, 2)), None, {}).shape == (4, 1, 2)


# ---------------------------------------------------------------- alignment
def test_spike_and_continuous_align_to_smaller_count(caplog):
    # 12 continuous windows (120 samples, window 10, step 10) vs 10 spike windows (1 s, 0.1 s)
    continuous = ContinuousProcessor(10, 10).process(np.zeros((1, 120), dtype=np.float32))
    spikes = SpikeProcessor(window_size=0.1, n_seconds=1.0).process([np.array([0.05, 0.55])])
    assert (continuous.shape[0], spikes.shape[0]) == (12, 10)
    with caplog.at_level(logging.WARNING, logger="neural_mi.data.align"):
        x, y = align_samples(continuous, spikes)
    assert x.shape[0] == y.shape[0] == 10
    assert x.data_ptr() == continuous.data_ptr()  # a view
    assert "last 2 samples of X" in caplog.text


def test_align_equal_counts_is_silent(caplog):
    x, y = torch.zeros(5, 1, 1), torch.ones(5, 1, 2)
    with caplog.at_level(logging.WARNING):
        out_x, out_y = align_samples(x, y)
    assert out_x is x and out_y is y and not caplog.records


def test_align_rejects_large_mismatch():
    with pytest.raises(DataShapeError, match="X has 5000 samples, Y has 1000"):
        align_samples(torch.zeros(5000, 1, 1), torch.zeros(1000, 1, 1))
