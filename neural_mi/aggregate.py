"""From a task dataset (:func:`neural_mi.store.results_to_dataset`) to per-mode summaries.

Each ``aggregate_*`` function takes the task dataset (MI in nats) and returns a summary
dataset whose MI-valued variables carry ``attrs['units'] == 'nats'``;
:func:`summarize` dispatches on the mode, converts those variables to the requested output
units and returns a JSON-serialisable headline next to the summary.

The rigorous (bias-corrected) estimate rests on :func:`fit_rigorous`: MI estimated on
``1/gamma`` of the data is biased roughly linearly in ``gamma``, so a weighted linear fit of
MI against ``gamma`` extrapolated to ``gamma = 0`` estimates the infinite-data MI.  This
module is torch-free, and light to import: the workflow's aggregate step starts a fresh
process per analysis.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import stdtrit

from .errors import DataShapeError, DataValueError, ParameterError
from .params import MODES, OUTPUT_UNITS, UNIT_FACTORS, check_choice, check_keys
from .store import swept_coords

logger = logging.getLogger(__name__)

#: Default settings of :func:`fit_rigorous` (also accepted by :func:`aggregate_rigorous`).
RIGOROUS_FIT_DEFAULTS: dict[str, Any] = {
    "delta_threshold": 0.1,
    "min_gamma_points": 5,
    "confidence_level": 0.68,
}

#: Floor (in the units of the MI values, nats in the pipeline) of the scale that the
#: curvature criterion divides by, so that an intercept near zero does not make it explode.
CURVATURE_SCALE_FLOOR = 1e-3

#: Default fractions of the peak MI used to define the saturation dimension.
DEFAULT_STRICTNESS: tuple[float, ...] = (0.8, 0.9, 0.95)


# --------------------------------------------------------------------------------------
# The rigorous fit
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RigorousFit:
    """Result of :func:`fit_rigorous` (MI-valued fields in the units of the input).

    Attributes
    ----------
    mi_corrected
        Intercept of the linear fit at ``gamma = 0``: the bias-corrected MI.
    mi_error
        Half-width of the ``confidence_level`` confidence interval of the intercept
        (NaN when the fit has no residual degrees of freedom).
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
    delta_threshold: float = RIGOROUS_FIT_DEFAULTS["delta_threshold"],
    min_gamma_points: int = RIGOROUS_FIT_DEFAULTS["min_gamma_points"],
    confidence_level: float = RIGOROUS_FIT_DEFAULTS["confidence_level"],
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
    The interval is Student-t based: the intercept's standard error, from the covariance
    scaled by the weighted residual variance on ``n - 2`` degrees of freedom, times the
    t quantile of ``confidence_level`` (the same numbers as statsmodels' ``WLS`` and
    ``conf_int``).

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
    _check_fit_settings(delta_threshold, min_gamma_points, confidence_level)
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
            _as_tuple(distinct),
        )
        return RigorousFit(
            math.nan, math.nan, math.nan, False, _as_tuple(distinct), math.nan, per_gamma
        )

    n_used = distinct.size
    while True:
        keep = g <= distinct[n_used - 1]
        intercept, slope, error = _linear_fit(g[keep], y[keep], weights[keep], confidence_level)
        delta = _curvature_delta(g[keep], y[keep], weights[keep], intercept, n_used)
        if not (delta > delta_threshold and n_used > min_gamma_points):
            break
        logger.debug(
            "Curvature delta %.3g > %.3g: dropping gamma %s",
            delta,
            delta_threshold,
            distinct[n_used - 1],
        )
        n_used -= 1

    finite = all(math.isfinite(v) for v in (intercept, slope, error, delta))
    return RigorousFit(
        mi_corrected=intercept,
        mi_error=error,
        slope=slope,
        is_reliable=bool(n_used >= min_gamma_points and finite and delta <= delta_threshold),
        gammas_used=_as_tuple(distinct[:n_used]),
        delta=delta,
        per_gamma=per_gamma,
    )


def _check_fit_settings(delta_threshold: Any, min_gamma_points: Any, confidence_level: Any) -> None:
    if not _is_number(delta_threshold) or not delta_threshold > 0:
        raise ParameterError(f"delta_threshold must be a positive number, got {delta_threshold!r}.")
    if (
        isinstance(min_gamma_points, bool)
        or not isinstance(min_gamma_points, (int, np.integer))
        or min_gamma_points < 2
    ):
        raise ParameterError(
            f"min_gamma_points must be an integer >= 2 (a line needs two "
            f"points), got {min_gamma_points!r}."
        )
    if not _is_number(confidence_level) or not 0 < confidence_level < 1:
        raise ParameterError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _as_tuple(values: np.ndarray) -> tuple[float, ...]:
    """Gammas as plain Python numbers (ints where they are whole)."""
    return tuple(int(v) if float(v).is_integer() else float(v) for v in values)


def _linear_fit(
    g: np.ndarray, y: np.ndarray, w: np.ndarray, confidence_level: float
) -> tuple[float, float, float]:
    """Intercept, slope and intercept CI half-width of the weighted linear fit."""
    # polyfit weights multiply residuals, so they are the square roots of the WLS weights.
    if g.size <= 2:  # a line through two points has no residual degrees of freedom
        slope, intercept = np.polyfit(g, y, 1, w=np.sqrt(w))
        return float(intercept), float(slope), math.nan
    (slope, intercept), cov = np.polyfit(g, y, 1, w=np.sqrt(w), cov=True)
    quantile = stdtrit(g.size - 2, 0.5 + confidence_level / 2.0)
    return float(intercept), float(slope), float(quantile * math.sqrt(cov[1, 1]))


def _curvature_delta(
    g: np.ndarray, y: np.ndarray, w: np.ndarray, intercept_lin: float, n_gammas: int
) -> float:
    if n_gammas < 3:
        return math.nan
    intercept_quad = float(np.polyfit(g, y, 2, w=np.sqrt(w))[-1])
    return abs(intercept_quad - intercept_lin) / max(abs(intercept_lin), CURVATURE_SCALE_FLOOR)


# --------------------------------------------------------------------------------------
# Per-mode aggregation
# --------------------------------------------------------------------------------------


def _mi_variable(ds: xr.Dataset, mi_var: str, needed: Sequence[str]) -> xr.DataArray:
    if mi_var not in ds.data_vars:
        raise ParameterError(
            f"mi_var {mi_var!r} is not a variable of the task dataset; "
            f"choose one of {sorted(map(str, ds.data_vars))}."
        )
    missing = [name for name in needed if name not in ds.coords]
    if missing:
        raise DataShapeError(
            f"The task dataset lacks the coordinate(s) {missing} needed for "
            "this summary; build it with neural_mi.store.results_to_dataset."
        )
    return ds[mi_var]


def _nats(da: xr.DataArray) -> xr.DataArray:
    """Mark an MI-valued variable so that :func:`summarize` converts it."""
    return da.assign_attrs(units="nats")


def _str_dims(out: xr.Dataset) -> xr.Dataset:
    """Cast object-dtype (string) index coordinates left by groupby to numpy ``str``."""
    return out.assign_coords(
        {
            name: out[name].astype(str)
            for name in out.dims
            if name in out.coords and out[name].dtype == object
        }
    )


def _with_combo_coords(out: xr.Dataset, ds: xr.Dataset) -> xr.Dataset:
    """Attach the swept-parameter coordinates and order combos by their values.

    Combination ids are hashes; ordering by the swept values puts the rows of a sweep in
    the order a reader expects (and makes "the first combination" mean the smallest values).
    """
    coords = _per_combo_coords(ds)
    out = out.assign_coords(coords)
    return out.sortby(list(coords.values())) if coords else out


def _per_combo_coords(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """Swept-parameter coordinates, one value per combo."""
    names = swept_coords(ds)
    if not names:
        return {}
    per_combo = ds.reset_coords(names)[names].groupby("combo").first()
    return {name: per_combo[name] for name in names}


def _summary_stats(grouped: Any) -> xr.Dataset:
    return xr.Dataset(
        {
            "mi_mean": _nats(grouped.mean()),
            "mi_std": _nats(grouped.std(ddof=1)),
            "n": grouped.count(),
        }
    )


def aggregate_rigorous(ds: xr.Dataset, mi_var: str = "test_mi", **fit_kw: Any) -> xr.Dataset:
    """One :func:`fit_rigorous` per parameter combination.

    Parameters
    ----------
    ds
        Task dataset of a rigorous analysis (coordinates ``combo`` and ``gamma``).
    mi_var
        Variable holding each task's MI (nats).
    **fit_kw
        ``delta_threshold``, ``min_gamma_points``, ``confidence_level`` (see
        :func:`fit_rigorous`).

    Returns
    -------
    xarray.Dataset
        Dims ``combo`` (swept-parameter coordinates carried over) and ``gamma``.
        Variables: ``mi_corrected``, ``mi_error``, ``slope`` (nats), ``is_reliable``,
        ``n_gammas_used``, ``delta``, ``gammas_used`` (e.g. ``"1,2,3,4,5"``) per combo;
        ``mi_mean``, ``mi_std`` (nats, sample std) and ``n`` per combo and gamma.
        Attributes: ``mode``, ``units``, ``mi_var`` and the fit settings.
    """
    check_keys(fit_kw, RIGOROUS_FIT_DEFAULTS, "the rigorous fit options")
    settings = {**RIGOROUS_FIT_DEFAULTS, **fit_kw}
    mi = _mi_variable(ds, mi_var, ("combo", "gamma"))
    out = _summary_stats(mi.groupby(["combo", "gamma"]))
    fits = {
        combo: fit_rigorous(sub["gamma"].values, sub.values, **settings)
        for combo, sub in mi.groupby("combo")
    }
    ordered = [fits[combo] for combo in out["combo"].values]
    out["mi_corrected"] = _nats(xr.DataArray([f.mi_corrected for f in ordered], dims="combo"))
    out["mi_error"] = _nats(xr.DataArray([f.mi_error for f in ordered], dims="combo"))
    out["slope"] = _nats(xr.DataArray([f.slope for f in ordered], dims="combo"))
    out["is_reliable"] = ("combo", np.array([f.is_reliable for f in ordered], dtype=bool))
    out["n_gammas_used"] = (
        "combo",
        np.array([len(f.gammas_used) for f in ordered], dtype=np.int64),
    )
    out["delta"] = ("combo", np.array([f.delta for f in ordered], dtype=float))
    out["gammas_used"] = (
        "combo",
        np.array([",".join(map(str, f.gammas_used)) for f in ordered], dtype=str),
    )
    out = _with_combo_coords(out, ds)
    out.attrs = {"mode": "rigorous", "units": "nats", "mi_var": mi_var, **settings}
    return _str_dims(out)


def aggregate_sweep(ds: xr.Dataset, mi_var: str = "test_mi") -> xr.Dataset:
    """Mean, sample std and count of MI over the repeats of each parameter combination.

    Returns
    -------
    xarray.Dataset
        Dim ``combo`` (swept-parameter coordinates carried over); variables ``mi_mean``,
        ``mi_std`` (nats; NaN for a single repeat) and ``n``.
    """
    mi = _mi_variable(ds, mi_var, ("combo",))
    out = _with_combo_coords(_summary_stats(mi.groupby("combo")), ds)
    out.attrs = {"mode": "sweep", "units": "nats", "mi_var": mi_var}
    return _str_dims(out)


def aggregate_lag(ds: xr.Dataset, mi_var: str = "test_mi") -> xr.Dataset:
    """MI as a function of lag, per parameter combination.

    Returns
    -------
    xarray.Dataset
        Dims ``combo`` and ``lag``: ``mi_mean``, ``mi_std`` (nats) and ``n``; per combo
        ``peak_lag`` (lag of the largest mean MI, in the lag's own units) and ``mi_peak``
        (that MI, nats).
    """
    mi = _mi_variable(ds, mi_var, ("combo", "lag"))
    out = _summary_stats(mi.groupby(["combo", "lag"]))
    peak_lag = out["mi_mean"].idxmax("lag")
    if not peak_lag.isnull().any():
        peak_lag = peak_lag.astype(out["lag"].dtype)
    peak_lag.attrs = {}
    out["peak_lag"] = peak_lag
    out["mi_peak"] = _nats(out["mi_mean"].max("lag"))
    out = _with_combo_coords(out, ds)
    out.attrs = {"mode": "lag", "units": "nats", "mi_var": mi_var}
    return _str_dims(out)


def aggregate_dimensionality(
    ds: xr.Dataset, mi_var: str = "test_mi", strictness: Sequence[float] = DEFAULT_STRICTNESS
) -> xr.Dataset:
    """MI against embedding dimension over random channel splits, and where it saturates.

    Parameters
    ----------
    ds
        Task dataset of a dimensionality analysis, with ``embedding_dim`` among the swept
        coordinates (``spec.coords``).
    mi_var
        Variable holding each task's MI (nats).
    strictness
        Fractions ``s`` in ``(0, 1]`` of the peak mean MI.

    Returns
    -------
    xarray.Dataset
        Dim ``embedding_dim`` (plus one dim per other swept parameter): ``mi_mean``,
        ``mi_std`` (nats) and ``n`` over splits; ``participation_ratio_mean`` /
        ``_std`` when the tasks recorded it; ``saturation_dim`` of dim ``strictness``
        (plus other swept dims): the smallest embedding dim whose mean MI is at least
        ``s`` times the largest mean MI (NaN when that peak is not positive).
    """
    values = np.asarray(strictness, dtype=float)
    if values.ndim != 1 or values.size == 0 or np.any(~((values > 0) & (values <= 1))):
        raise ParameterError(
            f"strictness must be a non-empty sequence of fractions in (0, 1], got {strictness!r}."
        )
    mi = _mi_variable(ds, mi_var, ("embedding_dim",))
    keys = [name for name in swept_coords(ds) if name != "embedding_dim"] + ["embedding_dim"]
    out = _summary_stats(mi.groupby(keys))
    if "participation_ratio" in ds.data_vars:
        pr = ds["participation_ratio"].groupby(keys)
        out["participation_ratio_mean"] = pr.mean()
        out["participation_ratio_std"] = pr.std(ddof=1)
    levels = xr.DataArray(values, dims="strictness", coords={"strictness": values})
    peak = out["mi_mean"].max("embedding_dim")
    reached = (out["mi_mean"] >= levels * peak) & (peak > 0)
    out["saturation_dim"] = out["embedding_dim"].where(reached).min("embedding_dim")
    out.attrs = {"mode": "dimensionality", "units": "nats", "mi_var": mi_var}
    return _str_dims(out)


# --------------------------------------------------------------------------------------
# Dispatch, units and the headline
# --------------------------------------------------------------------------------------


def summarize(
    ds: xr.Dataset, mode: str, mi_var: str = "test_mi", output_units: str = "bits", **fit_kw: Any
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Summarise a task dataset for its mode, in the requested units.

    Parameters
    ----------
    ds
        Task dataset (MI in nats).
    mode
        One of ``'estimate'``, ``'sweep'``, ``'rigorous'``, ``'lag'``,
        ``'dimensionality'``.  ``'estimate'`` is summarised like a sweep.
    mi_var
        Variable holding each task's MI.
    output_units
        ``'bits'`` or ``'nats'``; every MI-valued summary variable (MI, errors, std,
        slope) is converted.
    **fit_kw
        Rigorous fit options (rigorous mode only).

    Returns
    -------
    summary : xarray.Dataset
        The ``aggregate_*`` output, ``attrs['units'] == output_units``.
    headline : dict
        JSON-serialisable (plain ``float``/``int``/``bool``/``str``/``None``; NaN becomes
        ``None``): ``mode``, ``units``, ``mi_var``, ``n_tasks``, ``mi_estimate``,
        ``mi_error``, ``is_reliable``, ``peak_lag``, ``saturation_dim``.
        ``mi_estimate`` is the value of the *first* parameter combination (combinations
        are ordered by their swept values, so: the smallest values): the
        corrected MI (rigorous), the mean MI (estimate, sweep), the MI at the peak lag
        (lag) or the peak mean MI (dimensionality).  ``mi_error`` (confidence half-width)
        and ``is_reliable`` are set in rigorous mode only, ``peak_lag`` in lag mode,
        ``saturation_dim`` (a dict from strictness, as a string, to dimension) in
        dimensionality mode; elsewhere they are ``None``.
    """
    check_choice(mode, MODES, "mode")
    check_choice(output_units, OUTPUT_UNITS, "output_units")
    if fit_kw and mode != "rigorous":
        raise ParameterError(
            f"Rigorous fit options {sorted(fit_kw)} were given for mode "
            f"{mode!r}; they apply to mode 'rigorous' only."
        )
    if mode == "rigorous":
        summary = aggregate_rigorous(ds, mi_var, **fit_kw)
    elif mode == "lag":
        summary = aggregate_lag(ds, mi_var)
    elif mode == "dimensionality":
        summary = aggregate_dimensionality(ds, mi_var)
    else:
        summary = aggregate_sweep(ds, mi_var)
        summary.attrs["mode"] = mode
    summary = _convert_units(summary, output_units)

    first = summary.isel(
        {
            dim: 0
            for dim in summary.dims
            if dim not in ("gamma", "lag", "embedding_dim", "strictness")
        }
    )
    headline: dict[str, Any] = {
        "mode": mode,
        "units": output_units,
        "mi_var": mi_var,
        "n_tasks": int(ds.sizes["task"]),
        "mi_estimate": None,
        "mi_error": None,
        "is_reliable": None,
        "peak_lag": None,
        "saturation_dim": None,
    }
    if mode == "rigorous":
        headline["mi_estimate"] = _plain(first["mi_corrected"])
        headline["mi_error"] = _plain(first["mi_error"])
        headline["is_reliable"] = _plain(first["is_reliable"])
    elif mode == "lag":
        headline["mi_estimate"] = _plain(first["mi_peak"])
        headline["peak_lag"] = _plain(first["peak_lag"])
    elif mode == "dimensionality":
        headline["mi_estimate"] = _plain(first["mi_mean"].max("embedding_dim"))
        headline["saturation_dim"] = {
            str(float(s)): _plain_dim(first["saturation_dim"].sel(strictness=s))
            for s in first["strictness"].values
        }
    else:
        headline["mi_estimate"] = _plain(first["mi_mean"])
    return summary, headline


def _convert_units(summary: xr.Dataset, output_units: str) -> xr.Dataset:
    factor = UNIT_FACTORS[output_units]
    converted = {
        name: (var * factor).assign_attrs(var.attrs, units=output_units)
        for name, var in summary.data_vars.items()
        if var.attrs.get("units") == "nats"
    }
    return summary.assign(converted).assign_attrs(units=output_units)


def _plain(value: xr.DataArray) -> float | int | bool | None:
    """A 0-d array as a JSON-friendly Python scalar (NaN becomes ``None``)."""
    item = value.values.item()
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item


def _plain_dim(value: xr.DataArray) -> int | None:
    """A 0-d embedding dimension (float because of NaN) as ``int`` or ``None``."""
    item = _plain(value)
    return None if item is None else int(item)
