"""Turn raw recordings into windowed tensors of shape ``(n_samples, n_channels, n_features)``.

Every processor returns a torch ``float32`` tensor.  Memory stays O(raw data): continuous
and categorical windows are strided *views* of the (converted) recording, so indexing a
batch ``windows[idx]`` later gathers only that batch.  Spike trains are windowed by
:mod:`neural_mi.data.spikes`; :func:`process` dispatches on the processor type.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..errors import DataShapeError, DataValueError, InsufficientDataError, ParameterError
from ..params import PROCESSOR_TYPES, check_choice, check_int
from .spikes import SpikeProcessor, find_max_spikes_per_window

logger = logging.getLogger(__name__)

__all__ = [
    "CategoricalProcessor",
    "ContinuousProcessor",
    "SpikeProcessor",
    "as_processed",
    "find_max_spikes_per_window",
    "process",
]


def _check_time_axis(time_axis: Any, owner: str) -> None:
    if time_axis not in (0, 1, -1):
        raise ParameterError(
            f"{owner} time_axis must be -1 (channels, time; default) or 0 (time, channels), "
            f"got {time_axis!r}."
        )


def _to_channels_time(data: torch.Tensor, time_axis: int, owner: str) -> torch.Tensor:
    """Return a ``(channels, time)`` view of 1-D or 2-D ``data`` (never guesses the layout)."""
    if data.ndim == 1:
        return data.unsqueeze(0)
    if data.ndim != 2:
        raise DataShapeError(
            f"{owner} expects a 1-D (time,) or 2-D (channels, time) array, got shape "
            f"{tuple(data.shape)}."
        )
    if time_axis == 0:
        return data.T
    n_channels, n_time = data.shape
    if n_channels > n_time:
        logger.warning(
            "%s input of shape %s has more channels (%d) than time points (%d) under "
            "time_axis=-1 (channels, time). If the array is laid out (time, channels), "
            "pass time_axis=0.",
            owner,
            tuple(data.shape),
            n_channels,
            n_time,
        )
    return data


def _unfold_time(data: torch.Tensor, window_size: int, step_size: int, owner: str) -> torch.Tensor:
    """Strided view of windows along dim 1: ``(C, T, ...) -> (C, n_windows, ..., window_size)``."""
    n_time = data.shape[1]
    if window_size > n_time:
        raise InsufficientDataError(
            f"{owner} window_size={window_size} is longer than the recording "
            f"({n_time} time points)."
        )
    return data.unfold(1, window_size, step_size)


class ContinuousProcessor:
    """Sliding windows over a continuous multichannel signal.

    Parameters
    ----------
    window_size
        Window length in samples.
    step_size
        Shift between consecutive windows in samples.
    time_axis
        ``-1`` (default): input is ``(channels, time)``; ``0``: input is ``(time, channels)``.
        The layout is never guessed; a warning is logged when ``time_axis=-1`` and the input
        has more channels than time points.
    """

    def __init__(self, window_size: int = 1, step_size: int = 1, time_axis: int = -1) -> None:
        check_int(window_size, "ContinuousProcessor window_size", 1)
        check_int(step_size, "ContinuousProcessor step_size", 1)
        _check_time_axis(time_axis, "ContinuousProcessor")
        self.window_size = int(window_size)
        self.step_size = int(step_size)
        self.time_axis = time_axis

    def process(self, data: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Window ``data``.

        Parameters
        ----------
        data
            ``(channels, time)`` (or ``(time, channels)`` with ``time_axis=0``); a 1-D
            ``(time,)`` array is one channel.  Numpy or torch, any real dtype.

        Returns
        -------
        torch.Tensor
            ``(n_windows, channels, window_size)`` float32 view with
            ``n_windows = (T - window_size) // step_size + 1``; window ``i`` is
            ``data[:, i*step : i*step + window_size]``.  It shares storage with ``data``
            when ``data`` is already float32 (otherwise with one float32 copy of it).

        Raises
        ------
        DataShapeError
            If ``data`` is not 1-D or 2-D.
        InsufficientDataError
            If ``window_size`` exceeds the number of time points.
        """
        signal = _to_channels_time(
            torch.as_tensor(data, dtype=torch.float32), self.time_axis, "ContinuousProcessor"
        )
        windows = _unfold_time(signal, self.window_size, self.step_size, "ContinuousProcessor")
        return windows.permute(1, 0, 2)


class CategoricalProcessor:
    """Sliding windows of one-hot encoded integer labels.

    Parameters
    ----------
    window_size, step_size
        Window length and shift, in samples.
    n_categories
        Number of categories ``K``; defaults to ``max label + 1``.
    time_axis
        ``-1`` (default): input is ``(channels, time)``; ``0``: ``(time, channels)``.
    """

    def __init__(
        self,
        window_size: int = 1,
        step_size: int = 1,
        n_categories: int | None = None,
        time_axis: int = -1,
    ) -> None:
        check_int(window_size, "CategoricalProcessor window_size", 1)
        check_int(step_size, "CategoricalProcessor step_size", 1)
        if n_categories is not None:
            check_int(n_categories, "CategoricalProcessor n_categories", 1)
        _check_time_axis(time_axis, "CategoricalProcessor")
        self.window_size = int(window_size)
        self.step_size = int(step_size)
        self.n_categories = None if n_categories is None else int(n_categories)
        self.time_axis = time_axis

    def process(self, data: np.ndarray | torch.Tensor) -> torch.Tensor:
        """One-hot encode and window ``data``.

        Parameters
        ----------
        data
            ``(channels, time)`` non-negative integer labels (or ``(time, channels)`` with
            ``time_axis=0``; 1-D is one channel).  Float arrays holding whole numbers are
            accepted.

        Returns
        -------
        torch.Tensor
            ``(n_windows, channels, window_size * K)`` float32; feature ``t * K + k`` is 1
            when the label at position ``t`` of the window is ``k``.  A view of a single
            ``(channels, T, K)`` one-hot array: no per-window copies.

        Raises
        ------
        DataValueError
            On non-integer or negative labels, or labels ``>= n_categories``.
        DataShapeError, InsufficientDataError
            As for :class:`ContinuousProcessor`.
        """
        labels = _to_channels_time(torch.as_tensor(data), self.time_axis, "CategoricalProcessor")
        if self.window_size > labels.shape[1]:
            raise InsufficientDataError(
                f"CategoricalProcessor window_size={self.window_size} is longer than the "
                f"recording ({labels.shape[1]} time points)."
            )
        labels = _integer_labels(labels)
        n_cat = int(labels.max()) + 1 if self.n_categories is None else self.n_categories
        if int(labels.max()) >= n_cat:
            raise DataValueError(
                f"Categorical labels must be < n_categories={n_cat}, but the largest label is "
                f"{int(labels.max())}."
            )
        one_hot = torch.zeros((*labels.shape, n_cat), dtype=torch.float32)
        one_hot.scatter_(2, labels.unsqueeze(-1), 1.0)
        # (C, n_windows, K, w) -> (C, n_windows, w, K): the (w, K) pair has strides (K, 1),
        # so flattening it is a view, and the result shares storage with ``one_hot``.
        windows = _unfold_time(one_hot, self.window_size, self.step_size, "CategoricalProcessor")
        windows = windows.transpose(2, 3)
        n_channels, n_windows = windows.shape[:2]
        flat = windows.reshape(n_channels, n_windows, self.window_size * n_cat)
        return flat.permute(1, 0, 2)


def _integer_labels(labels: torch.Tensor) -> torch.Tensor:
    """Check that ``labels`` are non-negative whole numbers and return them as int64."""
    if labels.is_complex():
        raise DataValueError(f"Categorical labels must be real integers, got dtype {labels.dtype}.")
    if labels.is_floating_point():
        bad = ~(torch.isfinite(labels) & (labels == torch.round(labels)))
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0])
            raise DataValueError(
                f"Categorical labels must be whole numbers; {int(bad.sum())} values are not "
                f"(first at (channel, time) index {first}: {labels[first].item()!r})."
            )
    labels = labels.long()
    negative = labels < 0
    if bool(negative.any()):
        first = tuple(int(i) for i in negative.nonzero()[0])
        raise DataValueError(
            f"Categorical labels must be >= 0; {int(negative.sum())} are negative (first at "
            f"(channel, time) index {first}: {int(labels[first])})."
        )
    return labels


def as_processed(data: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Accept already-processed data.

    Parameters
    ----------
    data
        ``(n_samples, n_features)`` or ``(n_samples, n_channels, n_features)``.

    Returns
    -------
    torch.Tensor
        float32 ``(n_samples, n_channels, n_features)``; 2-D input becomes a
        ``(n_samples, 1, n_features)`` view.

    Raises
    ------
    DataShapeError
        If ``data`` is neither 2-D nor 3-D.
    """
    tensor = torch.as_tensor(data, dtype=torch.float32)
    if tensor.ndim == 2:
        return tensor.unsqueeze(1)
    if tensor.ndim == 3:
        return tensor
    raise DataShapeError(
        "Already-processed data (processor type None) must be (n_samples, n_features) or "
        f"(n_samples, n_channels, n_features), got shape {tuple(tensor.shape)}."
    )


def process(data: Any, processor_type: str | None, params: Mapping[str, Any]) -> torch.Tensor:
    """Process ``data`` with the processor named by ``processor_type``.

    Parameters
    ----------
    data
        Raw data for that processor (see each processor class), or processed data when
        ``processor_type`` is ``None``.
    processor_type
        ``'continuous'``, ``'spike'``, ``'categorical'`` or ``None``.
    params
        Complete processor parameters, as returned by
        :func:`neural_mi.params.resolve_processor_params` (empty for ``None``).

    Returns
    -------
    torch.Tensor
        float32 ``(n_samples, n_channels, n_features)``.
    """
    if processor_type is None:
        return as_processed(data)
    check_choice(processor_type, PROCESSOR_TYPES, "processor_type")
    processor_cls = {
        "continuous": ContinuousProcessor,
        "spike": SpikeProcessor,
        "categorical": CategoricalProcessor,
    }[processor_type]
    return processor_cls(**params).process(data)
