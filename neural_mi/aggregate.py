"""From a task dataset (:func:`neural_mi.store.results_to_dataset`) to a summary and headline.

:func:`summarize` asks the analysis' mode (:mod:`neural_mi.modes`) for its summary of the
task dataset (MI in nats), converts every MI-valued variable to the requested output units
and returns the summary with a JSON-serialisable headline.  The helpers below are the
building blocks modes share: per-combination statistics, the swept-parameter coordinates,
the first combination, plain scalars.  This module is torch-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .errors import DataShapeError, FailedTasksError, ParameterError
from .modes import ModeOptions, get_mode
from .params import OUTPUT_UNITS, UNIT_FACTORS, check_choice
from .store import swept_coords

__all__ = [
    "first_combination",
    "mi_variable",
    "nats",
    "per_combination",
    "plain_value",
    "str_dims",
    "summarize",
    "summary_stats",
    "usable_tasks",
    "with_combo_coords",
]


def mi_variable(ds: xr.Dataset, mi_var: str, needed: Sequence[str]) -> xr.DataArray:
    """The per-task MI variable of a task dataset, after checking its coordinates."""
    if mi_var not in ds.data_vars:
        raise ParameterError(
            f"mi_var {mi_var!r} is not a variable of the task dataset; "
            f"choose one of {sorted(map(str, ds.data_vars))}."
        )
    missing = [name for name in needed if name not in ds.coords]
    if missing:
        raise DataShapeError(
            f"The task dataset lacks the coordinate(s) {missing} needed for "
            "this summary; build it with neural_mi.store.results_to_dataset."
        )
    return ds[mi_var]


def nats(da: xr.DataArray) -> xr.DataArray:
    """Mark an MI-valued variable so that :func:`summarize` converts it."""
    return da.assign_attrs(units="nats")


def str_dims(out: xr.Dataset) -> xr.Dataset:
    """Cast object-dtype (string) index coordinates left by groupby to numpy ``str``."""
    return out.assign_coords(
        {
            name: out[name].astype(str)
            for name in out.dims
            if name in out.coords and out[name].dtype == object
        }
    )


def with_combo_coords(out: xr.Dataset, ds: xr.Dataset) -> xr.Dataset:
    """Attach the swept-parameter coordinates and order combos by their values.

    Combination ids are hashes; ordering by the swept values puts the rows of a sweep in
    the order a reader expects (and makes "the first combination" mean the smallest values).
    """
    coords = per_combo_coords(ds)
    out = out.assign_coords(coords)
    return out.sortby(list(coords.values())) if coords else out


def per_combo_coords(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """Swept-parameter coordinates of a task dataset, one value per combo."""
    names = swept_coords(ds)
    if not names:
        return {}
    per_combo = ds.reset_coords(names)[names].groupby("combo").first()
    return {name: per_combo[name] for name in names}


def summary_stats(grouped: Any) -> xr.Dataset:
    """``mi_mean``, ``mi_std`` (sample std, nats) and ``n`` of grouped MI values."""
    return xr.Dataset(
        {
            "mi_mean": nats(grouped.mean()),
            "mi_std": nats(grouped.std(ddof=1)),
            "n": grouped.count(),
        }
    )


def per_combination(ds: xr.Dataset, mi_var: str, mode: str) -> xr.Dataset:
    """Mean, sample std and count of MI over the tasks of each parameter combination.

    Returns
    -------
    xarray.Dataset
        Dim ``combo`` (swept-parameter coordinates carried over); variables ``mi_mean``,
        ``mi_std`` (nats; NaN for a single task) and ``n``.
    """
    mi = mi_variable(ds, mi_var, ("combo",))
    out = with_combo_coords(summary_stats(mi.groupby("combo")), ds)
    out.attrs = {"mode": mode, "units": "nats", "mi_var": mi_var}
    return str_dims(out)


def first_combination(summary: xr.Dataset, keep: Sequence[str] = ()) -> xr.Dataset:
    """The summary at its first combination (every dim but ``keep`` at index 0)."""
    return summary.isel({dim: 0 for dim in summary.dims if dim not in keep})


def plain_value(value: xr.DataArray | Any) -> float | int | bool | str | None:
    """A 0-d array as a JSON-friendly Python scalar (NaN becomes ``None``)."""
    item: Any = value.values.item() if hasattr(value, "values") else value
    if isinstance(item, np.generic):
        item = item.item()
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item


def convert_units(summary: xr.Dataset, output_units: str) -> xr.Dataset:
    """Every variable marked ``units='nats'`` converted to ``output_units``."""
    factor = UNIT_FACTORS[output_units]
    converted = {
        name: (var * factor).assign_attrs(var.attrs, units=output_units)
        for name, var in summary.data_vars.items()
        if var.attrs.get("units") == "nats"
    }
    return summary.assign(converted).assign_attrs(units=output_units)


def summarize(
    ds: xr.Dataset,
    mode: str,
    mi_var: str = "test_mi",
    output_units: str = "bits",
    options: ModeOptions | Mapping[str, Any] | None = None,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Summarise a task dataset for its mode, in the requested units.

    Parameters
    ----------
    ds
        Task dataset (MI in nats).
    mode
        A registered mode.
    mi_var
        Variable holding each task's MI (``test_mi`` or ``train_mi``).
    output_units
        ``'bits'`` or ``'nats'``; every MI-valued summary variable (MI, errors, std,
        slope) is converted.
    options
        The mode's arguments (e.g. the rigorous fit settings); ``None``: the defaults.

    Returns
    -------
    summary : xarray.Dataset
        The mode's summary, ``attrs['units'] == output_units``.
    headline : dict
        JSON-serialisable (NaN becomes ``None``): ``mode``, ``units``, ``mi_var``,
        ``n_tasks``, ``mi_estimate``, ``mi_error`` and ``is_reliable`` (``None`` where the
        mode has no such number), ``partial`` and ``left_out`` (``{task key: reason}``
        of the tasks the summary leaves out, see :func:`usable_tasks`), ``n_at_ceiling``
        (tasks of the summary whose estimate is at the estimator's ceiling: their true MI
        may be higher), plus the mode's own keys (e.g. ``peak_lag``).

    Raises
    ------
    FailedTasksError
        When tasks failed and the options do not set ``allow_partial``.
    """
    the_mode = get_mode(mode)
    check_choice(output_units, OUTPUT_UNITS, "output_units")
    # Without options the defaults apply; arguments only planning needs (lag_range...)
    # may then be missing, and aggregation does not read them.
    opts = the_mode.Options.model_construct() if options is None else the_mode.options(options)
    usable, left_out = usable_tasks(ds, bool(getattr(opts, "allow_partial", False)))
    summary = convert_units(the_mode.aggregate(usable, mi_var, opts), output_units)
    partial = bool(left_out)
    summary.attrs.update(partial=int(partial), left_out=json.dumps(left_out))
    headline: dict[str, Any] = {
        "mode": mode,
        "units": output_units,
        "mi_var": mi_var,
        "n_tasks": int(ds.sizes["task"]),
        "mi_estimate": None,
        "mi_error": None,
        "is_reliable": None,
        "partial": partial,
        "left_out": left_out,
        "n_at_ceiling": _n_at_ceiling(usable),
    }
    headline.update(the_mode.headline(summary, opts))
    return summary, headline


def usable_tasks(ds: xr.Dataset, allow_partial: bool = False) -> tuple[xr.Dataset, dict[str, str]]:
    """The tasks of a dataset that gave a number, and the tasks left out with why.

    A task is left out when its training failed (``status`` ``'failed'``: its MI is NaN).
    A dataset read with :func:`neural_mi.store.read_results` and ``allow_partial`` lacks
    the tasks whose stores were missing or bad (``attrs['missing_keys']``); they were
    opted into when it was read, and are named here too.

    Parameters
    ----------
    ds
        Task dataset.
    allow_partial
        Return the usable tasks when some failed; otherwise that is an error.

    Returns
    -------
    usable : xarray.Dataset
        ``ds`` without the failed tasks.
    left_out : dict
        ``{task key: reason}``, in key order (empty when the dataset is complete).

    Raises
    ------
    FailedTasksError
        When tasks failed and ``allow_partial`` is false (naming each task, why, and
        the remedies), or when no task gave a number.
    """
    n_tasks = ds.sizes["task"]
    status = ds["status"].values if "status" in ds.data_vars else np.full(n_tasks, "ok")
    messages = ds["message"].values if "message" in ds.data_vars else np.full(n_tasks, "")
    failed = status != "ok"
    reasons = {
        str(key): f"training failed: {message}" if message else "training failed"
        for key, message in zip(ds["key"].values[failed], messages[failed])
    }
    if reasons and not allow_partial:
        raise FailedTasksError(
            "The analysis is refused, so that its summary does not silently rest on fewer "
            "tasks than planned. Lower learning_rate, or use input_transform='rank_gauss' "
            "for inputs of large or uneven scale; or pass allow_partial=True (workflow: "
            "fit: {allow_partial: true}) to summarise the other tasks, labelled partial",
            reasons,
        )
    if failed.all():
        raise FailedTasksError("No task of the analysis gave a number", reasons)
    missing = np.atleast_1d(ds.attrs.get("missing_keys", []))
    reasons.update({str(key): "task store missing or bad" for key in missing})
    usable = ds.isel(task=np.flatnonzero(~failed)) if failed.any() else ds
    return usable, dict(sorted(reasons.items()))


def _n_at_ceiling(ds: xr.Dataset) -> int:
    """How many tasks of the dataset have their held-out estimate at the estimator's
    ceiling (their true MI may be higher)."""
    return int(ds["at_ceiling"].values.sum()) if "at_ceiling" in ds.data_vars else 0
