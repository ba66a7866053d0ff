"""Quantities that are a difference of two MI fits: the shared design of ``conditional``
and ``transfer``.

Conditional MI and transfer entropy are each a *full* MI minus a *reduced* one, e.g.
``I(X;Y|Z) = I([X,Z];Y) - I(Z;Y)``.  Each fit is its own task (its ``role`` says which), so
the two run in parallel like any other tasks.  The full and reduced tasks of one chunk and
repeat have the same number of samples, hence the same gamma chunk and the same train/test
split (the split seeds do not depend on the role): their difference is paired.

- Without ``rigorous``: one task per role and repeat on the whole data; the estimate is the
  mean of the paired differences, its error their standard error (NaN for one repeat).
- With ``rigorous=True``: the tasks of every gamma chunk (as in mode ``rigorous``); the
  differences are formed per chunk and extrapolated to infinite data by
  :func:`neural_mi.fit.fit_rigorous`, with its interval.  The fit is linear in the values,
  so the extrapolated difference is the difference of the extrapolated MIs whenever both
  would keep the same gammas.

Keys are ``<combo>-<role part>-g<gamma>-s<subset>-r<repeat>`` whether or not the analysis
is rigorous, so that turning ``rigorous`` on reuses the whole-data tasks of a store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
from pydantic import field_validator

from ..errors import DataShapeError, ParameterError
from ..fit import FIT_DEFAULTS, fit_rigorous, plain_gammas
from ..params import IntAtLeastTwo, OpenFraction, PositiveInt, PositiveNumber
from .base import Mode, ModeOptions

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..plan import Combination
    from ..tasks import TaskSpec

#: Gammas of a rigorous difference when ``gamma_range`` is not given (as mode ``rigorous``).
DEFAULT_GAMMA_RANGE: tuple[int, ...] = tuple(range(1, 11))

#: The options that set the bias-correction fit (aggregation only).
FIT_SETTINGS: tuple[str, ...] = ("delta_threshold", "min_gamma_points", "confidence_level")

#: The options that only a rigorous analysis uses.
RIGOROUS_ONLY: tuple[str, ...] = ("gamma_range", *FIT_SETTINGS)


class DifferenceOptions(ModeOptions):
    """Arguments shared by the modes whose answer is a full minus a reduced MI."""

    rigorous: bool = False
    """Bias-correct the difference: train on every gamma chunk and extrapolate the
    per-chunk differences to infinite data (with a confidence interval)."""
    n_repeats: PositiveInt = 1
    """Independent trainings (own seeds and splits) per role and chunk."""
    gamma_range: list[PositiveInt] | None = None
    """With rigorous: the subsampling factors (default 1..10)."""
    delta_threshold: PositiveNumber | None = None
    """With rigorous: largest accepted curvature criterion of the fit (default 0.1)."""
    min_gamma_points: IntAtLeastTwo | None = None
    """With rigorous: fewest distinct gammas a reliable fit uses (default 5)."""
    confidence_level: OpenFraction | None = None
    """With rigorous: coverage of the interval whose half-width is the error (default 0.68)."""

    @field_validator("gamma_range")
    @classmethod
    def _distinct_sorted(cls, gammas: list[int] | None) -> list[int] | None:
        if gammas is None:
            return None
        if not gammas:
            raise ValueError("must not be empty")
        if len(set(gammas)) != len(gammas):
            raise ValueError(f"must not repeat values, got {gammas}")
        return sorted(gammas)

    def gammas(self) -> list[int]:
        """The gammas planned: ``gamma_range`` (default 1..10) when rigorous, else ``[1]``."""
        if not self.rigorous:
            return [1]
        return list(self.gamma_range or DEFAULT_GAMMA_RANGE)

    def fit_settings(self) -> dict[str, Any]:
        """The settings of :func:`~neural_mi.fit.fit_rigorous`, defaults filled in."""
        return {
            name: FIT_DEFAULTS[name] if getattr(self, name) is None else getattr(self, name)
            for name in FIT_SETTINGS
        }


#: The options class of a difference mode (its methods take an instance of it).
_Options = TypeVar("_Options", bound=DifferenceOptions)


class DifferenceMode(Mode, Generic[_Options]):
    """Base of modes whose terms are each a full MI minus a reduced MI (see the module).

    A subclass names its terms (:meth:`terms`: ``{term: (full role, reduced role)}``),
    the key part of each role (:meth:`role_parts`) and the data of each role
    (:meth:`~neural_mi.modes.base.Mode.task_data`).
    """

    Options = DifferenceOptions
    aggregation_options = FIT_SETTINGS
    sweep_grid = "optional"
    #: Name of the summary's dimension over terms (e.g. ``direction``).
    term_dim: str = "term"

    def terms(self, options: _Options) -> dict[str, tuple[str, str]]:
        """``{term: (role of the full fit, role of the reduced fit)}``."""
        raise NotImplementedError

    def role_parts(self, options: _Options) -> dict[str, str]:
        """``{role: file-name-safe key part}`` of every role of :meth:`terms`."""
        raise NotImplementedError

    def options(self, values: Mapping[str, Any] | ModeOptions | None = None) -> ModeOptions:
        """Validated options; the gamma range and fit settings are refused without
        ``rigorous=True`` (they would be ignored)."""
        options = super().options(values)
        assert isinstance(options, DifferenceOptions)
        given = [name for name in RIGOROUS_ONLY if getattr(options, name) is not None]
        if given and not options.rigorous:
            raise ParameterError(
                f"{', '.join(given)} only apply to a bias-corrected analysis; pass "
                f"rigorous=True in mode {self.name!r} (or leave them out)."
            )
        return options

    def tasks(self, combination: Combination, options: _Options) -> list[TaskSpec]:
        parts = self.role_parts(options)
        return [
            combination.task(
                f"{parts[role]}-g{g:02d}-s{s:02d}-r{r:02d}", gamma=g, subset=s, repeat=r, role=role
            )
            for role in parts
            for g in options.gammas()
            for s in range(g)
            for r in range(options.n_repeats)
        ]

    def data_key(self, spec: TaskSpec) -> tuple[Any, ...]:
        """Tasks of one role and gamma share their data (and chunk sizes)."""
        return (spec.combo, spec.role, spec.gamma)

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: _Options) -> xr.Dataset:
        return aggregate_differences(
            tasks,
            mi_var,
            self.terms(options),
            term_dim=self.term_dim,
            rigorous=options.rigorous,
            fit=options.fit_settings(),
            mode=self.name,
        )


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
    import xarray as xr

    from ..aggregate import mi_variable, nats, str_dims, with_combo_coords

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
    for t, (term, roles) in enumerate(terms.items()):
        full, reduced = _paired(by_role, term, roles)
        difference = full - reduced
        for c, combo in enumerate(combos):
            if combo not in difference.index.get_level_values("combo"):
                continue
            d = difference.xs(combo, level="combo")
            stats = d.groupby(level="gamma").agg(["mean", "std", "count"])
            for g, gamma in enumerate(gammas):
                if gamma in stats.index:
                    out["mi_mean"][c, t, g], out["mi_std"][c, t, g] = stats.loc[
                        gamma, ["mean", "std"]
                    ]
                    out["n"][c, t, g] = stats.loc[gamma, "count"]
            smallest = min(d.index.get_level_values("gamma"))
            out["mi_full"][c, t] = full.xs(combo, level="combo").xs(smallest, level="gamma").mean()
            out["mi_reduced"][c, t] = (
                reduced.xs(combo, level="combo").xs(smallest, level="gamma").mean()
            )
            values = d.to_numpy(dtype=float)
            if not rigorous:
                out["value"][c, t] = float(np.mean(values))
                out["value_error"][c, t] = (
                    float(np.std(values, ddof=1) / math.sqrt(values.size))
                    if values.size > 1
                    else math.nan
                )
                continue
            result = fit_rigorous(d.index.get_level_values("gamma"), values, **settings)
            out["value"][c, t], out["value_error"][c, t] = result.mi_corrected, result.mi_error
            out["slope"][c, t], out["delta"][c, t] = result.slope, result.delta
            out["is_reliable"][c, t] = result.is_reliable
            out["n_gammas_used"][c, t] = len(result.gammas_used)
            used = set(result.gammas_used)
            out["gamma_used"][c, t] = [gamma in used for gamma in plain_gammas(np.array(gammas))]
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
    summary = with_combo_coords(summary, ds)
    summary.attrs = {
        "mode": mode,
        "units": "nats",
        "mi_var": mi_var,
        "rigorous": int(rigorous),
        **(settings if rigorous else {}),
    }
    return str_dims(summary)


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
    from ..plot import color, figure_and_axes

    units = summary.attrs.get("units", "nats")
    first = first_combination(summary, keep=(term_dim, "gamma"))
    fig, ax = figure_and_axes(ax)
    terms = [str(t) for t in first[term_dim].values]
    if "gamma_used" in first:
        for index, term in enumerate(terms):
            row, colour = first.sel({term_dim: term}), color(index)
            measured = row["n"] > 0
            ax.errorbar(
                row["gamma"][measured],
                row["mi_mean"][measured],
                yerr=row["mi_std"][measured].fillna(0.0),
                fmt="o",
                color=colour,
            )
            value, error = float(row["value"]), float(row["value_error"])
            if not math.isfinite(value):
                continue
            largest = float(row["gamma"][row["gamma_used"]].max())
            ax.plot(
                [0.0, largest],
                [value, value + float(row["slope"]) * largest],
                linestyle="--",
                color=colour,
            )
            note = "" if bool(row["is_reliable"]) else " (unreliable)"
            ax.errorbar(
                [0.0],
                [value],
                yerr=[error if math.isfinite(error) else 0.0],
                fmt="s",
                capsize=4,
                color=colour,
                label=f"{labels.get(term, term)}: {value:.3g} ± {error:.2g} {units}{note}",
            )
        ax.set_xlim(left=-0.5)
        ax.set_xlabel("gamma (number of data chunks)")
        ax.legend(title="corrected (gamma = 0)")
    else:
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
    ax.set_ylabel(f"MI ({units})")
    return fig
