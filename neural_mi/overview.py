"""The cross-session overview figure of the workflow's collect step
(``<results_dir>/overview.png``): headline MI of every session, one panel per analysis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ParameterError
from .plot import color

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


#: Sessions up to which every session is named on the overview's axis.
OVERVIEW_NAMED_SESSIONS = 40
#: Most groups a metadata column may have to colour the overview's points.
OVERVIEW_MAX_GROUPS = 10


def overview_figure(table: pd.DataFrame, color_by: str | None = None) -> Figure:
    """Headline MI of every session, one compact panel per analysis.

    Sessions run along the horizontal axis (in table order), MI up; error bars where an
    analysis has an interval, hollow markers for results its mode marks unreliable.  The
    size is bounded whatever the number of sessions: beyond
    :data:`OVERVIEW_NAMED_SESSIONS` only some sessions are named.  Points are coloured by
    a metadata column (``color_by``, by default the first one with at most
    :data:`OVERVIEW_MAX_GROUPS` values).

    Parameters
    ----------
    table
        The cross-session table: columns ``session``, ``analysis``, ``mode``, ``mi``,
        ``mi_error``, ``is_reliable``, ``units``, and metadata columns; where
        ``is_significant`` is known (a permutation test), significant sessions are starred.
    color_by
        A metadata column to colour the points by.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    analyses = list(dict.fromkeys(table["analysis"]))
    sessions = list(dict.fromkeys(table["session"]))
    position = {name: i for i, name in enumerate(sessions)}
    groups = _overview_groups(table, color_by)
    n = len(sessions)
    fig = Figure(
        figsize=(min(12.0, 4.0 + 0.12 * n), 1.0 + 1.9 * len(analyses)), layout="constrained"
    )
    axes = fig.subplots(len(analyses), 1, squeeze=False, sharex=True)[:, 0]
    for ax, analysis in zip(axes, analyses):
        _overview_panel(ax, table[table["analysis"] == analysis], position, groups, n)
    if groups is not None:
        handles, names = axes[0].get_legend_handles_labels()
        if len(names) > 1:
            fig.legend(
                handles,
                names,
                loc="outside upper right",
                ncol=min(len(names), 10),
                fontsize="small",
                title=groups.column,
                title_fontsize="small",
            )
    _session_axis(axes[-1], sessions)
    return fig


def _overview_panel(
    ax: Axes, rows: pd.DataFrame, position: dict[str, int], groups: _Groups | None, n: int
) -> None:
    """One analysis' panel of :func:`overview_figure` (``n`` sessions in all)."""
    x = rows["session"].map(position).to_numpy()
    mi = rows["mi"].astype(float).to_numpy()
    error = rows["mi_error"].astype(float).to_numpy()
    unreliable = rows["is_reliable"].map(lambda v: v is False or v == 0).to_numpy(bool)
    labels = groups(rows) if groups is not None else np.full(len(rows), "")
    for index, label in enumerate(dict.fromkeys(labels)):
        pick = labels == label
        colour = color(index)
        if np.isfinite(error[pick]).any():
            ax.errorbar(
                x[pick],
                mi[pick],
                yerr=np.nan_to_num(error[pick]),
                fmt="none",
                ecolor=colour,
                alpha=0.6,
                linewidth=1,
            )
        for hollow in (False, True):
            chosen = pick & (unreliable == hollow)
            if chosen.any():
                ax.plot(
                    x[chosen],
                    mi[chosen],
                    "o",
                    markersize=3.5 if n > 60 else 5,
                    color=colour,
                    markerfacecolor="none" if hollow else colour,
                    label=(label or None) if not hollow else None,
                )
    if "is_significant" in rows and rows["is_significant"].notna().any():
        tested = rows["is_significant"].map(_truth).to_numpy()
        starred = tested == 1
        ax.plot(
            x[starred],
            mi[starred],
            "*",
            color="k",
            markersize=6 if n > 60 else 9,
            markerfacecolor="none",
        )
        ax.set_title("* significant (permutation test)", loc="right", fontsize="small")
    ax.set_title(
        f"{rows['analysis'].iloc[0]} ({rows['mode'].iloc[0]})", loc="left", fontsize="medium"
    )
    ax.set_ylabel(f"MI ({rows['units'].iloc[0]})")
    ax.grid(axis="y", alpha=0.3)


def _session_axis(ax: Axes, sessions: list[str]) -> None:
    n = len(sessions)
    ax.set_xlim(-0.5, n - 0.5)
    shown = (
        list(range(n))
        if n <= OVERVIEW_NAMED_SESSIONS
        else np.linspace(0, n - 1, 9).round().astype(int).tolist()
    )
    ax.set_xticks(shown, [sessions[i] for i in shown], rotation=90, fontsize="small")
    ax.set_xlabel(f"session ({n}, in table order)")


class _Groups:
    """Labels of a metadata column, per row of the table."""

    def __init__(self, column: str) -> None:
        self.column = column

    def __call__(self, rows: pd.DataFrame) -> np.ndarray:
        return rows[self.column].astype(str).to_numpy()


def _overview_groups(table: pd.DataFrame, color_by: str | None) -> _Groups | None:
    from .workflow.steps import SUMMARY_COLUMNS

    if color_by is not None:
        if color_by not in table.columns:
            raise ParameterError(
                f"color_by={color_by!r} is not a column of the table; columns: "
                f"{', '.join(table.columns)}."
            )
        return _Groups(color_by)
    for column in table.columns:
        if column in SUMMARY_COLUMNS or column == "best":
            continue
        if 1 < table[column].nunique() <= OVERVIEW_MAX_GROUPS:
            return _Groups(column)
    return None


def _truth(value: Any) -> int:
    """1, 0 or -1 (unknown) for an ``is_significant`` cell of a table read back."""
    if isinstance(value, str):
        return {"true": 1, "false": 0}.get(value.strip().lower(), -1)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return -1
    return int(bool(value))
