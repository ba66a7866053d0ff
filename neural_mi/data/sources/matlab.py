"""MATLAB ``.mat`` files: v4-v7 through scipy.io, v7.3 (HDF5) through h5py.

``variable`` names a numeric matrix (a signal) or a cell array of vectors (spike times in
seconds, one cell per unit; unit ids are the cells' 0-based positions in MATLAB's
column-major order).  Fields of structs are reached with dots (``S.lfp``).

A signal is ``channels x time`` in MATLAB's own indexing (``time_axis: 1``) or
``time x channels`` (``time_axis: 0``); a vector is one channel whatever its orientation.
v7.3 files store a MATLAB ``rows x cols`` array as an HDF5 dataset of shape
``(cols, rows)``; this is undone here, so ``time_axis`` always refers to MATLAB's view.

The time base comes from the config: ``sampling_rate`` (Hz), ``sampling_rate_variable``
(a scalar in the file, e.g. ``fs``) or ``timestamps_variable`` (a vector of sample times
in seconds); without one the signal has no time base.  Spike cells have span
``(0, last spike)``, or ``time_range`` as given.

v7.3 signals are sliced on disk; scipy.io reads a v4-v7 variable whole (that format has
no partial reads), then the selection is taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

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
from .matlab_files import MatFile, V5File, V73File, is_numeric
from .selection import (
    channel_positions,
    check_spikes_found,
    read_signal,
    recording_span,
    regular_range,
    select_units,
    spikes_in_range,
    timestamp_range,
)

__all__ = ["MatSource", "MatSourceConfig"]

#: The first bytes of a v7.3 MAT-file (its HDF5 user block).
_V73_HEADER = b"MATLAB 7.3 MAT-file"


class MatSourceConfig(SourceConfigBase, ChannelSelection):
    """A matrix (signal) or a cell array of spike-time vectors in a MATLAB file."""

    format: Literal["mat"] = "mat"
    """MATLAB .mat, any version (inferred from the suffix .mat)."""

    variable: str = Field(min_length=1)
    """Name of the variable; struct fields with dots, e.g. lfp or session.lfp."""

    time_axis: Literal[0, 1] = 1
    """Dimension of time in a signal matrix, as MATLAB indexes it: 1 for channels x time,
    0 for time x channels (vectors are one channel either way)."""

    sampling_rate: float | None = Field(default=None, gt=0)
    """Samples per second of the signal."""

    sampling_rate_variable: str | None = None
    """Name of a scalar variable in the file holding the sampling rate in Hz (e.g. fs)."""

    timestamps_variable: str | None = None
    """Name of a vector variable in the file holding each sample's time in seconds."""

    start_time: float | None = None
    """Time of the first sample in seconds, with a sampling rate (default 0)."""

    units: UnitSelection | None = None
    """Which cells of a spike-time cell array to read (ids: 0-based positions). Default: all."""

    @model_validator(mode="after")
    def _one_time_base(self) -> MatSourceConfig:
        given = [
            name
            for name in ("sampling_rate", "sampling_rate_variable", "timestamps_variable")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one time base, not {' and '.join(given)}")
        if self.start_time is not None and given in ([], ["timestamps_variable"]):
            raise ValueError("start_time needs sampling_rate or sampling_rate_variable")
        if self.units is not None and self.channels is not None:
            raise ValueError("give channels (signal) or units (spike cells), not both")
        return self


class MatSource(Source):
    """Reads a :class:`MatSourceConfig`."""

    format = "mat"
    config_model = MatSourceConfig
    config: MatSourceConfig

    @property
    def label(self) -> str:
        return f"{self.config.path!r} variable {self.config.variable!r}"

    @contextmanager
    def _file(self) -> Iterator[MatFile]:
        path = self.require_path()
        with path.open("rb") as handle:
            head = handle.read(len(_V73_HEADER))
        if head == _V73_HEADER:
            import h5py

            try:
                handle = h5py.File(path, "r")
            except OSError as exc:
                raise self.error(f"is not a readable v7.3 MAT-file ({exc}).") from exc
            with handle:
                yield V73File(handle, self)
        else:
            yield V5File(path, self)

    def describe(self) -> SignalInfo | SpikesInfo:
        with self._file() as mat:
            shape, kind = mat.header(self.config.variable)
            if kind == "cell":
                ids, trains = self._trains(mat)
                return SpikesInfo(unit_ids=ids, span=self._span(trains))
            layout = self._layout(shape, kind)
            base, i0, i1 = self._time_window(mat, layout["n_times"])
            positions = channel_positions(self.config.channels, layout["n_channels"], self)
            dtype = mat.dtype(self.config.variable)
            return SignalInfo(
                n_channels=positions.size,
                n_times=i1 - i0,
                dtype=dtype.name,
                rate=None if base is None else base.rate,
                start_time=None if base is None else base.start,
                span=None if base is None else base.span(i1 - i0),
                channel_ids=tuple(int(p) for p in positions),
            )

    def load(self) -> Signal | SpikeTrains:
        with self._file() as mat:
            shape, kind = mat.header(self.config.variable)
            if kind == "cell":
                ids, trains = self._trains(mat)
                span = self._span(trains)
                trains = [spikes_in_range(t, self.config.time_range) for t in trains]
                check_spikes_found(trains, self, self.config.time_range)
                return SpikeTrains(trains, ids, span)
            layout = self._layout(shape, kind)
            base, i0, i1 = self._time_window(mat, layout["n_times"])
            positions = channel_positions(self.config.channels, layout["n_channels"], self)
            array, reversed_axes = mat.array(self.config.variable)
            time_axis = layout["time_axis"]
            values = read_signal(
                array,
                time_axis=1 - time_axis if reversed_axes else time_axis,
                start=i0,
                stop=i1,
                positions=positions,
            )
            return Signal(values, base, tuple(int(p) for p in positions))

    def _layout(self, shape: tuple[int, ...], kind: str) -> dict[str, int]:
        """Channels, samples and the MATLAB axis of time of a numeric variable."""
        if not is_numeric(kind) or len(shape) != 2 or 0 in shape:
            raise self.error(
                f"is a {'x'.join(map(str, shape))} {kind}; a signal is a non-empty numeric "
                "matrix (channels x time, or time x channels with time_axis: 0) and spike "
                "times a cell array of vectors."
            )
        if shape[0] == 1 or shape[1] == 1:
            time_axis = 1 if shape[0] == 1 else 0
        else:
            time_axis = self.config.time_axis
        return {
            "n_channels": shape[1 - time_axis],
            "n_times": shape[time_axis],
            "time_axis": time_axis,
        }

    def _vector(self, mat: MatFile, variable: str) -> np.ndarray:
        shape, kind = mat.header(variable)
        if not is_numeric(kind) or len(shape) != 2 or min(shape) != 1:
            raise self.error(
                f"{variable!r} is a {'x'.join(map(str, shape))} {kind}, not a numeric "
                "scalar or vector."
            )
        return np.asarray(mat.array(variable)[0][()], dtype=np.float64).ravel()

    def _time_window(self, mat: MatFile, n_times: int) -> tuple[TimeBase | None, int, int]:
        config = self.config
        if config.timestamps_variable is not None:
            stamps = self._vector(mat, config.timestamps_variable)
            if stamps.size != n_times:
                raise self.error(
                    f"{config.timestamps_variable!r} holds {stamps.size} timestamps for "
                    f"{n_times} samples."
                )
            i0, i1 = timestamp_range(stamps, config.time_range, self)
            return TimeBase(timestamps=stamps[i0:i1]), i0, i1
        rate = config.sampling_rate
        if config.sampling_rate_variable is not None:
            value = self._vector(mat, config.sampling_rate_variable)
            if value.size != 1 or not value[0] > 0:
                raise self.error(
                    f"{config.sampling_rate_variable!r} should hold one sampling rate in Hz, "
                    f"got {value.tolist()}."
                )
            rate = float(value[0])
        if rate is None:
            if config.time_range is not None:
                raise self.error(
                    "time_range needs a time base: give sampling_rate (Hz), "
                    "sampling_rate_variable (a scalar in the file) or timestamps_variable."
                )
            return None, 0, n_times
        start = config.start_time or 0.0
        i0, i1 = regular_range(rate, start, n_times, config.time_range, self)
        return TimeBase(rate=rate, start=start + i0 / rate), i0, i1

    def _trains(self, mat: MatFile) -> tuple[tuple[int, ...], list[np.ndarray]]:
        config = self.config
        if config.channels is not None or config.timestamps_variable is not None:
            raise self.error("is a cell array (spike times): select units, not channels.")
        cells = mat.cells(config.variable)
        for position, cell in enumerate(cells):
            if cell.dtype.kind not in "biuf":
                raise self.error(f"cell {position} is not numeric (spike times in seconds).")
        rows = select_units(list(range(len(cells))), config.units, self)
        return tuple(rows), [np.sort(cells[r].astype(np.float64)) for r in rows]

    def _span(self, trains: list[np.ndarray]) -> tuple[float, float]:
        def extent() -> tuple[float, float]:
            last = max((float(t[-1]) for t in trains if t.size), default=None)
            if last is None or last <= 0:
                raise self.error("the selected cells hold no spike after 0 s.")
            return 0.0, last

        return recording_span(None, self.config.time_range, extent, self)
