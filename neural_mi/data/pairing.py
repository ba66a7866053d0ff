"""Which window of X goes with which window of Y (and Z): pairing by time, one formula.

A variable has a *time base* when the time of each of its samples is known: a sampled
signal with a sampling rate (and start time) or timestamps
(:class:`~neural_mi.data.sources.TimeBase`), or spike trains, whose spike times are
seconds and which cover a span (:class:`SpikeSpan`; from 0 to the last spike unless the
data says otherwise).  How the windows are paired:

- **By time**, when every variable has a time base.  Each variable's windows start at
  known times (:class:`Grid`): window ``k`` of a sampled signal starts at its sample
  ``k * step_size``; spike windows are placed where they are needed: on the window starts
  of the first sampled variable (so that a spike window and an LFP window start at the
  same instant), else from X's span start.  The grid with the largest step is the
  reference; each of its windows inside the other variables' grids is paired with the
  window of each other variable whose start is nearest, which must lie within half of the
  smallest step.  Windows outside the time span common to all variables are dropped.  A
  window that cannot be matched, or spans whose common part is less than ``min_overlap``
  of the longest span, is an error naming every span and grid.
- **By index**, when a variable has no time base: window ``i`` with window ``i``, only
  when the window counts are equal, or with ``align='truncate'`` (the longer variable's
  last windows are dropped, NeuralMI 1.1's pairing made explicit).  Otherwise an error
  says how to give a time base.

Lags in seconds (``lag`` mode on data paired by time) move Y's clock back by the lag
before pairing, so that X's window at ``t`` is paired with Y's window at ``t + lag``;
spike windows are placed on the moved grid exactly, a sampled Y must move by a whole
number of its steps.  :func:`resolve_seconds` turns window and step sizes given as
durations (``'0.5 s'``) into samples at each variable's rate when a task is planned.

The same functions serve ``neural-mi plan`` (from file headers:
:mod:`neural_mi.config.extents`) and the engine (from the data:
:class:`neural_mi.engine.inputs.SessionData`), so both pair alike.  Torch-free.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..errors import ParameterError
from ..params import DEFAULT_MIN_OVERLAP
from .durations import WHOLE_TOL as _WHOLE_TOL
from .durations import lag_in_seconds, lag_windows, resolve_seconds, task_lag
from .sources.base import TimeBase
from .timing import (
    Grid,
    Pairing,
    PairingError,
    SpikeSpan,
    Timing,
    VariableTime,
    check_align,
    timing_label,
    timing_record,
)
from .timing import short_number as _g
from .windows import WINDOW_COUNT_TOL, count_spike_windows, count_windows

logger = logging.getLogger(__name__)

__all__ = [
    "Grid",
    "Pairing",
    "PairingError",
    "SpikeSpan",
    "Timing",
    "VariableTime",
    "check_align",
    "lag_in_seconds",
    "lag_windows",
    "pair_variables",
    "resolve_seconds",
    "task_lag",
    "timing_label",
    "timing_record",
]


def pair_variables(
    variables: Sequence[VariableTime],
    *,
    align: str = "auto",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    lag: float = 0.0,
) -> Pairing:
    """Pair the windows of the variables (X first, then Y, then Z).

    Parameters
    ----------
    variables
        One :class:`VariableTime` per variable.
    align
        ``'auto'`` or ``'truncate'`` (see the module docstring; used only when a variable
        has no time base).
    min_overlap
        Least fraction of the longest span that the common span must cover.
    lag
        Seconds by which Y (the second variable) follows X; only with time bases.

    Returns
    -------
    Pairing

    Raises
    ------
    PairingError
        Spans that overlap too little, windows that cannot be matched, unequal counts
        without a time base; the message names every span and grid.
    ParameterError
        A lag without time bases, or a lag that is not a whole number of a sampled Y's
        steps.
    """
    if all(v.timing is not None for v in variables):
        return _pair_by_time(variables, min_overlap, lag)
    if lag:
        raise ParameterError(
            f"a lag of {_g(lag)} s needs time bases for X and Y; give their sampling rates."
        )
    return _pair_by_index(variables, align)


def _pair_by_index(variables: Sequence[VariableTime], align: str) -> Pairing:
    counts = [_index_count(v) for v in variables]
    n = min(counts)
    identity = tuple(slice(0, n) for _ in variables)
    if len(set(counts)) == 1:
        return Pairing(identity, n, by_time=False)
    listing = " and ".join(f"{v.name} gives {c}" for v, c in zip(variables, counts))
    if align == "truncate":
        logger.warning(
            "%s windows; align='truncate' pairs window i with window i and drops the last "
            "windows of the longer (%d pairs).",
            listing,
            n,
        )
        return Pairing(identity, n, by_time=False)
    untimed = [v.name for v in variables if v.timing is None]
    raise PairingError(
        f"{listing} windows, and {' and '.join(untimed)} "
        f"{'has' if len(untimed) == 1 else 'have'} no time base, so windows cannot be "
        "paired by time. Give each variable a time base (nmi.run: sampling_rate=..., and "
        "start_time= when the first sample is not at 0 s; workflow config: sampling_rate: "
        "in the variable; NWB, xarray and MATLAB files may carry one), or pass "
        "align='truncate' to pair window i with window i and drop the extra windows (right "
        "only when both start at the same instant with the same step in seconds)."
    )


def _index_count(v: VariableTime) -> int:
    if v.processor_type == "spike":
        span = v.timing if isinstance(v.timing, SpikeSpan) else SpikeSpan()
        start, stop = _spike_bounds(v, span)
        step = float(v.params.get("step_size") or v.params["window_size"])
        return count_spike_windows(stop - start, float(v.params["window_size"]), step)
    assert v.n_times is not None
    if v.processor_type is None:
        return int(v.n_times)
    return count_windows(int(v.n_times), int(v.params["window_size"]), int(v.params["step_size"]))


def _spike_bounds(v: VariableTime, span: SpikeSpan) -> tuple[float, float]:
    """``(start, stop)`` of spike trains: ``n_seconds`` wins over the span's stop, which
    wins over the last spike."""
    stop = v.params.get("n_seconds") or span.stop or v.last_spike
    if stop is None:
        raise PairingError(f"{v.name}: spike trains without spikes and without n_seconds.")
    return span.start, float(stop)


def _pair_by_time(variables: Sequence[VariableTime], min_overlap: float, lag: float) -> Pairing:
    spans = []
    moved = []
    for position, v in enumerate(variables):
        timing = v.timing
        assert timing is not None
        if position == 1 and lag:
            _check_lag_step(v, lag)
        if isinstance(timing, SpikeSpan):
            start, stop = _spike_bounds(v, timing)
            if position == 1 and lag:
                start, stop = max(start, start - lag), min(stop, stop - lag)
            spans.append((start, stop))
            moved.append(v)
            continue
        if position == 1 and lag:
            timing = _moved(timing, lag)
        v = replace(v, timing=timing)
        moved.append(v)
        spans.append(_sampled_span(v))
    _check_overlap(moved, spans, min_overlap, lag)
    sampled = [
        _sampled_grid(v, span) if not isinstance(v.timing, SpikeSpan) else None
        for v, span in zip(moved, spans)
    ]
    anchor = next((g.starts[0] for g in sampled if g is not None and g.starts.size), spans[0][0])
    grids = [
        grid if grid is not None else _spike_grid(v, span, float(anchor))
        for v, span, grid in zip(moved, spans, sampled)
    ]
    for grid in grids:
        if grid.starts.size == 0:
            raise PairingError(
                f"{grid.name}'s window ({_g(grid.window)} s) is longer than its span: "
                f"{grid.describe()}."
            )
    indices, n, step = _match(grids, lag)
    return Pairing(
        indices=tuple(_compact(index) for index in indices),
        n=n,
        by_time=True,
        step=step,
        origins=tuple(g.origin for g in grids),
        stops=tuple(span[1] if g.origin is not None else None for g, span in zip(grids, spans)),
    )


def _moved(timing: TimeBase, lag: float) -> TimeBase:
    """A time base ``lag`` seconds earlier (Y's sample at ``t + lag`` is taken at ``t``)."""
    if timing.timestamps is not None:
        return TimeBase(timestamps=timing.timestamps - lag)
    return TimeBase(rate=timing.rate, start=timing.start - lag)


def _check_lag_step(v: VariableTime, lag: float) -> None:
    """A sampled Y moves by whole steps only, so that every pair's lag is the lag asked."""
    if v.processor_type == "spike" or isinstance(v.timing, SpikeSpan):
        return
    timing = v.timing
    assert isinstance(timing, TimeBase)
    if timing.rate is None:
        return  # timestamps: the matching itself checks how far the pairs are
    steps = 1 if v.processor_type is None else int(v.params["step_size"])
    step = steps / timing.rate
    ratio = lag / step
    if abs(ratio - round(ratio)) > _WHOLE_TOL * max(1.0, abs(ratio)):
        raise ParameterError(
            f"lag {_g(lag)} s is {ratio:g} of {v.name}'s steps ({_g(step)} s = {steps} "
            f"samples at {_g(timing.rate)} Hz); lags of a sampled {v.name} must be whole "
            f"steps, e.g. {_g(math.floor(ratio) * step)} s or {_g(math.ceil(ratio) * step)} s."
        )


def _sampled_span(v: VariableTime) -> tuple[float, float]:
    timing = v.timing
    assert isinstance(timing, TimeBase) and v.n_times is not None
    return timing.span(int(v.n_times))


def _check_overlap(
    variables: Sequence[VariableTime],
    spans: Sequence[tuple[float, float]],
    min_overlap: float,
    lag: float,
) -> None:
    common = min(end for _, end in spans) - max(start for start, _ in spans)
    longest = max(end - start for start, end in spans)
    if common > 0 and common >= min_overlap * longest * (1 - 1e-9):
        return
    listing = "; ".join(
        f"{v.name} spans {start:.3f}-{end:.3f} s" for v, (start, end) in zip(variables, spans)
    )
    moved = f" (Y moved back by the lag of {_g(lag)} s)" if lag else ""
    share = f"{max(common, 0.0) / longest:.1%}" if longest > 0 else "none"
    raise PairingError(
        f"{listing}{moved}: their common span covers {share} of the longest, less than "
        f"min_overlap={min_overlap:g}. Check the sampling rates, start times and the unit "
        "of spike times (seconds), or lower min_overlap if the recordings really cover "
        "different stretches."
    )


def _sampled_grid(v: VariableTime, span: tuple[float, float]) -> Grid:
    timing = v.timing
    assert isinstance(timing, TimeBase) and v.n_times is not None
    n_times = int(v.n_times)
    if v.processor_type is None:
        window = step = 1
    else:
        window, step = int(v.params["window_size"]), int(v.params["step_size"])
    count = count_windows(n_times, window, step)
    first = np.arange(count, dtype=np.int64) * step
    if timing.rate is not None:
        starts = timing.start + first / timing.rate
        seconds_window, seconds_step = window / timing.rate, step / timing.rate
        text = f"{_g(timing.rate)} Hz, {n_times} samples"
    else:
        stamps = timing.timestamps
        assert stamps is not None
        starts = stamps[first]
        period = float(np.median(np.diff(stamps))) if stamps.size > 1 else 0.0
        seconds_window, seconds_step = window * period, step * period
        text = f"timestamps, {n_times} samples"
    if v.processor_type is not None:
        text += f"; windows of {window} samples every {step}"
    return Grid(
        v.name,
        np.asarray(starts, dtype=np.float64),
        seconds_window,
        seconds_step,
        span,
        text,
        approximate=v.approximate,
    )


def _spike_grid(v: VariableTime, span: tuple[float, float], anchor: float) -> Grid:
    window = float(v.params["window_size"])
    step = float(v.params.get("step_size") or window)
    start, stop = span
    origin = anchor + math.ceil((start - anchor) / step - WINDOW_COUNT_TOL) * step
    count = count_spike_windows(stop - origin, window, step)
    starts = origin + np.arange(count, dtype=np.float64) * step
    return Grid(v.name, starts, window, step, span, "spike trains", origin=origin)


def _match(grids: Sequence[Grid], lag: float) -> tuple[list[np.ndarray], int, float]:
    """Indices of the paired windows of each grid, their number and the pairs' step."""
    reference = max(range(len(grids)), key=lambda i: (grids[i].step, -i))
    ref = grids[reference]
    tolerance = 0.5 * min(g.step for g in grids) * (1 - 1e-9)
    keep = np.ones(ref.starts.size, dtype=bool)
    nearest: dict[int, np.ndarray] = {}
    for position, grid in enumerate(grids):
        if position == reference:
            continue
        found, distance = _nearest(grid.starts, ref.starts)
        inside = (ref.starts >= grid.starts[0] - tolerance) & (
            ref.starts <= grid.starts[-1] + tolerance
        )
        unmatched = inside & ~(distance < tolerance)
        if unmatched.any() and not (ref.approximate or grid.approximate):
            first = int(np.flatnonzero(unmatched)[0])
            raise PairingError(
                f"{ref.name}'s window at {ref.starts[first]:.4f} s has no window of "
                f"{grid.name} within half a step (the nearest starts "
                f"{distance[first]:.4f} s away; {unmatched.sum()} such windows): "
                f"{_listing(grids)}{_lag_text(lag)}. Give both the same step in seconds "
                "(or steps that are multiples of each other) and check the start times."
            )
        keep &= inside & (distance < tolerance)
        nearest[position] = found
    chosen = np.flatnonzero(keep)
    if chosen.size == 0:
        raise PairingError(
            f"no window of {ref.name} can be paired: {_listing(grids)}{_lag_text(lag)}."
        )
    indices = []
    for position in range(len(grids)):
        index = chosen if position == reference else nearest[position][chosen]
        if index.size > 1 and np.any(np.diff(index) <= 0):
            raise PairingError(
                f"windows of {grids[position].name} would be paired twice: "
                f"{_listing(grids)}{_lag_text(lag)}."
            )
        indices.append(index)
    return indices, int(chosen.size), float(ref.step)


def _nearest(starts: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the element of sorted ``starts`` nearest each of ``times``, and how far."""
    right = np.clip(np.searchsorted(starts, times), 0, starts.size - 1)
    left = np.clip(right - 1, 0, starts.size - 1)
    pick_left = np.abs(times - starts[left]) <= np.abs(starts[right] - times)
    found = np.where(pick_left, left, right)
    return found, np.abs(starts[found] - times)


def _compact(index: np.ndarray) -> slice | np.ndarray:
    """An arithmetic progression as a slice (indexing a tensor with it is a view)."""
    if index.size == 0:
        return slice(0, 0)
    if index.size == 1:
        return slice(int(index[0]), int(index[0]) + 1)
    steps = np.diff(index)
    if np.all(steps == steps[0]) and steps[0] > 0:
        return slice(int(index[0]), int(index[-1]) + 1, int(steps[0]))
    return index


def _listing(grids: Sequence[Grid]) -> str:
    return "; ".join(grid.describe() for grid in grids)


def _lag_text(lag: float) -> str:
    return f" (Y moved back by the lag of {_g(lag)} s)" if lag else ""
