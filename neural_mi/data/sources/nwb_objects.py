"""Readers of one NWB object for :class:`~neural_mi.data.sources.nwb.NwbSource`: a Units
table's columns (:class:`UnitsTable`) and a ``TimeSeries``, through pynwb
(:class:`Series`) or directly from its HDF5 group (:class:`H5Series`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .base import Signal, SignalInfo, TimeBase, python_scalar
from .selection import (
    channel_positions,
    read_signal,
    regular_range,
    scaled_dtype,
    timestamp_range,
)

if TYPE_CHECKING:
    from .nwb import NwbSource


class UnitsTable:
    """The columns of a Units table that reading spike trains needs (datasets, lazy)."""

    def __init__(self, table: Any, source: NwbSource) -> None:
        columns = {column.name: column for column in table.columns}
        if "spike_times" not in columns or "spike_times_index" not in columns:
            raise source.error("the Units table has no spike_times column.")
        self.ids = tuple(python_scalar(i) for i in np.asarray(table.id.data[:]))
        self.times = columns["spike_times"].data
        ends = np.asarray(columns["spike_times_index"].data[:], dtype=np.int64)
        self.bounds = np.stack([np.concatenate([[0], ends[:-1]]), ends], axis=1)
        self.columns = columns
        self.labels = [
            name
            for name in table.colnames
            if name not in ("spike_times", "obs_intervals") and f"{name}_index" not in columns
        ]

    def column(self, name: str) -> np.ndarray:
        values = np.asarray(self.columns[name].data[:])
        if values.ndim != 1:
            raise ValueError(f"column {name!r} holds {values.shape[1:]} values per unit")
        return values

    def observed(self, rows: list[int]) -> tuple[float, float] | None:
        """Earliest start and latest stop of the ``obs_intervals`` of ``rows``, if any."""
        if "obs_intervals" not in self.columns or "obs_intervals_index" not in self.columns:
            return None
        intervals = np.asarray(self.columns["obs_intervals"].data[:], dtype=np.float64)
        ends = np.asarray(self.columns["obs_intervals_index"].data[:], dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]])
        chosen = [intervals[starts[r] : ends[r]] for r in rows]
        chosen = [c for c in chosen if c.size]
        if not chosen:
            return None
        joined = np.concatenate(chosen)
        return float(joined[:, 0].min()), float(joined[:, 1].max())

    def extent(self, rows: list[int], source: NwbSource) -> tuple[float, float]:
        """First and last spike of ``rows``, from two values per unit."""
        bounds = self.bounds[rows]
        bounds = bounds[bounds[:, 1] > bounds[:, 0]]
        if bounds.size == 0:
            raise source.error("the selected units have no spikes.")
        wanted = np.unique(np.concatenate([bounds[:, 0], bounds[:, 1] - 1]))
        values = dict(zip(wanted.tolist(), np.asarray(self.times[wanted], dtype=np.float64)))
        first = min(values[int(b)] for b in bounds[:, 0])
        last = max(values[int(b) - 1] for b in bounds[:, 1])
        if not first < last:
            raise source.error(
                f"the selected units' spikes span [{first:g}, {last:g}] s, no stretch of "
                "time; give time_range."
            )
        return first, last


class Series:
    """A TimeSeries with the config's selection applied (indices only; nothing read yet)."""

    def __init__(self, series: Any, source: NwbSource) -> None:
        self.source = source
        self.data = series.data
        shape = getattr(self.data, "shape", None)
        if shape is None or len(shape) not in (1, 2) or shape[0] == 0:
            raise source.error(
                f"holds data of shape {shape}; a signal is (time,) or (time, channels) "
                "with at least one sample."
            )
        if np.dtype(self.data.dtype).kind not in "biuf":
            raise source.error(f"holds non-numeric data (dtype {self.data.dtype}).")
        n_times, n_channels = shape[0], 1 if len(shape) == 1 else shape[1]
        config = source.config
        self.positions = channel_positions(config.channels, n_channels, source)
        self.channel_ids = _channel_ids(series, n_channels, self.positions)
        self.rate: float | None = None if series.rate is None else float(series.rate)
        if self.rate is not None:
            self.start = float(series.starting_time or 0.0)
            self.i0, self.i1 = regular_range(
                self.rate, self.start, n_times, config.time_range, source
            )
            self.timestamps: Any = None
        else:
            self.timestamps = series.timestamps
            if self.timestamps is None or self.timestamps.shape[0] != n_times:
                got = None if self.timestamps is None else self.timestamps.shape[0]
                raise source.error(f"has {got} timestamps for {n_times} samples.")
            self.i0, self.i1 = timestamp_range(self.timestamps, config.time_range, source)
        self.gain, self.offset = _scaling(series, self.positions)

    def info(self) -> SignalInfo:
        n = self.i1 - self.i0
        if self.rate is not None:
            base = TimeBase(rate=self.rate, start=self.start + self.i0 / self.rate)
            start, span = base.start, base.span(n)
        else:
            start = float(self.timestamps[self.i0])
            span = (start, float(self.timestamps[self.i1 - 1]))
        scaled = self.gain is not None or self.offset != 0.0
        dtype = np.dtype(self.data.dtype)
        return SignalInfo(
            n_channels=self.positions.size,
            n_times=n,
            dtype=(scaled_dtype(dtype) if scaled else dtype).name,
            rate=self.rate,
            start_time=start,
            span=span,
            channel_ids=self.channel_ids,
        )

    def read(self) -> Signal:
        values = read_signal(
            self.data,
            time_axis=0,
            start=self.i0,
            stop=self.i1,
            positions=self.positions,
            gain=self.gain,
            offset=self.offset,
        )
        if self.rate is not None:
            base = TimeBase(rate=self.rate, start=self.start + self.i0 / self.rate)
        else:
            base = TimeBase(timestamps=np.asarray(self.timestamps[self.i0 : self.i1]))
        return Signal(values, base, self.channel_ids)


class H5Series(Series):
    """A TimeSeries read from its HDF5 group (headers only), with the selection applied."""

    def __init__(self, handle: Any, group: Any, source: NwbSource) -> None:
        self.source = source
        self.data = group["data"]
        shape = self.data.shape
        if (
            len(shape) not in (1, 2)
            or shape[0] == 0
            or np.dtype(self.data.dtype).kind not in "biuf"
        ):
            raise KeyError("not a signal this reads")  # pynwb's path says what is wrong
        n_times, n_channels = shape[0], 1 if len(shape) == 1 else shape[1]
        config = source.config
        self.positions = channel_positions(config.channels, n_channels, source)
        self.channel_ids = _h5_channel_ids(handle, group, n_channels, self.positions)
        start = group.get("starting_time")
        if start is not None:
            self.rate = float(start.attrs["rate"])
            self.start = float(start[()])
            self.i0, self.i1 = regular_range(
                self.rate, self.start, n_times, config.time_range, source
            )
            self.timestamps = None
        else:
            self.rate = None
            self.timestamps = group["timestamps"]
            if self.timestamps.shape[0] != n_times:
                raise KeyError("timestamps do not match the data")
            self.i0, self.i1 = timestamp_range(self.timestamps, config.time_range, source)
        conversion = float(self.data.attrs.get("conversion", 1.0))
        self.offset = float(self.data.attrs.get("offset", 0.0))
        gain = np.full(self.positions.size, conversion)
        if "channel_conversion" in group:
            gain = (
                gain * np.asarray(group["channel_conversion"][:], dtype=np.float64)[self.positions]
            )
        self.gain = None if np.all(gain == 1.0) else gain


def _h5_channel_ids(
    handle: Any, group: Any, n_channels: int, positions: np.ndarray
) -> tuple[Any, ...]:
    """As :func:`_channel_ids`, from the series' region dataset and its table's ids."""
    for name in ("electrodes", "rois"):
        region = group.get(name)
        if region is None or "table" not in region.attrs:
            continue
        rows = np.asarray(region[:], dtype=np.int64)
        if rows.size == n_channels:
            table_ids = np.asarray(handle[region.attrs["table"]]["id"][:])
            return tuple(python_scalar(i) for i in table_ids[rows[positions]])
    return tuple(int(p) for p in positions)


def _channel_ids(series: Any, n_channels: int, positions: np.ndarray) -> tuple[Any, ...]:
    """Electrode or ROI ids of the selected channels (their positions for other series)."""
    for name in ("electrodes", "rois"):
        region = getattr(series, name, None)
        if region is None:
            continue
        rows = np.asarray(region.data[:], dtype=np.int64)
        if rows.size == n_channels:
            table_ids = np.asarray(region.table.id.data[:])
            return tuple(python_scalar(i) for i in table_ids[rows[positions]])
    return tuple(int(p) for p in positions)


def _scaling(series: Any, positions: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Per-channel gain and the offset that take stored values to the series' unit."""
    conversion = getattr(series, "conversion", None)
    conversion = 1.0 if conversion is None else float(conversion)
    offset = getattr(series, "offset", None)
    offset = 0.0 if offset is None else float(offset)
    gain = np.full(positions.size, conversion)
    per_channel = getattr(series, "channel_conversion", None)
    if per_channel is not None:
        gain = gain * np.asarray(per_channel[:], dtype=np.float64)[positions]
    return (None if np.all(gain == 1.0) else gain), offset
