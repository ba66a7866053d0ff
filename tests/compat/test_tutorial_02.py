"""NeuralMI 1.1 tutorial 2 (handling neural data): its calls, and what its text claims.

The processors window continuous data, spike times (relative to the window start,
zero-padded) and one-hot categories; ``DataHandler`` pairs X and Y.  Where the tutorial's
mixed continuous/spike example pairs windows of different time steps by truncating to the
smaller count, we refuse (docs/migrating_from_neuralmi.md, "Pairing X and Y").
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import neural_mi as nmi
from neural_mi.errors import DataShapeError

FAST = {
    "n_epochs": 20,
    "batch_size": 64,
    "hidden_dim": 32,
    "embedding_dim": 8,
    "n_layers": 2,
    "patience": 10,
    "learning_rate": 1e-3,
}


def test_continuous_sliding_window_matches_the_raw_signal():
    raw = np.sin(np.linspace(0, 10, 100)).reshape(1, 100)
    processor = nmi.data.ContinuousProcessor(window_size=10, step_size=1)
    processed = processor.process(raw)
    # "(n_samples, n_channels, window_size)": 91 samples of 10 points; sample 5 is raw[5:15]
    assert processed.shape == (91, 1, 10)
    np.testing.assert_allclose(processed[5, 0, :].numpy(), raw[0, 5:15], rtol=1e-6)


def test_spike_windows_hold_relative_times_zero_padded(caplog):
    spike_data, _ = nmi.datasets.generate_correlated_spike_trains(
        n_neurons=5, duration=2.0, firing_rate=15
    )
    window, step = 0.1, 0.01
    max_spikes = nmi.data.processors.find_max_spikes_per_window(spike_data, window)
    # The bound holds for any placement of the window (1.1's meaning): brute force over a
    # 1 ms grid of starts never finds more.
    starts = np.arange(0, 2.0, 0.001)
    most = max(
        int(np.max(np.searchsorted(s, starts + window) - np.searchsorted(s, starts)))
        for s in spike_data
    )
    assert max_spikes >= most
    processor = nmi.data.SpikeProcessor(
        window_size=window, step_size=step, max_spikes_per_window=max_spikes
    )
    with caplog.at_level(logging.WARNING, logger="neural_mi.data.processors"):
        processed = processor.process(spike_data)
    assert "dropped" not in caplog.text  # the bound is enough: no spike is lost
    assert processed.shape[1:] == (5, max_spikes)
    # Sample 50 covers [0.50, 0.60) s: each neuron's spikes there, minus 0.5, then zeros.
    for neuron, spikes in enumerate(spike_data):
        inside = spikes[(spikes >= 0.5 - 1e-9) & (spikes < 0.6 - 1e-9)] - 0.5
        expected = np.zeros(max_spikes)
        expected[: inside.size] = inside
        np.testing.assert_allclose(processed[50, neuron].numpy(), expected, atol=1e-6)


def test_categorical_windows_are_flattened_one_hot_vectors():
    raw, _ = nmi.datasets.generate_correlated_categorical_series(
        n_samples=50, n_channels=1, n_categories=3, use_torch=False
    )
    assert isinstance(raw, np.ndarray) and raw.shape == (1, 50)
    processed = nmi.data.CategoricalProcessor(window_size=3, step_size=1).process(raw)
    assert processed.shape == (48, 1, 9)
    first = processed[0, 0, :]
    # each state becomes a one-hot row: [2, 2, 2] -> [0,0,1, 0,0,1, 0,0,1]
    expected = np.eye(3)[raw[0, :3]].ravel()
    np.testing.assert_array_equal(first.numpy(), expected)
    assert first.reshape(3, 3).argmax(1).tolist() == raw[0, :3].tolist()


def test_categorical_generator_defaults_to_tensors_like_1_1():
    x, _ = nmi.datasets.generate_correlated_categorical_series(n_samples=20)
    assert isinstance(x, torch.Tensor) and x.shape == (1, 20) and x.max() <= 2
    # 1.1's keyword for the copy probability is accepted
    _, y_copy = nmi.datasets.generate_correlated_categorical_series(
        n_samples=20, transition_probability=1.0, use_torch=False
    )
    x_np, _ = nmi.datasets.generate_correlated_categorical_series(n_samples=20, use_torch=False)
    np.testing.assert_array_equal(y_copy, x_np)


def _mixed_recording() -> tuple[np.ndarray, list[np.ndarray]]:
    """10 s of 2-channel LFP at 100 Hz and 5 spike trains over the same 10 s."""
    lfp = np.random.default_rng(0).standard_normal((2, 1000))
    spikes, _ = nmi.datasets.generate_correlated_spike_trains(n_neurons=5, duration=10.0)
    return lfp, spikes


def test_data_handler_refuses_to_pair_windows_of_different_time_steps():
    lfp, spikes = _mixed_recording()
    # The tutorial's example: LFP windows every 10 samples (0.1 s) against spike windows
    # every 0.05 s; 1.1 truncated both to 91 samples, pairing X at 0.1 k s with Y at
    # 0.05 k s.  We refuse, naming the counts.
    handler = nmi.data.DataHandler(
        x_data=lfp,
        y_data=spikes,
        processor_type_x="continuous",
        processor_params_x={"window_size": 100, "step_size": 10},
        processor_type_y="spike",
        processor_params_y={"window_size": 0.5, "step_size": 0.05},
    )
    with pytest.raises(DataShapeError, match=r"X has 91 samples, Y has 1\d\d: cannot be aligned"):
        handler.process()


def test_data_handler_pairs_windows_of_the_same_time_step():
    lfp, spikes = _mixed_recording()
    handler = nmi.data.DataHandler(
        x_data=lfp,
        y_data=spikes,
        processor_type_x="continuous",
        processor_params_x={"window_size": 50, "step_size": 5},  # 0.5 s every 0.05 s
        processor_type_y="spike",
        processor_params_y={"window_size": 0.5, "step_size": 0.05},
    )
    x, y = handler.process()
    # "The number of samples (dim 0) is now identical": window k of both starts at 0.05 k s
    assert x.shape[0] == y.shape[0] >= 185
    assert x.shape[1:] == (2, 50) and y.shape[1] == 5
    np.testing.assert_allclose(x[3].numpy(), lfp[:, 15:65], rtol=1e-6)
    first_neuron = spikes[0]
    inside = first_neuron[(first_neuron >= 0.15) & (first_neuron < 0.65)] - 0.15
    np.testing.assert_allclose(y[3, 0, : inside.size].numpy(), inside, atol=1e-6)


def test_data_handler_gives_y_the_processor_of_x_when_only_x_is_given():
    lfp, _ = _mixed_recording()
    handler = nmi.data.DataHandler(
        lfp, lfp[::-1].copy(), "continuous", {"window_size": 4, "step_size": 2}
    )
    x, y = handler.process()
    assert x.shape == y.shape == (499, 2, 4)
    assert handler.processor_type_y == "continuous"


def test_run_on_spike_trains_finds_the_shared_spikes():
    # Seeds 42 (X, Y) and 7 (an independent Y): the echoed trains share about 0.27 bit per
    # 100 ms window, the independent ones 0.0002; tolerances 0.15 and 0.05 bit.
    x, y = nmi.datasets.generate_correlated_spike_trains(n_neurons=5, duration=60.0)
    _, y_other = nmi.datasets.generate_correlated_spike_trains(n_neurons=5, duration=60.0, seed=7)
    kw = dict(
        processor_type="spike",
        processor_params={"window_size": 0.1, "step_size": 0.05},
        base_params=FAST,
        verbose=False,
    )
    assert nmi.run(x, y, **kw).mi_estimate > 0.15
    assert abs(nmi.run(x, y_other, **kw).mi_estimate) < 0.05


def test_run_on_categorical_series_recovers_the_known_mi():
    # Seed 42, 3000 samples; truth 1.165 bits (categorical_mi_bits(3, 0.9)); tol 0.15 bit.
    x, y = nmi.datasets.generate_correlated_categorical_series(
        n_samples=3000, n_channels=1, n_categories=3
    )
    res = nmi.run(
        x,
        y,
        processor_type="categorical",
        processor_params={"window_size": 1},
        base_params=FAST,
        split_mode="random",
        verbose=False,
    )
    truth = nmi.datasets.categorical_mi_bits(3, 0.9)
    assert res.mi_estimate == pytest.approx(truth, abs=0.15)
