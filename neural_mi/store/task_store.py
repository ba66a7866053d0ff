"""One :class:`~neural_mi.tasks.TaskResult` as one zarr (v3) group, written whole, read verified.

Layout of ``<directory>/<key>.zarr``:

- arrays ``history/<name>``, one per training curve;
- group attributes: ``spec`` (the :class:`~neural_mi.tasks.TaskSpec` as a dict), the scalars
  ``train_mi``, ``test_mi`` (nats), ``best_epoch``, ``n_epochs_run``, ``n_train``,
  ``n_test``, ``wall_time`` (seconds), ``versions``, ``extras``, ``status``, ``message``,
  ``diagnostics`` and the completion record ``complete``:
  ``{"format": 2, "key": <key>, "sha256": <hex>}``, whose checksum
  (:func:`~neural_mi.store.checksum.content_sha256`) covers the key, every other attribute
  and every array.

The group is written under a hidden temporary name and renamed into place
(:mod:`neural_mi.store.atomic`); its attributes, completion record included, are its last
write.  Every read verifies the store: it must open, carry a completion record of this
format, hold the content that record's checksum proves, and be named for the task it holds.
Whatever is wrong (a write cut short, a file truncated, deleted or overwritten, a value
edited by hand, a store copied under another task's name), the read raises
:class:`~neural_mi.errors.CorruptStoreError` naming the store and the problem; no other
exception escapes a read.

Stores of the first format (a bare ``complete: true``, no checksum) cannot be verified and
are refused like any other bad store: :func:`neural_mi.run` retrains them, an aggregate
lists them.  Torch-free and xarray-free.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zarr.api.asynchronous as zarr_async

from ..compat import run_coroutine
from ..errors import CorruptStoreError, ParameterError
from ..tasks import TaskResult, TaskSpec
from ._json import jsonable
from .atomic import write_atomically
from .checksum import content_sha256

logger = logging.getLogger(__name__)

#: Version of the store layout; written in the completion record and required on read.
STORE_FORMAT = 2
#: Attribute holding the completion record.
COMPLETION_ATTR = "complete"
#: Group holding the training curves.
HISTORY_GROUP = "history"
#: Scalar fields of ``TaskResult`` and their types.
SCALARS: dict[str, type] = {
    "train_mi": float,
    "test_mi": float,
    "best_epoch": int,
    "n_epochs_run": int,
    "n_train": int,
    "n_test": int,
    "wall_time": float,
}
#: Most task stores :func:`read_tasks` reads at once: bounds its open files even where
#: zarr's thread pool, which does the file reads, is made larger (``threading.max_workers``).
_MAX_CONCURRENT_READS = 64


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def store_path(directory: str | os.PathLike[str], key: str) -> Path:
    """``directory / f"{key}.zarr"``, the store of task ``key``.

    Raises
    ------
    ParameterError
        If ``key`` is not a plain file name (empty, starts with ``.``, contains a path
        separator).
    """
    if not key or key.startswith(".") or "/" in key or os.sep in key:
        raise ParameterError(
            f"Task key {key!r} cannot name a store: it must be a non-empty file name without "
            "path separators that does not start with '.'."
        )
    return Path(directory) / f"{key}.zarr"


def write_task(result: TaskResult, directory: str | os.PathLike[str]) -> Path:
    """Write one task result atomically to ``directory / f"{result.spec.key}.zarr"``.

    The group is written under a hidden temporary sibling name and renamed into place; an
    existing store of the same key (good or bad) is replaced.  Parent directories are
    created.

    Parameters
    ----------
    result
        The finished task.  Its history curves are stored as arrays, everything else as
        group attributes; the completion record, with the checksum over both, is written
        last.
    directory
        Folder holding the task stores of one analysis (or one train pack).

    Returns
    -------
    Path
        Path of the written store.

    Raises
    ------
    ParameterError
        If the task key cannot name a store (see :func:`store_path`).
    """
    target = write_atomically(
        store_path(directory, result.spec.key), lambda tmp: _write_group(result, tmp)
    )
    logger.debug("Wrote task store %s", target)
    return target


def _write_group(result: TaskResult, path: Path) -> None:
    key = result.spec.key
    curves = {str(name): np.asarray(curve) for name, curve in result.history.items()}
    group = zarr.open_group(path, mode="w")
    history = group.create_group(HISTORY_GROUP)
    for name, curve in curves.items():
        history.create_array(name, data=curve)
    attrs = _attributes(result)
    record = {"format": STORE_FORMAT, "key": key, "sha256": content_sha256(key, attrs, curves)}
    # One write of the group's metadata, after the arrays (``attrs.update`` would rewrite
    # it once per key: half the cost of a store).
    group.update_attributes({**attrs, COMPLETION_ATTR: record})


def _attributes(result: TaskResult) -> dict[str, Any]:
    """The store's attributes other than the completion record, as JSON builtins."""
    attrs: dict[str, Any] = {"spec": jsonable(asdict(result.spec))}
    attrs.update({name: kind(getattr(result, name)) for name, kind in SCALARS.items()})
    attrs["versions"] = {str(k): str(v) for k, v in result.versions.items()}
    attrs["extras"] = {str(k): float(v) for k, v in result.extras.items()}
    attrs["status"] = str(result.status)
    attrs["message"] = str(result.message)
    attrs["diagnostics"] = jsonable(result.diagnostics)
    return attrs


# --------------------------------------------------------------------------------------
# Reading, verified
# --------------------------------------------------------------------------------------


def read_task(path: str | os.PathLike[str]) -> TaskResult:
    """Read and verify one task store written by :func:`write_task`.

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
    CorruptStoreError
        If the store fails verification for any reason (see the module docstring); its
        message names the store and the problem.
    """
    return run_coroutine(_read_task_async(Path(path)))


def read_tasks(paths: Iterable[str | os.PathLike[str]]) -> list[TaskResult | CorruptStoreError]:
    """Read and verify many task stores concurrently (on zarr's event loop).

    Returns
    -------
    list
        In the order of ``paths``: each store's :class:`TaskResult`, or the
        :class:`~neural_mi.errors.CorruptStoreError` saying why it failed verification.
    """
    return run_coroutine(_read_tasks_async([Path(p) for p in paths]))


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a task store that passes verification (see :func:`read_task`)."""
    try:
        read_task(path)
    except CorruptStoreError:
        return False
    return True


async def _read_task_async(path: Path) -> TaskResult:
    """:func:`read_task` as a coroutine, for zarr's event loop."""
    try:
        return await _read_verified(path)
    except CorruptStoreError:
        raise
    except Exception as exc:
        raise CorruptStoreError(path, _diagnose(path, exc)) from exc


async def _read_tasks_async(paths: Sequence[Path]) -> list[TaskResult | CorruptStoreError]:
    """Read ``paths`` concurrently, at most :data:`_MAX_CONCURRENT_READS` at once."""
    limit = asyncio.Semaphore(_MAX_CONCURRENT_READS)

    async def read(path: Path) -> TaskResult | CorruptStoreError:
        async with limit:
            try:
                return await _read_task_async(path)
            except CorruptStoreError as err:
                return err

    return await asyncio.gather(*(read(path) for path in paths))


async def _read_verified(path: Path) -> TaskResult:
    group = await zarr_async.open_group(store=path, mode="r")
    attrs = dict(group.attrs)
    record = attrs.pop(COMPLETION_ATTR, None)
    key = _completion_key(path, record)
    try:
        history = await group.getitem(HISTORY_GROUP)
    except KeyError as exc:
        raise CorruptStoreError(path, f"its {HISTORY_GROUP!r} group is missing") from exc
    if not isinstance(history, zarr_async.AsyncGroup):
        raise CorruptStoreError(path, f"its {HISTORY_GROUP!r} member is not a group")
    arrays = dict(sorted([(name, array) async for name, array in history.arrays()]))
    curves = await asyncio.gather(*(_read_array(path, n, a) for n, a in arrays.items()))
    history_curves = dict(zip(arrays, curves))
    if content_sha256(key, attrs, history_curves) != record["sha256"]:
        raise CorruptStoreError(path, await _mismatch_reason(path, arrays))
    spec_key = attrs["spec"]["key"]
    if spec_key != key or path.name != f"{key}.zarr":
        raise CorruptStoreError(
            path,
            f"it holds task {spec_key!r} (completion record: {key!r}), not the task its "
            f"name {path.name!r} says; it was copied or renamed",
        )
    return _result(attrs, history_curves)


def _completion_key(path: Path, record: Any) -> str:
    """The key in a valid completion record; otherwise say what is wrong with it."""
    if record is None:
        reason = (
            f"it has no completion record ({COMPLETION_ATTR!r} attribute): its write did not "
            "finish, or the record was removed"
        )
    elif record is True:
        reason = (
            "it was written by an older neural_mi (a completion flag without a checksum), so "
            "its content cannot be verified"
        )
    elif not (
        isinstance(record, Mapping)
        and isinstance(record.get("key"), str)
        and isinstance(record.get("sha256"), str)
        and "format" in record
    ):
        reason = f"its completion record {record!r} is malformed"
    elif record["format"] != STORE_FORMAT:
        reason = (
            f"its store format is {record['format']!r}; this neural_mi reads format {STORE_FORMAT}"
        )
    else:
        return str(record["key"])
    raise CorruptStoreError(path, reason)


async def _read_array(path: Path, name: str, array: Any) -> np.ndarray:
    try:
        return np.asarray(await array.getitem(...))
    except Exception as exc:
        raise CorruptStoreError(
            path, f"its array '{HISTORY_GROUP}/{name}' cannot be decoded ({_describe(exc)})"
        ) from exc


async def _mismatch_reason(path: Path, arrays: Mapping[str, Any]) -> str:
    """Why the checksum does not match: an array without metadata (zarr then does not list
    it), chunk files missing (zarr reads them as fill values), or content changed."""
    unlisted = [
        f"'{HISTORY_GROUP}/{folder.name}'"
        for folder in sorted((path / HISTORY_GROUP).iterdir())
        if folder.is_dir() and not (folder / "zarr.json").is_file()
    ]
    if unlisted:
        return f"the metadata (zarr.json) of {', '.join(unlisted)} is missing"
    missing = [
        f"'{HISTORY_GROUP}/{name}'"
        for name, array in arrays.items()
        if await array.nchunks_initialized() < array.nchunks
    ]
    if missing:
        return f"chunk files of {', '.join(missing)} are missing (it does not match its checksum)"
    return (
        "its content does not match the checksum of its completion record: it was edited or "
        "damaged after it was written"
    )


def _result(attrs: Mapping[str, Any], history: Mapping[str, np.ndarray]) -> TaskResult:
    return TaskResult(
        spec=TaskSpec(**attrs["spec"]),
        history=dict(history),
        versions=dict(attrs["versions"]),
        extras=dict(attrs["extras"]),
        status=attrs["status"],
        message=attrs["message"],
        diagnostics=attrs["diagnostics"],
        **{name: kind(attrs[name]) for name, kind in SCALARS.items()},
    )


def _diagnose(path: Path, exc: Exception) -> str:
    """Why reading ``path`` raised ``exc``, from what is (not) on disk."""
    if not os.path.lexists(path):
        return "there is no store at this path"
    if not path.is_dir():
        return "it is not a folder"
    if not any(path.iterdir()):
        return "it is an empty folder"
    if not (path / "zarr.json").is_file():
        return "its zarr.json (the group's metadata) is missing"
    for metadata in sorted(path.rglob("zarr.json")):
        try:
            json.loads(metadata.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            name = metadata.relative_to(path).as_posix()
            return f"its {name} is not valid JSON (truncated or overwritten: {_describe(err)})"
    return f"it cannot be read ({_describe(exc)})"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------
# Folders of task stores
# --------------------------------------------------------------------------------------


def task_store_paths(directory: str | os.PathLike[str]) -> list[Path]:
    """Every visible ``*.zarr`` entry of ``directory`` (folder, file or link), sorted.

    Temporary names of writes in progress are hidden (they start with ``.``); nothing is
    verified here (see :func:`find_task_stores`).  A missing ``directory`` has none.
    """
    return sorted(p for p in Path(directory).glob("*.zarr") if not p.name.startswith("."))


def find_task_stores(directory: str | os.PathLike[str]) -> list[Path]:
    """Task stores in ``directory`` that pass verification, sorted by path."""
    paths = task_store_paths(directory)
    return [p for p, outcome in zip(paths, read_tasks(paths)) if isinstance(outcome, TaskResult)]


def check_store_directory(directory: str | os.PathLike[str]) -> Path:
    """Check that ``directory`` can hold task stores: a folder, or a path that can become one.

    Called before any training, so that ``store=`` naming a file fails at once rather than
    at the first write.

    Returns
    -------
    Path
        ``directory``.

    Raises
    ------
    ParameterError
        If ``directory`` or one of its parents is an existing file.
    """
    directory = Path(directory)
    for path in (directory, *directory.parents):
        if path.exists():
            if not path.is_dir():
                raise ParameterError(
                    f"store={str(directory)!r} must be a folder for task stores, but "
                    f"{str(path)!r} is a file. Pass a folder path (it is created if needed)."
                )
            break
    return directory
