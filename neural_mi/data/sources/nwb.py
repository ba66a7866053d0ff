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
    UnitSelection,
    python_scalar,
)
from .nwb_objects import H5Series, Series, UnitsTable
from .selection import (
    check_spikes_found,
    recording_span,
    select_units,
    spikes_in_range,
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
                units = UnitsTable(obj, self)
                rows = self._rows(units)
                return SpikesInfo(
                    unit_ids=tuple(units.ids[r] for r in rows), span=self._span(units, rows)
                )
            series = Series(obj, self)
            return series.info()

    def load(self) -> Signal | SpikeTrains:
        with self._object() as obj:
            if _is_units(obj):
                units = UnitsTable(obj, self)
                rows = self._rows(units)
                span = self._span(units, rows)
                trains = [self._train(units, r) for r in rows]
                check_spikes_found(trains, self, self.config.time_range)
                return SpikeTrains(trains, tuple(units.ids[r] for r in rows), span)
            return Series(obj, self).read()

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
                    return H5Series(handle, group, self).info()
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

    def _rows(self, units: UnitsTable) -> list[int]:
        def column(name: str) -> np.ndarray:
            try:
                return units.column(name)
            except ValueError as exc:
                raise self.error(f"cannot filter units on it: {exc}.") from exc

        return select_units(units.ids, self.config.units, self, units.labels, column)

    def _span(self, units: UnitsTable, rows: list[int]) -> tuple[float, float]:
        return recording_span(
            units.observed(rows),
            self.config.time_range,
            lambda: units.extent(rows, self),
            self,
        )

    def _train(self, units: UnitsTable, row: int) -> np.ndarray:
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
