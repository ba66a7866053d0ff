"""The summary of a difference of two MI fits (:mod:`neural_mi.modes.difference`): the
paired differences per combination and term, their estimate (mean or rigorous fit), the
headline of one term, and the figure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataShapeError
from ..fit import FIT_DEFAULTS, fit_rigorous, plain_gammas

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def aggregate_differences(
    ds: xr.Dataset,
    mi_var: str,
    terms: Mapping[str, tuple[str, str]],
    *,
    term_dim: str = "term",
    rigorous: bool = False,
    fit: Mapping[str, Any] | None = None,
    mode: str = "",
) -> xr.Dataset:
    """Per combination and term: the full minus the reduced MI, paired by chunk and repeat.

    Parameters
    ----------
    ds
        Task dataset with coordinates ``combo``, ``role``, ``gamma``, ``subset`` and
        ``repeat`` (MI in nats).
    mi_var
        Variable holding each task's MI.
    terms
        ``{term: (full role, reduced role)}``.
    term_dim
        Name of the dimension over terms.
    rigorous
        Extrapolate the per-chunk differences with :func:`~neural_mi.fit.fit_rigorous`
        (else: mean and standard error of the differences over repeats).
    fit
        Settings of the fit (defaults: :data:`neural_mi.fit.FIT_DEFAULTS`).
    mode
        Recorded in the attributes.

    Returns
    -------
    xarray.Dataset
        Dims ``combo``, ``term_dim`` and ``gamma``.  Per combo and term: ``value`` (the
        estimate), ``value_error`` (the confidence half-width when rigorous, else the
        standard error over repeats), ``mi_full`` and ``mi_reduced`` (mean MI of each fit
        at the smallest gamma, nats); when rigorous also ``slope``, ``is_reliable``,
        ``n_gammas_used`` and ``delta``.  Per combo, term and gamma: ``mi_mean``,
        ``mi_std`` (of the differences, nats), ``n`` and, when rigorous, ``gamma_used``.

    Raises
    ------
    DataShapeError
        When a task of one role has no partner of the other role (same combination,
        gamma, subset and repeat), naming the term and the role.
    """
    import pandas as pd

    from ..aggregate import mi_variable, str_dims

    index = ["combo", "gamma", "subset", "repeat"]
    mi = mi_variable(ds, mi_var, ("role", *index))
    table = pd.DataFrame({name: ds[name].values for name in ("role", *index)})
    table["mi"] = mi.values
    by_role = {str(role): rows.set_index(index)["mi"] for role, rows in table.groupby("role")}
    settings = {**FIT_DEFAULTS, **(fit or {})}
    combos = sorted(table["combo"].unique().tolist())
    gammas = sorted(table["gamma"].unique().tolist())
    names = list(terms)
    shape, per_gamma = (len(combos), len(names)), (len(combos), len(names), len(gammas))
    out = _outputs(shape, per_gamma, rigorous)
    for t, (term, roles) in enumerate(terms.items()):
        full, reduced = _paired(by_role, term, roles)
        difference = full - reduced
        for c, combo in enumerate(combos):
            if combo not in difference.index.get_level_values("combo"):
                continue
            d = difference.xs(combo, level="combo")
            _fill(out, (c, t), full, reduced, d, combo, gammas)
            if rigorous:
                _fit(out, (c, t), d, gammas, settings)
    summary = _dataset(out, combos, names, gammas, term_dim, ds)
    summary.attrs = {
        "mode": mode,
        "units": "nats",
        "mi_var": mi_var,
        "rigorous": int(rigorous),
        **(settings if rigorous else {}),
    }
    return str_dims(summary)


def _dataset(
    out: dict[str, np.ndarray],
    combos: list[Any],
    names: list[str],
    gammas: list[Any],
    term_dim: str,
    ds: xr.Dataset,
) -> xr.Dataset:
    """The summary's arrays as a dataset with the combinations' coordinates."""
    import xarray as xr

    from ..aggregate import nats, with_combo_coords

    dims2, dims3 = ("combo", term_dim), ("combo", term_dim, "gamma")
    mi_valued = {"value", "value_error", "mi_full", "mi_reduced", "mi_mean", "mi_std", "slope"}
    variables = {}
    for name, values in out.items():
        array = xr.DataArray(values, dims=dims3 if values.ndim == 3 else dims2)
        variables[name] = nats(array) if name in mi_valued else array
    summary = xr.Dataset(
        variables,
        coords={"combo": np.array(combos, dtype=str), term_dim: names, "gamma": gammas},
    )
    return with_combo_coords(summary, ds)


def _outputs(
    shape: tuple[int, int], per_gamma: tuple[int, int, int], rigorous: bool
) -> dict[str, np.ndarray]:
    """The summary's arrays before any term is filled in (see
    :func:`aggregate_differences`)."""
    out: dict[str, np.ndarray] = {
        name: np.full(shape, np.nan) for name in ("value", "value_error", "mi_full", "mi_reduced")
    }
    for name in ("mi_mean", "mi_std"):
        out[name] = np.full(per_gamma, np.nan)
    out["n"] = np.zeros(per_gamma, dtype=np.int64)
    if rigorous:
        for name in ("slope", "delta"):
            out[name] = np.full(shape, np.nan)
        out["is_reliable"] = np.zeros(shape, dtype=bool)
        out["n_gammas_used"] = np.zeros(shape, dtype=np.int64)
        out["gamma_used"] = np.zeros(per_gamma, dtype=bool)
    return out


def _fill(
    out: dict[str, np.ndarray],
    cell: tuple[int, int],
    full: Any,
    reduced: Any,
    d: Any,
    combo: str,
    gammas: list[Any],
) -> None:
    """One combination and term: per-gamma statistics of the paired differences ``d``, the
    mean MI of each fit at the smallest gamma, and the (not rigorous) estimate."""
    c, t = cell
    stats = d.groupby(level="gamma").agg(["mean", "std", "count"])
    for g, gamma in enumerate(gammas):
        if gamma in stats.index:
            out["mi_mean"][c, t, g], out["mi_std"][c, t, g] = stats.loc[gamma, ["mean", "std"]]
            out["n"][c, t, g] = stats.loc[gamma, "count"]
    smallest = min(d.index.get_level_values("gamma"))
    out["mi_full"][c, t] = full.xs(combo, level="combo").xs(smallest, level="gamma").mean()
    out["mi_reduced"][c, t] = reduced.xs(combo, level="combo").xs(smallest, level="gamma").mean()
    values = d.to_numpy(dtype=float)
    out["value"][c, t] = float(np.mean(values))
    out["value_error"][c, t] = (
        float(np.std(values, ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    )


def _fit(
    out: dict[str, np.ndarray],
    cell: tuple[int, int],
    d: Any,
    gammas: list[Any],
    settings: Mapping[str, Any],
) -> None:
    """One combination and term of a rigorous analysis: the paired differences ``d``
    extrapolated to infinite data (:func:`~neural_mi.fit.fit_rigorous`)."""
    c, t = cell
    values = d.to_numpy(dtype=float)
    result = fit_rigorous(d.index.get_level_values("gamma"), values, **settings)
    out["value"][c, t], out["value_error"][c, t] = result.mi_corrected, result.mi_error
    out["slope"][c, t], out["delta"][c, t] = result.slope, result.delta
    out["is_reliable"][c, t] = result.is_reliable
    out["n_gammas_used"][c, t] = len(result.gammas_used)
    used = set(result.gammas_used)
    out["gamma_used"][c, t] = [gamma in used for gamma in plain_gammas(np.array(gammas))]


def _paired(by_role: Mapping[str, Any], term: str, roles: tuple[str, str]) -> tuple[Any, Any]:
    """The MI series of a term's full and reduced roles, refused unless they pair up."""
    missing = [role for role in roles if role not in by_role]
    if missing:
        raise DataShapeError(
            f"The task dataset has no task of role(s) {missing}, needed for {term!r} "
            f"(roles found: {sorted(by_role)})."
        )
    full, reduced = by_role[roles[0]], by_role[roles[1]]
    unpaired = full.index.symmetric_difference(reduced.index)
    if len(unpaired):
        raise DataShapeError(
            f"{term!r}: {len(unpaired)} task(s) of role {roles[0]!r} or {roles[1]!r} have no "
            f"partner of the other role (combo, gamma, subset, repeat: {list(unpaired)[:3]}"
            f"{'...' if len(unpaired) > 3 else ''}); collect every task of the analysis."
        )
    return full.sort_index(), reduced.sort_index()


def first_term_headline(summary: xr.Dataset, term_dim: str, term: str) -> dict[str, Any]:
    """``mi_estimate``, ``mi_error``, ``is_reliable`` (None unless rigorous) and, when
    rigorous, ``slope`` and ``gammas_used``, of one term at the first combination."""
    from ..aggregate import first_combination, plain_value

    row = first_combination(summary, keep=(term_dim, "gamma")).sel({term_dim: term})
    head: dict[str, Any] = {
        "mi_estimate": plain_value(row["value"]),
        "mi_error": plain_value(row["value_error"]),
        "is_reliable": plain_value(row["is_reliable"]) if "is_reliable" in row else None,
        "mi_full": plain_value(row["mi_full"]),
        "mi_reduced": plain_value(row["mi_reduced"]),
    }
    if "gamma_used" in row:
        used = row["gamma_used"]
        head["slope"] = plain_value(row["slope"])
        head["gammas_used"] = list(plain_gammas(used["gamma"].values[used.values]))
    return head


def plot_differences(
    summary: xr.Dataset,
    term_dim: str,
    labels: Mapping[str, str],
    *,
    ax: Axes | None = None,
) -> Figure:
    """The terms of a difference summary, first combination.

    Rigorous: per term, the per-gamma mean ± std of the paired differences, the linear fit
    extended to gamma = 0 (dashed) and the corrected value with its interval (square).
    Otherwise: per term, bars of the full MI, the reduced MI and their difference (with
    its standard error).

    Parameters
    ----------
    summary
        Output of :func:`aggregate_differences` (renamed by its mode or not), in output
        units.
    term_dim
        The dimension over terms.
    labels
        ``{term: label}`` shown in the legend or under the bars.
    ax
        Axes to draw into; a new figure otherwise.
    """
    from ..aggregate import first_combination
    from ..plot import figure_and_axes

    units = summary.attrs.get("units", "nats")
    first = first_combination(summary, keep=(term_dim, "gamma"))
    fig, ax = figure_and_axes(ax)
    terms = [str(t) for t in first[term_dim].values]
    if "gamma_used" in first:
        _plot_fits(ax, first, terms, term_dim, labels, units)
    else:
        _plot_bars(ax, first, terms, term_dim, labels)
    ax.set_ylabel(f"MI ({units})")
    return fig


def _plot_fits(
    ax: Axes,
    first: xr.Dataset,
    terms: list[str],
    term_dim: str,
    labels: Mapping[str, str],
    units: str,
) -> None:
    """Rigorous: per term, the per-gamma differences, the fit and the corrected value."""
    from ..plot import color, draw_gamma_fit

    for index, term in enumerate(terms):
        row = first.sel({term_dim: term})
        value, error = float(row["value"]), float(row["value_error"])
        largest = float(row["gamma"][row["gamma_used"]].max()) if math.isfinite(value) else 0.0
        note = "" if bool(row["is_reliable"]) else " (unreliable)"
        label = f"{labels.get(term, term)}: {value:.3g} ± {error:.2g} {units}{note}"
        draw_gamma_fit(ax, row, value, error, largest, color(index), label)
    ax.set_xlim(left=-0.5)
    ax.set_xlabel("gamma (number of data chunks)")
    ax.legend(title="corrected (gamma = 0)")


def _plot_bars(
    ax: Axes, first: xr.Dataset, terms: list[str], term_dim: str, labels: Mapping[str, str]
) -> None:
    """Per term, bars of the full MI, the reduced MI and their difference."""
    from ..plot import color

    width = 0.27
    positions = np.arange(len(terms))
    for offset, (name, what) in enumerate(
        (("mi_full", "full MI"), ("mi_reduced", "reduced MI"), ("value", "difference"))
    ):
        values = [float(first.sel({term_dim: t})[name]) for t in terms]
        errors = (
            [float(first.sel({term_dim: t})["value_error"]) for t in terms]
            if name == "value"
            else None
        )
        ax.bar(
            positions + (offset - 1) * width,
            values,
            width,
            yerr=None if errors is None else np.nan_to_num(errors),
            capsize=3,
            color=color(offset),
            label=what,
        )
    ax.set_xticks(positions, labels=[labels.get(t, t) for t in terms])
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.legend()
