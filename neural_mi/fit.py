"""The bias correction: MI against data fraction, extrapolated to infinite data.

MI estimated on ``1/gamma`` of the data is biased roughly linearly in ``gamma``, so a
weighted linear fit of MI against ``gamma`` (:func:`fit_rigorous`), extrapolated to
``gamma = 0``, estimates the infinite-data MI, with a Student-t interval that also holds
the sampling error of the data every gamma re-cuts; a curvature test drops the largest
gammas while the line does not hold.  The ``rigorous`` mode
(:mod:`neural_mi.modes.rigorous`) fits one line per parameter combination; any analysis
with a subsampling design can use the same fit.  Torch-free.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataShapeError, DataValueError
from .params import check_int, check_number

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CURVATURE_SCALE_FLOOR", "FIT_DEFAULTS", "RigorousFit", "fit_rigorous", "plain_gammas"]

logger = logging.getLogger(__name__)

#: Default fit settings (``rigorous`` mode's defaults too).
FIT_DEFAULTS: dict[str, Any] = {
    "delta_threshold": 0.1,
    "min_gamma_points": 5,
    "confidence_level": 0.68,
}

#: Floor (in the units of the MI values, nats in the pipeline) of the scale that the
#: curvature criterion divides by, so that an intercept near zero does not make it explode.
CURVATURE_SCALE_FLOOR = 1e-3


# --------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RigorousFit:
    """Result of :func:`fit_rigorous` (MI-valued fields in the units of the input).

    Attributes
    ----------
    mi_corrected
        Intercept of the linear fit at ``gamma = 0``: the bias-corrected MI.
    mi_error
        Half-width of the ``confidence_level`` interval of the corrected MI: the
        intercept's standard error combined with the variance of one per-gamma mean (see
        :func:`fit_rigorous`, Notes; NaN when the fit has no residual degrees of freedom).
    slope
        Slope of MI against gamma (MI units per unit gamma).
    is_reliable
        At least ``min_gamma_points`` gammas were used, the final curvature ``delta`` is
        at most ``delta_threshold``, and the fit is finite.
    gammas_used
        The gammas kept in the final fit, ascending.
    delta
        Curvature criterion of the final fit (NaN with fewer than 3 gammas).
    per_gamma
        One row per gamma (all of them, used or not): ``gamma``, ``mean``, ``std``
        (sample std, NaN for a single value) and ``n``.
    """

    mi_corrected: float
    mi_error: float
    slope: float
    is_reliable: bool
    gammas_used: tuple[float, ...]
    delta: float
    per_gamma: pd.DataFrame


def fit_rigorous(
    gammas: Sequence[float] | np.ndarray,
    mi: Sequence[float] | np.ndarray,
    *,
    delta_threshold: float = FIT_DEFAULTS["delta_threshold"],
    min_gamma_points: int = FIT_DEFAULTS["min_gamma_points"],
    confidence_level: float = FIT_DEFAULTS["confidence_level"],
) -> RigorousFit:
    """Extrapolate MI to infinite data by weighted least squares of MI against gamma.

    Parameters
    ----------
    gammas
        Shape ``(n_tasks,)``: the subsampling factor of each task (positive).
    mi
        Shape ``(n_tasks,)``: each task's MI estimate.
    delta_threshold
        Largest accepted curvature criterion ``delta`` (see Notes).
    min_gamma_points
        Fewest distinct gammas a reliable fit uses; the largest gammas are dropped only
        while more than this many remain.
    confidence_level
        Coverage of the interval whose half-width is ``mi_error``, in ``(0, 1)``
        (0.68: about one standard error).

    Returns
    -------
    RigorousFit

    Raises
    ------
    ParameterError
        On an invalid setting.
    DataShapeError
        If ``gammas`` and ``mi`` are not 1-D of the same non-zero length.
    DataValueError
        If a value is not finite or a gamma is not positive.

    Notes
    -----
    The fit is weighted least squares of MI on ``[1, gamma]`` (:func:`numpy.polyfit`)
    where each of the ``n_k`` values at gamma ``k`` has weight ``1 / n_k`` (with ``k``
    chunks per gamma that is ``1 / k``), so every gamma carries the same total weight.

    The interval is Student-t based, on ``n - 2`` degrees of freedom, with the weighted
    residual variance ``s^2`` (the variance of a weight-1 value, that is of one per-gamma
    mean).  Its standard error is ``sqrt(SE(b0)^2 + s^2)``: the intercept's standard
    error from the fit, and the variance of one per-gamma mean.  The second term is there
    because the gammas re-cut the same samples: every per-gamma mean uses all the data
    once, so their errors share the sampling error of that data, which the residuals
    about the line cannot show and no number of gammas averages away.  That shared part
    is at most the variance of one per-gamma mean (which also holds training noise), so
    the interval is conservative where training noise dominates.  It is statsmodels'
    ``WLS(...).get_prediction(exog=[1, 0]).conf_int(obs=True)``, NeuralMI 1.1's
    interval.  The intercept's standard error alone proved too narrow for the scatter of
    the corrected MI over independent data draws (docs/migrating_from_neuralmi.md,
    section 5, has the coverage measured on known-truth data).

    Curvature test: the same weighted fit with a quadratic term gives a second intercept
    ``b0_quad``; ``delta = |b0_quad - b0_lin| / max(|b0_lin|, CURVATURE_SCALE_FLOOR)``
    is how much the extrapolated value would move, relative to itself, if MI bent in
    gamma.  While ``delta > delta_threshold`` and more than ``min_gamma_points`` gammas
    remain, the largest gamma (the smallest, most biased chunks) is dropped and both fits
    are redone.  Because ``delta`` is relative, an MI indistinguishable from zero is
    flagged unreliable whenever its noise exceeds ``delta_threshold`` times the floor.
    With fewer than two distinct gammas nothing can be extrapolated: every MI-valued
    field is NaN and ``is_reliable`` is False.
    """
    import pandas as pd

    check_number(delta_threshold, "delta_threshold", gt=0)
    check_int(min_gamma_points, "min_gamma_points (a line needs two points)", 2)
    check_number(confidence_level, "confidence_level", gt=0, lt=1)
    g, y = _check_fit_data(gammas, mi)
    distinct, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    per_gamma = (
        pd.DataFrame({"gamma": np.asarray(gammas).ravel(), "mi": y})
        .groupby("gamma")["mi"]
        .agg(["mean", "std", "count"])
        .rename(columns={"count": "n"})
        .reset_index()
    )
    if distinct.size < 2:
        logger.warning(
            "Rigorous fit needs at least 2 distinct gammas, got %s; the corrected MI is undefined.",
            plain_gammas(distinct),
        )
        return RigorousFit(
            math.nan, math.nan, math.nan, False, plain_gammas(distinct), math.nan, per_gamma
        )

    n_used = distinct.size
    while True:
        keep = g <= distinct[n_used - 1]
        intercept, slope, error = _linear_fit(g[keep], y[keep], weights[keep], confidence_level)
        delta = _curvature_delta(g[keep], y[keep], weights[keep], intercept, n_used)
        if not (delta > delta_threshold and n_used > min_gamma_points):
            break
        n_used -= 1

    finite = all(math.isfinite(v) for v in (intercept, slope, error, delta))
    return RigorousFit(
        mi_corrected=intercept,
        mi_error=error,
        slope=slope,
        is_reliable=bool(n_used >= min_gamma_points and finite and delta <= delta_threshold),
        gammas_used=plain_gammas(distinct[:n_used]),
        delta=delta,
        per_gamma=per_gamma,
    )


def _check_fit_data(gammas: Any, mi: Any) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(gammas, dtype=float)
    y = np.asarray(mi, dtype=float)
    if g.ndim != 1 or g.shape != y.shape or g.size == 0:
        raise DataShapeError(
            f"gammas and mi must be 1-D arrays of the same non-zero length, "
            f"got shapes {g.shape} and {y.shape}."
        )
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(y))):
        raise DataValueError("gammas and mi must be finite; found NaN or Inf.")
    if np.any(g <= 0):
        raise DataValueError(f"gammas must be positive, got {np.unique(g[g <= 0]).tolist()}.")
    return g, y


def plain_gammas(values: np.ndarray) -> tuple[float, ...]:
    """Gammas as plain Python numbers (ints where they are whole)."""
    return tuple(int(v) if float(v).is_integer() else float(v) for v in values)


def _linear_fit(
    g: np.ndarray, y: np.ndarray, w: np.ndarray, confidence_level: float
) -> tuple[float, float, float]:
    """Intercept, slope and interval half-width of the weighted linear fit (see
    :func:`fit_rigorous`, Notes)."""
    from scipy.special import stdtrit

    # polyfit weights multiply residuals, so they are the square roots of the WLS weights.
    if g.size <= 2:  # a line through two points has no residual degrees of freedom
        slope, intercept = np.polyfit(g, y, 1, w=np.sqrt(w))
        return float(intercept), float(slope), math.nan
    (slope, intercept), cov = np.polyfit(g, y, 1, w=np.sqrt(w), cov=True)
    dof = g.size - 2
    residual_variance = float(w @ (y - (intercept + slope * g)) ** 2) / dof
    quantile = stdtrit(dof, 0.5 + confidence_level / 2.0)
    return (
        float(intercept),
        float(slope),
        float(quantile * math.sqrt(cov[1, 1] + residual_variance)),
    )


def _curvature_delta(
    g: np.ndarray, y: np.ndarray, w: np.ndarray, intercept_lin: float, n_gammas: int
) -> float:
    if n_gammas < 3:
        return math.nan
    intercept_quad = float(np.polyfit(g, y, 2, w=np.sqrt(w))[-1])
    return abs(intercept_quad - intercept_lin) / max(abs(intercept_lin), CURVATURE_SCALE_FLOOR)
