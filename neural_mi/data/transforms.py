"""Per-channel input transforms, fitted on a task's training samples only (torch-free).

Mutual information does not change when a channel is rescaled or passed through any
strictly monotone map, but a neural critic's training does: inputs in the thousands
saturate or blow up its first layer, and heavy tails let a few samples dominate the
gradients.  An input transform brings every channel to a common scale before windowing:

- ``'none'``: the data as given;
- ``'standardize'``: ``(v - mean) / std``;
- ``'robust'``: ``(v - median) / IQR`` (interquartile range), unmoved by a few outliers;
- ``'rank_gauss'``: ``Phi^-1(F(v))`` with ``F`` the empirical CDF of the channel's
  training values and ``Phi^-1`` the standard normal quantile: every channel becomes
  standard normal on the training samples, whatever its scale or tails.  The fitted map
  depends on the training values only through their ranks, so composing the data with
  any strictly increasing per-channel map gives the same transformed training data (a
  decreasing map flips its sign), and the estimate is invariant to such maps as MI is.

Every transform other than ``'none'`` also applies a common gain
(:func:`input_gain`): with more than :data:`TOTAL_VARIANCE` columns, the transformed columns
are scaled by ``sqrt(TOTAL_VARIANCE / n_columns)`` so that their variances sum to
``TOTAL_VARIANCE`` instead of growing with the number of channels.  The gain is one number
per variable, so it changes no MI and keeps every invariance above; it is there for the
critic's training (see :data:`TOTAL_VARIANCE`).

Each transform is fitted on the training samples of one task and applied to all of its
samples (held-out values never enter the fit, so they cannot leak into training), as a
:class:`FittedTransform` whose :meth:`~FittedTransform.summary` can be recorded with the
task's result.

For windowed continuous data the transform acts on each *raw* channel before windowing,
fitted on the raw time points covered by the task's training windows
(:func:`window_time_points`); for already-processed data it acts on each feature column,
fitted on the training samples.  Categorical labels and spike times are never transformed.
:func:`transform_input` is the one call the engine makes per variable and task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..params import INPUT_TRANSFORMS, UNTRANSFORMED_TYPES, check_choice

__all__ = [
    "INPUT_TRANSFORMS",
    "MAX_KNOTS",
    "TOTAL_VARIANCE",
    "FittedTransform",
    "fit_transform",
    "input_gain",
    "outdated_fit",
    "transform_input",
    "window_time_points",
]

#: Most knots of a rank-Gauss map per channel: with more distinct training values the
#: empirical CDF is kept at this many evenly spaced ranks (always the smallest and largest
#: value) and interpolated linearly between them, so a fit holds O(channels) memory even
#: for hour-long recordings.  At or below it, every distinct training value is a knot.
MAX_KNOTS = 2**14

#: Summed variance of a transformed variable with more columns than this (see
#: :func:`input_gain`).  Adam moves every weight by about the learning rate at each step,
#: whatever its gradient's size, so the critic's first layer moves faster the more
#: unit-scale inputs feed it, and on high-dimensional inputs the critic fits its training
#: samples within a few epochs, before it has found what generalises.  Scaling wider
#: variables down to this summed variance brought the 25-d "Beyond Normal" families from a
#: mean absolute error of 0.169 to 0.121 bit in estimate mode (rigorous: 0.106 both), and
#: NeuralMI 1.1's tutorial-4 data (100 channels) from 2.701 to 2.898 bits (truth 3); up to
#: five channels nothing changes, where scaling down did not help (docs/accuracy.md,
#: "Many channels").
TOTAL_VARIANCE = 5.0


@dataclass(frozen=True)
class FittedTransform:
    """A per-column transform fitted on training values; see :func:`fit_transform`.

    Attributes
    ----------
    kind
        One of :data:`INPUT_TRANSFORMS` other than ``'none'``.
    n_points
        Training values per column the fit used.
    center, scale
        Per column, in the data's units: mean and standard deviation (``'standardize'``),
        median and interquartile range (``'robust'``, ``'rank_gauss'``; for rank-Gauss
        they are only recorded, the map is the CDF).  ``scale`` is the divisor actually
        used: a zero spread falls back to the standard deviation, then to 1.
    knots, levels
        ``'rank_gauss'`` only: per column, the distinct training values (at most
        :data:`MAX_KNOTS`, increasing) and the standard normal quantiles they map to.
    """

    kind: str
    n_points: int
    center: np.ndarray
    scale: np.ndarray
    knots: tuple[np.ndarray, ...] = field(default=(), repr=False)
    levels: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @property
    def gain(self) -> float:
        """Factor applied to every transformed column: :func:`input_gain` of the number
        of columns (1 for up to :data:`TOTAL_VARIANCE` columns)."""
        return input_gain(len(self.center))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Transform ``values``, shape ``(n, n_columns)``, column by column.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(n, n_columns)``, times :attr:`gain`.  Rank-Gauss maps
            values between two knots by linear interpolation of the normal quantiles and
            values outside the training range to the extreme quantiles.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.center):
            raise ParameterError(
                f"A {self.kind} transform fitted on {len(self.center)} column(s) cannot be "
                f"applied to an array of shape {values.shape}."
            )
        gain = self.gain
        if self.kind != "rank_gauss":
            return ((values - self.center) / self.scale * gain).astype(np.float32)
        out = np.empty(values.shape, dtype=np.float32)
        for c, (knots, levels) in enumerate(zip(self.knots, self.levels)):
            out[:, c] = np.interp(values[:, c], knots, levels) * gain
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description for a task's diagnostics: kind, points, the
        per-column center and scale in the data's units, and the gain."""
        summary: dict[str, Any] = {
            "kind": self.kind,
            "n_points": int(self.n_points),
            "center": [float(v) for v in self.center],
            "scale": [float(v) for v in self.scale],
            "gain": float(self.gain),
        }
        if self.kind == "rank_gauss":
            summary["n_knots"] = [len(k) for k in self.knots]
        return summary


def fit_transform(kind: str, values: np.ndarray) -> FittedTransform | None:
    """Fit the transform ``kind`` on training values, one column at a time.

    Parameters
    ----------
    kind
        One of :data:`INPUT_TRANSFORMS`.
    values
        Training values, shape ``(n_points, n_columns)``: a column per raw channel (or
        per feature of already-processed data), at least one point.

    Returns
    -------
    FittedTransform or None
        ``None`` for ``'none'``.

    Raises
    ------
    ParameterError
        On an unknown ``kind``, or ``values`` that are not 2-D with at least one point.

    Notes
    -----
    Rank-Gauss gives a training value ``v`` the mid-rank CDF level
    ``p = (#{w < v} + #{w <= v}) / (2 n)``: tied values share one level (ties are broken
    by value, never by position), levels lie in ``[1/(2n), 1 - 1/(2n)]``, so the normal
    quantiles stay finite (about ±3.7 for 5,000 points).
    """
    check_choice(kind, INPUT_TRANSFORMS, "input_transform")
    return None if kind == "none" else _fit(kind, values)


def _fit(kind: str, values: np.ndarray) -> FittedTransform:
    """:func:`fit_transform` for a kind other than ``'none'``."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 1:
        raise ParameterError(
            f"An input transform is fitted on (n_points >= 1, n_columns) values, got shape "
            f"{values.shape}."
        )
    n = values.shape[0]
    if kind == "standardize":
        center, spread = values.mean(axis=0), values.std(axis=0)
        return FittedTransform(kind, n, center, _usable_scale(spread, values))
    q25, center, q75 = np.percentile(values, [25.0, 50.0, 75.0], axis=0)
    scale = _usable_scale(q75 - q25, values)
    if kind == "robust":
        return FittedTransform(kind, n, center, scale)
    knots, levels = zip(*(_rank_gauss_knots(column) for column in np.sort(values, axis=0).T))
    return FittedTransform(kind, n, center, scale, tuple(knots), tuple(levels))


def input_gain(n_columns: int) -> float:
    """The factor applied to every column of a transformed variable with ``n_columns``
    columns: ``sqrt(TOTAL_VARIANCE / n_columns)`` above :data:`TOTAL_VARIANCE` columns,
    else 1, so that unit-variance columns sum to at most that variance.

    Parameters
    ----------
    n_columns
        Columns the transform is fitted on (raw channels, or features of processed data).

    Returns
    -------
    float
        In ``(0, 1]``.
    """
    return min(1.0, math.sqrt(TOTAL_VARIANCE / n_columns)) if n_columns > 0 else 1.0


def outdated_fit(record: Mapping[str, Any] | None) -> str:
    """Why a stored task's transform record is not what this version applies, or ``""``.

    Results stored before the many-channel gain (:data:`TOTAL_VARIANCE`) record their fits
    without a ``gain``; where a fit has more columns than that, this version would train
    on other inputs and get other numbers, so such a result must be trained again rather
    than mixed with new ones.  Fits of at most :data:`TOTAL_VARIANCE` columns (gain 1)
    stay valid.

    Parameters
    ----------
    record
        A task's ``diagnostics['input_transform']`` (``{'kind': ..., 'x': summary, ...}``),
        or ``None`` for a task without one.
    """
    for name in ("x", "y", "z"):
        fit = (record or {}).get(name)
        if isinstance(fit, Mapping) and "gain" not in fit:
            n_columns = len(fit.get("center", ()))
            if n_columns > TOTAL_VARIANCE:
                return (
                    f"its {name} input ({n_columns} columns) was transformed without the "
                    "many-channel gain this version applies"
                )
    return ""


def _usable_scale(spread: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``spread`` where positive; else the standard deviation; else 1 (constant column)."""
    std = values.std(axis=0)
    return np.where(spread > 0, spread, np.where(std > 0, std, 1.0))


def _rank_gauss_knots(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted column and the normal quantiles of their mid-rank CDF."""
    # scipy.special is imported only for the rank transform, not with this module.
    from scipy.special import ndtri

    n = ordered.size
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    after_last = np.r_[first[1:], n]
    knots = ordered[first]
    levels = ndtri((first + after_last) / (2.0 * n))
    if knots.size > MAX_KNOTS:
        keep = np.unique(np.linspace(0, knots.size - 1, MAX_KNOTS).round().astype(np.int64))
        knots, levels = knots[keep], levels[keep]
    return knots, levels


def window_time_points(
    windows: np.ndarray, window_size: int, step_size: int, n_time: int
) -> np.ndarray:
    """Raw time indices covered by the given windows of a continuous recording.

    Window ``w`` covers ``[w * step_size, w * step_size + window_size)`` (as in
    :class:`~neural_mi.data.ContinuousProcessor`).

    Parameters
    ----------
    windows
        Window indices (any order, repeats allowed), each ``>= 0``.
    window_size, step_size
        The processor's window length and shift, in samples.
    n_time
        Time points of the recording; every window must end by then.

    Returns
    -------
    numpy.ndarray
        Sorted, distinct int64 time indices.

    Raises
    ------
    ParameterError
        If a window index is negative or a window ends after ``n_time``.
    """
    starts = np.asarray(windows, dtype=np.int64) * int(step_size)
    if starts.size and (starts.min() < 0 or starts.max() + window_size > n_time):
        raise ParameterError(
            f"Windows {int(starts.min()) // step_size}..{int(starts.max()) // step_size} "
            f"(window_size={window_size}, step_size={step_size}) do not lie within the "
            f"{n_time} time points of the recording."
        )
    # +1 where a window opens, -1 where it closes: covered where the running sum is > 0.
    opened = np.bincount(starts, minlength=n_time + 1)
    closed = np.bincount(starts + window_size, minlength=n_time + 1)
    return np.flatnonzero(np.cumsum(opened - closed)[:n_time] > 0)


def transform_input(
    raw: Any,
    processor_type: str | None,
    processor_params: Mapping[str, Any],
    kind: str,
    train_samples: np.ndarray,
) -> tuple[Any, FittedTransform | None]:
    """One variable's raw input, transformed with ``kind`` fitted on its training samples.

    Parameters
    ----------
    raw
        The variable's raw input, as given to the processor (numpy or CPU torch array).
    processor_type, processor_params
        Its processor and complete processor parameters.
    kind
        One of :data:`INPUT_TRANSFORMS`.
    train_samples
        Indices of the task's training samples *in this variable's processed samples*:
        window indices for continuous data (after any lag shift has been undone: the
        sample ``i`` of a task whose Y is shifted by ``s`` windows is window ``i + s`` of
        Y), row indices for already-processed data.

    Returns
    -------
    raw, fitted
        For ``'continuous'`` data: a float32 numpy array of the same layout as ``raw``,
        each channel transformed with a fit on the raw time points the training windows
        cover.  For already-processed data (``processor_type`` ``None``): a float32 array
        of the same shape, each feature column (per channel) fitted on the training rows.
        For ``'categorical'``, ``'spike'``, or ``kind='none'``: ``raw`` itself and
        ``None``.
    """
    check_choice(kind, INPUT_TRANSFORMS, "input_transform")
    if kind == "none" or processor_type in UNTRANSFORMED_TYPES:
        return raw, None
    array = np.asarray(raw.detach().cpu() if hasattr(raw, "detach") else raw)
    if processor_type is None:
        columns = array.reshape(array.shape[0], -1)
        fitted = _fit(kind, columns[np.asarray(train_samples, dtype=np.int64)])
        return fitted.apply(columns).reshape(array.shape), fitted
    time_first = array.ndim == 2 and processor_params.get("time_axis", -1) == 0
    series = array.reshape(-1, 1) if array.ndim == 1 else (array if time_first else array.T)
    points = window_time_points(
        train_samples,
        int(processor_params["window_size"]),
        int(processor_params["step_size"]),
        series.shape[0],
    )
    fitted = _fit(kind, series[points])
    out = fitted.apply(series)
    if array.ndim == 1:
        return out[:, 0], fitted
    return (out if time_first else np.ascontiguousarray(out.T)), fitted
