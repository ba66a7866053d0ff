"""Shared fixtures: small, fast data sets and parameters for engine tests."""

from __future__ import annotations

import numpy as np
import pytest

import neural_mi as nmi

#: Training settings small enough for unit tests (a task takes a fraction of a second).
FAST_PARAMS = {"n_epochs": 4, "batch_size": 64, "hidden_dim": 16, "embedding_dim": 4,
               "n_layers": 1, "patience": 2, "learning_rate": 1e-3}


@pytest.fixture
def fast_params() -> dict:
    return dict(FAST_PARAMS)


@pytest.fixture
def gauss_small() -> tuple[np.ndarray, np.ndarray]:
    """1 bit between two 2-d Gaussians, 900 samples, as (channels, time) arrays."""
    x, y = nmi.datasets.generate_correlated_gaussians(900, 2, 1.0, use_torch=False, seed=3)
    return x.T.copy(), y.T.copy()
