"""Figures shared by the modes: training curves, a sweep (the cross-session overview is
:mod:`neural_mi.overview`).

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


def draw_gamma_fit(
    ax: Axes,
    row: Any,
    value: float,
    error: float,
    largest: float,
    colour: str,
    label: str,
    markersize: float | None = None,
) -> None:
    """One bias-correction fit on ``ax``: the mean MI per gamma with its sample std (of the
    gammas that were measured, ``row['n'] > 0``), and, when ``value`` is finite, the fitted
    line (``row['slope']``) from gamma = 0 to ``largest`` (dashed) and ``value`` at gamma =
    0 with its half-width ``error`` (a square labelled ``label``, of ``markersize``)."""
    import math

    measured = row["n"] > 0
    ax.errorbar(
        row["gamma"][measured],
        row["mi_mean"][measured],
        yerr=row["mi_std"][measured].fillna(0.0),
        fmt="o",
        color=colour,
    )
    if not math.isfinite(value):
        return
    ax.plot(
        [0.0, largest],
        [value, value + float(row["slope"]) * largest],
        linestyle="--",
        color=colour,
    )
    ax.errorbar(
        [0.0],
        [value],
        yerr=[error if math.isfinite(error) else 0.0],
        fmt="s",
        capsize=4,
        color=colour,
        label=label,
        markersize=markersize,  # None: matplotlib's default
    )


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
