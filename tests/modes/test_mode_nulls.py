"""A permutation test in every built-in mode, with real (tiny) trainings: the null tasks
the mode plans, the p-value of its headline number and the chance level of its figure."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

import neural_mi as nmi

#: Five epochs: with the default rank-Gauss inputs one epoch of this tiny critic can end below
#: -0.1 bit on held-out data, which is refused as a failed task.
TINY = {"n_epochs": 5, "batch_size": 64, "hidden_dim": 8, "embedding_dim": 2, "n_layers": 1}
N_PERMUTATIONS = 2

#: mode: (its arguments, uses Y, tasks whose data the null changes per permutation).
CASES = {
    "estimate": ({}, True, 1),
    "sweep": ({"sweep_grid": {"embedding_dim": [2, 3]}}, True, 2),
    "rigorous": ({"gamma_range": [1, 2]}, True, 3),
    "lag": ({"lag_range": [0, 2]}, True, 2),
    "dimensionality": (
        {"sweep_grid": {"embedding_dim": [1, 2]}, "n_splits": 1, "n_epochs": 6},
        False,
        2,
    ),
    "conditional": ({"z_data": "z"}, True, 1),  # the fit of I(Z;Y) stands in
    "transfer": ({}, True, 2),  # each direction's full fit; the reduced ones stand in
    "pairwise": ({"channels": 3}, False, 3),
    "pairwise_xy": ({"channels": 2, "channels_y": 2}, True, 4),
}


@pytest.mark.parametrize("mode", list(CASES))
def test_every_mode_tests_its_headline_against_its_null(mode):
    arguments, uses_y, changed = dict(CASES[mode][0]), *CASES[mode][1:]
    base = {**TINY, "n_epochs": arguments.pop("n_epochs", TINY["n_epochs"])}
    x, y = nmi.datasets.generate_correlated_gaussians(400, 4, 1.0, use_torch=False, seed=2)
    x, y = x.T.copy(), y.T.copy()
    if not uses_y:  # X alone: its channels share information
        x = np.vstack([x, y])
    if arguments.get("z_data") == "z":
        arguments = {**arguments, "z_data": np.random.default_rng(0).standard_normal((1, 400))}
    result = nmi.run(
        x,
        y if uses_y else None,
        mode=mode,
        base_params=base,
        processor_params={"window_size": 1},
        random_seed=3,
        n_permutations=N_PERMUTATIONS,
        allow_partial=True,
        verbose=False,
        **arguments,
    )
    permutation = result.tasks["permutation"].values
    n_observed = int(np.sum(permutation == 0))
    assert [int(np.sum(permutation == k)) for k in (1, 2)] == [changed, changed]
    assert n_observed >= changed
    # a p-value of 2 permutations is 1/3, 2/3 or 1
    p = result.headline["p_value"]
    assert any(math.isclose(p, k / 3) for k in (1, 2, 3)), p
    assert result.summary_dataset.attrs["n_permutations"] == N_PERMUTATIONS
    assert result.summary_dataset.attrs["null_method"] == "circular"  # blocked split
    assert "p_value" in result.dataframe.columns
    assert "permutation test: p = " in result.summary()
    ax = result.plot(show=False)
    artists = [*ax.get_lines(), *ax.collections, *ax.containers]
    labels = [str(artist.get_label()) for artist in artists]
    plt.close(ax.figure)
    assert any(label.startswith(("chance", "p <=")) for label in labels), labels
