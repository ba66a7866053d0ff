"""Sample indices for train/test splits and for the bias-correction subsets.

Index arrays are always sorted ``numpy.int64``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InsufficientDataError, ParameterError
from ..params import SPLIT_MODES, check_choice, check_int

__all__ = ["overlap_gap", "subset_indices", "train_test_split"]

#: Slack on window/step ratios, so float steps like 0.3 / 0.1 = 2.9999999999999996 count as 3.
_RATIO_TOL = 1e-9


def overlap_gap(window_size: float, step_size: float) -> int:
    """Number of window indices to leave between train and test samples.

    Windows ``i`` and ``j`` overlap in time when ``|i - j| * step_size < window_size``, so
    leaving ``ceil(window_size / step_size) - 1`` indices out on each side of a test block
    guarantees no training window shares a time point with a test window.

    Parameters
    ----------
    window_size, step_size
        Window length and shift, in the same unit: samples (continuous, categorical) or
        seconds (spikes).

    Returns
    -------
    int
        ``ceil(window_size / step_size) - 1`` (0 for non-overlapping windows); a ratio
        within 1e-9 of an integer counts as that integer, so ``(0.3, 0.1)`` gives 2.
    """
    for value, name in ((window_size, "window_size"), (step_size, "step_size")):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not value > 0
        ):
            raise ParameterError(f"{name} must be a positive number, got {value!r}.")
    return max(0, math.ceil(window_size / step_size - _RATIO_TOL) - 1)


def train_test_split(
    n: int,
    split_mode: str,
    *,
    train_fraction: float = 0.9,
    n_test_blocks: int = 5,
    gap: int = 0,
    rng_seed: int = 0,
    train_indices: Any = None,
    test_indices: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n`` samples into training and held-out indices.

    Parameters
    ----------
    n
        Number of samples.
    split_mode
        ``'random'``: a permutation drawn from ``rng_seed``; its first
        ``round(n * (1 - train_fraction))`` entries are the test set.
        ``'blocked'``: ``n_test_blocks`` contiguous test blocks (about
        ``n * (1 - train_fraction)`` samples in all), each centred in one of
        ``n_test_blocks`` equal segments of ``[0, n)``; the training set is every other
        index at distance ``> gap`` from all test indices.  ``gap`` only applies here.
    train_fraction
        Fraction of samples used for training, in ``(0, 1)``.
    n_test_blocks
        Number of test blocks in blocked mode.
    gap
        Indices to leave out on each side of each test block (see :func:`overlap_gap`).
    rng_seed
        Seed of the permutation in random mode.
    train_indices, test_indices
        Explicit split: when both are given they are validated and returned (sorted), and
        the other arguments are ignored.

    Returns
    -------
    train_idx, test_idx : numpy.ndarray
        Sorted, disjoint int64 index arrays.

    Raises
    ------
    ParameterError
        Invalid arguments or explicit indices (out of range, overlapping, duplicated,
        empty, or only one of the two given).
    InsufficientDataError
        Fewer than 2 training or 2 test samples.
    """
    check_int(n, "n", 0)
    if train_indices is not None or test_indices is not None:
        train, test = _explicit_split(n, train_indices, test_indices)
        described = "explicit indices"
    else:
        check_choice(split_mode, SPLIT_MODES, "split_mode")
        if not isinstance(train_fraction, (int, float)) or not 0.0 < train_fraction < 1.0:
            raise ParameterError(f"train_fraction must be in (0, 1), got {train_fraction!r}.")
        check_int(gap, "gap", 0)
        n_test = round(n * (1.0 - train_fraction))
        if split_mode == "random":
            order = np.random.default_rng(rng_seed).permutation(n)
            test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        else:
            check_int(n_test_blocks, "n_test_blocks", 1)
            train, test = _blocked_split(n, n_test, int(n_test_blocks), int(gap))
        described = (
            f"split_mode={split_mode!r}, train_fraction={train_fraction}, "
            f"n_test_blocks={n_test_blocks}, gap={gap}"
        )
    if train.size < 2 or test.size < 2:
        raise InsufficientDataError(
            f"Splitting n={n} samples ({described}) leaves {train.size} training and "
            f"{test.size} test samples; at least 2 of each are needed. Use more data, "
            "smaller windows/steps, or a different train_fraction."
        )
    return train.astype(np.int64), test.astype(np.int64)


def _blocked_split(n: int, n_test: int, n_blocks: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    n_blocks = max(1, min(n_blocks, n_test))
    sizes = np.full(n_blocks, n_test // n_blocks)
    sizes[: n_test % n_blocks] += 1
    segment = n / n_blocks
    starts = np.floor(np.arange(n_blocks) * segment + (segment - sizes) / 2).astype(np.int64)
    starts = np.clip(starts, 0, n - sizes)
    test = np.concatenate([np.arange(s, s + k) for s, k in zip(starts, sizes)])
    # Cumulative-sum trick: +1 where an excluded interval opens, -1 where it closes.
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, np.clip(starts - gap, 0, n), 1)
    np.add.at(edges, np.clip(starts + sizes + gap, 0, n), -1)
    excluded = np.cumsum(edges[:n]) > 0
    return np.flatnonzero(~excluded), np.unique(test)


def _explicit_split(n: int, train_indices: Any, test_indices: Any) -> tuple[np.ndarray, np.ndarray]:
    if train_indices is None or test_indices is None:
        raise ParameterError(
            "Explicit splits need both train_indices and test_indices; got only "
            f"{'train_indices' if test_indices is None else 'test_indices'}."
        )
    arrays = []
    for name, indices in (("train_indices", train_indices), ("test_indices", test_indices)):
        array = np.asarray(indices)
        if array.ndim != 1 or array.size == 0:
            raise ParameterError(f"{name} must be a non-empty 1-D array, got shape {array.shape}.")
        if array.dtype.kind not in "iu":
            raise ParameterError(f"{name} must hold integers, got dtype {array.dtype}.")
        if array.min() < 0 or array.max() >= n:
            raise ParameterError(
                f"{name} must lie in [0, {n}) for n={n} samples; got values from "
                f"{array.min()} to {array.max()}."
            )
        unique = np.unique(array)
        if unique.size != array.size:
            raise ParameterError(f"{name} holds {array.size - unique.size} duplicated indices.")
        arrays.append(unique)
    shared = np.intersect1d(arrays[0], arrays[1])
    if shared.size:
        raise ParameterError(
            f"train_indices and test_indices overlap in {shared.size} indices "
            f"(e.g. {shared[:5].tolist()}); they must be disjoint."
        )
    return arrays[0], arrays[1]


def subset_indices(n: int, gamma: int, subset: int, split_mode: str, rng_seed: int) -> np.ndarray:
    """Indices of one of ``gamma`` disjoint, equal-size chunks of ``n`` samples.

    Used by the bias correction, which estimates MI on ``1/gamma`` of the data.

    Parameters
    ----------
    n
        Number of samples.
    gamma
        Number of chunks; each has ``m = n // gamma`` samples (the remainder is dropped).
    subset
        Which chunk, ``0 <= subset < gamma``.
    split_mode
        ``'random'``: chunks are consecutive pieces of one permutation drawn from
        ``rng_seed`` (pass the same seed for every parameter combination so all use the
        same chunks).  ``'blocked'``: chunk ``subset`` is ``[subset*m, (subset+1)*m)``.
    rng_seed
        Seed of the permutation in random mode.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices, shape ``(n // gamma,)``.

    Raises
    ------
    ParameterError
        Invalid ``gamma``, ``subset`` or ``split_mode``.
    InsufficientDataError
        If ``n < gamma``.
    """
    check_int(n, "n", 0)
    check_int(gamma, "gamma", 1)
    check_choice(split_mode, SPLIT_MODES, "split_mode")
    if (
        isinstance(subset, bool)
        or not isinstance(subset, (int, np.integer))
        or not 0 <= subset < gamma
    ):
        raise ParameterError(
            f"subset must be an integer in [0, {gamma}) for gamma={gamma}, got {subset!r}."
        )
    m = n // gamma
    if m < 1:
        raise InsufficientDataError(
            f"Cannot cut n={n} samples into gamma={gamma} chunks; reduce gamma or use more data."
        )
    if split_mode == "blocked":
        return np.arange(subset * m, (subset + 1) * m, dtype=np.int64)
    order = np.random.default_rng(rng_seed).permutation(n)
    return np.sort(order[subset * m : (subset + 1) * m]).astype(np.int64)
