"""Null tasks: the data of one permutation of a permutation test, its pairing broken.

A permutation test asks how large an analysis' number would be if the variables were
independent, everything else equal.  A *null task* (``TaskSpec.permutation >= 1``) trains
exactly like its observed task, on the session's data with one variable moved in time
against the others, so that their pairing is broken while each keeps its own structure.
Which variable is moved, and which of its channels, is the mode's choice
(:meth:`~neural_mi.modes.base.Mode.null_variable`,
:meth:`~neural_mi.modes.base.Mode.null_channels`); by default Y against X.  How it moves
(``null_method``):

- ``circular``: the recording is shifted in time by ``s``, wrapping around its end (the
  last ``s`` time points come first).  Each variable keeps its whole temporal structure,
  autocorrelation included, except at the one wrap point, which is why it is the default
  for temporal data: a row shuffle would destroy the autocorrelation, whose chance
  alignment between two slow signals inflates an estimate, and make the null too narrow.
  ``s`` is drawn uniformly from ``[m, T - m]`` (``T``: the recording's length, ``m``:
  ``null_min_shift``), so the moved variable never lands within ``m`` of its true
  alignment (circularly).
- ``block``: the recording is cut into blocks of ``m`` (``null_min_shift``), which are
  permuted (a shorter last block stays last).  Blocks must be longer than the data's
  autocorrelation.
- ``permute``: the windows (samples) are permuted: IID data only, and refused for
  overlapping windows, which are not independent samples.
- ``auto`` (default): ``permute`` for ``split_mode='random'`` when the moved variable's
  windows do not overlap, else ``circular``.

The move is applied to the raw recording, before windowing: time points of sampled
signals (``T`` the recording's time points, the moved blocks whole multiples of the
window step for ``permute``), spike times (seconds; ``T`` is ``n_seconds`` or the last
spike, which stays where it is, so that the windows do not change) and rows of processed
data.  Every time point goes to exactly one new place, so two windows of the moved
recording share a raw time point only where they overlap in the moved recording itself,
which the blocked split's gap already separates: no held-out sample shares data with a
training sample.  A window that straddles a wrap or block boundary joins two stretches
of the recording; it is as independent of the other variables as any other.

The move is drawn from ``derive_seed(run seed, "null", permutation)``, so every task of a
permutation (all lags, gammas and chunks, roles and combinations) trains on the same
moved data; each permutation's tasks are aggregated like the observed ones, and a max
over lags or combinations is taken over one draw.  A null task's training seed derives
from its own key, as for any task.

Torch-free (plain numpy), so that ``neural-mi plan`` checks a null with the engine's own
arithmetic before any job runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.windows import count_spike_windows, count_windows
from ..errors import InsufficientDataError, ParameterError
from ..modes import get_mode
from ..plan import derive_seed
from ..tasks import TaskSpec

if TYPE_CHECKING:
    from .inputs import SessionData

__all__ = [
    "NullMove",
    "minimum_shift",
    "move_raw",
    "null_method",
    "null_move",
    "null_session",
    "raw_length",
    "session_move",
]


@dataclass(frozen=True)
class NullMove:
    """How a null task moves one variable's raw recording.

    Attributes
    ----------
    variable
        ``'x'``, ``'y'`` or ``'z'``.
    channels
        The channels moved (``None``: all).
    method
        ``'circular'``, ``'block'`` or ``'permute'`` (resolved: never ``'auto'``).
    length
        The recording's length ``T`` (time points, seconds for spikes, rows).
    minimum
        ``null_min_shift`` in the same units (the smallest shift, or the block length).
    segments
        ``(source start, target start, length)`` of every piece of ``[0, T)``, in the
        same units: the piece ``[source, source + length)`` moves to ``target``.
    shift
        The circular shift drawn (``None`` for the other methods).
    """

    variable: str
    channels: tuple[int, ...] | None
    method: str
    length: float
    minimum: float
    segments: tuple[tuple[float, float, float], ...]
    shift: float | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-friendly record of the move (kept with the task's result)."""
        record: dict[str, Any] = {
            "variable": self.variable,
            "method": self.method,
            "min_shift": self.minimum,
        }
        if self.channels is not None:
            record["channels"] = list(self.channels)
        if self.shift is not None:
            record["shift"] = self.shift
        return record


# --------------------------------------------------------------------------------------
# Geometry of a variable: its raw length, its window step, whether windows overlap
# --------------------------------------------------------------------------------------


def _step(params: Mapping[str, Any]) -> float:
    return params.get("step_size") or params["window_size"]


def window_unit(processor_type: str | None, params: Mapping[str, Any]) -> float:
    """Raw units between consecutive samples of a variable: its window step (time points
    or seconds), 1 row for processed data."""
    return 1 if processor_type is None else _step(params)


def windows_overlap(processor_type: str | None, params: Mapping[str, Any]) -> bool:
    """Whether a variable's consecutive windows share raw time points."""
    if processor_type is None:
        return False
    return float(params["window_size"]) > float(_step(params)) * (1 + 1e-9)


def raw_length(raw: Any, processor_type: str | None, params: Mapping[str, Any]) -> float:
    """A raw recording's length: rows (processed data), time points (sampled signals) or
    seconds (spikes: ``n_seconds``, else the last spike)."""
    if processor_type is None:
        return int(np.shape(raw)[0])
    if processor_type == "spike":
        if params.get("n_seconds") is not None:
            return float(params["n_seconds"])
        latest = [float(np.max(np.asarray(c))) for c in raw if np.size(c)]
        return max(latest, default=0.0)
    shape = np.shape(raw)
    return int(shape[0] if len(shape) == 1 or params.get("time_axis", -1) == 0 else shape[-1])


def _sample_count(length: float, processor_type: str | None, params: Mapping[str, Any]) -> int:
    """Samples a recording of ``length`` gives (the processors' own count)."""
    if processor_type is None:
        return int(length)
    window, step = params["window_size"], _step(params)
    if processor_type == "spike":
        return count_spike_windows(float(length), float(window), float(step))
    return count_windows(int(length), int(window), int(step))


# --------------------------------------------------------------------------------------
# The move of one permutation
# --------------------------------------------------------------------------------------


def null_method(spec: TaskSpec, variable: str) -> str:
    """The task's null method, ``'auto'`` resolved (see the module docstring).

    Raises
    ------
    ParameterError
        For ``'permute'`` on a variable whose windows overlap.
    """
    p = spec.params
    method = p.get("null_method", "auto")
    ptype, params = p[f"processor_type_{variable}"], p[f"processor_params_{variable}"]
    overlap = windows_overlap(ptype, params)
    if method == "auto":
        return "permute" if p["split_mode"] == "random" and not overlap else "circular"
    if method == "permute" and overlap:
        raise ParameterError(
            f"null_method='permute' treats windows as independent samples, but "
            f"{variable.upper()}'s windows overlap (window_size {params['window_size']}, "
            f"step_size {params.get('step_size')}); use 'circular' or 'block'."
        )
    return method


def minimum_shift(spec: TaskSpec, variable: str, n_samples: int) -> float:
    """``null_min_shift`` of a task in the moved variable's raw units; by default the time
    one task sample spans (its window plus the gap the mode leaves between training and
    held-out samples: lags, transfer histories) at the analysis' largest lag
    (``params['null_lag_span']``, set by the planner on null tasks), plus that lag: every
    lag of a permutation then has one minimum, so one shift.

    ``n_samples`` is the aligned sample count the mode's
    :meth:`~neural_mi.modes.base.Mode.task_extent` is asked about.
    """
    p = spec.params
    if p.get("null_min_shift") is not None:
        return float(p["null_min_shift"])
    ptype, params = p[f"processor_type_{variable}"], p[f"processor_params_{variable}"]
    span = max(abs(float(spec.lag)), float(p.get("null_lag_span", 0.0)))
    widest = spec if abs(float(spec.lag)) >= span else dataclasses.replace(spec, lag=span)
    _, gap = get_mode(p["mode"]).task_extent(widest, n_samples)
    return (gap + 1) * window_unit(ptype, params) + span


def null_move(
    spec: TaskSpec,
    variable: str,
    length: float,
    n_samples: int,
    channels: Sequence[int] | None = None,
) -> NullMove:
    """The move of permutation ``spec.permutation`` of the task's ``variable``.

    Parameters
    ----------
    spec
        A null task (``permutation >= 1``).
    variable
        The variable moved (the mode's :meth:`~neural_mi.modes.base.Mode.null_variable`).
    length
        Its raw recording's length (:func:`raw_length`).
    n_samples
        The task's aligned sample count (for the default minimum shift).
    channels
        The channels moved (``None``: all).

    Raises
    ------
    InsufficientDataError
        When the recording is too short for the method: a circular shift needs
        ``T >= 2 m``, a permutation at least two whole blocks; the message names the task.
    """
    p = spec.params
    method = null_method(spec, variable)
    ptype, params = p[f"processor_type_{variable}"], p[f"processor_params_{variable}"]
    discrete = ptype != "spike"
    minimum = minimum_shift(spec, variable, n_samples)
    rng = np.random.default_rng(derive_seed(p["run_seed"], "null", spec.permutation))
    chosen = None if channels is None else tuple(int(c) for c in channels)
    if method == "circular":
        low = math.ceil(minimum) if discrete else minimum
        if length - low < low:
            raise InsufficientDataError(
                f"Task {spec.key}: a circular shift of at least null_min_shift={minimum:g} "
                f"needs a recording of at least {2 * low:g}; {variable.upper()} has "
                f"{length:g}. Use a smaller null_min_shift, or null_method='block'."
            )
        shift = _shift(rng, low, length, discrete)
        segments: tuple[tuple[float, float, float], ...] = (
            (0.0, shift, length - shift),
            (length - shift, 0.0, shift),
        )
        return NullMove(variable, chosen, method, length, minimum, segments, shift)
    block = window_unit(ptype, params) if method == "permute" else minimum
    if discrete:
        block = math.ceil(block)
    n_blocks = int(length // block)
    if n_blocks < 2:
        raise InsufficientDataError(
            f"Task {spec.key}: null_method={method!r} cuts {variable.upper()} ({length:g}) "
            f"into {n_blocks} block(s) of {block:g}; at least 2 are needed. Use a smaller "
            "null_min_shift."
        )
    order = rng.permutation(n_blocks)
    segments = tuple(
        (float(i * block), float(j * block), float(block)) for j, i in enumerate(order)
    )
    tail = length - n_blocks * block
    if tail > 0:
        segments += ((n_blocks * block, n_blocks * block, tail),)
    return NullMove(variable, chosen, method, length, minimum, segments)


#: Candidate shifts drawn at once by :func:`_shift`.
_CANDIDATES = 64


def _shift(rng: np.random.Generator, low: float, length: float, discrete: bool) -> float:
    """A shift uniform on ``[low, length - low]`` (integers when ``discrete``): the first of
    a fixed stream of candidates uniform on ``[0, length)`` that falls in the range.

    Tasks of one permutation read the same stream, so they get the same shift unless it
    falls below one's minimum and not another's (e.g. lags of different sizes): a
    maximum over lags is then taken over one move of the data.
    """
    candidates = (
        rng.integers(0, int(length), size=_CANDIDATES)
        if discrete
        else rng.uniform(0.0, length, size=_CANDIDATES)
    )
    inside = candidates[(candidates >= low) & (candidates <= length - low)]
    if inside.size:
        return int(inside[0]) if discrete else float(inside[0])
    if discrete:
        return int(rng.integers(int(low), int(length - low) + 1))
    return float(rng.uniform(low, length - low))


def move_raw(
    raw: Any, processor_type: str | None, params: Mapping[str, Any], move: NullMove
) -> Any:
    """A variable's raw recording after ``move`` (a new array or spike list; ``raw`` is
    left as it is).

    Sampled signals and processed rows are reordered along their time (row) axis;
    spike times in ``[0, T)`` move with their piece, later ones stay.
    """
    if processor_type == "spike":
        return [
            _moved_spikes(np.asarray(channel, dtype=np.float64), move)
            if move.channels is None or c in move.channels
            else channel
            for c, channel in enumerate(raw)
        ]
    array = np.asarray(raw)
    source = np.empty(int(move.length), dtype=np.int64)
    for start, target, size in move.segments:
        source[int(target) : int(target + size)] = np.arange(int(start), int(start + size))
    time_axis = 0 if processor_type is None or array.ndim == 1 else _time_axis(params)
    moved = np.take(array, source, axis=time_axis)
    single_channel = array.ndim == 1 or (processor_type is None and array.ndim == 2)
    if move.channels is None or single_channel:
        return moved
    out = array.copy()
    channel_axis = 1 if processor_type is None else 1 - time_axis
    index: list[Any] = [slice(None)] * array.ndim
    index[channel_axis] = list(move.channels)
    out[tuple(index)] = moved[tuple(index)]
    return out


def _time_axis(params: Mapping[str, Any]) -> int:
    return 0 if params.get("time_axis", -1) == 0 else 1


def _moved_spikes(times: np.ndarray, move: NullMove) -> np.ndarray:
    """Spike times in ``[0, T)`` moved with their piece (sorted); the others unchanged."""
    inside = (times >= 0) & (times < move.length)
    moved = times.copy()
    starts = np.array([s for s, _, _ in move.segments])
    order = np.argsort(starts)
    piece = order[np.searchsorted(starts[order], times[inside], side="right") - 1]
    offsets = np.array([t - s for s, t, _ in move.segments])
    moved[inside] = times[inside] + offsets[piece]
    return np.sort(moved)


# --------------------------------------------------------------------------------------
# A null task's session
# --------------------------------------------------------------------------------------


def session_move(spec: TaskSpec, data: SessionData) -> NullMove | None:
    """The null move of a task's session (``None`` for an observed task, or one whose data
    does not involve what the null breaks).

    Raises
    ------
    InsufficientDataError, ParameterError
        When the null cannot be drawn (see :func:`null_move`, :func:`null_method`).
    """
    if not spec.permutation:
        return None
    mode = get_mode(spec.params["mode"])
    variable = mode.null_variable(spec)
    if variable is None:
        return None
    raw, ptype = data.raw(variable)
    x_raw, x_type = data.raw("x")
    x_params = spec.params["processor_params_x"]
    n_samples = _sample_count(raw_length(x_raw, x_type, x_params), x_type, x_params)
    length = raw_length(raw, ptype, spec.params[f"processor_params_{variable}"])
    return null_move(spec, variable, length, n_samples, mode.null_channels(spec, data))


def null_session(spec: TaskSpec, data: SessionData) -> tuple[SessionData, dict[str, Any]]:
    """The session a task trains on, and a record of its null move (``{}`` and ``data``
    itself for a task without one, see :func:`session_move`)."""
    move = session_move(spec, data)
    if move is None:
        return data, {}
    raw, ptype = data.raw(move.variable)
    params = spec.params[f"processor_params_{move.variable}"]
    return data.with_raw(move.variable, move_raw(raw, ptype, params, move)), move.describe()
