"""NeuralMI 1.1's plotting functions (``neural_mi.visualize.plot``) over our figures.

:func:`plot_sweep_curve` and :func:`plot_bias_correction_fit` take the tables that 1.1
passed them and draw with :func:`neural_mi.plot.plot_sweep` and
:func:`neural_mi.modes.rigorous.plot_rigorous`.  :func:`plot_cross_correlation` and
:func:`analyze_mi_heatmap` are tutorial 3's linear check and its reading of a lag × window
MI grid.  Every function returns what it drew on (the Axes, and for the heatmap what it
found) and draws into a new pyplot figure unless given ``ax``, so that a notebook shows it.
Nothing is printed: findings are returned and logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataShapeError, ParameterError
from ..params import OUTPUT_UNITS, check_choice
from ..plot import color, pyplot_axes, show_pyplot
from .heatmap import HeatmapAnalysis, analyze_mi_heatmap
from .tables import require_columns as _require_columns

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

__all__ = [
    "HeatmapAnalysis",
    "analyze_mi_heatmap",
    "plot_bias_correction_fit",
    "plot_cross_correlation",
    "plot_sweep_curve",
]


def plot_sweep_curve(
    summary_df: pd.DataFrame,
    param_col: str,
    mean_col: str = "mi_mean",
    std_col: str = "mi_std",
    true_value: float | None = None,
    estimated_values: float | Mapping[Any, float] | None = None,
    ax: Axes | None = None,
    units: str = "bits",
) -> Axes:
    """Mean ± std of MI against a swept parameter (a ``Results.dataframe`` of a sweep).

    Parameters
    ----------
    summary_df
        One row per parameter value, with ``param_col``, ``mean_col`` and ``std_col``.
    param_col, mean_col, std_col
        Column names.
    true_value
        Drawn as a dashed vertical line when given.
    estimated_values
        A value, or ``{name: value}``, drawn as dotted vertical lines.
    ax
        Axes to draw into; a new pyplot figure otherwise.
    units
        ``'bits'`` or ``'nats'``: the units of the MI columns (for the axis label).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import xarray as xr

    from ..plot import plot_sweep

    check_choice(units, OUTPUT_UNITS, "units")
    _require_columns(summary_df, (param_col, mean_col, std_col), "summary_df", "")
    summary = xr.Dataset(
        {
            "mi_mean": ("combo", summary_df[mean_col].to_numpy(dtype=float)),
            "mi_std": ("combo", summary_df[std_col].to_numpy(dtype=float)),
        },
        coords={
            "combo": np.arange(len(summary_df)),
            param_col: ("combo", summary_df[param_col].to_numpy()),
        },
        attrs={"units": units},
    )
    ax = pyplot_axes(ax)
    plot_sweep(summary, param_col, ax=ax)
    if true_value is not None:
        ax.axvline(true_value, color="r", linestyle="--", label=f"true value = {true_value}")
    if isinstance(estimated_values, Mapping):
        estimates = dict(estimated_values)
    else:
        estimates = {} if estimated_values is None else {"estimated": estimated_values}
    for index, (name, value) in enumerate(estimates.items()):
        ax.axvline(value, color=color(index + 1), linestyle=":", lw=2, label=f"{name} = {value}")
    if true_value is not None or estimates:
        ax.legend()
    return ax


def plot_bias_correction_fit(
    raw_results_df: pd.DataFrame,
    corrected_result: Mapping[str, Any],
    ax: Axes | None = None,
    units: str = "bits",
) -> Axes:
    """A rigorous analysis' MI against gamma with its extrapolation to infinite data.

    Parameters
    ----------
    raw_results_df
        One row per task with ``gamma`` and ``test_mi`` (in ``units``):
        ``results.details['raw_results']`` of a rigorous analysis.
    corrected_result
        ``mi_corrected``, ``mi_error``, ``slope``, ``gammas_used`` (and optionally
        ``is_reliable``): ``results.details`` of that analysis.
    ax
        Axes to draw into; a new pyplot figure otherwise.
    units
        ``'bits'`` or ``'nats'``: the units of the MI values.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import pandas as pd
    import xarray as xr

    from ..modes.rigorous import plot_rigorous

    check_choice(units, OUTPUT_UNITS, "units")
    _require_columns(
        raw_results_df,
        ("gamma", "test_mi"),
        "raw_results_df",
        " (pass the per-task table, results.details['raw_results'] of a rigorous analysis)",
    )
    missing = [
        key
        for key in ("mi_corrected", "mi_error", "slope", "gammas_used")
        if key not in corrected_result
    ]
    if missing:
        raise ParameterError(
            f"corrected_result lacks {missing} (pass results.details of a rigorous analysis)."
        )
    gamma = raw_results_df["gamma"].to_numpy(dtype=float)
    mi = raw_results_df["test_mi"].to_numpy(dtype=float)
    per_gamma = pd.DataFrame({"gamma": gamma, "mi": mi}).groupby("gamma")["mi"]
    gammas = np.asarray(sorted(set(gamma.tolist())))
    used = {float(g) for g in corrected_result["gammas_used"]}

    def number(key: str) -> float:
        value = corrected_result[key]
        return math.nan if value is None else float(value)

    summary = xr.Dataset(
        {
            "mi_mean": (("combo", "gamma"), per_gamma.mean().to_numpy()[None]),
            "mi_std": (("combo", "gamma"), per_gamma.std().to_numpy()[None]),
            "n": (("combo", "gamma"), per_gamma.count().to_numpy()[None]),
            "gamma_used": (("combo", "gamma"), np.array([[g in used for g in gammas]])),
            "mi_corrected": ("combo", [number("mi_corrected")]),
            "mi_error": ("combo", [number("mi_error")]),
            "slope": ("combo", [number("slope")]),
            "is_reliable": ("combo", [bool(corrected_result.get("is_reliable", True))]),
        },
        coords={"combo": ["fit"], "gamma": gammas},
        attrs={"units": units, "mi_var": "test_mi"},
    )
    tasks = xr.Dataset(
        {"test_mi": ("task", mi)},
        coords={"combo": ("task", np.full(mi.size, "fit")), "gamma": ("task", gamma)},
        attrs={"units": units},
    )
    ax = pyplot_axes(ax)
    plot_rigorous(summary, tasks, ax=ax)
    return ax


def _first_channel(data: Any, name: str) -> np.ndarray:
    """The first channel of a ``(channels, time)`` array (or a 1-D series), z-scored."""
    values = np.asarray(data, dtype=float)
    series = values if values.ndim == 1 else values.reshape(-1, values.shape[-1])[0]
    spread = series.std()
    if series.size < 2 or not spread > 0:
        raise DataShapeError(f"{name} must be a non-constant series of at least 2 points.")
    return (series - series.mean()) / spread


def plot_cross_correlation(
    x: Any,
    y: Any,
    true_lag: float | None = None,
    ax: Axes | None = None,
    *,
    max_lag: int = 100,
    show: bool = True,
) -> Axes:
    """Linear correlation of X's and Y's first channels against the lag of Y after X.

    The lag of the strongest correlation (largest absolute value) is marked, and
    ``true_lag`` when given.  It finds the lag of a linear dependence and is blind to a
    dependence without linear part (tutorial 3's point).

    Parameters
    ----------
    x, y
        ``(channels, time)`` arrays (or 1-D series) of the same length.
    true_lag
        Drawn as a vertical line when given.
    ax
        Axes to draw into; a new pyplot figure otherwise.
    max_lag
        Largest absolute lag drawn (samples).
    show
        Call ``plt.show()`` when done.

    Returns
    -------
    matplotlib.axes.Axes
        Its first line holds ``(lag, correlation)``.
    """
    from scipy.signal import correlate, correlation_lags

    x0, y0 = _first_channel(x, "x"), _first_channel(y, "y")
    if x0.size != y0.size:
        raise DataShapeError(f"x and y must have the same length, got {x0.size} and {y0.size}.")
    lags = correlation_lags(y0.size, x0.size, mode="full")
    corr = correlate(y0, x0, mode="full") / x0.size
    keep = np.abs(lags) <= max_lag
    lags, corr = lags[keep], corr[keep]
    strongest = int(lags[np.argmax(np.abs(corr))])
    ax = pyplot_axes(ax, (8.0, 4.0))
    ax.plot(lags, corr, label="correlation")
    if true_lag is not None:
        ax.axvline(true_lag, color="r", linestyle="-.", label=f"true lag ({true_lag})")
    ax.axvline(strongest, color="g", linestyle=":", label=f"strongest at lag {strongest}")
    ax.set_xlabel("lag of Y after X (samples)")
    ax.set_ylabel("correlation")
    ax.legend()
    show_pyplot(show)
    return ax
