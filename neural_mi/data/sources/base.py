"""What every data source returns, and the interface each format implements.

A source reads one variable of one recording: a *signal* (continuous or categorical values
sampled over time, returned as ``(channels, time)`` with its :class:`TimeBase`) or *spike
trains* (one array of spike times in seconds per unit, with the recording span they cover).

Each format (``nwb``, ``phy``, ``mat``, ``xarray``, ``array``) is one module holding a
pydantic config model (what to read: file, object, channels, units, time range) and a
:class:`Source` subclass with two methods:

- :meth:`Source.describe` reads headers only and says what :meth:`Source.load` would
  return (channels or units, sample count, rate, start, span, dtype), after the selection,
  so that a plan over many sessions can check every session cheaply and fail before any
  training;
- :meth:`Source.load` reads only the selected channels, units and time range.

Torch-free; nothing here imports a format's reader library.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...errors import DataSourceError
from .configs import ChannelSelection, Ident, SourceConfigBase, UnitSelection

__all__ = [
    "ChannelSelection",
    "Signal",
    "SignalInfo",
    "Source",
    "SourceConfigBase",
    "SpikeTrains",
    "SpikesInfo",
    "TimeBase",
    "UnitSelection",
]

# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TimeBase:
    """When the samples of a signal were taken.

    Either regularly, ``rate`` samples per second from ``start`` (sample ``i`` at
    ``start + i / rate``), or at explicit ``timestamps`` (seconds, non-decreasing).

    Attributes
    ----------
    rate
        Sampling rate in Hz, or ``None`` when ``timestamps`` are given.
    start
        Time of the first sample in seconds (``timestamps[0]`` for explicit timestamps).
    timestamps
        ``(time,)`` float64 sample times in seconds, or ``None`` for a regular time base.
    """

    rate: float | None = None
    start: float = 0.0
    timestamps: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.rate is None) == (self.timestamps is None):
            raise ValueError("a time base has either a rate or timestamps, not both or neither")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"sampling rate must be a positive number of Hz, got {self.rate!r}")
        if self.timestamps is not None:
            stamps = np.asarray(self.timestamps, dtype=np.float64)
            if stamps.ndim != 1 or stamps.size == 0:
                raise ValueError(f"timestamps must be a non-empty 1-D array, got {stamps.shape}")
            if not np.isfinite(stamps).all() or (np.diff(stamps) < 0).any():
                raise ValueError("timestamps must be finite and non-decreasing")
            object.__setattr__(self, "timestamps", stamps)
            object.__setattr__(self, "start", float(stamps[0]))
        elif not math.isfinite(self.start):
            raise ValueError(f"start time must be finite, got {self.start!r}")

    @property
    def regular(self) -> bool:
        """True for a rate and start, False for explicit timestamps."""
        return self.rate is not None

    def times(self, n_times: int) -> np.ndarray:
        """Sample times in seconds, ``(n_times,)`` float64."""
        if self.timestamps is not None:
            if self.timestamps.size != n_times:
                raise ValueError(f"{self.timestamps.size} timestamps for {n_times} samples")
            return self.timestamps
        return self.start + np.arange(n_times, dtype=np.float64) / self._rate

    def span(self, n_times: int) -> tuple[float, float]:
        """``(start, end)`` in seconds: a regular base covers ``[start, start + n / rate)``;
        explicit timestamps cover ``[first, last]``."""
        if self.timestamps is not None:
            return float(self.timestamps[0]), float(self.timestamps[-1])
        return self.start, self.start + n_times / self._rate

    @property
    def _rate(self) -> float:
        if self.rate is None:  # __post_init__ allows this only with timestamps
            raise ValueError("a time base with timestamps has no rate")
        return self.rate


@dataclass(frozen=True, eq=False)
class Signal:
    """A continuous or categorical signal, ``(channels, time)``, with its time base.

    Attributes
    ----------
    values
        ``(channels, time)`` array, with the file's dtype (or float after NWB's
        ``conversion``/``offset`` scaling).
    time_base
        When the samples were taken, or ``None`` when the file gives no time base (such a
        signal can only be paired with another by sample index).
    channel_ids
        One identifier per row of ``values`` (electrode or ROI ids, coordinate labels, or
        positions in the file's channel axis).
    """

    values: np.ndarray
    time_base: TimeBase | None
    channel_ids: tuple[Ident, ...]

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"signal values must be (channels, time), got {self.values.shape}")
        if len(self.channel_ids) != self.values.shape[0]:
            raise ValueError(
                f"{len(self.channel_ids)} channel ids for {self.values.shape[0]} channels"
            )
        stamps = None if self.time_base is None else self.time_base.timestamps
        if stamps is not None and stamps.size != self.values.shape[1]:
            raise ValueError(f"{stamps.size} timestamps for {self.values.shape[1]} samples")

    @property
    def n_channels(self) -> int:
        """Number of channels (rows)."""
        return int(self.values.shape[0])

    @property
    def n_times(self) -> int:
        """Number of samples (columns)."""
        return int(self.values.shape[1])

    def times(self) -> np.ndarray | None:
        """Sample times in seconds, or ``None`` without a time base."""
        return None if self.time_base is None else self.time_base.times(self.n_times)

    @property
    def span(self) -> tuple[float, float] | None:
        """``(start, end)`` in seconds (see :meth:`TimeBase.span`), or ``None``."""
        return None if self.time_base is None else self.time_base.span(self.n_times)


@dataclass(frozen=True, eq=False)
class SpikeTrains:
    """Spike times of a set of units over a recording span.

    Attributes
    ----------
    times
        One sorted 1-D float64 array of spike times in seconds per unit.
    unit_ids
        One identifier per unit, in the order of ``times``.
    span
        ``(start, stop)`` in seconds: the stretch of time the trains cover, silent
        stretches included (how each format knows it: see its source).
    """

    times: list[np.ndarray]
    unit_ids: tuple[Ident, ...]
    span: tuple[float, float]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.unit_ids):
            raise ValueError(f"{len(self.unit_ids)} unit ids for {len(self.times)} spike trains")
        for train in self.times:
            if train.ndim != 1 or train.dtype != np.float64:
                raise ValueError("spike trains must be 1-D float64 arrays")
        object.__setattr__(self, "span", _checked_span(self.span))

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.times)


@dataclass(frozen=True)
class SignalInfo:
    """What :meth:`Source.load` returns for a signal, read from headers (after selection).

    Attributes
    ----------
    n_channels, n_times
        Shape of the ``(channels, time)`` values.
    dtype
        Their numpy dtype (name).
    rate
        Sampling rate in Hz; ``None`` for explicit timestamps or without a time base.
    start_time
        Time of the first sample in seconds; ``None`` without a time base.
    span
        ``(start, end)`` in seconds as :meth:`TimeBase.span`; ``None`` without a time base.
    channel_ids
        Identifier of each channel.
    """

    n_channels: int
    n_times: int
    dtype: str
    rate: float | None
    start_time: float | None
    span: tuple[float, float] | None
    channel_ids: tuple[Ident, ...] = field(repr=False)

    @property
    def regular(self) -> bool:
        """True when samples come at a known rate."""
        return self.rate is not None


@dataclass(frozen=True)
class SpikesInfo:
    """What :meth:`Source.load` returns for spike trains, read cheaply (after selection).

    Attributes
    ----------
    unit_ids
        The selected units, in the order they will be returned.
    span
        ``(start, stop)`` in seconds, as :attr:`SpikeTrains.span`.
    """

    unit_ids: tuple[Ident, ...] = field(repr=False)
    span: tuple[float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "span", _checked_span(self.span))

    @property
    def n_units(self) -> int:
        """Number of selected units."""
        return len(self.unit_ids)


def _checked_span(span: tuple[float, float]) -> tuple[float, float]:
    start, stop = float(span[0]), float(span[1])
    if not start < stop:
        raise ValueError(f"span must be (start, stop) with start < stop, got {span}")
    return start, stop


# --------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------


class Source(ABC):
    """One variable of one recording, as a config describes it.

    Subclasses set :attr:`format` and :attr:`config_model` and implement :meth:`describe`
    and :meth:`load`.  Construction reads nothing.
    """

    #: Name of the format in configs (``format: nwb``).
    format: ClassVar[str]
    #: The pydantic model of this format's config.
    config_model: ClassVar[type[SourceConfigBase]]

    def __init__(self, config: SourceConfigBase) -> None:
        if not isinstance(config, self.config_model):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_model.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config

    @property
    def path(self) -> Path:
        """The file or folder the config names."""
        return Path(self.config.path)

    @property
    def label(self) -> str:
        """How messages name this source: the file (and the object within it)."""
        return repr(self.config.path)

    def error(self, problem: str) -> DataSourceError:
        """A :class:`DataSourceError` whose message starts with :attr:`label`."""
        return DataSourceError(f"{self.label}: {problem}")

    def require_path(self, *, directory: bool = False) -> Path:
        """The path, checked to exist (as a folder when ``directory``)."""
        path = self.path
        if not path.exists():
            raise self.error(f"not found (looked in {str(path.absolute().parent)!r}).")
        if directory and not path.is_dir():
            raise self.error("is a file, but this format reads a folder.")
        return path

    @abstractmethod
    def describe(self) -> SignalInfo | SpikesInfo:
        """What :meth:`load` returns, from headers, after the selection.

        Raises
        ------
        DataSourceError
            Whatever :meth:`load` would raise about the file and the selection.
        """

    @abstractmethod
    def load(self) -> Signal | SpikeTrains:
        """Read the selected channels, units and time range.

        Raises
        ------
        DataSourceError
            Missing or unreadable file, missing object, empty or out-of-range selection.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def python_scalar(value: Any) -> Any:
    """A numpy scalar as the matching Python value (bytes decoded), for ids and labels."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
