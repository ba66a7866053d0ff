"""The one loop that runs planned tasks: serially or in a pool, resuming from task stores.

``nmi.run`` and the workflow's train jobs both call :func:`run_tasks`: tasks are cut into
groups that train together (:func:`~neural_mi.engine.task.group_tasks`), trained one group
after another in this process or by a pool of worker processes, and each result is
written to the store folder as soon as its group is done.  Tasks whose store already holds
their result are read back instead of trained.  How tasks are grouped or spread over
processes never changes a number.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .. import store as task_store
from ..errors import CorruptStoreError, InsufficientDataError
from ..modes import data_group
from ..tasks import TaskResult, TaskSpec
from .inputs import SessionData, TaskContext
from .null import session_move
from .pool import single_thread, train_in_pool
from .split import task_split
from .task import group_tasks, run_group, task_data

__all__ = ["preflight", "run_tasks"]

logger = logging.getLogger(__name__)


def run_tasks(
    specs: Sequence[TaskSpec],
    data: SessionData,
    context: TaskContext,
    *,
    n_workers: int = 1,
    store: str | Path | None = None,
    progress: bool = False,
) -> Iterator[TaskResult]:
    """Run tasks, yielding each result as soon as it exists (completion order).

    Parameters
    ----------
    specs
        The planned tasks.
    data
        The session's inputs.
    context
        Device, custom models and split indices shared by every task.
    n_workers
        1: in this process, group by group; more: a pool of that many processes.
    store
        Folder of task stores: tasks whose store holds a result for the identical spec
        are read back, not trained; every new result is written there as soon as its
        group is done.
    progress
        A progress bar over tasks (when there is more than one to train).
    """
    done = finished_tasks(specs, store) if store is not None else {}
    if done:
        logger.info(
            "Read %d finished task(s) back from %s; %d to train.",
            len(done),
            store,
            len(specs) - len(done),
        )
    yield from done.values()
    todo = [spec for spec in specs if spec.key not in done]
    with tqdm(
        total=len(todo), desc="tasks", unit="task", disable=not progress or len(todo) <= 1
    ) as bar:
        for result in _train(todo, data, context, n_workers):
            if store is not None:
                task_store.write_task(result, store)
            bar.update()
            yield result


def _train(
    specs: Sequence[TaskSpec], data: SessionData, context: TaskContext, n_workers: int
) -> Iterator[TaskResult]:
    """Train the tasks group by group: in this process, or in a pool of ``n_workers``.

    The pool takes groups cut smaller (halved, so that the last groups finish closer
    together), the most expensive first (cost: tasks / gamma).
    """
    if not specs:
        return
    if n_workers == 1 or len(specs) == 1:
        with single_thread():
            for group in group_tasks(specs):
                yield from run_group(group, data, context)
        return
    groups = sorted(
        group_tasks(specs, min_groups=n_workers, parts=2),
        key=lambda group: -len(group) / group[0].gamma,
    )
    yield from train_in_pool(groups, data, context, n_workers)


def finished_tasks(specs: Sequence[TaskSpec], store: str | Path) -> dict[str, TaskResult]:
    """Results in ``store`` that pass verification and whose spec equals the planned one.

    A store that fails verification, or whose result cannot stand for its planned task
    (:func:`~neural_mi.store.verify.reuse_refusal`: other parameters, or inputs this
    version transforms differently), is retrained (and rewritten) with a WARNING naming it
    and why; stores of tasks that are not planned are left alone.
    """
    paths = {spec.key: task_store.store_path(store, spec.key) for spec in specs}
    present = [spec for spec in specs if os.path.lexists(paths[spec.key])]
    finished = {}
    for spec, outcome in zip(present, task_store.read_tasks(paths[s.key] for s in present)):
        if isinstance(outcome, CorruptStoreError):
            logger.warning("%s; retraining task %s.", outcome, spec.key)
        elif refusal := task_store.reuse_refusal(outcome, spec):
            logger.warning("Store %s: %s; retraining task %s.", paths[spec.key], refusal, spec.key)
        else:
            finished[spec.key] = outcome
    return finished


def preflight(specs: Sequence[TaskSpec], data: SessionData, context: TaskContext) -> None:
    """Check that every task has usable data before any training starts.

    Processing, the mode's task data (lags, channel halves...), gamma chunks and
    train/test splits are all computed (cheap: views and index arrays), so a window longer
    than the recording, a gamma range too large for the data or a split without samples
    fails here, naming the task; so does a null move that the recording is too short for
    (:func:`~neural_mi.engine.null.session_move`).
    """
    checked: set[tuple[Any, ...]] = set()
    for spec in specs:
        base = spec.params["base"]
        signature = data_group(spec)
        if signature in checked:
            continue
        checked.add(signature)
        if spec.permutation:
            # A null task's data has its observed task's sizes; only its move is checked,
            # which every permutation draws from the same range.
            if spec.permutation == 1:
                session_move(spec, data)
            continue
        x, _, gap = task_data(spec, data)
        try:
            train_idx, _ = task_split(
                spec, len(x), gap, context.train_indices, context.test_indices
            )
        except InsufficientDataError as err:
            raise InsufficientDataError(
                f"{err} (task {spec.key}: gamma={spec.gamma} leaves {len(x) // spec.gamma} of "
                f"{len(x)} samples per chunk)"
            ) from None
        if min(base["batch_size"], len(train_idx)) < 2:
            raise InsufficientDataError(
                f"Task {spec.key}: {len(train_idx)} training sample(s) give batches of fewer "
                "than 2 samples; use more data or a smaller gamma_range."
            )
        if len(train_idx) < base["batch_size"]:
            logger.warning(
                "Task %s: %d training samples, fewer than batch_size=%d; batches hold all of them.",
                spec.key,
                len(train_idx),
                base["batch_size"],
            )
