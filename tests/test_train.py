"""Training one critic (neural_mi.train): early stopping on the smoothed held-out curve,
the kept state, the history, and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_mi.errors import InsufficientDataError
from neural_mi.estimators import get_estimator
from neural_mi.models import build_critic
from neural_mi.params import resolve_base_params
from neural_mi.train import train_critic


def _setup(n=400, **changes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 1, 2)).astype(np.float32)
    y = (x + 0.5 * rng.normal(size=x.shape)).astype(np.float32)
    params = resolve_base_params(
        {
            "n_epochs": 12,
            "batch_size": 32,
            "hidden_dim": 16,
            "embedding_dim": 4,
            "n_layers": 1,
            "patience": 3,
            **changes,
        }
    )
    torch.manual_seed(0)
    critic = build_critic(params, (1, 2), (1, 2))
    return critic, torch.from_numpy(x), torch.from_numpy(y), params


def test_history_best_epoch_and_kept_state_agree():
    critic, x, y, params = _setup()
    train, test = np.arange(300), np.arange(300, 400)
    out = train_critic(
        critic,
        get_estimator("infonce"),
        x,
        y,
        train,
        test,
        params,
        seed=1,
        device=torch.device("cpu"),
    )
    assert set(out.history) == {"test_mi", "test_mi_smoothed", "loss"}
    assert all(len(v) == out.n_epochs_run for v in out.history.values())
    assert out.n_epochs_run <= params["n_epochs"]
    smoothed = out.history["test_mi_smoothed"]
    assert out.best_epoch == int(np.argmax(smoothed))  # the first maximum
    assert out.test_mi == out.history["test_mi"][out.best_epoch]
    # It stopped `patience` epochs after the peak, or ran every epoch.
    assert out.n_epochs_run in (params["n_epochs"], out.best_epoch + params["patience"] + 2)
    assert (out.n_train, out.n_test) == (300, 100)
    assert np.isfinite(out.train_mi) and out.test_mi > 0


def test_same_seed_same_numbers():
    outs = []
    for _ in range(2):
        critic, x, y, params = _setup()
        outs.append(
            train_critic(
                critic,
                get_estimator("infonce"),
                x,
                y,
                np.arange(300),
                np.arange(300, 400),
                params,
                seed=7,
                device=torch.device("cpu"),
            )
        )
    assert outs[0].test_mi == outs[1].test_mi and outs[0].best_epoch == outs[1].best_epoch


def test_too_few_samples_are_refused():
    critic, x, y, params = _setup()
    with pytest.raises(InsufficientDataError, match="at least 2 training and 2 held-out"):
        train_critic(
            critic,
            get_estimator("infonce"),
            x,
            y,
            np.arange(300),
            np.array([301]),
            params,
            seed=1,
            device=torch.device("cpu"),
        )
