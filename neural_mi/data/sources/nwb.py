"""Neurodata Without Borders (NWB 2.x, HDF5) files, read with pynwb.

The config names one object by its path in the file, as HDF5 and NWB viewers show it:

- any ``TimeSeries`` (``ElectricalSeries`` with raw data or LFP, ``RoiResponseSeries``,
  ``SpatialSeries``, ...), e.g. ``acquisition/ElectricalSeries``,
  ``processing/ecephys/LFP/LFP``, ``processing/behavior/Position/position``: read as a
  signal.  NWB stores data as ``(time,)`` or ``(time, channels)``; it is returned as
  ``(channels, time)``, scaled to the series' unit (``data * conversion *
  channel_conversion + offset``), with its time base (``rate`` and ``starting_time``, or
  ``timestamps``).  Channel ids are the electrode ids (``ElectricalSeries``) or ROI ids
  (``RoiResponseSeries``), else positions.
- a ``Units`` table (``units``, or one in a processing module): spike trains, one per
  selected row, selected by column values (``where``) and/or ``ids``.  Spike times must
  be ascending within each unit (NWB best practice; unsorted trains are refused, since
  :meth:`NwbSource.describe` reads each unit's first and last spike only).  The span is the
  units' ``obs_intervals`` when the table has them (clipped to ``time_range``), else
  ``time_range``, else the first to the last spike of the selected units.

Data are read through the HDF5 datasets pynwb exposes: only the selected samples,
channels and units are read.  :meth:`NwbSource.describe` reads the object's HDF5 headers
directly (opening an NWB file with pynwb builds every object in it, which costs far more
than the headers when many sessions are planned); an object it does not recognise, and
every error, goes through pynwb as :meth:`NwbSource.load` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
from pydantic import model_validator

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
    python_scalar,
)
from .selection import (
    channel_positions,
    check_spikes_found,
    read_signal,
    recording_span,
    regular_range,
    scaled_dtype,
    select_units,
    spikes_in_range,
    timestamp_range,
)

__all__ = ["NwbSource", "NwbSourceConfig"]

#: HDF5 chunk cache of an opened file (HDF5's own default; pynwb would give 32 MiB).  Reads
#: take whole chunks, each once (see ``read_signal``), so a larger cache would only hold
#: memory.
CHUNK_CACHE_BYTES = 2**20


class NwbSourceConfig(SourceConfigBase, ChannelSelection):
    """A TimeSeries or a Units table of an NWB file."""

    format: Literal["nwb"] = "nwb"
    """NWB 2.x (inferred from the suffix .nwb)."""

    object: str
    """Path of the object in the file, e.g. processing/ecephys/LFP/LFP,
    acquisition/ElectricalSeries, processing/behavior/Position/position or units."""

    units: UnitSelection | None = None
    """Which rows of a Units table to read. Default: all."""

    @model_validator(mode="after")
    def _one_selection(self) -> NwbSourceConfig:
        if self.channels is not None and self.units is not None:
            raise ValueError(
                "give channels (for a TimeSeries) or units (for a Units table), not both"
            )
        return self


class _Units:
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


class NwbSource(Source):
    """Reads an :class:`NwbSourceConfig`."""

    format = "nwb"
    config_model = NwbSourceConfig
    config: NwbSourceConfig

    @property
    def label(self) -> str:
        return f"{self.config.path!r} object {self.config.object!r}"

    def describe(self) -> SignalInfo | SpikesInfo:
        fast = self._headers()
        if fast is not None:
            return fast
        return self._describe_with_pynwb()

    def _describe_with_pynwb(self) -> SignalInfo | SpikesInfo:
        """:meth:`describe` through pynwb's object model (what :meth:`load` reads)."""
        with self._object() as obj:
            if _is_units(obj):
                units = _Units(obj, self)
                rows = self._rows(units)
                return SpikesInfo(
                    unit_ids=tuple(units.ids[r] for r in rows), span=self._span(units, rows)
                )
            series = _Series(obj, self)
            return series.info()

    def load(self) -> Signal | SpikeTrains:
        with self._object() as obj:
            if _is_units(obj):
                units = _Units(obj, self)
                rows = self._rows(units)
                span = self._span(units, rows)
                trains = [self._train(units, r) for r in rows]
                check_spikes_found(trains, self, self.config.time_range)
                return SpikeTrains(trains, tuple(units.ids[r] for r in rows), span)
            return _Series(obj, self).read()

    def _headers(self) -> SignalInfo | SpikesInfo | None:
        """:meth:`describe` from the HDF5 headers of the object, or ``None`` when the file
        or the object is not one this reads (then pynwb describes it, or says what is
        wrong)."""
        import h5py

        path = self.path
        if not path.is_file() or not h5py.is_hdf5(path):
            return None
        try:
            with h5py.File(path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES) as handle:
                if _attr(handle, "neurodata_type") != "NWBFile":
                    return None
                group = handle.get(self.config.object.strip("/"))
                if not isinstance(group, h5py.Group):
                    return None
                if _h5_units(group):
                    if self.config.channels is not None:
                        return None
                    return self._units_headers(handle, group)
                if _h5_series(group) and self.config.units is None:
                    return _H5Series(handle, group, self).info()
        except (OSError, KeyError, ValueError, TypeError):
            return None
        return None

    def _units_headers(self, handle: Any, group: Any) -> SpikesInfo:
        ids = tuple(python_scalar(i) for i in np.asarray(group["id"][:]))
        ends = np.asarray(group["spike_times_index"][:], dtype=np.int64)
        bounds = np.stack([np.concatenate([[0], ends[:-1]]), ends], axis=1)
        names = [_text(name) for name in np.atleast_1d(group.attrs.get("colnames", []))]
        labels = [
            name
            for name in names
            if name not in ("spike_times", "obs_intervals") and f"{name}_index" not in group
        ]

        def column(name: str) -> np.ndarray:
            dataset = group[name]
            values = dataset.asstr()[:] if dataset.dtype.kind in "OSU" else np.asarray(dataset[:])
            if np.ndim(values) != 1:
                raise self.error(
                    f"cannot filter units on it: column {name!r} holds "
                    f"{np.shape(values)[1:]} values per unit."
                )
            return np.asarray(values)

        rows = select_units(ids, self.config.units, self, labels, column)
        observed = None
        if "obs_intervals" in group and "obs_intervals_index" in group:
            intervals = np.asarray(group["obs_intervals"][:], dtype=np.float64)
            iends = np.asarray(group["obs_intervals_index"][:], dtype=np.int64)
            istarts = np.concatenate([[0], iends[:-1]])
            chosen = [intervals[istarts[r] : iends[r]] for r in rows]
            chosen = [c for c in chosen if c.size]
            if chosen:
                joined = np.concatenate(chosen)
                observed = float(joined[:, 0].min()), float(joined[:, 1].max())
        times = group["spike_times"]

        def extent() -> tuple[float, float]:
            picked = bounds[rows]
            picked = picked[picked[:, 1] > picked[:, 0]]
            if picked.size == 0:
                raise self.error("the selected units have no spikes.")
            first = min(float(times[int(b)]) for b in picked[:, 0])
            last = max(float(times[int(b) - 1]) for b in picked[:, 1])
            if not first < last:
                raise self.error(
                    f"the selected units' spikes span [{first:g}, {last:g}] s, no stretch of "
                    "time; give time_range."
                )
            return first, last

        span = recording_span(observed, self.config.time_range, extent, self)
        return SpikesInfo(unit_ids=tuple(ids[r] for r in rows), span=span)

    @contextmanager
    def _object(self) -> Iterator[Any]:
        """The configured object of the open file (closed on exit)."""
        path = self.require_path()
        import h5py
        from pynwb import NWBHDF5IO

        if not h5py.is_hdf5(path):
            raise self.error(
                "is not an HDF5 file, so not an NWB file this source reads (it may be "
                "truncated or corrupt; NWB files stored as zarr are not read)."
            )
        try:
            handle = h5py.File(path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
        except OSError as exc:
            raise self.error(f"cannot be opened as an HDF5 file: {exc}") from exc
        with handle:
            try:
                io = NWBHDF5IO(file=handle, mode="r")
            except Exception as exc:  # pynwb raises many types for files it cannot open
                raise self.error(f"cannot be opened as an NWB file: {exc}") from exc
            try:
                try:
                    nwbfile = io.read()
                except Exception as exc:
                    raise self.error(
                        f"is not a readable NWB file ({type(exc).__name__}: {exc})."
                    ) from exc
                yield self._find(io, nwbfile)
            finally:
                io.close()

    def _find(self, io: Any, nwbfile: Any) -> Any:
        objects: dict[str, Any] = {}
        for obj in nwbfile.objects.values():
            builder = io.manager.get_builder(obj)
            if builder is not None:
                objects[builder.path.removeprefix("root").strip("/")] = obj
        readable = sorted(
            (path, type(obj).__name__) for path, obj in objects.items() if _is_readable(obj)
        )
        listing = ", ".join(f"{path} ({kind})" for path, kind in readable) or "(none)"
        wanted = self.config.object.strip("/")
        if wanted not in objects:
            raise self.error(f"no such object; readable objects: {listing}.")
        obj = objects[wanted]
        if not _is_readable(obj):
            raise self.error(
                f"is of type {type(obj).__name__}, neither a TimeSeries nor a Units table; "
                f"readable objects: {listing}."
            )
        if _is_units(obj) and self.config.channels is not None:
            raise self.error("is a Units table: select units with units:, not channels.")
        if not _is_units(obj) and self.config.units is not None:
            raise self.error(
                f"is of type {type(obj).__name__}, not a Units table: select channels with "
                "channels:, not units."
            )
        return obj

    def _rows(self, units: _Units) -> list[int]:
        def column(name: str) -> np.ndarray:
            try:
                return units.column(name)
            except ValueError as exc:
                raise self.error(f"cannot filter units on it: {exc}.") from exc

        return select_units(units.ids, self.config.units, self, units.labels, column)

    def _span(self, units: _Units, rows: list[int]) -> tuple[float, float]:
        return recording_span(
            units.observed(rows),
            self.config.time_range,
            lambda: units.extent(rows, self),
            self,
        )

    def _train(self, units: _Units, row: int) -> np.ndarray:
        start, stop = units.bounds[row]
        train = np.asarray(units.times[start:stop], dtype=np.float64)
        if (np.diff(train) < 0).any():
            raise self.error(
                f"the spike times of unit {units.ids[row]!r} are not in ascending order; "
                "NWB expects them sorted (sort them when writing the file)."
            )
        return spikes_in_range(train, self.config.time_range)


def _is_units(obj: Any) -> bool:
    from hdmf.common import DynamicTable

    return isinstance(obj, DynamicTable) and "spike_times" in obj.colnames


def _is_readable(obj: Any) -> bool:
    from pynwb import TimeSeries

    return isinstance(obj, TimeSeries) or _is_units(obj)


class _Series:
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


def _attr(obj: Any, name: str) -> str | None:
    value = obj.attrs.get(name)
    return None if value is None else _text(value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _h5_units(group: Any) -> bool:
    return all(name in group for name in ("id", "spike_times", "spike_times_index"))


def _h5_series(group: Any) -> bool:
    import h5py

    data = group.get("data")
    if not isinstance(data, h5py.Dataset):
        return False
    start = group.get("starting_time")
    if isinstance(start, h5py.Dataset):
        return "rate" in start.attrs
    return isinstance(group.get("timestamps"), h5py.Dataset)


class _H5Series(_Series):
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
