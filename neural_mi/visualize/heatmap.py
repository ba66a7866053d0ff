"""Tutorial 3's reading of a lag × window-size MI grid (:func:`analyze_mi_heatmap`):
the causal contour, the significant-MI contour and the parsimonious estimate between
them.  Nothing is printed: findings are returned and logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataShapeError, ParameterError
from ..plot import pyplot_axes, show_pyplot
from .tables import require_columns as _require_columns

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

#: Points drawn along the causal contour when looking for the shortest bridge.
_CONTOUR_POINTS = 400


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


def _mi_grid(results_df: pd.DataFrame, mi_col: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lags, window sizes, MI grid (window, lag))`` of a table with one row per
    ``(lag, window_size)``, refused unless it has at least 2 of each."""
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
    return lags, windows, grid


def _significant_contour(
    ax: Axes, lags: np.ndarray, windows: np.ndarray, grid: np.ndarray, threshold: float
) -> np.ndarray:
    """Draw the contour where the MI equals ``threshold``; its longest segment's points
    (empty when the MI never crosses it)."""
    contour_points = np.empty((0, 2))
    if np.nanmin(grid) < threshold < np.nanmax(grid):
        segments = ax.contour(
            lags, windows, grid, levels=[threshold], colors="red", linewidths=2.5
        ).allsegs[0]
        if segments:
            contour_points = np.asarray(max(segments, key=len))
    if not contour_points.size:
        logger.warning(
            "analyze_mi_heatmap: the MI never crosses %s; no significant contour.",
            threshold,
        )
    return contour_points


def _draw_bridge(
    ax: Axes,
    line: np.ndarray,
    contour_points: np.ndarray,
    radius_multiplier: float,
    legend: list[Artist],
) -> tuple[tuple[tuple[float, float], tuple[float, float]], tuple[float, float], float]:
    """Draw the shortest bridge between the causal contour ``line`` and the significant
    contour, its midpoint and the parsimonious circle; return the bridge, centre, radius."""
    from matplotlib import patches
    from matplotlib.lines import Line2D

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
    legend.append(Line2D([0], [0], marker="+", color="w", ls="none", mew=3, label="center"))
    return bridge, center, radius


def _draw_truth(
    ax: Axes,
    lags: np.ndarray,
    windows: np.ndarray,
    truth: tuple[float, float],
    legend: list[Artist],
) -> None:
    """Draw the cell of the true ``(lag, history duration)`` as a box."""
    from matplotlib import patches

    true_lag, history_duration = truth
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
    from matplotlib.lines import Line2D

    if mi_col is None:
        mi_col = "mi" if "mi" in results_df.columns else "mi_mean"
    lags, windows, grid = _mi_grid(results_df, mi_col)
    causal = _causal_contour(lags, windows, grid, contour_rise_fraction)

    ax = pyplot_axes(ax, (11.0, 8.0))
    mesh = ax.pcolormesh(_edges(lags), _edges(windows), grid, cmap="viridis", shading="flat")
    ax.get_figure(root=True).colorbar(mesh, ax=ax, label=f"MI ({mi_col})")  # type: ignore[union-attr]
    legend: list[Artist] = [
        Line2D([0], [0], color="red", lw=2.5, label=f"MI = {absolute_mi_threshold}")
    ]
    bridge = center = radius = None
    contour_points = _significant_contour(ax, lags, windows, grid, absolute_mi_threshold)
    if causal is not None:
        low, high = max(lags[0], causal - windows[-1]), min(lags[-1], causal - windows[0])
        if low <= high:
            line_lags = np.linspace(low, high, _CONTOUR_POINTS)
            line = np.column_stack([line_lags, causal - line_lags])
            ax.plot(line[:, 0], line[:, 1], color="cyan", linestyle="--", lw=3)
            legend.append(Line2D([0], [0], color="cyan", lw=3, ls="--", label=f"C = {causal:g}"))
            if contour_points.size:
                bridge, center, radius = _draw_bridge(
                    ax, line, contour_points, radius_multiplier, legend
                )
    if true_lag is not None and history_duration is not None:
        _draw_truth(ax, lags, windows, (true_lag, history_duration), legend)
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
