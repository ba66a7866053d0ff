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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataShapeError, ParameterError
from ..params import OUTPUT_UNITS, check_choice
from ..plot import color, pyplot_axes, show_pyplot

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

__all__ = [
    "HeatmapAnalysis",
    "analyze_mi_heatmap",
    "plot_bias_correction_fit",
    "plot_cross_correlation",
    "plot_sweep_curve",
]

#: Points drawn along the causal contour when looking for the shortest bridge.
_CONTOUR_POINTS = 400


def _require_columns(table: pd.DataFrame, names: tuple[str, ...], what: str, hint: str) -> None:
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise ParameterError(
            f"{what} lacks the column(s) {missing}{hint}; it has {list(table.columns)}."
        )


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


@dataclass(frozen=True)
class HeatmapAnalysis:
    """What :func:`analyze_mi_heatmap` found; points are ``(lag, window_size)``.

    Attributes
    ----------
    causal_contour
        ``C``: the first window size at lag 0 whose MI rises above the noise floor, so that
        ``lag + window_size = C`` bounds where the dependence can be seen (``None``
        without lag 0 or without a rise).
    bridge
        The closest pair of points ``(on the causal contour, on the significant-MI
        contour)``, or ``None``.
    center, radius
        The midpoint of the bridge (the parsimonious estimate) and half its length times
        ``radius_multiplier``, or ``None``.
    ax
        The axes drawn on.
    """

    causal_contour: float | None
    bridge: tuple[tuple[float, float], tuple[float, float]] | None
    center: tuple[float, float] | None
    radius: float | None
    ax: Axes


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted cell centres (midpoints; half a step beyond the ends)."""
    mids = (centres[1:] + centres[:-1]) / 2.0
    return np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])


def _causal_contour(
    lags: np.ndarray, windows: np.ndarray, grid: np.ndarray, rise: float
) -> float | None:
    """First window at lag 0 whose MI exceeds the noise floor by ``rise`` of the range."""
    if 0 not in lags:
        logger.info("analyze_mi_heatmap: no lag 0 in the grid, so no causal contour.")
        return None
    column = grid[:, int(np.flatnonzero(lags == 0)[0])]
    floor = float(np.median(column[:3]))
    threshold = floor + (float(np.max(column)) - floor) * rise
    above = np.flatnonzero(column > threshold)
    return float(windows[above[0]]) if above.size else None


def analyze_mi_heatmap(
    results_df: pd.DataFrame,
    absolute_mi_threshold: float = 0.2,
    contour_rise_fraction: float = 0.1,
    radius_multiplier: float = 1.2,
    true_lag: float | None = None,
    history_duration: float | None = None,
    *,
    mi_col: str | None = None,
    ax: Axes | None = None,
    show: bool = True,
) -> HeatmapAnalysis:
    """Read a lag × window-size MI grid the way tutorial 3 does (its parsimony heuristic).

    1. Causal contour: at lag 0, the first window whose MI rises above the noise floor
       (median of the three smallest windows) by ``contour_rise_fraction`` of the range
       gives ``C``; the line ``lag + window = C`` bounds where the dependence can appear.
    2. Significant contour: where the MI equals ``absolute_mi_threshold``.
    3. The shortest bridge between the two; its midpoint is the parsimonious estimate,
       and a circle of half its length times ``radius_multiplier`` marks the region.

    These are heuristics for reading the grid, not estimates with an error.

    Parameters
    ----------
    results_df
        One row per ``(lag, window_size)`` with an MI column: the ``dataframe`` of a lag
        analysis with ``sweep_grid={'window_size': [...]}``, or a table built by hand.
    absolute_mi_threshold
        MI level of the significant contour (in the units of the MI column).
    contour_rise_fraction
        Rise above the noise floor, as a fraction of the lag-0 range, that defines ``C``.
    radius_multiplier
        Size of the parsimonious circle relative to half the bridge.
    true_lag, history_duration
        The truth, when known: drawn as a box.
    mi_col
        The MI column (default ``'mi'`` if present, else ``'mi_mean'``).
    ax
        Axes to draw into; a new pyplot figure otherwise.
    show
        Call ``plt.show()`` when done.

    Returns
    -------
    HeatmapAnalysis
    """
    from matplotlib import patches
    from matplotlib.lines import Line2D

    if mi_col is None:
        mi_col = "mi" if "mi" in results_df.columns else "mi_mean"
    _require_columns(results_df, ("lag", "window_size", mi_col), "results_df", "")
    try:
        table = results_df.pivot(index="window_size", columns="lag", values=mi_col)
    except ValueError as exc:
        raise ParameterError(
            f"results_df must hold one row per (lag, window_size): {exc}"
        ) from None
    table = table.sort_index().sort_index(axis=1)
    lags = table.columns.to_numpy(dtype=float)
    windows = table.index.to_numpy(dtype=float)
    grid = table.to_numpy(dtype=float)
    if lags.size < 2 or windows.size < 2:
        raise DataShapeError(
            f"analyze_mi_heatmap needs at least 2 lags and 2 window sizes, got "
            f"{lags.size} and {windows.size}."
        )
    causal = _causal_contour(lags, windows, grid, contour_rise_fraction)

    ax = pyplot_axes(ax, (11.0, 8.0))
    mesh = ax.pcolormesh(_edges(lags), _edges(windows), grid, cmap="viridis", shading="flat")
    ax.get_figure(root=True).colorbar(mesh, ax=ax, label=f"MI ({mi_col})")  # type: ignore[union-attr]
    legend: list[Artist] = [
        Line2D([0], [0], color="red", lw=2.5, label=f"MI = {absolute_mi_threshold}")
    ]
    bridge = center = radius = None
    contour_points = np.empty((0, 2))
    if np.nanmin(grid) < absolute_mi_threshold < np.nanmax(grid):
        segments = ax.contour(
            lags, windows, grid, levels=[absolute_mi_threshold], colors="red", linewidths=2.5
        ).allsegs[0]
        if segments:
            contour_points = np.asarray(max(segments, key=len))
    if not contour_points.size:
        logger.warning(
            "analyze_mi_heatmap: the MI never crosses %s; no significant contour.",
            absolute_mi_threshold,
        )
    if causal is not None:
        low, high = max(lags[0], causal - windows[-1]), min(lags[-1], causal - windows[0])
        if low <= high:
            line_lags = np.linspace(low, high, _CONTOUR_POINTS)
            line = np.column_stack([line_lags, causal - line_lags])
            ax.plot(line[:, 0], line[:, 1], color="cyan", linestyle="--", lw=3)
            legend.append(Line2D([0], [0], color="cyan", lw=3, ls="--", label=f"C = {causal:g}"))
            if contour_points.size:
                distance = np.linalg.norm(line[:, None, :] - contour_points[None, :, :], axis=2)
                i, j = np.unravel_index(int(np.argmin(distance)), distance.shape)
                start, end = line[i], contour_points[j]
                mid = (start + end) / 2.0
                bridge = ((float(start[0]), float(start[1])), (float(end[0]), float(end[1])))
                center = (float(mid[0]), float(mid[1]))
                radius = float(distance[i, j]) / 2.0 * radius_multiplier
                ax.plot([start[0], end[0]], [start[1], end[1]], color="orange", lw=2)
                ax.add_patch(patches.Circle(mid, radius, fill=False, ec="white", lw=2.5, ls=":"))
                ax.plot(*mid, "w+", markersize=15, mew=3)
                legend.append(
                    Line2D([0], [0], marker="+", color="w", ls="none", mew=3, label="center")
                )
    if true_lag is not None and history_duration is not None:
        lag_step, window_step = np.min(np.diff(lags)), np.min(np.diff(windows))
        ax.add_patch(
            patches.Rectangle(
                (true_lag - lag_step / 2, history_duration - window_step / 2),
                lag_step,
                window_step,
                fill=False,
                ec="lime",
                lw=3,
            )
        )
        legend.append(patches.Patch(fill=False, ec="lime", lw=3, label="truth"))
    logger.info(
        "analyze_mi_heatmap: causal contour C=%s, bridge %s, center %s, radius %s.",
        causal,
        bridge,
        center,
        radius,
    )
    ax.set_xlim(*_edges(lags)[[0, -1]])
    ax.set_ylim(*_edges(windows)[[0, -1]])
    ax.set_xlabel("lag (samples)")
    ax.set_ylabel("window size (samples)")
    ax.legend(handles=legend, loc="upper left")
    show_pyplot(show)
    return HeatmapAnalysis(causal, bridge, center, radius, ax)
