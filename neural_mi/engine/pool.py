"""Train task groups in a pool of worker processes (``nmi.run`` and the workflow's train jobs).

Workers are forked on Linux, so they inherit the session's data and torch's imports
without pickling or re-importing anything; each runs torch on one thread, so a pool of
``n`` workers uses ``n`` cores without oversubscribing them.  This module does not import
xarray or pandas: a workflow train job needs neither.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from ..errors import ParameterError
from ..tasks import TaskResult, TaskSpec
from .inputs import SessionData, TaskContext
from .task import run_group


def train_in_pool(
    groups: Sequence[Sequence[TaskSpec]], data: SessionData, context: TaskContext, n_workers: int
) -> Iterator[TaskResult]:
    """Train groups of tasks in a pool of ``n_workers`` processes, yielding results as
    groups finish.

    Workers take the groups in the order given (put the most expensive first) and take the
    next one as soon as they are free.  Grouping never changes a task's numbers.

    Parameters
    ----------
    groups
        Groups of tasks (:func:`~neural_mi.engine.task.group_tasks`).
    data
        The session's inputs.
    context
        Device, custom models and split indices shared by every task.
    n_workers
        Worker processes (at most one per group).

    Yields
    ------
    TaskResult
        In completion order, group by group.
    """
    ctx = _pool_context()
    if ctx.get_start_method() != "fork":
        _check_picklable(context)
    # Objects that exist before the fork are frozen out of the garbage collector, so that
    # the workers' collections skip them and leave their memory pages shared with this
    # process.  Leaving the pool (done, an error, a Ctrl-C, or the caller stopping)
    # terminates the workers at once; they ignore SIGINT, so a Ctrl-C to the whole
    # process group is this process's to handle.
    gc.freeze()
    try:
        with ctx.Pool(
            min(n_workers, len(groups)), initializer=_init_worker, initargs=(data, context)
        ) as pool:
            for results in pool.imap_unordered(_run_in_worker, [list(g) for g in groups]):
                yield from results
    finally:
        gc.unfreeze()


class single_thread:
    """Run torch on one thread (same arithmetic in-process, in a pool and in the workflow)."""

    def __enter__(self) -> None:
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self._threads)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork on Linux (workers inherit the data; scripts need no ``__main__`` guard) unless
    CUDA is initialised, which does not survive a fork; spawn elsewhere."""
    if sys.platform.startswith("linux") and not torch.cuda.is_initialized():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _check_picklable(context: TaskContext) -> None:
    try:
        pickle.dumps(context)
    except Exception as err:
        raise ParameterError(
            "custom_critic/custom_embedding_cls cannot be sent to worker processes "
            f"({err}); define them in an importable module or use n_workers=1."
        ) from None


_WORKER: dict[str, Any] = {}


def _init_worker(data: SessionData, context: TaskContext) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _WORKER["data"], _WORKER["context"] = data, context


def _run_in_worker(group: list[TaskSpec]) -> list[TaskResult]:
    return run_group(group, _WORKER["data"], _WORKER["context"])
