"""Checks on raw input data, run before any training so that bad data fails fast and clearly."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataShapeError, DataValueError, InsufficientDataError
from ..params import PROCESSOR_TYPES, check_choice

__all__ = ["validate_data"]

#: Array ranks each processor accepts, with the layouts they stand for (for messages).
_ACCEPTED_NDIM: dict[str | None, tuple[tuple[int, ...], str]] = {
    "continuous": ((1, 2), "1-D (time,) or 2-D (channels, time)"),
    "categorical": ((1, 2), "1-D (time,) or 2-D (channels, time)"),
    None: ((2, 3), "2-D (n_samples, n_features) or 3-D (n_samples, n_channels, n_features)"),
}


def validate_data(data: Any, processor_type: str | None, name: str = "x_data") -> None:
    """Check that ``data`` can be processed by ``processor_type``.

    Parameters
    ----------
    data
        Raw data: an array-like (numpy, torch, nested lists) for ``'continuous'``,
        ``'categorical'`` and ``None``; a list/tuple of 1-D spike-time arrays (seconds,
        one per channel) for ``'spike'``.
    processor_type
        ``'continuous'``, ``'spike'``, ``'categorical'`` or ``None`` (already processed).
    name
        Name of the variable, used in messages (e.g. ``'x_data'``).

    Raises
    ------
    DataShapeError
        Wrong number of dimensions, or spike input that is not a list of 1-D arrays.
    DataValueError
        Non-numeric, NaN or infinite values, negative spike times, or categorical labels
        that are not whole numbers >= 0.
    InsufficientDataError
        Empty data (no elements, no channels, or no spikes at all).
    ParameterError
        Unknown ``processor_type``.
    """
    if processor_type is not None:
        check_choice(processor_type, PROCESSOR_TYPES, "processor_type")
    if processor_type == "spike":
        _validate_spikes(data, name)
        return
    array = _as_numpy(data, name)
    if array.size == 0:
        raise InsufficientDataError(f"{name} is empty (shape {array.shape}).")
    accepted, layout = _ACCEPTED_NDIM[processor_type]
    if array.ndim not in accepted:
        raise DataShapeError(
            f"{name} has shape {array.shape} ({array.ndim}-D), but processor "
            f"{processor_type!r} expects {layout} data."
        )
    _check_finite(array, name)
    if processor_type == "categorical":
        _check_labels(array, name)


def _check_labels(array: np.ndarray, name: str) -> None:
    """Categorical labels are whole numbers >= 0 (the one-hot encoding needs them so)."""
    bad = (array < 0) | (array != np.round(array)) if array.dtype.kind == "f" else array < 0
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
        raise DataValueError(
            f"{name}: categorical labels must be whole numbers >= 0; {int(bad.sum())} are not "
            f"(the first at index {first}: {array[first]!r})."
        )


def _as_numpy(data: Any, name: str) -> np.ndarray:
    # A torch tensor exists only if torch was imported: checking needs no import (the
    # workflow's prepare step validates data without loading torch).
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(data, torch.Tensor):
        tensor = data.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        array = tensor.numpy()
    else:
        try:
            array = np.asarray(data)
        except ValueError as exc:  # ragged nested lists
            raise DataShapeError(f"{name} is not a rectangular array: {exc}") from exc
    if array.dtype.kind not in "biuf":
        raise DataValueError(f"{name} must be numeric, got dtype {array.dtype}.")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
        raise DataValueError(
            f"{name} holds {int(bad.sum())} non-finite values (NaN or Inf); the first is at "
            f"index {first} ({array[first]!r}). Remove or interpolate them before estimating MI."
        )


def _validate_spikes(data: Any, name: str) -> None:
    if not isinstance(data, (list, tuple)):
        raise DataShapeError(
            f"{name}: spike data must be a list or tuple of 1-D spike-time arrays (one per "
            f"channel), got {type(data).__name__}."
        )
    if len(data) == 0:
        raise InsufficientDataError(f"{name}: spike data has no channels (empty list).")
    channels: Sequence[np.ndarray] = [
        _spike_channel(spikes, name, c) for c, spikes in enumerate(data)
    ]
    if all(c.size == 0 for c in channels):
        raise InsufficientDataError(
            f"{name}: spike data holds no spikes in any of its {len(channels)} channels."
        )


def _spike_channel(spikes: Any, name: str, channel: int) -> np.ndarray:
    array = _as_numpy(spikes, f"{name}[{channel}]")
    if array.ndim != 1:
        raise DataShapeError(
            f"{name}: spike channel {channel} must be a 1-D array of spike times, got shape "
            f"{array.shape}."
        )
    _check_finite(array, f"{name}: spike channel {channel}")
    negative = array < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise DataValueError(
            f"{name}: spike channel {channel} holds {int(negative.sum())} negative spike "
            f"times; the first is at index {first} ({array[first]!r}). Spike times must be "
            "seconds from the start of the recording (>= 0)."
        )
    return array
