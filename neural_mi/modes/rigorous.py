"""``rigorous``: MI extrapolated to infinite data from subsamples (bias correction).

For each ``gamma`` in ``gamma_range`` the data is cut into ``gamma`` disjoint chunks and one
task trains on each chunk (55 tasks for gamma 1..10); per parameter combination, the fit of
:mod:`neural_mi.fit` extrapolates MI against ``gamma`` to ``gamma = 0``, the infinite-data
MI, with a confidence interval.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, field_validator

from ..errors import ParameterError
from ..fit import FIT_DEFAULTS, fit_rigorous, plain_gammas
from ..params import IntAtLeastTwo, OpenFraction, PositiveInt, PositiveNumber, check_keys
from . import register_mode
from .base import Mode, ModeOptions

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..plan import Combination
    from ..results import Results
    from ..tasks import TaskSpec

#: Gammas used when ``gamma_range`` is not given.
DEFAULT_GAMMA_RANGE: tuple[int, ...] = tuple(range(1, 11))


class RigorousOptions(ModeOptions):
    """Arguments of mode ``rigorous``: the subsampling design and the fit settings."""

    gamma_range: list[PositiveInt] = Field(default_factory=lambda: list(DEFAULT_GAMMA_RANGE))
    """Subsampling factors: for each gamma the data is cut into gamma chunks, one task each."""
    delta_threshold: PositiveNumber = FIT_DEFAULTS["delta_threshold"]
    """Largest accepted curvature criterion; larger gammas are dropped while it is exceeded."""
    min_gamma_points: IntAtLeastTwo = FIT_DEFAULTS["min_gamma_points"]
    """Fewest distinct gammas a reliable fit uses (pruning never goes below)."""
    confidence_level: OpenFraction = FIT_DEFAULTS["confidence_level"]
    """Coverage of the interval whose half-width is mi_error (0.68: about one standard
    error)."""

    @field_validator("gamma_range")
    @classmethod
    def _distinct_sorted(cls, gammas: list[int]) -> list[int]:
        if not gammas:
            raise ValueError("must not be empty")
        if len(set(gammas)) != len(gammas):
            raise ValueError(f"must not repeat values, got {gammas}")
        return sorted(gammas)


#: The settings of :func:`fit_rigorous` among the options (aggregation only).
FIT_SETTINGS: tuple[str, ...] = ("delta_threshold", "min_gamma_points", "confidence_level")
RIGOROUS_FIT_DEFAULTS: dict[str, Any] = dict(FIT_DEFAULTS)


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
        Per combo: ``mi_corrected``, ``mi_error``, ``slope`` (nats), ``is_reliable``,
        ``n_gammas_used``, ``delta``; per combo and gamma: ``mi_mean``, ``mi_std`` (nats,
        sample std), ``n`` and ``gamma_used`` (whether the final fit used that gamma).
        Attributes: ``mode``, ``units``, ``mi_var`` and the fit settings.
    """
    import xarray as xr

    from ..aggregate import mi_variable, nats, str_dims, summary_stats, with_combo_coords

    check_keys(fit_kw, RIGOROUS_FIT_DEFAULTS, "the rigorous fit options")
    settings = {**RIGOROUS_FIT_DEFAULTS, **fit_kw}
    mi = mi_variable(ds, mi_var, ("combo", "gamma"))
    out = summary_stats(mi.groupby(["combo", "gamma"]))
    fits = {
        combo: fit_rigorous(sub["gamma"].values, sub.values, **settings)
        for combo, sub in mi.groupby("combo")
    }
    ordered = [fits[combo] for combo in out["combo"].values]
    out["mi_corrected"] = nats(xr.DataArray([f.mi_corrected for f in ordered], dims="combo"))
    out["mi_error"] = nats(xr.DataArray([f.mi_error for f in ordered], dims="combo"))
    out["slope"] = nats(xr.DataArray([f.slope for f in ordered], dims="combo"))
    out["is_reliable"] = ("combo", np.array([f.is_reliable for f in ordered], dtype=bool))
    out["n_gammas_used"] = (
        "combo",
        np.array([len(f.gammas_used) for f in ordered], dtype=np.int64),
    )
    out["delta"] = ("combo", np.array([f.delta for f in ordered], dtype=float))
    gammas = out["gamma"].values
    out["gamma_used"] = (
        ("combo", "gamma"),
        np.array([[g in f.gammas_used for g in gammas.tolist()] for f in ordered], dtype=bool),
    )
    out = with_combo_coords(out, ds)
    out.attrs = {"mode": "rigorous", "units": "nats", "mi_var": mi_var, **settings}
    return str_dims(out)


def gammas_used(summary: xr.Dataset) -> list[int | float]:
    """The gammas the fit of a (single-combination) summary used, ascending."""
    used = summary["gamma_used"]
    return list(plain_gammas(used["gamma"].values[used.values]))


@register_mode
class Rigorous(Mode):
    """Bias-corrected MI with a confidence interval, per parameter combination."""

    name = "rigorous"
    Options = RigorousOptions
    aggregation_options = FIT_SETTINGS
    sample_cap = False  # the extrapolation is over the chunks' sample counts
    summary = (
        "per combination, one task per chunk for each gamma; MI extrapolated to "
        "infinite data with a confidence interval"
    )

    def tasks(self, combination: Combination, options: RigorousOptions) -> list[TaskSpec]:
        return [
            combination.task(f"g{g:02d}-s{s:02d}", gamma=g, subset=s)
            for g in options.gamma_range
            for s in range(g)
        ]

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: RigorousOptions) -> xr.Dataset:
        fit = {name: getattr(options, name) for name in FIT_SETTINGS}
        return aggregate_rigorous(tasks, mi_var, **fit)

    def test_statistics(
        self, summary: xr.Dataset, options: RigorousOptions
    ) -> dict[str, xr.DataArray]:
        """The bias-corrected MI: a null task is every gamma chunk's task on moved data,
        fitted and extrapolated as the observed ones are."""
        return {"mi_corrected": summary["mi_corrected"]}

    def headline(self, summary: xr.Dataset, options: RigorousOptions) -> dict[str, Any]:
        from ..aggregate import first_combination, plain_value

        first = first_combination(summary, keep=("gamma",))
        return {
            "mi_estimate": plain_value(first["mi_corrected"]),
            "mi_error": plain_value(first["mi_error"]),
            "is_reliable": plain_value(first["is_reliable"]),
            "mi_corrected": plain_value(first["mi_corrected"]),
            "slope": plain_value(first["slope"]),
            "gammas_used": gammas_used(first),
        }

    def details(self, results: Results) -> dict[str, Any]:
        """``mi_corrected``, ``mi_error``, ``slope``, ``is_reliable``, ``gammas_used`` of the
        first combination and ``per_gamma`` (mean, std, n per combination and gamma)."""
        head = results.headline
        return {
            "mi_corrected": head["mi_corrected"],
            "mi_error": head["mi_error"],
            "slope": head["slope"],
            "is_reliable": head["is_reliable"],
            "gammas_used": head["gammas_used"],
            "per_gamma": results.summary_dataset[["mi_mean", "mi_std", "n"]]
            .to_dataframe()
            .reset_index(),
        }

    def describe(self, results: Results) -> list[str]:
        d, fmt = results.details, results.format_value
        level = results.summary_dataset.attrs.get("confidence_level")
        return [
            f"  corrected MI = {fmt(d['mi_corrected'])} ± {fmt(d['mi_error'])} "
            f"{results.units} ({level} CI); reliable: {d['is_reliable']}; gammas used: "
            f"{d['gammas_used']}"
        ]

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        from ..significance import observed_tasks

        return plot_rigorous(results.summary_dataset, observed_tasks(results.tasks), ax=ax)


def plot_rigorous(summary: xr.Dataset, tasks_ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """MI against gamma with the linear extrapolation to infinite data (gamma = 0).

    Per combination (one colour each): every task's MI (points), the per-gamma mean ±
    sample std (error bars), the linear fit over the gammas it used, extended to gamma = 0
    (dashed), and the corrected estimate at 0 with its confidence half-width (square).

    Parameters
    ----------
    summary
        Output of :func:`aggregate_rigorous` or of ``summarize`` in rigorous mode.
    tasks_ds
        The task dataset the summary was computed from.
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..params import UNIT_FACTORS
    from ..plot import color, combo_label, draw_gamma_fit, figure_and_axes, require

    units = require(
        summary,
        ("mi_corrected", "mi_error", "slope", "gamma_used", "mi_mean", "mi_std", "n"),
        "plot_rigorous",
    )
    mi_var = summary.attrs.get("mi_var", "test_mi")
    factor = UNIT_FACTORS[units] / UNIT_FACTORS[tasks_ds.attrs.get("units", "nats")]
    tasks = {str(combo): mi for combo, mi in tasks_ds[mi_var].groupby("combo")}
    fig, ax = figure_and_axes(ax)
    for index, combo in enumerate(summary["combo"].values):
        if str(combo) not in tasks:
            raise ParameterError(f"Combo {combo!r} of the summary has no task in tasks_ds.")
        colour = color(index)
        row = summary.sel(combo=combo)
        mi = tasks[str(combo)]
        ax.scatter(mi["gamma"], mi * factor, s=12, alpha=0.35, color=colour)
        corrected, error = float(row["mi_corrected"]), float(row["mi_error"])
        largest = max(gammas_used(row)) if math.isfinite(corrected) else 0.0
        name = combo_label(summary, combo)
        label = f"{name + ': ' if name else ''}{corrected:.3g} ± {error:.2g} {units}"
        if not bool(row["is_reliable"]):
            label += " (unreliable)"
        draw_gamma_fit(ax, row, corrected, error, largest, colour, label, markersize=7)
    ax.set_xlim(left=-0.5)
    ax.set_xlabel("gamma (number of data chunks)")
    ax.set_ylabel(f"MI ({units})")
    ax.legend(title="corrected MI (gamma = 0)")
    return fig
