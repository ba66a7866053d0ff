"""Figures of training curves and of the per-mode summaries of :mod:`neural_mi.aggregate`.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
figure state, no backend needed; ``fig.savefig`` works as usual).  Pass ``ax`` to draw into
an existing axes instead; its figure is returned.  matplotlib is imported on the first call,
so importing this module is cheap and torch-free.

Summaries carry their units in ``attrs['units']`` (set by :func:`neural_mi.aggregate.summarize`);
task datasets are in nats and are converted to the summary's units where both are drawn.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .errors import ParameterError
from .params import OUTPUT_UNITS, UNIT_FACTORS, check_choice

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_HISTORY_CURVES = (
    ("train_mi", "train"),
    ("test_mi", "held-out"),
    ("test_mi_smoothed", "held-out (smoothed)"),
)
_SATURATION_STYLES = (":", "--", "-.")


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(root=True), ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    return fig, fig.add_subplot()


def _color(index: int) -> str:
    from matplotlib import rcParams

    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    return colors[index % len(colors)]


def _require(summary: xr.Dataset, names: tuple[str, ...], what: str) -> str:
    """Check the summary has ``names``; return its units."""
    missing = [name for name in names if name not in summary.variables]
    if missing:
        raise ParameterError(
            f"{what} needs a summary with {missing}; pass the output of the "
            "matching neural_mi.aggregate function (or summarize)."
        )
    return summary.attrs.get("units", "nats")


def _combo_label(summary: xr.Dataset, combo: Any) -> str:
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
        ``TaskResult.history``: curves of shape ``(n_epochs_run,)`` in nats; the ones
        drawn are ``test_mi``, ``test_mi_smoothed`` and minus the training ``loss`` (the
        training bound over the epoch's batches), or ``train_mi`` instead of the loss in
        histories that have it.
    best_epoch
        0-based epoch whose state was kept.
    units
        ``'bits'`` or ``'nats'``: units of the drawn MI.
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
    fig, ax = _figure_and_axes(ax)
    factor = UNIT_FACTORS[units]
    for curve, label in curves:
        ax.plot(np.arange(curve.size), curve * factor, label=label)
    ax.axvline(best_epoch, color="k", linestyle=":", label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"MI ({units})")
    ax.legend()
    return fig


def plot_rigorous(summary: xr.Dataset, tasks_ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """MI against gamma with the linear extrapolation to infinite data (gamma = 0).

    Per combination (one colour each): every task's MI (points), the per-gamma mean ±
    sample std (error bars), the linear fit over the gammas it used, extended to gamma = 0
    (dashed), and the corrected estimate at 0 with its confidence half-width (square).

    Parameters
    ----------
    summary
        Output of :func:`~neural_mi.aggregate.aggregate_rigorous` or of ``summarize`` in
        rigorous mode.
    tasks_ds
        The task dataset the summary was computed from.
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = _require(
        summary,
        ("mi_corrected", "mi_error", "slope", "gammas_used", "mi_mean", "mi_std", "n"),
        "plot_rigorous",
    )
    mi_var = summary.attrs.get("mi_var", "test_mi")
    factor = UNIT_FACTORS[units] / UNIT_FACTORS[tasks_ds.attrs.get("units", "nats")]
    tasks = {str(combo): mi for combo, mi in tasks_ds[mi_var].groupby("combo")}
    fig, ax = _figure_and_axes(ax)
    for index, combo in enumerate(summary["combo"].values):
        if str(combo) not in tasks:
            raise ParameterError(f"Combo {combo!r} of the summary has no task in tasks_ds.")
        color = _color(index)
        row = summary.sel(combo=combo)
        mi = tasks[str(combo)]
        ax.scatter(mi["gamma"], mi * factor, s=12, alpha=0.35, color=color)
        measured = row["n"] > 0
        ax.errorbar(
            row["gamma"][measured],
            row["mi_mean"][measured],
            yerr=row["mi_std"][measured].fillna(0.0),
            fmt="o",
            color=color,
        )
        corrected, error = float(row["mi_corrected"]), float(row["mi_error"])
        if not math.isfinite(corrected):
            continue
        largest = max(float(g) for g in str(row["gammas_used"].item()).split(","))
        ax.plot(
            [0.0, largest],
            [corrected, corrected + float(row["slope"]) * largest],
            linestyle="--",
            color=color,
        )
        name = _combo_label(summary, combo)
        label = f"{name + ': ' if name else ''}{corrected:.3g} ± {error:.2g} {units}"
        if "is_reliable" in row and not bool(row["is_reliable"]):
            label += " (unreliable)"
        ax.errorbar(
            [0.0],
            [corrected],
            yerr=[error if math.isfinite(error) else 0.0],
            fmt="s",
            markersize=7,
            capsize=4,
            color=color,
            label=label,
        )
    ax.set_xlim(left=-0.5)
    ax.set_xlabel("gamma (number of data chunks)")
    ax.set_ylabel(f"MI ({units})")
    ax.legend(title="corrected MI (gamma = 0)")
    return fig


def plot_sweep(summary: xr.Dataset, x: str, *, ax: Axes | None = None) -> Figure:
    """Mean ± std of MI against one swept parameter.

    One line per combination of the other swept parameters that vary.

    Parameters
    ----------
    summary
        Output of :func:`~neural_mi.aggregate.aggregate_sweep` (or ``summarize``).
    x
        Name of the swept-parameter coordinate for the horizontal axis, or ``"combo"``
        (the combination ids, as categories).
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = _require(summary, ("mi_mean", "mi_std"), "plot_sweep")
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
    fig, ax = _figure_and_axes(ax)
    for index, (values, group) in enumerate(groups):
        group = group.sort_values(x)
        label = ", ".join(f"{n}={v}" for n, v in zip(others, values)) or None
        ax.errorbar(
            group[x].to_numpy(),
            group["mi_mean"].to_numpy(),
            yerr=group["mi_std"].fillna(0.0).to_numpy(),
            fmt="o-",
            capsize=3,
            color=_color(index),
            label=label,
        )
    ax.set_xlabel(x)
    ax.set_ylabel(f"MI ({units})")
    if others:
        ax.legend()
    return fig


def plot_lag(summary: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """MI against lag (mean ± std band) with the peak lag marked, per combination.

    Parameters
    ----------
    summary
        Output of :func:`~neural_mi.aggregate.aggregate_lag` (or ``summarize``).
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = _require(summary, ("mi_mean", "mi_std", "peak_lag", "mi_peak"), "plot_lag")
    fig, ax = _figure_and_axes(ax)
    lags = summary["lag"].values
    for index, combo in enumerate(summary["combo"].values):
        color = _color(index)
        row = summary.sel(combo=combo)
        mean = row["mi_mean"].values
        spread = row["mi_std"].fillna(0.0).values
        ax.plot(
            lags,
            mean,
            "-o",
            markersize=3,
            color=color,
            label=_combo_label(summary, combo) or "mean ± std",
        )
        ax.fill_between(lags, mean - spread, mean + spread, color=color, alpha=0.25)
        peak = row["peak_lag"].item()
        ax.plot(
            [peak],
            [float(row["mi_peak"])],
            marker="*",
            markersize=14,
            linestyle="none",
            color=color,
            label=f"peak at lag {peak:g}",
        )
    ax.set_xlabel("lag of Y after X (samples; seconds for spike data)")
    ax.set_ylabel(f"MI ({units})")
    ax.legend()
    return fig


def plot_dimensionality(summary: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """MI against embedding dimension, participation ratio on a twin axis, saturation marked.

    Parameters
    ----------
    summary
        Output of :func:`~neural_mi.aggregate.aggregate_dimensionality` (or
        ``summarize``).  With other swept dimensions, one set of curves is drawn per
        combination of their values.
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = _require(summary, ("mi_mean", "mi_std", "saturation_dim"), "plot_dimensionality")
    has_pr = "participation_ratio_mean" in summary
    fig, ax = _figure_and_axes(ax)
    twin = ax.twinx() if has_pr else None
    dims = summary["embedding_dim"].values
    others = [d for d in summary["mi_mean"].dims if d != "embedding_dim"]
    for index, values in enumerate(itertools.product(*(summary[d].values for d in others))):
        where = dict(zip(others, values))
        sub = summary.sel(where)
        suffix = "".join(f", {name}={value}" for name, value in where.items())
        color = _color(index)
        ax.errorbar(
            dims,
            sub["mi_mean"].values,
            yerr=sub["mi_std"].fillna(0.0).values,
            fmt="o-",
            capsize=3,
            color=color,
            label=f"MI{suffix}",
        )
        if twin is not None:
            twin.errorbar(
                dims,
                sub["participation_ratio_mean"].values,
                yerr=sub["participation_ratio_std"].fillna(0.0).values,
                fmt="s--",
                capsize=3,
                color=color,
                alpha=0.6,
                markerfacecolor="none",
                label=f"participation ratio{suffix}",
            )
        for level, style in zip(sub["strictness"].values, itertools.cycle(_SATURATION_STYLES)):
            dim = float(sub["saturation_dim"].sel(strictness=level))
            if math.isfinite(dim):
                ax.axvline(
                    dim,
                    color=color,
                    linestyle=style,
                    alpha=0.7,
                    label=f"saturation ({level:g} of peak): {dim:g}{suffix}",
                )
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, labels=[str(d) for d in dims])
    ax.set_xlabel("embedding dimension")
    ax.set_ylabel(f"MI ({units})")
    handles, labels = ax.get_legend_handles_labels()
    if twin is not None:
        twin.set_ylabel("participation ratio")
        twin_handles, twin_labels = twin.get_legend_handles_labels()
        handles, labels = handles + twin_handles, labels + twin_labels
    ax.legend(handles, labels, fontsize="small")
    return fig
