"""Labelled arrays: netCDF files and zarr stores written by xarray, with a time coordinate.

``variable`` names a data variable over the time dimension (``time_dim``, default
``time``) and at most one other dimension, its channels (their coordinate labels become
the channel ids).  It is returned as ``(channels, time)``.

The time coordinate gives the time base: seconds as numbers (``units`` attribute absent,
seconds or milliseconds), ``timedelta64`` (seconds from its zero) or ``datetime64``
(seconds since 1970-01-01).  When its values lie within a thousandth of a sample period of
a regular grid, the signal gets that grid's rate and start; otherwise it keeps the
timestamps.  Values are read lazily: only the selected channels and samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .base import (
    ChannelSelection,
    Signal,
    SignalInfo,
    Source,
    SourceConfigBase,
    TimeBase,
    python_scalar,
)
from .selection import channel_positions, read_signal, timestamp_range

__all__ = ["XarraySource", "XarraySourceConfig", "regular_rate"]

#: A time coordinate is regular when every value is within this fraction of a sample
#: period of the grid through its first and last values.
REGULAR_TOL = 1e-3

_SECONDS = {None: 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0}
_SECONDS |= {"ms": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3}


class XarraySourceConfig(SourceConfigBase, ChannelSelection):
    """A data variable of a netCDF file or xarray zarr store, over a time coordinate."""

    format: Literal["xarray"] = "xarray"
    """netCDF or zarr through xarray (inferred from .nc; a .zarr path is read as a plain
    array unless format is xarray)."""

    variable: str | None = None
    """Name of the data variable; may be omitted when one variable has the time dimension."""

    time_dim: str = Field(default="time", min_length=1)
    """Name of the time dimension (it needs a coordinate of sample times)."""


def regular_rate(seconds: np.ndarray) -> float | None:
    """The rate of ``seconds`` if they lie on a regular grid (see :data:`REGULAR_TOL`),
    to 12 significant digits.

    Returns
    -------
    float or None
        Samples per second, or ``None`` for fewer than two samples or irregular times.
    """
    if seconds.size < 2:
        return None
    period = (seconds[-1] - seconds[0]) / (seconds.size - 1)
    if not period > 0:
        return None
    grid = seconds[0] + np.arange(seconds.size) * period
    if np.max(np.abs(seconds - grid)) > REGULAR_TOL * period:
        return None
    # 12 significant digits: 1 / period of times written as i / 250 is 249.99999999999997;
    # the rounding moves the rate by under 1e-12 of itself, far below any clock's accuracy.
    return float(f"{1.0 / period:.12g}")


def _chunks(array: Any) -> tuple[int, ...] | None:
    """The chunk shape the file stores a variable in (netCDF or zarr), if any."""
    chunks = array.encoding.get("chunksizes") or array.encoding.get("chunks")
    return tuple(int(c) for c in chunks) if chunks else None


@dataclass(frozen=True, eq=False)
class _Selected:
    """A variable with a selection: lazy data, channels, sample times and range."""

    data: Any
    chunks: tuple[int, ...] | None
    time_axis: int
    positions: np.ndarray
    channel_ids: tuple[Any, ...]
    seconds: np.ndarray
    rate: float | None
    start: int
    stop: int

    def time_base(self) -> TimeBase:
        """The selected samples' time base: regular when the whole coordinate is."""
        if self.rate is not None:
            return TimeBase(rate=self.rate, start=float(self.seconds[self.start]))
        return TimeBase(timestamps=self.seconds[self.start : self.stop])


class XarraySource(Source):
    """Reads an :class:`XarraySourceConfig`."""

    format = "xarray"
    config_model = XarraySourceConfig
    config: XarraySourceConfig

    @property
    def label(self) -> str:
        variable = self.config.variable
        return repr(self.config.path) + ("" if variable is None else f" variable {variable!r}")

    def describe(self) -> SignalInfo:
        with self._selection() as selected:
            n_times = selected.stop - selected.start
            base = selected.time_base()
            return SignalInfo(
                n_channels=selected.positions.size,
                n_times=n_times,
                dtype=np.dtype(selected.data.dtype).name,
                rate=base.rate,
                start_time=base.start,
                span=base.span(n_times),
                channel_ids=selected.channel_ids,
            )

    def load(self) -> Signal:
        with self._selection() as selected:
            values = read_signal(
                selected.data,
                time_axis=selected.time_axis,
                start=selected.start,
                stop=selected.stop,
                positions=selected.positions,
                chunks=selected.chunks,
            )
            return Signal(values, selected.time_base(), selected.channel_ids)

    @contextmanager
    def _selection(self) -> Iterator[_Selected]:
        """The variable (lazy) with the config's selection, while the file is open."""
        path = self.require_path()
        import xarray as xr

        # zarr: each array's own metadata (few arrays, local files), consolidated or not
        is_zarr = path.suffix.lower() == ".zarr"
        options: dict[str, Any] = {"engine": "zarr", "consolidated": False} if is_zarr else {}
        try:
            dataset = xr.open_dataset(path, chunks=None, **options)
        except Exception as exc:  # backends raise many types for files they cannot read
            raise self.error(f"cannot be opened with xarray ({exc}).") from exc
        with dataset:
            array = self._variable(dataset)
            time_dim = self.config.time_dim
            channel_dims = [d for d in array.dims if d != time_dim]
            n_channels = 1 if not channel_dims else array.sizes[channel_dims[0]]
            positions = channel_positions(self.config.channels, n_channels, self)
            if channel_dims and channel_dims[0] in dataset.coords:
                labels = dataset.coords[channel_dims[0]].values
                ids = tuple(python_scalar(labels[p]) for p in positions)
            else:
                ids = tuple(int(p) for p in positions)
            origin, relative = self._seconds(dataset[time_dim])
            seconds = origin + relative
            start, stop = timestamp_range(seconds, self.config.time_range, self)
            yield _Selected(
                data=array.variable,
                chunks=_chunks(array),
                time_axis=array.dims.index(time_dim),
                positions=positions,
                channel_ids=ids,
                seconds=seconds,
                rate=regular_rate(relative),
                start=start,
                stop=stop,
            )

    def _variable(self, dataset: Any) -> Any:
        time_dim = self.config.time_dim
        name = self.config.variable
        over_time = [str(v) for v, a in dataset.data_vars.items() if time_dim in a.dims]
        if name is None:
            if len(over_time) != 1:
                raise self.error(
                    f"holds {len(over_time)} variables over {time_dim!r} "
                    f"({', '.join(over_time) or 'none'}); give variable: one of them."
                )
            name = over_time[0]
        if name not in dataset.data_vars:
            listing = ", ".join(str(v) for v in dataset.data_vars) or "(none)"
            raise self.error(f"has no data variable {name!r}; variables: {listing}.")
        array = dataset[name]
        if time_dim not in array.dims:
            raise self.error(
                f"variable {name!r} has dims {array.dims}, no {time_dim!r}; give time_dim: "
                "the name of its time dimension."
            )
        if array.ndim > 2:
            raise self.error(
                f"variable {name!r} has dims {array.dims}; a signal has time and at most "
                "one channel dimension."
            )
        if time_dim not in dataset.coords:
            raise self.error(
                f"dimension {time_dim!r} has no coordinate: the sample times are unknown."
            )
        if array.sizes[time_dim] == 0:
            raise self.error(f"variable {name!r} holds no samples.")
        if np.dtype(array.dtype).kind not in "biuf":
            raise self.error(f"variable {name!r} is not numeric (dtype {array.dtype}).")
        return array

    def _seconds(self, coordinate: Any) -> tuple[float, np.ndarray]:
        """Sample times as ``origin + relative`` seconds (datetimes: since 1970; the
        relative part keeps their nanosecond precision for the regularity test)."""
        values = np.asarray(coordinate.values)
        origin = 0.0
        if values.dtype.kind == "M":
            nanoseconds = values.astype("datetime64[ns]").astype(np.int64)
            origin = float(nanoseconds[0]) / 1e9
            seconds = (nanoseconds - nanoseconds[0]).astype(np.float64) / 1e9
        elif values.dtype.kind == "m":
            seconds = values.astype("timedelta64[ns]").astype(np.int64).astype(np.float64) / 1e9
        elif values.dtype.kind in "iuf":
            unit = coordinate.attrs.get("units")
            if unit not in _SECONDS:
                raise self.error(
                    f"time coordinate {coordinate.name!r} has units {unit!r}; store seconds "
                    "(units 's' or none) or milliseconds ('ms')."
                )
            seconds = values.astype(np.float64) * _SECONDS[unit]
        else:
            raise self.error(f"time coordinate {coordinate.name!r} has dtype {values.dtype}.")
        if not np.isfinite(seconds).all() or (np.diff(seconds) < 0).any():
            raise self.error(f"time coordinate {coordinate.name!r} is not finite and sorted.")
        return origin, seconds
