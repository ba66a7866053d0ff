"""One task, or one group of tasks trained together, from spec to result.

One function turns one :class:`~neural_mi.tasks.TaskSpec` into one
:class:`~neural_mi.tasks.TaskResult`, whoever calls it: ``nmi.run`` in-process or in a
process pool, or a workflow train job.  The analysis' mode (:mod:`neural_mi.modes`) says
what data a task trains on, :func:`~neural_mi.engine.split.task_split` which samples it
trains and is evaluated on; weight initialisation and batch order come from the task's
own seed.

Tasks that differ only in their subset or repeat (:func:`group_tasks`) have the same
critic shape and split sizes; :func:`run_group` trains them together through
:func:`~neural_mi.train.train_critics`, which gives every task the numbers it would get
alone, so how tasks are grouped (in-process, in a pool, in a workflow pack) never changes
a result.

With an input transform (:mod:`neural_mi.engine.transform`) each task trains on its own
transformed inputs, fitted on its own training samples; a critic that diverges is
restarted or reported failed by :func:`~neural_mi.train.train_critics`, and the task's
result says so (``status``, ``message``, ``diagnostics``).  A null task of a permutation
test trains on the session with one recording moved in time
(:func:`~neural_mi.engine.null.null_session`), before its mode derives its data; its
result records the move (``diagnostics['null']``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..errors import InsufficientDataError
from ..estimators import get_estimator
from ..models import build_critic
from ..models.stacked import stackable
from ..modes import data_group, get_mode
from ..tasks import TaskResult, TaskSpec
from ..train import TrainOutcome, resolve_device, train_critic, train_critics
from .inputs import SessionData, TaskContext
from .null import null_session
from .split import task_split
from .transform import input_transform, transformed_bytes, transformed_task_data

__all__ = [
    "MAX_GROUP_SIZE",
    "TRANSFORMED_GROUP_BYTES",
    "group_tasks",
    "run_group",
    "run_task",
    "versions",
]

#: Most tasks trained together in one group.
MAX_GROUP_SIZE = 16

#: With an input transform every task of a group holds its own transformed copy of the
#: raw inputs while the group trains; a group is trained in parts whose copies stay below
#: this many bytes together (at least one task per part).
TRANSFORMED_GROUP_BYTES = 2**30


def versions() -> dict[str, str]:
    """Versions of the packages that determine a task's numbers."""
    return {"neural_mi": __version__, "torch": torch.__version__, "numpy": np.__version__}


def group_tasks(
    specs: Sequence[TaskSpec], min_groups: int = 1, max_size: int = MAX_GROUP_SIZE, parts: int = 1
) -> list[list[TaskSpec]]:
    """Cut tasks into groups that can be trained together, in plan order.

    Tasks share a group when their mode says they train on the same data
    (:meth:`~neural_mi.modes.base.Mode.data_key`; for the built-in modes: they differ
    only in ``subset`` or ``repeat``), so they have the same critic shape and split sizes.
    Groups hold at most ``max_size`` tasks (larger ones are cut into near-equal parts), and
    the largest groups are halved until there are at least ``min_groups`` groups (or every
    group holds one task), so that a pool of ``min_groups`` workers has work for each.

    Parameters
    ----------
    specs
        Planned tasks.
    min_groups
        Fewest groups wanted (e.g. the number of workers).
    max_size
        Most tasks per group.
    parts
        Finally cut every group into this many near-equal parts (fewer if it has fewer
        tasks): smaller units balance a pool's load better at the end of a run.

    Returns
    -------
    list of list of TaskSpec
        Every task exactly once.
    """
    by_key: dict[tuple[Any, ...], list[TaskSpec]] = {}
    for spec in specs:
        by_key.setdefault(data_group(spec), []).append(spec)
    groups = [
        part
        for members in by_key.values()
        for part in _split_evenly(members, math.ceil(len(members) / max_size))
    ]
    while len(groups) < min_groups and max(len(g) for g in groups) > 1:
        largest = max(range(len(groups)), key=lambda i: len(groups[i]))
        group = groups.pop(largest)
        groups[largest:largest] = _split_evenly(group, 2)
    return [part for group in groups for part in _split_evenly(group, min(parts, len(group)))]


def _split_evenly(items: Sequence[TaskSpec], n_parts: int) -> list[list[TaskSpec]]:
    """``items`` in ``n_parts`` consecutive parts whose sizes differ by at most one."""
    size, extra = divmod(len(items), n_parts)
    bounds = np.cumsum([0] + [size + (i < extra) for i in range(n_parts)])
    return [list(items[a:b]) for a, b in itertools.pairwise(bounds)]


def run_task(spec: TaskSpec, data: SessionData, context: TaskContext | None = None) -> TaskResult:
    """Train the critic of one task and return its result (MI in nats).

    Parameters
    ----------
    spec
        The task, as planned by :func:`neural_mi.plan.plan_tasks`.
    data
        The session's raw inputs.
    context
        Device, custom models, explicit split indices, model saving, progress display.

    Returns
    -------
    TaskResult
    """
    context = context or TaskContext()
    start = time.perf_counter()
    xs, ys, splits, critics, device, transforms, null = _prepare([spec], data, context)
    p, base = spec.params, spec.params["base"]
    estimator = get_estimator(p["estimator"], **p["estimator_params"])
    train_idx, test_idx = splits[0]
    outcome = train_critic(
        critics[0],
        estimator,
        xs[0],
        ys[0],
        train_idx,
        test_idx,
        base,
        seed=spec.seed,
        device=device,
        eval_batch_size=_eval_batch_size(base, context),
        progress=context.progress,
        description=spec.key,
    )
    if context.save_best_model_path is not None and outcome.status == "ok" and not spec.permutation:
        torch.save(outcome.state_dict, context.save_best_model_path)
    return _finish([spec], [outcome], critics, xs, ys, splits, device, start, transforms, null)[0]


def run_group(
    specs: Sequence[TaskSpec], data: SessionData, context: TaskContext | None = None
) -> list[TaskResult]:
    """Train the critics of the tasks of one group (:func:`group_tasks`) together.

    Each task gets exactly the result :func:`run_task` would give it; ``wall_time`` is
    the group's time shared equally.  Tasks whose critics cannot share kernels (custom,
    concat, recurrent... critics) are trained one after another with :func:`run_task`.

    Parameters
    ----------
    specs
        Tasks that differ only in subset or repeat.
    data, context
        As for :func:`run_task` (``save_best_model_path`` applies to single tasks only).

    Returns
    -------
    list of TaskResult
        In the order of ``specs``.
    """
    context = context or TaskContext()
    if len(specs) == 1 or context.custom_critic is not None:
        return [run_task(spec, data, context) for spec in specs]
    if input_transform(specs[0]) != "none":
        size = max(1, TRANSFORMED_GROUP_BYTES // max(1, transformed_bytes(data)))
        if size < len(specs):
            parts = [specs[i : i + size] for i in range(0, len(specs), size)]
            return [result for part in parts for result in run_group(part, data, context)]
    start = time.perf_counter()
    xs, ys, splits, critics, device, transforms, null = _prepare(specs, data, context)
    if not (all(stackable(c) for c in critics) and len({(len(a), len(b)) for a, b in splits}) == 1):
        return [run_task(spec, data, context) for spec in specs]
    p, base = specs[0].params, specs[0].params["base"]
    estimator = get_estimator(p["estimator"], **p["estimator_params"])
    outcomes = train_critics(
        critics,
        estimator,
        xs,
        ys,
        splits,
        base,
        seeds=[spec.seed for spec in specs],
        device=device,
        eval_batch_size=_eval_batch_size(base, context),
        descriptions=[spec.key for spec in specs],
    )
    return _finish(specs, outcomes, critics, xs, ys, splits, device, start, transforms, null)


def task_data(spec: TaskSpec, data: SessionData) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The ``(x, y)`` sample pairs of a task and the leakage gap of its windows (the
    task's mode decides what they are, from the session or, for a null task, from the
    session with its null move applied)."""
    return get_mode(spec.params["mode"]).task_data(spec, null_session(spec, data)[0])


def _prepare(
    specs: Sequence[TaskSpec], data: SessionData, context: TaskContext
) -> tuple[
    list[torch.Tensor],
    list[torch.Tensor],
    list[tuple[np.ndarray, np.ndarray]],
    list[torch.nn.Module],
    torch.device,
    list[dict[str, Any]],
    dict[str, Any],
]:
    """Data (per task), splits and seeded critics of tasks that share their data (one
    group), the summaries of their input transforms (empty without one) and the record of
    their null move (empty for observed tasks).

    The untransformed data fixes the split sizes; with an input transform each task's
    inputs are then transformed with a fit on its own training samples (of the moved
    recording, for a null task).
    """
    data, null = null_session(specs[0], data)
    x, y, gap = get_mode(specs[0].params["mode"]).task_data(specs[0], data)
    splits = [
        task_split(spec, len(x), gap, context.train_indices, context.test_indices) for spec in specs
    ]
    for spec, (train_idx, _) in zip(specs, splits):
        if len(train_idx) < 2:
            raise InsufficientDataError(
                f"Task {spec.key}: only {len(train_idx)} training sample(s) (gamma={spec.gamma}, "
                f"{len(x)} samples in all); at least 2 are needed per batch."
            )
    xs, ys = [x] * len(specs), [y] * len(specs)
    transforms: list[dict[str, Any]] = [{} for _ in specs]
    if input_transform(specs[0]) != "none":
        for k, (spec, (train_idx, _)) in enumerate(zip(specs, splits)):
            tx, ty, transforms[k] = transformed_task_data(spec, data, train_idx)
            if tx is not None and ty is not None:
                xs[k], ys[k] = tx, ty
    device = resolve_device(context.device)
    marginal_terms = get_mode(specs[0].params["mode"]).marginal_terms
    critics = []
    for spec in specs:
        torch.manual_seed(spec.seed)
        critics.append(_critic(spec.params["base"], x, y, context, marginal_terms))
    return xs, ys, splits, critics, device, transforms, null


def _finish(
    specs: Sequence[TaskSpec],
    outcomes: Sequence[TrainOutcome],
    critics: Sequence[torch.nn.Module],
    xs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    device: torch.device,
    start: float,
    transforms: Sequence[dict[str, Any]],
    null: dict[str, Any],
) -> list[TaskResult]:
    """Task results (with the mode's extras, none for a failed task, and the null move);
    the elapsed time is shared equally."""
    mode = get_mode(specs[0].params["mode"])
    extras = [
        mode.task_extras(spec, critic, x, y, test_idx, device) if outcome.status == "ok" else {}
        for spec, outcome, critic, x, y, (_, test_idx) in zip(
            specs, outcomes, critics, xs, ys, splits
        )
    ]
    share = (time.perf_counter() - start) / len(specs)
    return [
        _result(spec, outcome, share, extra, transform, null)
        for spec, outcome, extra, transform in zip(specs, outcomes, extras, transforms)
    ]


def _result(
    spec: TaskSpec,
    outcome: TrainOutcome,
    wall_time: float,
    extras: dict[str, float],
    transform: dict[str, Any],
    null: dict[str, Any],
) -> TaskResult:
    diagnostics = dict(outcome.diagnostics)
    if transform:
        diagnostics["input_transform"] = transform
    if null:
        diagnostics["null"] = null
    return TaskResult(
        spec=spec,
        train_mi=outcome.train_mi,
        test_mi=outcome.test_mi,
        best_epoch=outcome.best_epoch,
        n_epochs_run=outcome.n_epochs_run,
        history=outcome.history,
        n_train=outcome.n_train,
        n_test=outcome.n_test,
        wall_time=wall_time,
        versions=versions(),
        extras=extras,
        status=outcome.status,
        message=outcome.message,
        diagnostics=diagnostics,
    )


def _eval_batch_size(base: Mapping[str, Any], context: TaskContext) -> int:
    """Held-out samples per evaluation batch: all of them (up to ``max_eval_samples``),
    except for the concat critic, whose cost grows with the square of the batch."""
    if base["critic_type"] == "concat" and context.custom_critic is None:
        return int(base["batch_size"])
    return int(base["max_eval_samples"])


def _critic(
    base: Mapping[str, Any],
    x: torch.Tensor,
    y: torch.Tensor,
    context: TaskContext,
    marginal_terms: bool,
) -> torch.nn.Module:
    """The task's critic; ``marginal_terms`` adds a scalar term per variable (see
    :func:`neural_mi.models.build_critic`)."""
    if context.custom_critic is not None:
        return context.custom_critic
    return build_critic(
        dict(base),
        tuple(x.shape[1:]),
        tuple(y.shape[1:]),
        custom_embedding_cls=context.custom_embedding_cls,
        marginal_terms=marginal_terms,
    )
