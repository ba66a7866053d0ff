"""Train/test splits, the overlap gap and bias-correction subsets."""

from __future__ import annotations

import numpy as np
import pytest

from neural_mi.data import overlap_gap, subset_indices, train_test_split
from neural_mi.errors import InsufficientDataError, ParameterError


@pytest.mark.parametrize(
    "window, step, gap",
    [
        (1, 1, 0),
        (10, 1, 9),
        (10, 5, 1),
        (10, 3, 3),
        (4, 8, 0),
        (0.3, 0.1, 2),
        (0.2, 0.1, 1),
        (0.25, 0.1, 2),
    ],
)
def test_overlap_gap(window, step, gap):
    assert overlap_gap(window, step) == gap


def test_overlap_gap_rejects_non_positive():
    with pytest.raises(ParameterError, match="step_size"):
        overlap_gap(10, 0)


def test_random_split_sizes_disjoint_sorted_and_deterministic():
    train, test = train_test_split(100, "random", train_fraction=0.8, rng_seed=3)
    assert (train.size, test.size) == (80, 20)
    assert train.dtype == test.dtype == np.int64
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.union1d(train, test), np.arange(100))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    again = train_test_split(100, "random", train_fraction=0.8, rng_seed=3)
    other = train_test_split(100, "random", train_fraction=0.8, rng_seed=4)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(other[1], test)


def test_blocked_split_hand_example():
    # n=20, 4 test samples in 2 blocks of 2, each centred in a segment of 10: starts 4 and 14
    train, test = train_test_split(20, "blocked", train_fraction=0.8, n_test_blocks=2, gap=1)
    assert np.array_equal(test, [4, 5, 14, 15])
    assert np.array_equal(train, [0, 1, 2, 7, 8, 9, 10, 11, 12, 17, 18, 19])


@pytest.mark.parametrize("gap", [0, 3, 9])
def test_blocked_split_respects_gap(gap):
    train, test = train_test_split(1000, "blocked", train_fraction=0.9, n_test_blocks=5, gap=gap)
    assert test.size == 100
    distance = np.abs(train[:, None] - test[None, :]).min(axis=1)
    assert distance.min() == gap + 1  # nothing within the gap, and nothing more left out
    assert train.size == 1000 - 100 - 2 * 5 * gap
    # five contiguous blocks
    assert np.count_nonzero(np.diff(test) > 1) == 4


def test_explicit_indices_are_returned_sorted():
    train, test = train_test_split(10, "blocked", train_indices=[5, 1, 2], test_indices=[9, 7])
    assert np.array_equal(train, [1, 2, 5]) and np.array_equal(test, [7, 9])
    assert train.dtype == np.int64


@pytest.mark.parametrize(
    "train_idx, test_idx, pattern",
    [
        ([0, 1, 2], [2, 3], "overlap"),
        ([0, 1, 10], [3, 4], r"\[0, 10\)"),
        ([], [3, 4], "non-empty"),
        ([0, 1], None, "both train_indices and test_indices"),
        ([0, 0, 1], [3, 4], "duplicated"),
    ],
)
def test_explicit_indices_errors(train_idx, test_idx, pattern):
    with pytest.raises(ParameterError, match=pattern):
        train_test_split(10, "random", train_indices=train_idx, test_indices=test_idx)


def test_too_few_samples():
    with pytest.raises(InsufficientDataError, match=r"n=10 .*split_mode='random'.*1 test"):
        train_test_split(10, "random", train_fraction=0.9)


def test_bad_split_mode_and_fraction():
    with pytest.raises(ParameterError, match="split_mode"):
        train_test_split(100, "interleaved")
    with pytest.raises(ParameterError, match="train_fraction"):
        train_test_split(100, "random", train_fraction=1.0)


def test_subset_indices_blocked():
    assert np.array_equal(subset_indices(10, 3, 1, "blocked", 0), [3, 4, 5])


def test_subset_indices_random_chunks_partition_one_permutation():
    chunks = [subset_indices(103, 4, s, "random", rng_seed=7) for s in range(4)]
    assert all(c.size == 25 and c.dtype == np.int64 for c in chunks)
    assert all(np.all(np.diff(c) > 0) for c in chunks)
    union = np.concatenate(chunks)
    assert np.unique(union).size == 100  # disjoint; 3 remainder samples dropped
    assert np.array_equal(subset_indices(103, 4, 2, "random", rng_seed=7), chunks[2])


def test_subset_indices_errors():
    with pytest.raises(ParameterError, match=r"subset.*\[0, 3\)"):
        subset_indices(10, 3, 3, "blocked", 0)
    with pytest.raises(InsufficientDataError, match="n=2 samples into gamma=3"):
        subset_indices(2, 3, 0, "blocked", 0)
