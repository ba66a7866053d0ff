"""Align the sample counts of two processed variables."""

from __future__ import annotations

import logging

import torch

from ..errors import DataShapeError
from ..params import MIN_ALIGN_RATIO

logger = logging.getLogger(__name__)

__all__ = ["MIN_ALIGN_RATIO", "align_samples"]


def align_samples(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Trim the longer of two processed tensors so both have the same number of samples.

    Windows of both variables start at time 0, so trailing samples are dropped.

    Parameters
    ----------
    x, y
        Processed tensors ``(n_samples, n_channels, n_features)``; the sample counts may
        differ (e.g. different window or step sizes, or spike and continuous data).

    Returns
    -------
    tuple of torch.Tensor
        ``(x[:n], y[:n])`` with ``n = min(len(x), len(y))``; views, no copy.  A WARNING is
        logged when samples are dropped.

    Raises
    ------
    DataShapeError
        If the smaller count is below ``MIN_ALIGN_RATIO`` of the larger one.
    """
    n_x, n_y = int(x.shape[0]), int(y.shape[0])
    if n_x == n_y:
        return x, y
    n = min(n_x, n_y)
    if n < MIN_ALIGN_RATIO * max(n_x, n_y):
        raise DataShapeError(
            f"X has {n_x} samples, Y has {n_y}: cannot be aligned; check window/step sizes "
            "(and, for spike data, n_seconds and the time units) so that both variables cover "
            "the same recording."
        )
    longer = "X" if n_x > n_y else "Y"
    logger.warning(
        "Dropped the last %d samples of %s to align sample counts (X has %d, Y has %d; "
        "keeping %d).",
        max(n_x, n_y) - n,
        longer,
        n_x,
        n_y,
        n,
    )
    return x[:n], y[:n]
