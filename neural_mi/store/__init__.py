"""Durable, verified storage of task results, and their collection into one ``xarray.Dataset``.

Every finished task is one small zarr (v3) group ``<directory>/<key>.zarr``, written whole
and proving its content by a checksum in its completion record; every read verifies it.

Modules, each with one job:

- :mod:`~neural_mi.store.atomic`: directory stores written under a temporary name and
  renamed into place, and removed the same way;
- :mod:`~neural_mi.store.checksum`: the checksum over a task store's content;
- :mod:`~neural_mi.store.task_store`: one ``TaskResult`` <-> one zarr group, verified;
- :mod:`~neural_mi.store.verify`: which stores of a folder, a plan or a results folder can
  be trusted;
- :mod:`~neural_mi.store.dataset`: results -> the task dataset; reading it from stores;
- :mod:`~neural_mi.store.netcdf`: datasets to and from netCDF.

Torch-free; xarray is imported only where a dataset is built or read.
"""

from __future__ import annotations

from .atomic import remove_leftovers, remove_store, write_atomically
from .checksum import content_sha256
from .dataset import TASK_COORDS, read_results, results_to_dataset, swept_coords
from .netcdf import load_dataset, save_dataset
from .task_store import (
    STORE_FORMAT,
    check_store_directory,
    find_task_stores,
    is_complete,
    read_task,
    read_tasks,
    store_path,
    task_store_paths,
    write_task,
)
from .verify import (
    StoreCheck,
    bad_stores,
    check_and_read,
    describe_checks,
    reuse_refusal,
    verify_results,
    verify_stores,
)

__all__ = [
    "STORE_FORMAT",
    "TASK_COORDS",
    "StoreCheck",
    "bad_stores",
    "check_and_read",
    "check_store_directory",
    "content_sha256",
    "describe_checks",
    "find_task_stores",
    "is_complete",
    "load_dataset",
    "read_results",
    "read_task",
    "read_tasks",
    "remove_leftovers",
    "remove_store",
    "results_to_dataset",
    "reuse_refusal",
    "save_dataset",
    "store_path",
    "swept_coords",
    "task_store_paths",
    "verify_results",
    "verify_stores",
    "write_atomically",
    "write_task",
]
