"""Time bases of the variables and what pairing them gives: :class:`SpikeSpan`,
:data:`Timing`, :class:`VariableTime`, :class:`Grid`, :class:`Pairing`, and the labels a
plan records of each variable's time base (see :mod:`neural_mi.data.pairing`).
Torch-free."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataShapeError
from ..params import ALIGN_CHOICES, check_choice, check_number
from .sources.base import TimeBase


class PairingError(DataShapeError):
    """X and Y (and Z) cannot be paired: spans that barely overlap, grids that cannot be
    matched, or unequal window counts without a time base."""


@dataclass(frozen=True)
class SpikeSpan:
    """The stretch of time spike trains cover; their windows lie in ``[start, stop)``.

    Attributes
    ----------
    start
        Seconds; spike times are on the same clock.
    stop
        Seconds, or ``None``: the processor's ``n_seconds`` when given, else the last spike.
    """

    start: float = 0.0
    stop: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.start) or (
            self.stop is not None and not (math.isfinite(self.stop) and self.stop > self.start)
        ):
            raise ValueError(f"a spike span is (start, stop) with start < stop, got {self}")


#: A variable's time base: sampled signals (and already-processed rows) have a
#: :class:`TimeBase`, spike trains a :class:`SpikeSpan`.
Timing = TimeBase | SpikeSpan


@dataclass(frozen=True)
class VariableTime:
    """What pairing needs to know of one variable.

    Attributes
    ----------
    name
        ``"X"``, ``"Y"`` or ``"Z"`` (for messages).
    processor_type
        ``'continuous'``, ``'categorical'``, ``'spike'`` or ``None`` (processed rows).
    params
        Its resolved processor parameters (window and step in samples, or in seconds for
        spikes).
    timing
        Its time base, or ``None``.
    n_times
        Time points of a sampled signal (along the processor's time axis), rows of
        processed data; unused for spikes.
    last_spike
        Latest spike time (spike trains whose span has no stop).
    approximate
        The time base is known only by its span (timestamps read from headers): the grid
        is a regular approximation, and windows that do not match are not refused (the
        engine checks the real timestamps).
    """

    name: str
    processor_type: str | None
    params: Mapping[str, Any]
    timing: Timing | None
    n_times: int | None = None
    last_spike: float | None = None
    approximate: bool = False


@dataclass(frozen=True)
class Grid:
    """Where a variable's windows start, in seconds.

    Attributes
    ----------
    name
        ``"X"``, ``"Y"`` or ``"Z"``.
    starts
        ``(n_windows,)`` float64 start times, increasing.
    window, step
        Window length and step in seconds (the median step for timestamps).
    span
        ``(start, end)`` of the variable's data, seconds.
    text
        How the windows were given, for messages.
    origin
        Spike trains: where their window 0 starts (window ``k`` at ``origin + k * step``);
        ``None`` for sampled signals.
    approximate
        See :class:`VariableTime`.
    """

    name: str
    starts: np.ndarray
    window: float
    step: float
    span: tuple[float, float]
    text: str
    origin: float | None = None
    approximate: bool = False

    def describe(self) -> str:
        """One line for messages: the span, the windows and where they start."""
        first = f"from {self.starts[0]:.3f} s" if self.starts.size else "none fits"
        return (
            f"{self.name} spans {self.span[0]:.3f}-{self.span[1]:.3f} s ({self.text}); "
            f"{self.starts.size} windows of {short_number(self.window)} s "
            f"every {short_number(self.step)} s "
            f"{first}"
        )


@dataclass(frozen=True)
class Pairing:
    """Which window of each variable each pair takes.

    Attributes
    ----------
    indices
        Per variable, its windows in pair order: a ``slice`` (views of the windows) or an
        index array.
    n
        Number of pairs.
    by_time
        Paired by start times (else by index).
    step
        Seconds between consecutive pairs (by time), else ``None``.
    origins, stops
        Per variable: for spike trains, where window 0 starts and when the windows end
        (seconds, their processing: spike times minus ``origin``, ``n_seconds = stop -
        origin``); ``None`` for other variables and when paired by index.
    """

    indices: tuple[slice | np.ndarray, ...]
    n: int
    by_time: bool
    step: float | None = None
    origins: tuple[float | None, ...] = field(default=())
    stops: tuple[float | None, ...] = field(default=())

    def windows(self, position: int, samples: Any) -> np.ndarray:
        """Window indices of variable ``position`` behind pair indices ``samples``."""
        samples = np.asarray(samples, dtype=np.int64)
        index = self.indices[position]
        if isinstance(index, slice):
            return (index.start or 0) + samples * (index.step or 1)
        return np.asarray(index, dtype=np.int64)[samples]


def check_align(align: Any, min_overlap: Any) -> tuple[str, float]:
    """``align`` and ``min_overlap`` checked (see the module docstring).

    Raises
    ------
    ParameterError
        For an unknown ``align`` or an overlap outside (0, 1].
    """
    check_choice(align, ALIGN_CHOICES, "align")
    return str(align), check_number(min_overlap, "min_overlap", gt=0, le=1)


def timing_label(processor_type: str | None, timing: Timing | None) -> float | str | None:
    """What a plan records of a variable's time base: its rate (Hz), ``'timestamps'``,
    ``'spikes'``, or ``None`` without one."""
    if timing is None:
        return None
    if processor_type == "spike" or isinstance(timing, SpikeSpan):
        return "spikes"
    return float(timing.rate) if timing.rate is not None else "timestamps"


def timing_record(labels: Mapping[str, float | str | None]) -> dict[str, float | str] | None:
    """The time bases a plan records in its tasks' parameters (``params['timing']``), from
    :func:`timing_label` of each variable the analysis uses: every variable has one and
    not all are spike trains (spike trains alone are paired by time without a record, as
    they always were).  ``None`` otherwise."""
    if not labels or any(label is None for label in labels.values()):
        return None
    if all(label == "spikes" for label in labels.values()):
        return None
    return {name: label for name, label in labels.items() if label is not None}


def short_number(value: float) -> str:
    """``value`` with at most 6 significant digits (messages)."""
    return f"{value:.6g}"
