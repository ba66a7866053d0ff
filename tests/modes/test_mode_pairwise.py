"""Modes ``pairwise`` and ``pairwise_xy``: the pairs planned, each pair's channels, the
matrix (by hand), the headline, refusals, and a small block-structure run.  Accuracy at
12 channels: tests/test_accuracy_modes.py (slow)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_result

import neural_mi as nmi
from neural_mi.aggregate import summarize
from neural_mi.engine.inputs import SessionData
from neural_mi.errors import DataShapeError, ParameterError
from neural_mi.modes import get_mode
from neural_mi.plan import plan_tasks
from neural_mi.store import results_to_dataset


def test_every_pair_once_and_repeats_share_their_data():
    specs = plan_tasks("pairwise", channels=4, n_repeats=2)
    assert len(specs) == 6 * 2
    assert [s.role for s in specs[::2]] == [
        "x[0]|x[1]",
        "x[0]|x[2]",
        "x[0]|x[3]",
        "x[1]|x[2]",
        "x[1]|x[3]",
        "x[2]|x[3]",
    ]
    assert specs[1].key.endswith("-x000-x001-r01") and specs[1].repeat == 1
    mode = get_mode("pairwise")
    assert mode.data_key(specs[0]) == mode.data_key(specs[1]) != mode.data_key(specs[2])
    groups = plan_tasks("pairwise", channels={"CA1": [0, 1], "CA3": [2], "PFC": [4, 5]})
    assert [s.role for s in groups] == ["x[0,1]|x[2]", "x[0,1]|x[4,5]", "x[2]|x[4,5]"]
    listed = plan_tasks("pairwise", channels=[3, 7, 9], pairs=[["7", "3"], ["3", "9"]])
    assert [s.role for s in listed] == ["x[7]|x[3]", "x[3]|x[9]"]
    xy = plan_tasks("pairwise_xy", channels={"A": [0, 1]}, channels_y=3)
    assert [s.role for s in xy] == ["x[0,1]|y[0]", "x[0,1]|y[1]", "x[0,1]|y[2]"]


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"channels": {"A": [0, 1], "B": [1, 2]}}, r"'A' and 'B' share channel\(s\) \[1\]"),
        ({"channels": 3, "pairs": [["0", "5"]]}, r"pairs names '5', which is not a label of X"),
        ({"channels": 3, "pairs": [["0", "1"], ["1", "0"]]}, r"holds \('1', '0'\) twice"),
        ({"channels": 3, "pairs": [["1", "1"]]}, r"a label with itself"),
        ({"channels": [2, 2]}, r"lists a channel twice"),
        ({"channels": {"A": []}}, r"non-empty list of distinct channels"),
        ({"channels": 3, "pairs": []}, r"pairs must not be empty"),
        ({}, r"channels"),
    ],
)
def test_bad_channel_selections_are_refused(options, pattern):
    with pytest.raises(ParameterError, match=pattern):
        plan_tasks("pairwise", **options)


def test_each_pair_trains_on_its_channels():
    x = np.arange(40.0).reshape(4, 10)
    y = -np.arange(20.0).reshape(2, 10)
    spec = plan_tasks("pairwise", channels={"a": [0, 2], "b": [3]})[0]
    first, second, gap = get_mode("pairwise").task_data(spec, SessionData(x, None))
    np.testing.assert_array_equal(first[:, :, 0].numpy().T, x[[0, 2]])
    np.testing.assert_array_equal(second[:, :, 0].numpy().T, x[[3]])
    assert gap == 0
    spec = plan_tasks("pairwise_xy", channels=[1], channels_y=[1])[0]
    first, second, _ = get_mode("pairwise_xy").task_data(spec, SessionData(x, y))
    np.testing.assert_array_equal(second[:, 0, 0].numpy(), y[1])
    spec = plan_tasks("pairwise", channels=6)[-1]
    with pytest.raises(DataShapeError, match=r"Channel\(s\) \[4\] of a pair are beyond X's 4"):
        get_mode("pairwise").task_data(spec, SessionData(x, None))
    with pytest.raises(DataShapeError, match=r"beyond X's 4"):
        get_mode("pairwise").task_extent(spec, 10, n_channels=4)


def test_matrix_headline_and_units_by_hand():
    values = {"x[0]|x[1]": [0.6, 0.8], "x[0]|x[2]": [0.1, 0.1], "x[1]|x[2]": [0.3, 0.2]}
    results = [
        make_result(f"c-{i}-r{r}", "c", "pairwise", mi, role=role, repeat=r)
        for i, (role, mis) in enumerate(values.items())
        for r, mi in enumerate(mis)
    ]
    options = {"channels": 3, "n_repeats": 2}
    summary, head = summarize(results_to_dataset(results), "pairwise", "test_mi", "nats", options)
    matrix = summary["mi_mean"].isel(combo=0).transpose("channel_a", "channel_b").values
    expected = np.array([[np.nan, 0.7, 0.1], [0.7, np.nan, 0.25], [0.1, 0.25, np.nan]])
    np.testing.assert_allclose(matrix, expected)
    assert summary["channel_a"].values.tolist() == ["0", "1", "2"]
    assert head["mi_estimate"] == pytest.approx(0.7) and head["max_pair"] == ["0", "1"]
    assert head["mi_error"] == pytest.approx(np.std([0.6, 0.8], ddof=1) / np.sqrt(2))
    assert head["mean_pair_mi"] == pytest.approx((0.7 + 0.1 + 0.25) / 3) and head["n_pairs"] == 3
    bits, _ = summarize(results_to_dataset(results), "pairwise", "test_mi", "bits", options)
    assert float(bits["mi_mean"].sel(combo="c", channel_a="0", channel_b="1")) == pytest.approx(
        0.7 / np.log(2)
    )
    # Aggregating with options that name other channels is refused, not mislabelled.
    with pytest.raises(DataShapeError, match="not pairs of this analysis' channels"):
        summarize(results_to_dataset(results), "pairwise", options={"channels": [0, 1, 5]})


def test_small_run_recovers_two_blocks(fast_params):
    # seed 4: 6 channels in 2 blocks of 3, 1.5 bit within a block, 0 between.  A short
    # training already orders every within-block pair above every between-block pair.
    x = nmi.datasets.generate_block_channels(1500, n_blocks=2, block_size=3, mi=1.5, seed=4)
    params = {**fast_params, "n_epochs": 6, "batch_size": 128}
    res = nmi.run(
        x, mode="pairwise", channels=6, base_params=params, split_mode="random", verbose=False
    )
    matrix = res.details["matrix"].to_numpy()
    block = np.repeat([0, 1], 3)
    within = block[:, None] == block[None, :]
    off_diagonal = ~np.eye(6, dtype=bool)
    assert matrix[within & off_diagonal].min() > matrix[~within].max()
    assert res.headline["n_pairs"] == 15 and res.plot(show=False).get_figure()
    assert "largest pair MI" in res.summary()
