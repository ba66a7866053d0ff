"""Plain arrays: ``.npy``, ``.npz`` and ``.zarr`` files, with an optional time base.

A signal is one array, ``(channels, time)`` (``time_axis: 0`` for ``(time, channels)``)
or ``(time,)``; spike trains (``kind: spikes``) are an ``.npz`` archive with one 1-D array
of spike times in seconds per unit, units named by their entries and ordered naturally
(``ch2`` before ``ch10``).  These files carry no time base: ``sampling_rate`` (and
``start_time``) give one; without it a signal can only be paired by sample index.

``.npy`` files are memory-mapped and ``.zarr`` arrays sliced, so only the selection is
read; an ``.npz`` entry is read whole (the format has no partial reads).  Spike archives
are read whole; their span is ``(0, last spike)`` (or ``time_range``), spike times being
seconds from the start of the recording.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ...errors import DataShapeError, DataSourceError, DataValueError, InsufficientDataError
from .base import (
    ChannelSelection,
    Signal,
    SignalInfo,
    Source,
    SourceConfigBase,
    SpikesInfo,
    SpikeTrains,
    TimeBase,
    UnitSelection,
)
from .selection import (
    channel_positions,
    check_spikes_found,
    read_signal,
    recording_span,
    regular_range,
    select_units,
    spikes_in_range,
)

__all__ = ["ArraySource", "ArraySourceConfig", "open_array", "read_spike_archive"]

SUFFIXES = (".npy", ".npz", ".zarr")


class ArraySourceConfig(SourceConfigBase, ChannelSelection):
    """A signal in an .npy/.npz/.zarr array, or spike trains in an .npz archive."""

    format: Literal["array"] = "array"
    """Plain arrays (inferred from the suffixes .npy, .npz and .zarr)."""

    key: str | None = None
    """Array name inside an .npz archive or a zarr group; may be omitted when it holds one."""

    kind: Literal["signal", "spikes"] = "signal"
    """signal: one array of values; spikes: an .npz archive with one 1-D array of spike
    times (seconds) per unit."""

    time_axis: Literal[0, 1] = 1
    """Axis of time in a 2-D signal array: 1 for (channels, time), 0 for (time, channels)."""

    sampling_rate: float | None = Field(default=None, gt=0)
    """Samples per second of the signal; without it the signal has no time base."""

    start_time: float | None = None
    """Time of the first sample in seconds (default 0; needs sampling_rate)."""

    units: UnitSelection | None = None
    """Which units of a spike archive to read (ids are entry names). Default: all."""

    @model_validator(mode="after")
    def _consistent(self) -> ArraySourceConfig:
        if self.start_time is not None and self.sampling_rate is None:
            raise ValueError("start_time needs sampling_rate (the time of the other samples)")
        if self.kind == "spikes":
            extra = [
                name
                for name in ("key", "channels", "sampling_rate", "start_time")
                if getattr(self, name) is not None
            ]
            if extra:
                raise ValueError(f"{', '.join(extra)} apply to kind signal, not spikes")
        elif self.units is not None:
            raise ValueError("units applies to kind spikes; a signal selects channels")
        return self


# --------------------------------------------------------------------------------------
# File access (also behind neural_mi.data.load_array / load_spike_times)
# --------------------------------------------------------------------------------------


def _pick_key(keys: list[str], key: str | None, path: Path) -> str:
    if key is None:
        if len(keys) == 1:
            return keys[0]
        raise DataSourceError(
            f"{str(path)!r} holds {len(keys)} arrays; pass key= one of: {', '.join(keys)}."
        )
    if key not in keys:
        raise DataSourceError(
            f"No array {key!r} in {str(path)!r}; available keys: {', '.join(keys) or '(none)'}."
        )
    return key


def open_array(path: Path, key: str | None) -> Any:
    """One array of an .npy/.npz/.zarr file, opened lazily where the format allows.

    Returns
    -------
    numpy.memmap, numpy.ndarray or zarr.Array
        ``.npy``: memory-mapped; ``.npz``: the entry, read whole; ``.zarr``: the array.

    Raises
    ------
    DataSourceError
        Unsupported suffix, ``key`` given for a single array, missing or unknown ``key``
        (the message lists the keys), unreadable file.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataSourceError(
            f"Unsupported data file {str(path)!r}; supported: {', '.join(SUFFIXES)}."
        )
    try:
        if suffix == ".npy":
            if key is not None:
                raise DataSourceError(
                    f"key {key!r} was given, but a .npy file holds a single array ({str(path)!r}); "
                    "omit key."
                )
            return np.load(path, mmap_mode="r", allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return archive[_pick_key(list(archive.files), key, path)]
        import zarr

        store = zarr.open(str(path), mode="r")
        if isinstance(store, zarr.Array):
            if key is not None:
                raise DataSourceError(
                    f"key {key!r} was given, but {str(path)!r} is a single zarr array (not a "
                    "group); omit key."
                )
            return store
        return store[_pick_key(sorted(name for name, _ in store.arrays()), key, path)]
    except DataSourceError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise DataSourceError(f"{str(path)!r}: cannot read it as {suffix}: {exc}") from exc


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key under which ``ch2`` < ``ch10`` (digit runs compare as numbers)."""
    return [
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part
    ]


def read_spike_archive(path: Path) -> tuple[list[str], list[np.ndarray]]:
    """Entry names (natural order) and float64 spike trains of an .npz spike archive.

    Raises
    ------
    DataSourceError
        If ``path`` is not an ``.npz`` archive, or cannot be read.
    DataShapeError
        If an entry is not 1-D.
    InsufficientDataError
        If the archive holds no arrays.
    """
    if path.suffix.lower() != ".npz":
        raise DataSourceError(
            f"Spike times must be an .npz archive with one array per channel, got {str(path)!r}."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = sorted(archive.files, key=_natural_key)
            trains = [np.asarray(archive[k], dtype=np.float64) for k in keys]
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"{str(path)!r}: cannot read it as .npz: {exc}") from exc
    if not keys:
        raise InsufficientDataError(f"{str(path)!r} holds no spike-time arrays.")
    for name, train in zip(keys, trains):
        if train.ndim != 1:
            raise DataShapeError(
                f"Spike channel {name!r} in {str(path)!r} must be 1-D, got shape {train.shape}."
            )
        bad = int(np.count_nonzero(~np.isfinite(train)))
        if bad:
            raise DataValueError(
                f"Spike channel {name!r} in {str(path)!r} holds {bad} non-finite time(s) "
                "(NaN or Inf)."
            )
    return keys, trains


def _npz_shape(path: Path, key: str | None) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an .npz entry from its header (the entry is not read)."""
    with np.load(path, allow_pickle=False) as archive:
        name = _pick_key(list(archive.files), key, path)
        with archive.zip.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(member)
    return tuple(shape), np.dtype(dtype)


# --------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------


class ArraySource(Source):
    """Reads an :class:`ArraySourceConfig`."""

    format = "array"
    config_model = ArraySourceConfig
    config: ArraySourceConfig

    def describe(self) -> SignalInfo | SpikesInfo:
        if self.config.kind == "spikes":
            ids, trains = self._selected_trains()
            return SpikesInfo(unit_ids=ids, span=self._span(trains))
        shape, dtype = self._header()
        n_channels, n_times = self._layout(shape)
        positions = channel_positions(self.config.channels, n_channels, self)
        time_base, i0, i1 = self._time_window(n_times)
        return SignalInfo(
            n_channels=positions.size,
            n_times=i1 - i0,
            dtype=dtype.name,
            rate=self.config.sampling_rate,
            start_time=None if time_base is None else time_base.start,
            span=None if time_base is None else time_base.span(i1 - i0),
            channel_ids=tuple(int(p) for p in positions),
        )

    def load(self) -> Signal | SpikeTrains:
        if self.config.kind == "spikes":
            ids, trains = self._selected_trains()
            span = self._span(trains)
            trains = [spikes_in_range(t, self.config.time_range) for t in trains]
            check_spikes_found(trains, self, self.config.time_range)
            return SpikeTrains(times=trains, unit_ids=ids, span=span)
        array = open_array(self.require_path(), self.config.key)
        n_channels, n_times = self._layout(array.shape)
        positions = channel_positions(self.config.channels, n_channels, self)
        time_base, i0, i1 = self._time_window(n_times)
        values = read_signal(
            array,
            time_axis=0 if array.ndim == 1 else self.config.time_axis,
            start=i0,
            stop=i1,
            positions=positions,
        )
        return Signal(values, time_base, tuple(int(p) for p in positions))

    def _header(self) -> tuple[tuple[int, ...], np.dtype]:
        path = self.require_path()
        if path.suffix.lower() == ".npz":
            try:
                return _npz_shape(path, self.config.key)
            except DataSourceError:
                raise
            except (OSError, ValueError, KeyError) as exc:
                raise self.error(f"cannot read it as .npz: {exc}") from exc
        array = open_array(path, self.config.key)
        return tuple(array.shape), np.dtype(array.dtype)

    def _layout(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """``(n_channels, n_times)`` of an array of this shape."""
        if len(shape) == 1:
            return 1, shape[0]
        if len(shape) == 2:
            time_axis = self.config.time_axis
            return shape[1 - time_axis], shape[time_axis]
        raise self.error(
            f"holds a {len(shape)}-D array {shape}; a signal is (channels, time) or (time,)."
        )

    def _time_window(self, n_times: int) -> tuple[TimeBase | None, int, int]:
        rate, time_range = self.config.sampling_rate, self.config.time_range
        if rate is None:
            if time_range is not None:
                raise self.error(
                    "time_range needs a time base, but the array has none: give "
                    "sampling_rate (Hz) and, if the first sample is not at 0 s, start_time."
                )
            return None, 0, n_times
        start = self.config.start_time or 0.0
        i0, i1 = regular_range(rate, start, n_times, time_range, self)
        return TimeBase(rate=rate, start=start + i0 / rate), i0, i1

    def _selected_trains(self) -> tuple[tuple[str, ...], list[np.ndarray]]:
        try:
            keys, trains = read_spike_archive(self.require_path())
        except (DataShapeError, DataValueError, InsufficientDataError) as exc:
            raise self.error(str(exc)) from exc
        chosen = select_units(keys, self.config.units, self)
        return tuple(keys[i] for i in chosen), [np.sort(trains[i]) for i in chosen]

    def _span(self, trains: list[np.ndarray]) -> tuple[float, float]:
        def extent() -> tuple[float, float]:
            last = max((float(t[-1]) for t in trains if t.size), default=None)
            if last is None or last <= 0:
                raise self.error("the selected units have no spikes after 0 s.")
            return 0.0, last

        return recording_span(None, self.config.time_range, extent, self)
