"""Label series where Y copies X with a known probability, and their exact MI."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..params import check_int, check_number
from ._common import _legacy_names

if TYPE_CHECKING:  # torch is imported only when a tensor is asked for (workflow parse time)
    import torch


@_legacy_names(transition_probability="p_copy")
def generate_correlated_categorical_series(
    n_samples: int,
    n_channels: int = 1,
    n_categories: int = 3,
    p_copy: float = 0.9,
    use_torch: bool = True,
    seed: int | None = 42,
) -> tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]:
    """Label series where Y copies X with probability ``p_copy``.

    ``x`` is i.i.d. uniform on ``{0, ..., n_categories - 1}``; at each time and channel
    ``y = x`` with probability ``p_copy``, else a fresh uniform label (which may equal
    ``x`` by chance).  The per-sample, per-channel MI is :func:`categorical_mi_bits`.
    Argument order and defaults are NeuralMI 1.1's (whose name for ``p_copy``,
    ``transition_probability``, is accepted too); 1.1's ``x`` also kept its label from one
    time point to the next with probability 0.95, which made its MI unknown.

    Parameters
    ----------
    n_samples
        Number of time points.
    n_channels
        Independent channels.
    n_categories
        Number of labels ``K`` (>= 2).
    p_copy
        Copy probability in ``[0, 1]``.
    use_torch
        Return torch int64 tensors (default) or numpy int64 arrays.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        int64 ``(n_channels, n_samples)``.
    """
    check_int(n_samples, "n_samples", 1)
    check_int(n_channels, "n_channels", 1)
    _check_probability_and_k(n_categories, p_copy)
    rng = np.random.default_rng(seed)
    shape = (n_channels, n_samples)
    x = rng.integers(0, n_categories, shape)
    y = np.where(rng.random(shape) < p_copy, x, rng.integers(0, n_categories, shape))
    x, y = x.astype(np.int64), y.astype(np.int64)
    if not use_torch:
        return x, y
    import torch

    return torch.from_numpy(x), torch.from_numpy(y)


def _check_probability_and_k(n_categories: int, p_copy: float) -> None:
    check_int(n_categories, "n_categories", 2)
    check_number(p_copy, "p_copy", ge=0, le=1)


def categorical_mi_bits(n_categories: int, p_copy: float) -> float:
    """Exact MI (bits) per sample and channel of :func:`generate_correlated_categorical_series`.

    ``X`` and ``Y`` are both uniform, so ``I = log2 K - H(Y | X)`` where ``Y | X`` puts
    ``a = p + (1 - p) / K`` on ``X`` and ``b = (1 - p) / K`` on each other label:
    ``I = log2 K + a log2 a + (K - 1) b log2 b``.

    Parameters
    ----------
    n_categories
        Number of labels ``K``.
    p_copy
        Copy probability ``p``.

    Returns
    -------
    float
        MI in bits, in ``[0, log2 K]``.
    """
    from scipy.special import (
        xlogy,  # here, not at the top: the workflow's parse imports this module
    )

    _check_probability_and_k(n_categories, p_copy)
    k = n_categories
    a = p_copy + (1.0 - p_copy) / k
    b = (1.0 - p_copy) / k
    return float(math.log2(k) + (xlogy(a, a) + (k - 1) * xlogy(b, b)) / math.log(2.0))
