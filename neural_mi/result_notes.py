"""What :class:`~neural_mi.results.Results` says besides its numbers: tasks left out or at
the estimator's ceiling (#15), and the headline number's permutation test (#18)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr


def format_value(value: float | None) -> str:
    """A number with three decimals, or ``n/a``."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


# --------------------------------------------------------------------------------------
# Failed tasks and the estimator's ceiling (#15)
# --------------------------------------------------------------------------------------


def reliability_details(headline: dict[str, Any], tasks: xr.Dataset) -> dict[str, Any]:
    """``left_out`` (``{task key: reason}``) and ``at_ceiling`` (keys of the tasks whose
    held-out estimate is at the estimator's ceiling) for
    :attr:`~neural_mi.results.Results.details`."""
    at_ceiling = (
        [str(k) for k in tasks["key"].values[tasks["at_ceiling"].values.astype(bool)]]
        if "at_ceiling" in tasks.data_vars
        else []
    )
    return {"left_out": dict(headline.get("left_out") or {}), "at_ceiling": at_ceiling}


def notes_lines(headline: dict[str, Any], detailed: bool) -> list[str]:
    """See :meth:`~neural_mi.results.Results.notes`."""
    notes = []
    left_out = headline.get("left_out") or {}
    if headline.get("partial"):
        notes.append(f"PARTIAL: {len(left_out)} of {headline['n_tasks']} planned task(s) left out")
        if detailed:
            notes += [f"  {key}: {reason}" for key, reason in left_out.items()]
    if headline.get("n_at_ceiling"):
        notes.append(
            f"AT CEILING: {headline['n_at_ceiling']} task(s) within reach of the estimator's "
            "ceiling log K: a lower bound, the true MI may be higher; more samples (a larger "
            "held-out set) raise the ceiling"
        )
    return notes


# --------------------------------------------------------------------------------------
# Permutation tests (#18)
# --------------------------------------------------------------------------------------


def significance_details(headline: dict[str, Any], summary: xr.Dataset) -> dict[str, Any]:
    """``p_value``, ``is_significant`` and, with a permutation test,
    ``null_distribution`` (the headline number's null values) for
    :attr:`~neural_mi.results.Results.details`."""
    details: dict[str, Any] = {
        "p_value": headline.get("p_value"),
        "is_significant": headline.get("is_significant"),
    }
    if "null_values" in summary.data_vars:
        from .aggregate import first_combination

        values = first_combination(summary["null_values"], keep=("permutation",)).values
        details["null_distribution"] = np.asarray(values, dtype=float)
    return details


def significance_lines(headline: dict[str, Any], summary: xr.Dataset, units: str) -> list[str]:
    """Lines of :meth:`~neural_mi.results.Results.summary` on the headline number's
    permutation test."""
    if headline.get("p_value") is None and "p_value" not in summary.data_vars:
        return []
    fmt = format_value
    verdict = "significant" if headline.get("is_significant") else "not significant"
    correction = " (family-wise, max-statistic)" if headline.get("correction") == "max" else ""
    lines = [
        f"  permutation test: p = {fmt(headline.get('p_value'))}{correction}, {verdict} at "
        f"alpha = {headline.get('alpha')}; null ({headline.get('n_permutations')} "
        f"permutations, {headline.get('null_method') or 'n/a'}): mean "
        f"{fmt(headline.get('null_mean'))}, {1 - float(headline.get('alpha') or 0):.0%} "
        f"quantile {fmt(headline.get('null_upper'))} {units}",
        f"  the null breaks {summary.attrs.get('null_breaks', 'the pairing of X and Y')}",
    ]
    failed = np.atleast_1d(summary.attrs.get("failed_permutations", []))
    if len(failed):
        lines.append(
            f"  {len(failed)} permutation(s) had a task whose training failed; each counts as "
            f"exceeding the observed value: {failed.tolist()}"
        )
    return lines
