"""Synthetic generators: shapes, determinism and the promised dependence structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from neural_mi import datasets as ds
from neural_mi.errors import ParameterError


def test_rho_from_mi_hand_values():
    # 1 bit in 1 dimension: 1 - rho^2 = 2**-2 -> rho = sqrt(3)/2
    assert ds.rho_from_mi(1.0, 1) == pytest.approx(math.sqrt(3) / 2, rel=1e-12)
    assert ds.rho_from_mi(0.0, 4) == 0.0
    rho = ds.rho_from_mi(2.0, 4)
    assert -0.5 * 4 * math.log2(1 - rho**2) == pytest.approx(2.0, rel=1e-12)


def test_correlated_gaussians_correlation_matches_rho():
    # seed 0, n = 20000: the sample correlation has sd (1 - rho^2)/sqrt(n) ~ 0.005; tol 0.02
    x, y = ds.generate_correlated_gaussians(20000, 3, mi=1.5, use_torch=False, seed=0)
    rho = ds.rho_from_mi(1.5, 3)
    for d in range(3):
        assert np.corrcoef(x[:, d], y[:, d])[0, 1] == pytest.approx(rho, abs=0.02)
    assert abs(np.corrcoef(x[:, 0], y[:, 1])[0, 1]) < 0.02  # pairs are independent


def test_correlated_gaussians_types_and_seeds():
    x, y = ds.generate_correlated_gaussians(50, 2, mi=1.0, seed=1)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (50, 2)
    xn, yn = ds.generate_correlated_gaussians(50, 2, mi=1.0, use_torch=False, seed=1)
    assert xn.dtype == np.float32 and np.array_equal(xn, x.numpy())
    assert np.array_equal(yn, y.numpy())
    assert not np.array_equal(ds.generate_correlated_gaussians(50, 2, 1.0, False, seed=2)[0], xn)


def test_nonlinear_from_latent_preserves_rank_dependence():
    # latent_dim = observed_dim = 1: each map is strictly monotone, so the Spearman
    # correlation of (x, y) equals that of the Gaussian latents, (6/pi) asin(rho/2).
    # seed 0, n = 20000: sd of Spearman's rho ~ 0.005; tol 0.02
    x, y = ds.generate_nonlinear_from_latent(20000, 1, 1, mi=1.0, use_torch=False, seed=0)
    rho = ds.rho_from_mi(1.0, 1)
    expected = 6 / math.pi * math.asin(rho / 2)
    assert abs(spearmanr(x[:, 0], y[:, 0])[0]) == pytest.approx(expected, abs=0.02)


def test_nonlinear_from_latent_shapes_and_maps():
    x, y = ds.generate_nonlinear_from_latent(100, 2, 6, mi=1.0, seed=0)
    assert x.shape == y.shape == (100, 6) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and torch.isfinite(y).all()
    x2, _ = ds.generate_nonlinear_from_latent(100, 2, 6, mi=1.0, seed=0)
    assert torch.equal(x, x2)
    assert (y.max(0).values <= 1).all()  # g ends with tanh
    assert (x.min(0).values > 0).all()  # f ends with softplus
    with pytest.raises(ParameterError, match="observed_dim=1 must be >= latent_dim=2"):
        ds.generate_nonlinear_from_latent(10, 2, 1, mi=1.0)


def test_spike_trains_are_lagged_copies():
    x, y = ds.generate_correlated_spike_trains(
        n_neurons=2, duration=20.0, firing_rate=10.0, lag=0.005, jitter=0.001, seed=0
    )
    assert len(x) == len(y) == 2
    for spikes in (*x, *y):
        assert np.all(np.diff(spikes) >= 0) and spikes.min() >= 0 and spikes.max() < 20.0
    # cross-correlogram of neuron 0 in 1 ms bins over [-10, 10) ms peaks at the lag (5 ms)
    diffs = (y[0][None, :] - x[0][:, None]).ravel()
    counts, edges = np.histogram(diffs, bins=20, range=(-0.01, 0.01))
    peak_centre = edges[np.argmax(counts)] + 0.0005
    assert abs(peak_centre - 0.005) <= 0.001  # N(5 ms, 1 ms) splits between the two bins
    assert counts.max() > 5 * np.median(counts)  # a real peak over the flat background
    # Poisson rate check (seed 0): 200 expected X spikes, tol 4 sd = 4 * sqrt(200) ~ 57
    assert abs(x[0].size - 200) < 57


def test_categorical_mi_hand_values():
    assert ds.categorical_mi_bits(4, 1.0) == pytest.approx(2.0)
    assert ds.categorical_mi_bits(4, 0.0) == pytest.approx(0.0, abs=1e-12)
    # K=2, p=0.5: Y=X w.p. 0.75 -> 1 - H(0.75) = 1 - 0.8112781245
    assert ds.categorical_mi_bits(2, 0.5) == pytest.approx(1 - 0.8112781244591328, rel=1e-10)


def test_categorical_series_copy_rate():
    x, y = ds.generate_correlated_categorical_series(
        20000, n_categories=4, n_channels=2, p_copy=0.8, use_torch=False, seed=0
    )
    assert x.shape == y.shape == (2, 20000) and x.dtype == np.int64
    assert x.min() == 0 and x.max() == 3
    # P(y == x) = 0.8 + 0.2/4 = 0.85; sd ~ 0.0018 for 40000 draws; tol 0.01
    assert np.mean(x == y) == pytest.approx(0.85, abs=0.01)


def test_linear_data_correlation_peaks_at_true_lag():
    x, y = ds.generate_linear_data(5000, true_lag=50, noise=0.5, seed=0)
    assert x.shape == y.shape == (1, 5000) and x.dtype == np.float32
    corr = [np.corrcoef(x[0, : 5000 - lag], y[0, lag:])[0, 1] for lag in range(101)]
    assert int(np.argmax(corr)) == 50
    assert corr[50] == pytest.approx(1 / math.sqrt(1.25), abs=0.02)  # seed 0, tol 0.02
    assert np.std(y[0, :50]) < 1.0  # the first 50 values are pure noise (sd 0.5)


def test_nonlinear_and_history_data_ground_truth():
    x, y = ds.generate_nonlinear_data(3000, true_lag=10, noise=0.0, seed=0)
    assert np.allclose(y[0, 10:], x[0, :-10] ** 2 - 1, atol=1e-5)
    assert np.all(y[0, :10] == 0)
    x, y = ds.generate_history_data(3000, history_duration=20, noise=0.0, seed=0)
    assert np.array_equal(y[0, 20:], x[0, :-20]) and np.all(y[0, :20] == 0)


def test_full_data_ground_truth():
    x, y = ds.generate_full_data(500, true_lag=5, history_duration=3, noise=0.0, seed=0)
    t = 100
    assert y[0, t] == pytest.approx(x[0, t - 7 : t - 4].sum() / math.sqrt(3), abs=1e-5)


def test_xor_data_is_synergistic():
    x, y = ds.generate_xor_data(20000, noise=0.1, seed=0)
    assert x.shape == (2, 20000) and y.shape == (1, 20000)
    bit = np.logical_xor(x[0] > 0, x[1] > 0)
    assert np.array_equal(np.round(y[0]) == 1, bit)
    # each channel alone: P(bit | x0 > 0) = 1/2; seed 0, sd ~ 0.005, tol 0.02
    assert bit[x[0] > 0].mean() == pytest.approx(0.5, abs=0.02)
    assert bit[x[1] > 0].mean() == pytest.approx(0.5, abs=0.02)


def test_latent_factor_data_rank():
    data = ds.generate_latent_factor_data(2000, latent_dim=3, n_channels=10, noise=0.1, seed=0)
    assert data.shape == (10, 2000) and data.dtype == np.float32
    sv = np.linalg.svd(data - data.mean(1, keepdims=True), compute_uv=False)
    # 3 signal directions; the rest are noise (sd 0.1), far below the weakest factor
    assert sv[3] / sv[2] < 0.2


def test_default_seed_makes_scripts_reproducible():
    from neural_mi.datasets import generate_correlated_gaussians

    a = generate_correlated_gaussians(50, 2, 1.0, use_torch=False)
    b = generate_correlated_gaussians(50, 2, 1.0, use_torch=False)
    c = generate_correlated_gaussians(50, 2, 1.0, use_torch=False, seed=None)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
