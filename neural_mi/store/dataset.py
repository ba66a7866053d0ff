"""Task results -> one ``xarray.Dataset`` with a row per task; reading it from task stores.

:func:`results_to_dataset` turns results into a dataset with one row per task (dimension
``task``), ordered by key so that the dataset does not depend on completion order.
:func:`read_results` reads verified task stores into it, and never drops a store silently:
a missing or bad planned store is an error, unless a partial dataset is asked for, which
then says so in its attributes.  xarray is imported only where a dataset is built, so that
train jobs, which only write stores, never pay for it.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import IncompleteResultsError, InsufficientDataError, ParameterError
from ..tasks import TaskResult
from ._json import jsonable
from .task_store import SCALARS
from .verify import check_and_read

if TYPE_CHECKING:  # xarray is imported where datasets are built: train jobs never pay it
    import xarray as xr

logger = logging.getLogger(__name__)

#: ``TaskSpec`` fields that become coordinates on the ``task`` dimension.
TASK_COORDS: tuple[str, ...] = (
    "combo",
    "gamma",
    "subset",
    "lag",
    "split",
    "repeat",
    "seed",
    "role",
    "permutation",
)

#: Training diagnostics (:class:`~neural_mi.train.TrainOutcome`) that become task
#: variables: name, dtype, and the value of a result that lacks it.
DIAGNOSTICS: tuple[tuple[str, type, Any], ...] = (
    ("restarts", np.int64, 0),
    ("at_ceiling", bool, False),
)


def swept_coords(ds: xr.Dataset) -> list[str]:
    """Names of the swept-parameter coordinates (from ``spec.coords``) of a task dataset.

    These are the coordinates on the ``task`` dimension other than ``key`` and
    :data:`TASK_COORDS`, in dataset order.
    """
    reserved = {"key", *TASK_COORDS}
    return [
        str(name)
        for name, coord in ds.coords.items()
        if coord.dims == ("task",) and name not in reserved
    ]


def results_to_dataset(results: Sequence[TaskResult], mode: str | None = None) -> xr.Dataset:
    """Collect task results into one dataset with a row per task.

    Parameters
    ----------
    results
        Results of one analysis, in any order.
    mode
        Analysis mode; by default the ``mode`` found in every ``spec.params``.

    Returns
    -------
    xarray.Dataset
        Dimension ``task`` (ordered by key) with coordinate ``key``; data variables
        ``train_mi``, ``test_mi`` (nats), ``best_epoch``, ``n_epochs_run``, ``n_train``,
        ``n_test``, ``wall_time`` (seconds), ``status`` (``'ok'`` or ``'failed'``: a
        failed task's MI is NaN and aggregation leaves it out), ``message`` (why it
        failed, or what was recovered from), ``restarts`` (trainings restarted after a
        divergence), ``at_ceiling`` (the held-out estimate is at the estimator's ceiling,
        see :func:`neural_mi.train.train_critics`), with null tasks ``null_method`` and
        ``null_shift`` (how each null task's data was moved, see
        :mod:`neural_mi.engine.null`; ``""`` and NaN for the others), one float variable
        per extras key (NaN
        where a task lacks it) and ``history_<name>`` of dims ``(task, epoch)``, NaN-padded
        after each task's last epoch.  Coordinates on ``task``: :data:`TASK_COORDS` and
        one per key of any ``spec.coords`` (numbers missing in a task are NaN, strings
        missing are ``""``; lists and dicts are stored as JSON strings).  Attributes:
        ``mode``, ``units`` (``'nats'``), ``run_seed`` (when the specs carry one),
        ``input_transform`` (the tasks' input transform) and ``versions`` (JSON string;
        a package seen at several versions maps to the sorted list of them).

    Raises
    ------
    InsufficientDataError
        If ``results`` is empty.
    ParameterError
        On duplicate keys, on results from several modes or run seeds, on an unknown
        ``mode``, or when a ``spec.coords`` key or an extras key clashes with a field of
        the dataset.
    """
    if not results:
        raise InsufficientDataError("No task results to collect: 'results' is empty.")
    results = sorted(results, key=lambda r: r.spec.key)
    keys = [r.spec.key for r in results]
    duplicates = sorted(k for k, n in Counter(keys).items() if n > 1)
    if duplicates:
        raise ParameterError(f"Several results share the task key(s) {duplicates}.")

    data_vars: dict[str, tuple] = {}
    for name, kind in SCALARS.items():
        data_vars[name] = (
            "task",
            np.array([getattr(r, name) for r in results], dtype=np.int64 if kind is int else float),
        )

    data_vars["status"] = ("task", np.array([str(r.status) for r in results], dtype=str))
    data_vars["message"] = ("task", np.array([str(r.message) for r in results], dtype=str))
    for name, kind, default in DIAGNOSTICS:
        data_vars[name] = (
            "task",
            np.array([r.diagnostics.get(name, default) for r in results], dtype=kind),
        )

    if any("null" in r.diagnostics for r in results):
        moves = [r.diagnostics.get("null", {}) for r in results]
        data_vars["null_method"] = ("task", np.array([m.get("method", "") for m in moves], str))
        data_vars["null_shift"] = (
            "task",
            np.array([m.get("shift", np.nan) for m in moves], dtype=float),
        )

    for name in sorted({k for r in results for k in r.extras}):
        if name in data_vars:
            raise ParameterError(f"extras key {name!r} clashes with the result field {name!r}.")
        data_vars[name] = (
            "task",
            np.array([r.extras.get(name, np.nan) for r in results], dtype=float),
        )

    n_epochs = _add_histories(data_vars, results)
    coords = _coords(results, keys, data_vars, n_epochs)
    attrs = _attrs(results, mode)
    import xarray as xr

    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _add_histories(data_vars: dict[str, tuple], results: Sequence[TaskResult]) -> int | None:
    """Add each training curve as ``history_<name>`` (task x epoch, NaN-padded); return
    the number of epochs (None without curves)."""
    history_names = sorted({k for r in results for k in r.history})
    n_epochs = max((len(curve) for r in results for curve in r.history.values()), default=0)
    for name in history_names:
        padded = np.full((len(results), n_epochs), np.nan)
        for row, result in enumerate(results):
            curve = np.asarray(result.history.get(name, ()), dtype=float)
            padded[row, : curve.size] = curve
        data_vars[f"history_{name}"] = (("task", "epoch"), padded)
    return n_epochs if history_names else None


def _coords(
    results: Sequence[TaskResult],
    keys: list[str],
    data_vars: dict[str, tuple],
    n_epochs: int | None,
) -> dict[str, Any]:
    """The task coordinates: key, the TaskSpec fields and each spec's sweep coordinates."""
    coords: dict[str, Any] = {"key": ("task", np.array(keys, dtype=str))}
    for name in TASK_COORDS:
        coords[name] = ("task", _coord_array([getattr(r.spec, name) for r in results]))
    for name in sorted({k for r in results for k in r.spec.coords}):
        if name in coords:
            _check_reserved_coord(name, results)
            continue
        if name in data_vars:
            raise ParameterError(
                f"spec.coords key {name!r} clashes with the data variable {name!r}."
            )
        coords[name] = ("task", _coord_array([r.spec.coords.get(name) for r in results]))
    if n_epochs is not None:
        coords["epoch"] = ("epoch", np.arange(n_epochs))
    return coords


def _attrs(results: Sequence[TaskResult], mode: str | None) -> dict[str, Any]:
    """The dataset's attributes: mode, units, run seed, input transforms, versions."""
    attrs: dict[str, Any] = {"mode": _resolve_mode(results, mode), "units": "nats"}
    run_seeds = {seed for r in results if (seed := r.spec.params.get("run_seed")) is not None}
    if len(run_seeds) > 1:
        raise ParameterError(
            f"The results come from runs with different run_seed values {sorted(run_seeds)}; "
            "collect one run at a time."
        )
    if run_seeds:
        attrs["run_seed"] = int(run_seeds.pop())
    attrs["input_transform"] = ", ".join(
        sorted({str(r.spec.params.get("input_transform", "none")) for r in results})
    )
    attrs["versions"] = _versions_json(results)
    return attrs


def _resolve_mode(results: Sequence[TaskResult], mode: str | None) -> str:
    if mode is None:
        modes = {r.spec.params.get("mode") for r in results}
        found = next(iter(modes)) if len(modes) == 1 else None
        if not isinstance(found, str):
            raise ParameterError(
                f"Cannot tell the analysis mode: spec.params['mode'] is {sorted(map(str, modes))} "
                "across the results. Pass mode= explicitly, and collect one analysis at a time."
            )
        mode = found
    from ..modes import get_mode

    get_mode(mode)  # an unknown mode is refused, naming the registered ones
    return mode


def _check_reserved_coord(name: str, results: Sequence[TaskResult]) -> None:
    for result in results:
        if name in result.spec.coords and result.spec.coords[name] != getattr(
            result.spec, name, None
        ):
            raise ParameterError(
                f"spec.coords[{name!r}] = {result.spec.coords[name]!r} of task "
                f"{result.spec.key!r} differs from its TaskSpec field {name!r} = "
                f"{getattr(result.spec, name, None)!r}; '{name}' is a reserved coordinate."
            )


def _coord_array(values: list[Any]) -> np.ndarray:
    """One coordinate column: int64, float64 (NaN for missing), bool, or str (``""``)."""
    present = [v for v in values if v is not None]
    if (
        present
        and len(present) == len(values)
        and all(isinstance(v, (bool, np.bool_)) for v in values)
    ):
        return np.array(values, dtype=bool)
    if all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        for v in present
    ):
        if len(present) == len(values) and all(isinstance(v, (int, np.integer)) for v in values):
            return np.array(values, dtype=np.int64)
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.array(
        [
            ""
            if v is None
            else v
            if isinstance(v, str)
            else json.dumps(jsonable(v), sort_keys=True)
            for v in values
        ],
        dtype=str,
    )


def _versions_json(results: Sequence[TaskResult]) -> str:
    seen: dict[str, set[str]] = {}
    for result in results:
        for package, version in result.versions.items():
            seen.setdefault(package, set()).add(str(version))
    versions: dict[str, str | list[str]] = {}
    for package, found in sorted(seen.items()):
        if len(found) > 1:
            logger.warning(
                "Results were produced with several %s versions: %s",
                package,
                ", ".join(sorted(found)),
            )
        versions[package] = found.pop() if len(found) == 1 else sorted(found)
    return json.dumps(versions, sort_keys=True)


def read_results(
    directory_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    expected_keys: Iterable[str] | None = None,
    *,
    allow_partial: bool = False,
) -> xr.Dataset:
    """Read task stores, verified, and collect them with :func:`results_to_dataset`.

    No store is dropped silently: every store read must pass verification
    (:func:`neural_mi.store.task_store.read_task`), and with ``expected_keys`` every planned
    task must have exactly one store.

    Parameters
    ----------
    directory_or_paths
        A folder of ``<key>.zarr`` stores, or an iterable of store paths (e.g. those of
        every train pack of one analysis).
    expected_keys
        Keys of the planned tasks: exactly these are read; stores of other keys are
        ignored, with an INFO line naming them.  ``None``: every store given is read.
    allow_partial
        Collect the stores that verify even if some planned ones are missing or bad (a
        WARNING lists them).  The dataset then has the attributes ``partial = True`` and
        ``missing_keys`` (sorted list of the tasks left out), so that every later layer
        can say that it is partial; a complete dataset has neither attribute.

    Returns
    -------
    xarray.Dataset
        See :func:`results_to_dataset`.

    Raises
    ------
    IncompleteResultsError
        If a planned (or, without ``expected_keys``, any given) store is missing or fails
        verification and ``allow_partial`` is false, or if no store verifies; the message
        lists every such store with its reason.
    InsufficientDataError
        If there are no stores (and no planned tasks) at all.

    Notes
    -----
    The stores are read concurrently on zarr's event loop.
    """
    where = (
        str(directory_or_paths)
        if isinstance(directory_or_paths, (str, os.PathLike))
        else "the given task stores"
    )
    checks, results = check_and_read(directory_or_paths, expected_keys)
    strays = [check.where for check in checks if check.status == "stray"]
    if strays:
        logger.info("Ignoring %d task store(s) of unplanned tasks: %s", len(strays), strays)
    problems = [check for check in checks if not check.ok]
    if problems and (not allow_partial or not results):
        raise IncompleteResultsError(
            f"Cannot collect the results in {where}",
            [(check.where, check.reason) for check in problems],
        )
    if not results:
        raise InsufficientDataError(f"No task store found in {where}.")
    ds = results_to_dataset(results)
    if problems:
        missing = sorted({check.key for check in problems})
        logger.warning(
            "Partial results from %s: %d task(s) left out: %s",
            where,
            len(missing),
            "; ".join(f"{check.where}: {check.reason}" for check in problems),
        )
        ds.attrs["partial"] = True
        ds.attrs["missing_keys"] = missing
    return ds
