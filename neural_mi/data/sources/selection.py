"""Selections shared by the formats: channels, time ranges, units, and the block reader.

Every function takes the :class:`~neural_mi.data.sources.base.Source` it works for, so
that an error names the file and object.  Arrays are read lazily: anything with numpy
basic slicing and a ``shape`` (``h5py.Dataset``, ``zarr.Array``, ``np.memmap``, an
``xarray.Variable``) is read block by block, never whole.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import Ident, Source, UnitSelection, python_scalar

__all__ = [
    "channel_positions",
    "check_spikes_found",
    "read_signal",
    "recording_span",
    "regular_range",
    "scaled_dtype",
    "select_units",
    "spikes_in_range",
    "timestamp_range",
]

#: Slack, in samples, when a time falls on a sample (``(t - start) * rate`` is an integer
#: up to rounding): the sample counts as at ``t``.
_SAMPLE_TOL = 1e-6

#: Largest block read at once by :func:`read_signal` (bytes, before channel selection):
#: bounds the memory a read needs beyond its output.
BLOCK_BYTES = 4 * 2**20


def channel_positions(
    channels: Sequence[int] | None, n_channels: int, source: Source
) -> np.ndarray:
    """Positions of the selected channels (all when ``channels`` is None), int64.

    Raises
    ------
    DataSourceError
        If a position is out of range.
    """
    if channels is None:
        return np.arange(n_channels, dtype=np.int64)
    bad = [c for c in channels if c >= n_channels]
    if bad:
        raise source.error(
            f"channel position(s) {bad} out of range: it has {n_channels} channel(s), "
            f"positions 0..{n_channels - 1}."
        )
    return np.asarray(channels, dtype=np.int64)


def _covers(n_times: int, rate: float, start: float) -> str:
    end = start + n_times / rate
    return f"it covers [{start:g}, {end:g}) s ({n_times} samples at {rate:g} Hz)"


def regular_range(
    rate: float, start: float, n_times: int, time_range: tuple[float, float] | None, source: Source
) -> tuple[int, int]:
    """Sample indices ``[i0, i1)`` of a regular signal whose times fall in ``time_range``.

    Sample ``i`` (at ``start + i / rate``) is kept when ``t0 <= start + i / rate < t1``.

    Raises
    ------
    DataSourceError
        If no sample falls in the range.
    """
    if time_range is None:
        return 0, n_times

    def first_at_or_after(t: float) -> int:
        return min(n_times, max(0, math.ceil((t - start) * rate - _SAMPLE_TOL)))

    i0, i1 = first_at_or_after(time_range[0]), first_at_or_after(time_range[1])
    if i1 <= i0:
        raise source.error(
            f"time_range [{time_range[0]:g}, {time_range[1]:g}) s holds no samples: "
            f"{_covers(n_times, rate, start)}."
        )
    return i0, i1


class _LazyFloats:
    """Element access to a 1-D on-disk array, for :mod:`bisect` (reads one value a step)."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __getitem__(self, index: int) -> float:
        return float(self.array[index])


def timestamp_range(
    timestamps: Any, time_range: tuple[float, float] | None, source: Source
) -> tuple[int, int]:
    """Indices ``[i0, i1)`` of the sorted ``timestamps`` that fall in ``time_range``.

    ``timestamps`` may be an on-disk array: a binary search reads about ``2 log2(n)``
    values, not the whole array.

    Raises
    ------
    DataSourceError
        If no timestamp falls in the range.
    """
    n_times = int(timestamps.shape[0])
    if time_range is None:
        return 0, n_times
    values = timestamps if isinstance(timestamps, np.ndarray) else _LazyFloats(timestamps)
    i0 = bisect.bisect_left(values, time_range[0])
    i1 = bisect.bisect_left(values, time_range[1])
    if i1 <= i0:
        first, last = float(values[0]), float(values[n_times - 1])
        raise source.error(
            f"time_range [{time_range[0]:g}, {time_range[1]:g}) s holds no samples: its "
            f"{n_times} timestamps run from {first:g} to {last:g} s."
        )
    return i0, i1


def scaled_dtype(dtype: np.dtype) -> np.dtype:
    """Dtype of values after a float gain/offset: floats keep theirs; integers of up to 16
    bits (exact in float32) become float32, wider ones float64."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype
    return np.dtype(np.float32) if dtype.itemsize <= 2 else np.dtype(np.float64)


def read_signal(
    array: Any,
    *,
    time_axis: int,
    start: int,
    stop: int,
    positions: np.ndarray,
    gain: np.ndarray | None = None,
    offset: float = 0.0,
    chunks: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Read samples ``[start, stop)`` of the channels at ``positions`` as ``(channels, time)``.

    The array is read in blocks along time, each copied into the preallocated output, so
    a read holds the output plus one block (at most about :data:`BLOCK_BYTES`, or one row
    of chunks if that is larger), whatever the array's size or layout.  In a chunked array
    the blocks are whole chunks: from the first to the last chunk holding a selected
    channel, along time from one chunk boundary to the next.  Whole chunks are what the
    storage reads anyway, and read as such they need no chunk cache (an HDF5 file opened
    with a small cache reads a channel out of a chunk in many small pieces).

    Parameters
    ----------
    array
        1-D ``(time,)`` or 2-D array with numpy basic slicing (read lazily).
    time_axis
        Axis of time in ``array`` (0 or 1; 0 for 1-D arrays).
    start, stop
        Sample range.
    positions
        Channel positions (any order, no repeats); ``[0]`` for a 1-D array.
    gain, offset
        Optional scaling ``value * gain[channel] + offset`` (e.g. NWB's ``conversion``).
    chunks
        The array's chunk shape on disk; default: its ``chunks`` attribute, if any.

    Returns
    -------
    numpy.ndarray
        ``(len(positions), stop - start)``, in the array's dtype, or :func:`scaled_dtype`
        of it when scaling applies.
    """
    dtype = np.dtype(array.dtype)
    scaling = gain is not None or offset != 0.0
    out = np.empty((positions.size, stop - start), dtype=scaled_dtype(dtype) if scaling else dtype)
    one_d = len(array.shape) == 1
    chunks = chunks or getattr(array, "chunks", None)
    chunk_time = chunks[0 if one_d else time_axis] if chunks else 1
    lo, hi = (0, 1) if one_d else (int(positions.min()), int(positions.max()) + 1)
    if chunks and not one_d:
        chunk_channels = chunks[1 - time_axis]
        lo = lo // chunk_channels * chunk_channels
        hi = min(array.shape[1 - time_axis], -(-hi // chunk_channels) * chunk_channels)
    rows = positions - lo
    every_row = np.array_equal(rows, np.arange(hi - lo))  # the block is the selection: no copy
    step = BLOCK_BYTES // ((hi - lo) * dtype.itemsize) // chunk_time * chunk_time
    step = max(chunk_time, step)
    b0 = start
    while b0 < stop:
        b1 = min(stop, (b0 // step + 1) * step)  # blocks end on multiples of step (chunks)
        if one_d:
            block = np.asarray(array[b0:b1])[None, :]
        elif time_axis == 0:
            block = np.asarray(array[b0:b1, lo:hi]).T
        else:
            block = np.asarray(array[lo:hi, b0:b1])
        out[:, b0 - start : b1 - start] = block if every_row else block[rows]
        b0 = b1
    if gain is not None:
        out *= gain.astype(out.dtype)[:, None]
    if offset != 0.0:
        out += out.dtype.type(offset)
    return out


def select_units(
    unit_ids: Sequence[Ident],
    selection: UnitSelection | None,
    source: Source,
    columns: Sequence[str] = (),
    column: Callable[[str], Sequence[Any] | np.ndarray] | None = None,
) -> list[int]:
    """Positions of the units a :class:`UnitSelection` keeps.

    Parameters
    ----------
    unit_ids
        Every unit's id, in file order.
    selection
        The selection; ``None`` keeps every unit.
    source
        For messages.
    columns, column
        Names of the label columns ``where`` may use, and a function reading one (one
        value per unit, in file order).

    Returns
    -------
    list of int
        ``selection.ids`` order when ids are given, file order otherwise.

    Raises
    ------
    DataSourceError
        Unknown column or id, or no unit left.
    """
    keep = np.ones(len(unit_ids), dtype=bool)
    labels: dict[str, list[Any]] = {}
    where = selection.where if selection is not None and selection.where else {}
    for name, wanted in where.items():
        if name not in columns or column is None:
            have = ", ".join(columns) if columns else "(none: this source has no unit labels)"
            raise source.error(
                f"units.where names column {name!r}, which is not there; columns: {have}."
            )
        values = [python_scalar(v) for v in column(name)]
        allowed = wanted if isinstance(wanted, list) else [wanted]
        keep &= np.array([value in allowed for value in values], dtype=bool)
        labels[name] = values
    if selection is not None and selection.ids is not None:
        position = {uid: i for i, uid in enumerate(unit_ids)}
        unknown = [uid for uid in selection.ids if uid not in position]
        if unknown:
            raise source.error(f"units.ids {unknown} not found; unit ids: {_preview(unit_ids)}.")
        chosen = [position[uid] for uid in selection.ids if keep[position[uid]]]
    else:
        chosen = [int(i) for i in np.flatnonzero(keep)]
    if not chosen:
        found = "; ".join(
            f"{name} values: "
            + ", ".join(f"{value!r} ({count})" for value, count in Counter(values).most_common())
            for name, values in labels.items()
        )
        raise source.error(
            f"the unit filter {_describe(selection)} matches none of its "
            f"{len(unit_ids)} units" + (f" ({found})." if found else ".")
        )
    return chosen


def _describe(selection: UnitSelection | None) -> str:
    if selection is None:
        return "(none)"
    return str(selection.model_dump(exclude_none=True))


def _preview(ids: Sequence[Ident], limit: int = 20) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def spikes_in_range(train: np.ndarray, time_range: tuple[float, float] | None) -> np.ndarray:
    """The spikes of a sorted train at times ``t0 <= t < t1`` (all without a range)."""
    if time_range is None:
        return train
    i0, i1 = np.searchsorted(train, time_range, side="left")
    return train[i0:i1]


def recording_span(
    known: tuple[float, float] | None,
    time_range: tuple[float, float] | None,
    spike_extent: Callable[[], tuple[float, float]],
    source: Source,
) -> tuple[float, float]:
    """The span a set of spike trains covers.

    ``known`` (the recording's extent, when the file records it) clipped to
    ``time_range``; without ``known``, ``time_range`` as given; without either, the
    ``spike_extent`` estimate.

    Raises
    ------
    DataSourceError
        If ``time_range`` lies outside the known extent, or the estimate has no spikes.
    """
    if known is not None and time_range is not None:
        start, stop = max(known[0], time_range[0]), min(known[1], time_range[1])
        if not start < stop:
            raise source.error(
                f"time_range [{time_range[0]:g}, {time_range[1]:g}) s lies outside the "
                f"recording, which covers [{known[0]:g}, {known[1]:g}) s."
            )
        return start, stop
    if known is not None:
        return known
    if time_range is not None:
        return time_range
    return spike_extent()


def check_spikes_found(trains: Sequence[np.ndarray], source: Source, time_range: Any) -> None:
    """Refuse a selection whose units have no spike at all (in the time range)."""
    if all(train.size == 0 for train in trains):
        where = "" if time_range is None else f" in time_range {list(time_range)} s"
        raise source.error(f"the {len(trains)} selected unit(s) have no spikes{where}.")
