"""Figures shared by the modes: training curves, a sweep, the cross-session overview.

Each mode draws its own figure (:meth:`neural_mi.modes.base.Mode.plot`); the functions here
are the pieces several of them use.  Every drawing function returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global figure state, no backend
needed; ``fig.savefig`` works as usual).  Pass ``ax`` to draw into an existing axes
instead; its figure is returned.  The notebook-facing calls (``Results.plot`` and
:mod:`neural_mi.visualize`) draw into :func:`pyplot_axes` instead, so that a notebook
shows the figure and ``plt.show()`` works as with NeuralMI 1.1.  matplotlib is imported on
the first call, so importing this module is cheap and torch-free.

Summaries carry their units in ``attrs['units']`` (set by
:func:`neural_mi.aggregate.summarize`); task datasets and training histories are in nats
and are converted once, here, to the units drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ParameterError
from .params import OUTPUT_UNITS, UNIT_FACTORS, check_choice

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_HISTORY_CURVES = (
    ("train_mi", "train"),
    ("test_mi", "held-out"),
    ("test_mi_smoothed", "held-out (smoothed)"),
)


def figure_and_axes(
    ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.4)
) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure (without pyplot) with one axes."""
    if ax is not None:
        figure = ax.get_figure(root=True)
        if figure is None:
            raise ValueError("ax belongs to no figure.")
        return figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def pyplot_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """``ax``, or the axes of a new pyplot figure (``figsize`` inches; constrained layout).

    A pyplot figure is what a notebook displays and ``plt.show()`` shows; the library's own
    figures (workflow reports) do not go through pyplot.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize or (6.4, 4.4), layout="constrained")
    return new


def show_pyplot(show: bool) -> None:
    """``plt.show()`` when ``show`` (a no-op under non-interactive backends such as Agg)."""
    if show:
        import matplotlib.pyplot as plt

        plt.show()


def color(index: int) -> str:
    """The ``index``-th colour of matplotlib's cycle."""
    from matplotlib import rcParams

    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    return colors[index % len(colors)]


def require(summary: xr.Dataset, names: tuple[str, ...], what: str) -> str:
    """Check the summary has ``names``; return its units."""
    missing = [name for name in names if name not in summary.variables]
    if missing:
        raise ParameterError(
            f"{what} needs a summary with {missing}; pass the output of the "
            "matching mode's aggregation (or neural_mi.aggregate.summarize)."
        )
    return summary.attrs.get("units", "nats")


def combo_label(summary: xr.Dataset, combo: Any) -> str:
    """``"name=value, ..."`` of the swept parameters of one combo.

    Without swept parameters: the combo id when there are several combos, else ``""``.
    """
    row = summary.sel(combo=combo)
    names = [
        name
        for name, coord in summary.coords.items()
        if coord.dims == ("combo",) and name != "combo"
    ]
    if names:
        return ", ".join(f"{name}={row[name].item()}" for name in names)
    return str(combo) if summary.sizes["combo"] > 1 else ""


def plot_training(
    history: Mapping[str, np.ndarray],
    best_epoch: int,
    units: str = "bits",
    *,
    ax: Axes | None = None,
) -> Figure:
    """Training and held-out MI per epoch, with the kept (best) epoch marked.

    Parameters
    ----------
    history
        Per-epoch curves in **nats**, as trained (``TaskResult.history``): the ones drawn
        are ``test_mi``, ``test_mi_smoothed`` and minus the training ``loss`` (the training
        bound over the epoch's batches), or ``train_mi`` instead of the loss in histories
        that have it.
    best_epoch
        0-based epoch whose state was kept.
    units
        ``'bits'`` or ``'nats'``: units of the drawn MI (converted here, once).
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice(units, OUTPUT_UNITS, "units")
    curves = [
        (np.asarray(history[name], dtype=float), label)
        for name, label in _HISTORY_CURVES
        if name in history
    ]
    if not curves:
        raise ParameterError(
            f"history has none of the MI curves "
            f"{[name for name, _ in _HISTORY_CURVES]}; got {sorted(history)}."
        )
    if "train_mi" not in history and "loss" in history:
        curves.insert(0, (-np.asarray(history["loss"], dtype=float), "training batches (-loss)"))
    fig, ax = figure_and_axes(ax)
    factor = UNIT_FACTORS[units]
    for curve, label in curves:
        ax.plot(np.arange(curve.size), curve * factor, label=label)
    ax.axvline(best_epoch, color="k", linestyle=":", label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"MI ({units})")
    ax.legend()
    return fig


def plot_sweep(
    summary: xr.Dataset,
    x: str,
    *,
    ax: Axes | None = None,
    style: str = "o-",
    label: str | None = None,
) -> Figure:
    """Mean ± std of MI against one swept parameter.

    One line per combination of the other swept parameters that vary.

    Parameters
    ----------
    summary
        Summary with dim ``combo`` and variables ``mi_mean``, ``mi_std`` (e.g. a sweep's).
    x
        Name of the swept-parameter coordinate for the horizontal axis, or ``"combo"``
        (the combination ids, as categories).
    ax
        Axes to draw into; a new figure otherwise.
    style, label
        Line format, and a label for the lines (prefixed to the other parameters' values).

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = require(summary, ("mi_mean", "mi_std"), "plot_sweep")
    swept = [
        name
        for name, coord in summary.coords.items()
        if coord.dims == ("combo",) and name != "combo"
    ]
    if x not in (*swept, "combo"):
        raise ParameterError(
            f"x={x!r} is not a swept parameter of the summary; choose one of {[*swept, 'combo']}."
        )
    table = summary[["mi_mean", "mi_std"]].to_dataframe().reset_index()
    others = [name for name in swept if name != x and table[name].nunique(dropna=False) > 1]
    groups = table.groupby(others, dropna=False) if others else [((), table)]
    fig, ax = figure_and_axes(ax)
    for index, (values, group) in enumerate(groups):
        group = group.sort_values(x)
        parts = [label or "", ", ".join(f"{n}={v}" for n, v in zip(others, values))]
        ax.errorbar(
            group[x].to_numpy(),
            group["mi_mean"].to_numpy(),
            yerr=group["mi_std"].fillna(0.0).to_numpy(),
            fmt=style,
            capsize=3,
            color=color(index),
            label=": ".join(part for part in parts if part) or None,
        )
    ax.set_xlabel(x)
    ax.set_ylabel(f"MI ({units})")
    if others or label:
        ax.legend()
    return fig


def chance_lines(summary: xr.Dataset, ax: Axes) -> None:
    """Dashed horizontal lines at a permutation test's chance level: ``null_upper`` (the
    null's ``1 - alpha`` quantile of the headline number) at the first combination, one
    per element of its other dims (e.g. per direction of a transfer entropy)."""
    upper = summary["null_upper"]
    if "combo" in upper.dims:
        upper = upper.isel(combo=0)
    level = 1 - float(summary.attrs.get("alpha", 0.05))
    for index, position in enumerate(np.ndindex(upper.shape)):
        cell = upper[position] if position else upper
        where = ", ".join(f"{dim}={cell[dim].item()}" for dim in upper.dims)
        ax.axhline(
            float(cell),
            color=color(index) if upper.dims else "0.4",
            linestyle="--",
            linewidth=1,
            label=f"chance: {level:.0%} of null{f' ({where})' if where else ''}",
        )
    ax.legend(fontsize="small")


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
