"""Accuracy of modes conditional, transfer and pairwise against closed forms (slow: run with
-m slow).  Each test states its seeds and tolerance; they are the acceptance criteria of
issue #19.  Small versions of each run in the default suite (tests/test_mode_*.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SEED_TUTORIAL_PARAMS

import neural_mi as nmi

pytestmark = pytest.mark.slow

PARAMS = SEED_TUTORIAL_PARAMS
#: The VAR(1) pair of the transfer tests: TE(X→Y) = 0.5695 bit, TE(Y→X) = 0.
VAR = {"coupling": 1.0, "a": 0.6, "b": 0.4}
WINDOW = {"processor_params": {"window_size": 1}, "verbose": False, "n_workers": 2}


@pytest.mark.parametrize("cmi, tolerance", [(1.0, 0.15), (0.0, 0.05)])
def test_conditional_mi_of_gaussians(cmi, tolerance):
    # Seeds 0-2, 5000 samples of 2-channel X, Y, Z; I(Z;Y) = 0.64 bit.  With cmi = 0,
    # X - Z - Y is a Markov chain (I(X;Y) > 0 but I(X;Y|Z) = 0).  Every seed within 0.15
    # bit of 1 bit, and within 0.05 bit of 0.
    for seed in range(3):
        x, y, z = nmi.datasets.generate_conditional_gaussians(5000, dim=2, cmi=cmi, seed=seed)
        res = nmi.run(
            x,
            y,
            z_data=z,
            mode="conditional",
            base_params=PARAMS,
            split_mode="random",
            random_seed=seed,
            **WINDOW,
        )
        assert abs(res.mi_estimate - cmi) <= tolerance, (seed, res.headline)


def test_transfer_entropy_of_a_var1_pair():
    # Seeds 0-2, 5000 samples, history 1, horizon 1 (blocked splits): every seed has
    # TE(X→Y) within 0.15 bit of 0.5695, TE(Y→X) within 0.05 bit of 0, and a
    # directionality index above 0.8.
    te_xy, te_yx = nmi.datasets.autoregressive_transfer_entropy(**VAR)
    assert te_yx == 0.0
    for seed in range(3):
        x, y = nmi.datasets.generate_coupled_autoregressive(5000, **VAR, seed=seed)
        res = nmi.run(x, y, mode="transfer", base_params=PARAMS, random_seed=seed, **WINDOW)
        head = res.headline
        assert abs(head["te_x_to_y"] - te_xy) <= 0.15, (seed, head)
        assert abs(head["te_y_to_x"]) <= 0.05, (seed, head)
        assert head["directionality"] > 0.8, (seed, head)


def test_pairwise_matrix_of_three_blocks():
    # Seed 0, 12 channels in 3 blocks of 4, 3000 samples: any two channels of a block share
    # 0.7 bit, blocks are independent.  Every within-block entry is above every
    # between-block entry, and within 0.15 bit of 0.7.
    x = nmi.datasets.generate_block_channels(3000, n_blocks=3, block_size=4, mi=0.7, seed=0)
    params = {**PARAMS, "n_epochs": 30, "learning_rate": 1e-3, "patience": 8}
    params.update(embedding_dim=8, hidden_dim=32)
    res = nmi.run(
        x, mode="pairwise", channels=12, base_params=params, split_mode="random", **WINDOW
    )
    matrix = res.details["matrix"].to_numpy()
    block = np.repeat([0, 1, 2], 4)
    within = (block[:, None] == block[None, :]) & ~np.eye(12, dtype=bool)
    between = block[:, None] != block[None, :]
    assert matrix[within].min() > matrix[between].max()
    assert np.abs(matrix[within] - 0.7).max() <= 0.15, matrix
    assert res.headline["n_pairs"] == 66


@pytest.mark.parametrize("mode", ["conditional", "transfer"])
def test_bias_corrected_interval_covers_the_truth(mode):
    # Seeds 0-4, 5000 samples, gamma 1..5, 95% intervals: the truth (1 bit of I(X;Y|Z);
    # TE(X→Y) = 0.5695 bit) is inside the interval on at least 4 of the 5 seeds.
    inside = []
    for seed in range(5):
        kw = dict(rigorous=True, gamma_range=[1, 2, 3, 4, 5], confidence_level=0.95)
        if mode == "conditional":
            truth = 1.0
            x, y, z = nmi.datasets.generate_conditional_gaussians(5000, dim=2, cmi=1.0, seed=seed)
            kw.update(z_data=z, split_mode="random")
        else:
            truth = nmi.datasets.autoregressive_transfer_entropy(**VAR)[0]
            x, y = nmi.datasets.generate_coupled_autoregressive(5000, **VAR, seed=seed)
            kw.update(both_directions=False)
        res = nmi.run(x, y, mode=mode, base_params=PARAMS, random_seed=seed, **kw, **WINDOW)
        inside.append(abs(res.mi_estimate - truth) <= res.headline["mi_error"])
    assert sum(inside) >= 4, inside
