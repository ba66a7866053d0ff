"""Permutation tests: each analysis' numbers against their null distribution.

An analysis planned with ``n_permutations`` holds, besides its observed tasks, the same
tasks trained on each permutation's data, whose pairing is broken
(:mod:`neural_mi.engine.null`).  :func:`add_significance` aggregates every permutation's
tasks with the mode's own :meth:`~neural_mi.modes.base.Mode.aggregate`, exactly as the
observed tasks, so that each number the mode tests
(:meth:`~neural_mi.modes.base.Mode.test_statistics`: the MI, the MI per lag, the
bias-corrected MI, a conditional MI or transfer entropy, an MI matrix) gets a null
distribution of the same number computed the same way, and from it:

- ``null_mean``, ``null_std`` and ``null_upper`` (the ``1 - alpha`` quantile: the chance
  level a figure draws) and the whole distribution ``null_values`` (dim ``permutation``);
- ``p_value = (1 + #{null >= observed}) / (1 + n)`` over the ``n`` permutations that gave
  the number (never 0: the observed data counts as one of the arrangements);
- ``p_value_fwer``, the max-statistic family-wise p-value: the observed value against the
  null distribution of the *largest* value over the statistic's family (every lag,
  combination, pair or term of it), which controls the chance of any false positive in
  the family without assuming independence;
- ``is_significant``: ``p_value <= alpha`` (``p_value_fwer`` with ``correction='max'``),
  False where the number is undefined (NaN).

The first statistic of a mode has these plain names; the others are prefixed by their
name (``mi_mean_p_value``...).  A permutation with a task that gave no number (its
training failed: on independent data a held-out estimate can fall below the -0.1 bit a
working critic is trusted to stay above) has no null value; it counts as a null value at
least as large as the observed one, so that p-values stay valid (conservative) whatever
made it fail, and it never refuses the analysis (failures of observed tasks do, unless
``allow_partial``); the summary's attributes list them.  Torch-free.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataShapeError

if TYPE_CHECKING:
    import xarray as xr

    from .modes import Mode

__all__ = [
    "SIGNIFICANCE_SUFFIXES",
    "add_significance",
    "observed_tasks",
    "permutation_datasets",
    "significance_headline",
]

#: Names of the variables added per tested statistic (prefixed ``<statistic>_`` except for
#: a mode's first statistic).
SIGNIFICANCE_SUFFIXES: tuple[str, ...] = (
    "null_values",
    "null_mean",
    "null_std",
    "null_upper",
    "p_value",
    "p_value_fwer",
    "is_significant",
)

_NULL_KEY = re.compile(r"-n(\d{4,})$")


def _permutations(ds: xr.Dataset) -> np.ndarray:
    """Each task's permutation (0 for datasets without the coordinate)."""
    if "permutation" in ds.coords:
        return np.asarray(ds["permutation"].values, dtype=np.int64)
    return np.zeros(ds.sizes["task"], dtype=np.int64)


def observed_tasks(ds: xr.Dataset) -> xr.Dataset:
    """The tasks of a task dataset that ran on the observed data (permutation 0); of the
    stores a partial read left out (``attrs['missing_keys']``), only the observed ones."""
    null = _permutations(ds) > 0
    if not null.any():
        return ds
    observed = ds.isel(task=np.flatnonzero(~null))
    if "missing_keys" in ds.attrs:
        missing = [str(k) for k in np.atleast_1d(ds.attrs["missing_keys"])]
        observed.attrs["missing_keys"] = [k for k in missing if not _NULL_KEY.search(k)]
    return observed


def permutation_datasets(
    tasks: xr.Dataset, observed: xr.Dataset
) -> tuple[dict[int, xr.Dataset], list[int]]:
    """The tasks of every permutation whose tasks all gave a number, and the others.

    Parameters
    ----------
    tasks
        The whole task dataset (failed tasks included; ``attrs['missing_keys']`` names
        the stores a partial read left out).
    observed
        Its observed tasks that gave a number (the summary's).

    Returns
    -------
    permutations : dict
        ``{k: dataset}`` of every complete permutation: its own tasks, and the observed
        tasks that no null task copies (their data does not involve what the null
        breaks, so they stand in unchanged).
    failed : list of int
        The permutations with a task that gave no number (failed, or its store missing);
        they count as exceeding every observed value (:func:`add_significance`).
    """
    permutation = _permutations(tasks)
    if not (permutation > 0).any():
        return {}, []
    keys = tasks["key"].values.astype(str)
    status = tasks["status"].values if "status" in tasks.data_vars else np.full(len(keys), "ok")
    ok = status == "ok"
    copied = {key.removesuffix(f"-n{k:04d}") for key, k in zip(keys, permutation.tolist()) if k > 0}
    failed = {int(k) for k, good in zip(permutation.tolist(), ok) if k > 0 and not good}
    for key in np.atleast_1d(tasks.attrs.get("missing_keys", [])):
        match = _NULL_KEY.search(str(key))
        if match:
            failed.add(int(match.group(1)))
    summarised = set(observed["key"].values.astype(str).tolist())
    stand_ins = np.array(
        [
            i
            for i in np.flatnonzero(permutation == 0)
            if keys[i] in summarised and keys[i] not in copied
        ],
        dtype=np.int64,
    )
    permutations = {
        k: tasks.isel(task=np.concatenate([np.flatnonzero(permutation == k), stand_ins]))
        for k in sorted(set(permutation.tolist()) - {0} - failed)
    }
    return permutations, sorted(failed)


def add_significance(
    summary: xr.Dataset,
    null_summaries: Mapping[int, xr.Dataset],
    mode: Mode,
    options: Any,
    failed: list[int] | None = None,
) -> xr.Dataset:
    """The observed summary with the permutation test of each of the mode's statistics.

    Parameters
    ----------
    summary
        The mode's summary of the observed tasks (nats).
    null_summaries
        ``{permutation: the mode's summary of its tasks}`` (nats).
    mode, options
        The analysis' mode and options (``alpha``, ``correction``).
    failed
        Permutations with a task that gave no number: each counts as a null value at
        least as large as every observed value (a failed permutation can never argue for
        significance), and is left out of the null's moments and quantiles.

    Returns
    -------
    xarray.Dataset
        ``summary`` with the variables of :data:`SIGNIFICANCE_SUFFIXES` per statistic (see
        the module docstring; MI-valued ones marked ``units='nats'``) and the attributes
        ``n_permutations`` (all, failed ones included), ``alpha``, ``correction``,
        ``null_breaks`` and ``failed_permutations``.

    Raises
    ------
    DataShapeError
        When a permutation's summary lacks a statistic the observed one has.
    """
    import xarray as xr

    observed = mode.test_statistics(summary, options)
    nulls = [mode.test_statistics(null_summaries[k], options) for k in sorted(null_summaries)]
    out = summary.copy()
    for index, (name, value) in enumerate(observed.items()):
        prefix = "" if index == 0 else f"{name}_"
        try:
            draws = [null[name].reindex_like(value) for null in nulls]
        except KeyError:
            raise DataShapeError(
                f"A permutation's summary lacks the statistic {name!r}; aggregate every "
                "permutation with the options of the observed tasks."
            ) from None
        if draws:
            stack = xr.concat(draws, dim="permutation", coords="minimal", compat="override")
            stack = stack.assign_coords(permutation=sorted(null_summaries))
        else:  # every permutation failed
            stack = value.expand_dims(permutation=np.zeros(0, dtype=np.int64)).astype(float)
        for suffix, variable in _test(value, stack, options, len(failed or [])).items():
            out[f"{prefix}{suffix}"] = variable
    out.attrs.update(
        n_permutations=len(null_summaries) + len(failed or []),
        alpha=float(options.alpha),
        correction=str(options.correction),
        null_breaks=mode.null_breaks,
        failed_permutations=list(failed or []),
    )
    return out


def _test(
    observed: xr.DataArray, null: xr.DataArray, options: Any, n_failed: int
) -> dict[str, xr.DataArray]:
    """The null's moments and upper quantile, the p-values and the significance of
    ``observed`` against ``null`` (dim ``permutation``) and ``n_failed`` permutations
    that count as exceeding it."""
    import xarray as xr

    mi_valued = observed.attrs.get("units") == "nats"
    observed, null = observed.copy(), null.copy()
    observed.attrs, null.attrs = {}, {}
    finite = null.notnull()
    n = finite.sum("permutation") + n_failed
    exceed = (null >= observed).sum("permutation") + n_failed
    defined = observed.notnull() & (n > 0)
    p_value = ((1 + exceed) / (1 + n)).where(defined)
    family = list(observed.dims)
    largest = null.max(dim=family, skipna=True) if family else null
    n_max = int(largest.notnull().sum()) + n_failed
    exceed_max = (largest >= observed).sum("permutation") + n_failed
    p_fwer = ((1 + exceed_max) / (1 + n_max)).where(observed.notnull() & (n_max > 0))
    tested = p_fwer if options.correction == "max" else p_value
    with warnings.catch_warnings():  # a cell without any value (a matrix' diagonal)
        warnings.simplefilter("ignore", RuntimeWarning)
        if null.sizes["permutation"]:
            upper = null.quantile(1.0 - float(options.alpha), dim="permutation", skipna=True)
            upper = upper.drop_vars("quantile")
        else:  # every permutation failed: no null value to take a quantile of
            upper = xr.full_like(observed, np.nan, dtype=float)
        moments = {
            "null_values": null,
            "null_mean": null.mean("permutation", skipna=True),
            "null_std": null.std("permutation", ddof=1, skipna=True),
            "null_upper": upper,
        }
    if mi_valued:
        moments = {name: value.assign_attrs(units="nats") for name, value in moments.items()}
    return {
        **moments,
        "p_value": p_value,
        "p_value_fwer": p_fwer,
        "is_significant": xr.where(tested.notnull(), tested <= float(options.alpha), False),
    }


def significance_headline(summary: xr.Dataset) -> dict[str, Any]:
    """The permutation test of the headline number (the first statistic at the first
    combination), JSON-friendly: ``p_value`` and ``is_significant`` (``None`` without a
    test) and, with one, ``p_value_fwer``, ``null_mean``, ``null_upper`` (output units),
    ``n_permutations``, ``failed_permutations`` (how many had a failed task), ``alpha``,
    ``correction`` and ``null_method``."""
    from .aggregate import first_combination, plain_value

    if "p_value" not in summary.data_vars:
        return {"p_value": None, "is_significant": None}
    names = ("p_value", "p_value_fwer", "is_significant", "null_mean", "null_upper")
    first = first_combination(summary[list(names)])
    head: dict[str, Any] = {name: plain_value(first[name]) for name in names}
    head["is_significant"] = bool(head["is_significant"])
    head.update(
        n_permutations=int(summary.attrs["n_permutations"]),
        failed_permutations=len(np.atleast_1d(summary.attrs.get("failed_permutations", []))),
        alpha=float(summary.attrs["alpha"]),
        correction=str(summary.attrs["correction"]),
        null_method=str(summary.attrs.get("null_method", "")),
    )
    return head
