"""Which task stores can be trusted: check a folder, a set of planned tasks, a results dir.

Each store is read and verified (:func:`neural_mi.store.task_store.read_task`); the outcome
is one :class:`StoreCheck` per store, so that a caller can list every bad store at once,
refuse to aggregate over them, and remove them (:func:`~neural_mi.store.atomic.remove_store`)
so that they are computed again.  Torch-free and xarray-free.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..data.transforms import outdated_fit
from ..errors import ParameterError
from ..tasks import TaskResult, TaskSpec
from .task_store import read_tasks, task_store_paths

logger = logging.getLogger(__name__)

#: Where a workflow keeps its task stores, relative to ``results_dir``.
WORKFLOW_STORES = "*/*/tasks/*/*.zarr"

StoreStatus = Literal["ok", "bad", "missing", "stray"]


@dataclass(frozen=True)
class StoreCheck:
    """The verdict on one task store.

    Attributes
    ----------
    key
        The task key the store's name says (``<key>.zarr``).
    path
        The store; ``None`` for a planned task whose store was not found anywhere.
    status
        ``"ok"`` (verified), ``"bad"`` (fails verification, or the task is stored twice),
        ``"missing"`` (a planned task without a store) or ``"stray"`` (a store of a task
        that is not planned: ignored).
    reason
        What is wrong (empty when ``status`` is ``"ok"``).
    """

    key: str
    path: Path | None
    status: StoreStatus
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong: the store verified, or it is a stray that is ignored."""
        return self.status in ("ok", "stray")

    @property
    def where(self) -> str:
        """The store's path, or ``task '<key>'`` where there is none."""
        return str(self.path) if self.path is not None else f"task {self.key!r}"


def verify_stores(
    directory_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    expected_keys: Iterable[str] | None = None,
) -> list[StoreCheck]:
    """Verify task stores, and check them against the planned tasks.

    Parameters
    ----------
    directory_or_paths
        A folder of ``<key>.zarr`` stores, or an iterable of store paths (e.g. those of
        every train pack of one analysis).
    expected_keys
        Keys of the planned tasks.  When given, each must have exactly one store (else
        ``"missing"`` or ``"bad"``) and stores of other keys are ``"stray"`` (not read).
        When ``None``, every store found is checked and none can be missing.

    Returns
    -------
    list of StoreCheck
        Sorted by key, then path.
    """
    checks, _ = check_and_read(directory_or_paths, expected_keys)
    return checks


def check_and_read(
    directory_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    expected_keys: Iterable[str] | None = None,
) -> tuple[list[StoreCheck], list[TaskResult]]:
    """:func:`verify_stores`, plus the results of the stores that verified (in key order)."""
    paths = _store_paths(directory_or_paths)
    by_key: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        by_key[path.name.removesuffix(".zarr")].append(path)
    planned = set(by_key) if expected_keys is None else set(expected_keys)
    checks = [
        StoreCheck(key, path, "stray", "not a planned task: ignored")
        for key in sorted(set(by_key) - planned)
        for path in by_key[key]
    ]
    to_read: list[Path] = []
    for key in sorted(planned):
        found = by_key.get(key, [])
        if not found:
            checks.append(StoreCheck(key, None, "missing", "no store for this planned task"))
        elif len(found) > 1:
            others = ", ".join(repr(str(p)) for p in found)
            checks.extend(
                StoreCheck(key, path, "bad", f"task {key!r} is stored {len(found)} times: {others}")
                for path in found
            )
        else:
            to_read.append(found[0])
    results = []
    for path, outcome in zip(to_read, read_tasks(to_read)):
        key = path.name.removesuffix(".zarr")
        if isinstance(outcome, TaskResult):
            checks.append(StoreCheck(key, path, "ok"))
            results.append(outcome)
        else:
            checks.append(StoreCheck(key, path, "bad", outcome.reason))
    checks.sort(key=lambda c: (c.key, str(c.path)))
    results.sort(key=lambda r: r.spec.key)
    return checks, results


def verify_results(results_dir: str | os.PathLike[str]) -> list[StoreCheck]:
    """Verify every task store of a workflow's results folder.

    Stores are found at ``<results_dir>/<session>/<analysis>/tasks/<pack>/<key>.zarr``;
    each analysis is checked on its own (a key stored in two packs of one analysis is
    bad).  Without the plan, a planned task whose store is absent cannot be seen: use
    :func:`verify_stores` with ``expected_keys`` for that.

    Parameters
    ----------
    results_dir
        The workflow's ``results_dir``.

    Returns
    -------
    list of StoreCheck
        Sorted by path; empty when there are no task stores.

    Raises
    ------
    ParameterError
        If ``results_dir`` is not a folder.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise ParameterError(f"results folder {str(root)!r} not found (or not a folder).")
    per_analysis: dict[Path, list[Path]] = defaultdict(list)
    for path in root.glob(WORKFLOW_STORES):
        if not path.name.startswith("."):
            per_analysis[path.parent.parent].append(path)
    checks = [c for paths in per_analysis.values() for c in verify_stores(paths)]
    return sorted(checks, key=lambda c: str(c.path))


def bad_stores(results_dir: str | os.PathLike[str]) -> list[StoreCheck]:
    """The task stores of a workflow's results folder that fail verification (see
    :func:`verify_results`); remove them with :func:`~neural_mi.store.atomic.remove_store`
    so that their tasks are computed again."""
    return [check for check in verify_results(results_dir) if not check.ok]


def reuse_refusal(result: TaskResult, spec: TaskSpec) -> str:
    """Why a verified stored ``result`` cannot stand for the planned task ``spec``, or
    ``""`` when it can: it holds the result of other parameters, or of inputs that this
    version transforms differently (:func:`~neural_mi.data.transforms.outdated_fit`).
    ``nmi.run`` retrains such a task; the workflow removes its store before summarising."""
    if result.spec != spec:
        return "it holds the result of other parameters"
    return outdated_fit(result.diagnostics.get("input_transform"))


def describe_checks(checks: Sequence[StoreCheck]) -> str:
    """A report of ``checks``: one line per store (``ok``, ``BAD``, ``MISSING`` or ``stray``
    with the path and reason), then the counts."""
    lines = [
        f"{check.status.upper() if not check.ok else check.status:8}{check.where}"
        + (f": {check.reason}" if check.reason else "")
        for check in checks
    ]
    counts = Counter(check.status for check in checks)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("ok", "bad", "missing", "stray") if counts[s])
    lines.append(f"{len(checks)} task store(s): {summary or 'none found'}")
    return "\n".join(lines)


def _store_paths(
    directory_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[Path]:
    if isinstance(directory_or_paths, (str, os.PathLike)):
        return task_store_paths(directory_or_paths)
    return [Path(p) for p in directory_or_paths]
