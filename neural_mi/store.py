"""Durable storage of task results and their collection into one ``xarray.Dataset``.

Every finished task is written as one small zarr (v3) group, ``<directory>/<key>.zarr``:

- group attributes: ``spec`` (the :class:`~neural_mi.tasks.TaskSpec` as a dict), the scalars
  ``train_mi``, ``test_mi`` (nats), ``best_epoch``, ``n_epochs_run``, ``n_train``, ``n_test``,
  ``wall_time`` (seconds), ``versions``, ``extras`` and, written last, ``complete: true``;
- arrays: ``history/<name>``, one per training curve.

A store is written under a hidden temporary name and renamed into place, so a reader never
sees a half-written ``<key>.zarr``; a group without ``complete: true`` (an interrupted write
by other means) is refused by :func:`read_task` and skipped by :func:`read_results`, which
reads its stores concurrently.

:func:`results_to_dataset` turns results into a dataset with one row per task (dimension
``task``), ordered by key so that the dataset does not depend on completion order.  This
module is torch-free.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
import zarr.api.asynchronous as zarr_async
from zarr.core.sync import sync

from .errors import IncompleteStoreError, InsufficientDataError, ParameterError
from .tasks import TaskResult, TaskSpec

if TYPE_CHECKING:  # xarray is imported where datasets are built: train jobs never pay it
    import xarray as xr

logger = logging.getLogger(__name__)

#: ``TaskSpec`` fields that become coordinates on the ``task`` dimension.
TASK_COORDS: tuple[str, ...] = ("combo", "gamma", "subset", "lag", "split", "repeat", "seed")

#: Scalar fields of ``TaskResult`` and their types, in dataset order.
_SCALARS: dict[str, type] = {
    "train_mi": float,
    "test_mi": float,
    "best_epoch": int,
    "n_epochs_run": int,
    "n_train": int,
    "n_test": int,
    "wall_time": float,
}
_HISTORY_GROUP = "history"
#: Most task stores :func:`read_results` reads at once: bounds its open files even where
#: zarr's thread pool, which does the file reads, is made larger (``threading.max_workers``).
_MAX_CONCURRENT_READS = 64


# --------------------------------------------------------------------------------------
# One task, one zarr group
# --------------------------------------------------------------------------------------


def write_task(result: TaskResult, directory: str | os.PathLike[str]) -> Path:
    """Write one task result atomically to ``directory / f"{result.spec.key}.zarr"``.

    The group is written under a hidden temporary sibling name
    (``.<key>.zarr.tmp-<uuid>``) and renamed into place; an existing store of the same key
    is moved aside first and deleted after the rename.  Parent directories are created.

    Parameters
    ----------
    result
        The finished task.  Its history curves are stored as arrays, everything else as
        group attributes; ``complete: true`` is written last.
    directory
        Folder holding the task stores of one analysis.

    Returns
    -------
    Path
        Path of the written store.

    Raises
    ------
    ParameterError
        If the task key is not a plain file name (empty, starts with ``.``, contains a
        path separator).
    """
    key = result.spec.key
    if not key or key.startswith(".") or "/" in key or os.sep in key:
        raise ParameterError(
            f"Task key {key!r} cannot name a store: it must be a non-empty file name without "
            "path separators that does not start with '.'."
        )
    target = write_atomically(
        Path(directory) / f"{key}.zarr", lambda tmp: _write_group(result, tmp)
    )
    logger.debug("Wrote task store %s", target)
    return target


def write_atomically(target: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a directory store under a temporary sibling name, then rename it into place.

    A reader never sees a half-written ``target``: ``write(tmp)`` fills a hidden sibling
    (``.<name>.tmp-<uuid>``), which is renamed to ``target`` only when ``write`` returned;
    an existing ``target`` is moved aside first and deleted after the rename.  On any
    error (or interruption) the temporary copy is removed and ``target`` is untouched.

    Parameters
    ----------
    target
        Final path of the store; parent directories are created.
    write
        Fills the store at the path it is given.

    Returns
    -------
    Path
        ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    try:
        write(tmp)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_group(result: TaskResult, path: Path) -> None:
    group = zarr.open_group(path, mode="w")
    history = group.create_group(_HISTORY_GROUP)
    for name, curve in result.history.items():
        history.create_array(name, data=np.asarray(curve))
    attrs: dict[str, Any] = {"spec": _jsonable(asdict(result.spec))}
    attrs.update({name: kind(getattr(result, name)) for name, kind in _SCALARS.items()})
    attrs["versions"] = {str(k): str(v) for k, v in result.versions.items()}
    attrs["extras"] = {str(k): float(v) for k, v in result.extras.items()}
    # One write of the group's metadata, after the arrays (``attrs.update`` would rewrite
    # it once per key: half the cost of a store).
    group.update_attributes({**attrs, "complete": True})


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is replaced, never half-seen."""
    if not target.exists():
        os.rename(tmp, target)
        return
    aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside ``value`` to JSON-compatible builtins."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return _jsonable(value.tolist())
    return value


def _open_group(path: Path) -> zarr.Group:
    try:
        return zarr.open_group(path, mode="r")
    except (OSError, ValueError) as exc:
        raise _unopenable(path, exc) from exc


def _unopenable(path: Path, exc: Exception) -> IncompleteStoreError:
    return IncompleteStoreError(f"Task store {str(path)!r} cannot be opened: {exc}")


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a task store whose write finished (``complete: true``)."""
    try:
        group = _open_group(Path(path))
    except IncompleteStoreError:
        return False
    return group.attrs.get("complete") is True


def read_task(path: str | os.PathLike[str]) -> TaskResult:
    """Read one task store written by :func:`write_task`.

    Parameters
    ----------
    path
        Path of a ``<key>.zarr`` store.

    Returns
    -------
    TaskResult
        The result exactly as written (floats bit-identical, history arrays with their
        dtype).

    Raises
    ------
    IncompleteStoreError
        If the store cannot be opened or lacks ``complete: true`` (interrupted write).
    """
    # zarr 3.1 has no public way to run a coroutine: ``zarr.core.sync.sync`` runs it on
    # zarr's own IO loop, which (unlike ``asyncio.run``) works under a running loop too.
    return sync(_read_task_async(Path(path)))


async def _read_task_async(path: Path) -> TaskResult:
    """:func:`read_task` as a coroutine, for zarr's event loop."""
    try:
        group = await zarr_async.open_group(store=path, mode="r")
    except (OSError, ValueError) as exc:
        raise _unopenable(path, exc) from exc
    attrs = dict(group.attrs)
    if attrs.get("complete") is not True:
        raise IncompleteStoreError(
            f"Task store {str(path)!r} is incomplete (no 'complete: true' attribute): its "
            "write was interrupted. Delete it and rerun the task."
        )
    history_group = await group.getitem(_HISTORY_GROUP)
    arrays = [(name, array) async for name, array in history_group.arrays()]
    curves = await asyncio.gather(*(array.getitem(...) for _, array in arrays))
    return TaskResult(
        spec=TaskSpec(**attrs["spec"]),
        history={name: np.asarray(curve) for (name, _), curve in zip(arrays, curves)},
        versions=dict(attrs["versions"]),
        extras=dict(attrs["extras"]),
        **{name: kind(attrs[name]) for name, kind in _SCALARS.items()},
    )


async def _read_tasks_async(paths: Sequence[Path]) -> list[TaskResult | BaseException]:
    """Read ``paths`` concurrently, at most :data:`_MAX_CONCURRENT_READS` at once.

    Returns
    -------
    list
        In the order of ``paths``: each store's :class:`TaskResult`, or the exception that
        reading it raised.
    """
    limit = asyncio.Semaphore(_MAX_CONCURRENT_READS)

    async def read(path: Path) -> TaskResult:
        async with limit:
            return await _read_task_async(path)

    return await asyncio.gather(*(read(path) for path in paths), return_exceptions=True)


def task_store_paths(directory: str | os.PathLike[str]) -> list[Path]:
    """Every visible ``*.zarr`` folder of ``directory``, sorted (temporary names are hidden);
    complete or not (see :func:`find_task_stores`)."""
    return sorted(
        p for p in Path(directory).glob("*.zarr") if p.is_dir() and not p.name.startswith(".")
    )


def find_task_stores(directory: str | os.PathLike[str]) -> list[Path]:
    """Complete task stores in ``directory``, sorted by path.

    Temporary names of writes in progress and stores without ``complete: true`` are left
    out.
    """
    return [p for p in task_store_paths(directory) if is_complete(p)]


# --------------------------------------------------------------------------------------
# Many tasks, one dataset
# --------------------------------------------------------------------------------------


def swept_coords(ds: xr.Dataset) -> list[str]:
    """Names of the swept-parameter coordinates (from ``spec.coords``) of a task dataset.

    These are the coordinates on the ``task`` dimension other than ``key`` and
    :data:`TASK_COORDS`, in dataset order.
    """
    reserved = {"key", *TASK_COORDS}
    return [
        name
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
        ``n_test``, ``wall_time`` (seconds), one float variable per extras key (NaN where
        a task lacks it) and ``history_<name>`` of dims ``(task, epoch)``, NaN-padded
        after each task's last epoch.  Coordinates on ``task``: :data:`TASK_COORDS` and
        one per key of any ``spec.coords`` (numbers missing in a task are NaN, strings
        missing are ``""``; lists and dicts are stored as JSON strings).  Attributes:
        ``mode``, ``units`` (``'nats'``), ``run_seed`` (when the specs carry one) and
        ``versions`` (JSON string; a package seen at several versions maps to the sorted
        list of them).

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
    for name, kind in _SCALARS.items():
        data_vars[name] = (
            "task",
            np.array([getattr(r, name) for r in results], dtype=np.int64 if kind is int else float),
        )

    for name in sorted({k for r in results for k in r.extras}):
        if name in data_vars:
            raise ParameterError(f"extras key {name!r} clashes with the result field {name!r}.")
        data_vars[name] = (
            "task",
            np.array([r.extras.get(name, np.nan) for r in results], dtype=float),
        )

    history_names = sorted({k for r in results for k in r.history})
    n_epochs = max((len(curve) for r in results for curve in r.history.values()), default=0)
    for name in history_names:
        padded = np.full((len(results), n_epochs), np.nan)
        for row, result in enumerate(results):
            curve = np.asarray(result.history.get(name, ()), dtype=float)
            padded[row, : curve.size] = curve
        data_vars[f"history_{name}"] = (("task", "epoch"), padded)

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
    if history_names:
        coords["epoch"] = ("epoch", np.arange(n_epochs))

    attrs: dict[str, Any] = {"mode": _resolve_mode(results, mode), "units": "nats"}
    run_seeds = {r.spec.params.get("run_seed") for r in results} - {None}
    if len(run_seeds) > 1:
        raise ParameterError(
            f"The results come from runs with different run_seed values {sorted(run_seeds)}; "
            "collect one run at a time."
        )
    if run_seeds:
        attrs["run_seed"] = int(run_seeds.pop())
    attrs["versions"] = _versions_json(results)
    import xarray as xr

    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _resolve_mode(results: Sequence[TaskResult], mode: str | None) -> str:
    if mode is None:
        modes = {r.spec.params.get("mode") for r in results}
        if len(modes) != 1 or None in modes:
            raise ParameterError(
                f"Cannot tell the analysis mode: spec.params['mode'] is {sorted(map(str, modes))} "
                "across the results. Pass mode= explicitly, and collect one analysis at a time."
            )
        mode = modes.pop()
    from .modes import get_mode

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
            else json.dumps(_jsonable(v), sort_keys=True)
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
) -> xr.Dataset:
    """Read every complete task store and collect them with :func:`results_to_dataset`.

    Parameters
    ----------
    directory_or_paths
        A folder of ``<key>.zarr`` stores, or an iterable of store paths.

    Returns
    -------
    xarray.Dataset
        See :func:`results_to_dataset`.

    Raises
    ------
    InsufficientDataError
        If no complete store is found.

    Notes
    -----
    The stores are read concurrently on zarr's event loop.  Incomplete or unreadable
    stores are skipped with a WARNING naming them, in path order; they are never read as
    results.  Any other error reading a store is raised (the first in path order).
    """
    if isinstance(directory_or_paths, (str, os.PathLike)):
        where = str(directory_or_paths)
        paths = task_store_paths(directory_or_paths)
    else:
        paths = [Path(p) for p in directory_or_paths]
        where = f"{len(paths)} given path(s)"
    results = []
    for path, outcome in zip(paths, sync(_read_tasks_async(paths))):
        if isinstance(outcome, IncompleteStoreError):
            logger.warning("Skipping task store %s: %s", path, outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    if not results:
        raise InsufficientDataError(f"No complete task store found in {where}.")
    return results_to_dataset(results)


# --------------------------------------------------------------------------------------
# netCDF
# --------------------------------------------------------------------------------------


def save_dataset(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a task or summary dataset to netCDF (``engine='h5netcdf'``).

    Attributes that netCDF cannot hold (dicts, lists of non-numbers, booleans, ``None``)
    are stored as JSON strings; object-dtype string variables are stored as strings.
    Parent directories are created.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = _strings_as_str(ds.copy())
    out.attrs = _netcdf_attrs(ds.attrs)
    for var in out.variables.values():
        var.attrs = _netcdf_attrs(var.attrs)
    out.to_netcdf(path, engine="h5netcdf")
    return path


def load_dataset(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a dataset written by :func:`save_dataset` into memory.

    String variables come back as numpy ``str`` arrays (not ``object``), so that a saved
    and reloaded dataset is identical to the original.
    """
    import xarray as xr

    return _strings_as_str(xr.load_dataset(path, engine="h5netcdf"))


def _strings_as_str(ds: xr.Dataset) -> xr.Dataset:
    """Cast object-dtype variables and coordinates (strings) to numpy ``str``."""
    coords = {name: c.astype(str) for name, c in ds.coords.items() if c.dtype == object}
    data = {name: v.astype(str) for name, v in ds.data_vars.items() if v.dtype == object}
    return ds.assign_coords(coords).assign(data)


def _netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in attrs.items():
        numeric_list = (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
        if (
            isinstance(value, (dict, bool, np.bool_))
            or value is None
            or (isinstance(value, (list, tuple)) and not numeric_list)
        ):
            converted[name] = json.dumps(_jsonable(value), sort_keys=True)
        else:
            converted[name] = value
    return converted
