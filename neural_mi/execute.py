"""Execution of planned tasks: ``run_task(spec, data) -> TaskResult``.

One function turns one :class:`~neural_mi.tasks.TaskSpec` into one
:class:`~neural_mi.tasks.TaskResult`, whoever calls it: ``nmi.run`` in-process or in a
process pool, or a Snakemake ``train`` job.  Everything random inside a task is seeded from
the run seed and the task's identifiers:

- the gamma chunks from ``(run seed, "chunks", gamma)``, so every parameter combination
  sees the same chunks (paired comparison);
- the train/test split inside a chunk from ``(run seed, "split", gamma, subset, repeat,
  split)``, shared by every combination as well;
- the channel halves of a dimensionality split from ``(run seed, "channels", split)``;
- weight initialisation and batch order from the task's own seed.

Tasks that differ only in their subset or repeat (:func:`group_tasks`) have the same
critic shape and split sizes; :func:`run_group` trains them together through
:func:`~neural_mi.train.train_critics`, which gives every task the numbers it would get
alone, so how tasks are grouped (in-process, in a pool, in a workflow pack) never changes
a result.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .data import (
    align_samples,
    overlap_gap,
    process,
    subset_indices,
    train_test_split,
    validate_data,
)
from .errors import DataShapeError, InsufficientDataError, ParameterError
from .estimators import get_estimator
from .models import BaseCritic, build_critic
from .models.stacked import stackable
from .plan import derive_seed
from .tasks import TaskResult, TaskSpec
from .train import TrainOutcome, resolve_device, train_critic, train_critics

logger = logging.getLogger(__name__)


@dataclass
class SessionData:
    """The raw, validated inputs of one analysis.

    Parameters
    ----------
    x, y
        Raw data: arrays ``(channels, time)`` (or as the processor's ``time_axis`` says),
        lists of spike-time arrays, or already processed arrays. ``y`` is ``None`` for
        dimensionality analyses.
    processor_type_x, processor_type_y
        How each variable is processed (``None``: already processed).
    """

    x: Any
    y: Any | None
    processor_type_x: str | None = "continuous"
    processor_type_y: str | None = "continuous"
    _cache: dict[str, torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        validate_data(self.x, self.processor_type_x, name="x_data")
        if self.y is not None:
            validate_data(self.y, self.processor_type_y, name="y_data")

    def processed(self, variable: str, params: Mapping[str, Any], lag: float = 0.0) -> torch.Tensor:
        """Processed ``x`` or ``y`` for a processor parameter set (cached per process).

        For spike data a non-zero ``lag`` shifts the spike times back by ``lag`` seconds
        before windowing (Y following X by ``lag`` then lines up with X).
        """
        raw = self.x if variable == "x" else self.y
        ptype = self.processor_type_x if variable == "x" else self.processor_type_y
        key = json.dumps([variable, ptype, dict(params), lag], sort_keys=True, default=str)
        if key not in self._cache:
            if ptype == "spike" and lag:
                raw = [np.asarray(ch, dtype=np.float64) - lag for ch in raw]
                raw = [ch[ch >= 0] for ch in raw]
            self._cache[key] = process(raw, ptype, params)
        return self._cache[key]


@dataclass
class TaskContext:
    """Objects a task needs that cannot travel in a TaskSpec (not serialisable)."""

    device: str | torch.device = "auto"
    custom_critic: BaseCritic | None = None
    custom_embedding_cls: type | None = None
    train_indices: Any = None
    test_indices: Any = None
    save_best_model_path: str | Path | None = None
    progress: bool = False


def versions() -> dict[str, str]:
    """Versions of the packages that determine a task's numbers."""
    return {"neural_mi": __version__, "torch": torch.__version__, "numpy": np.__version__}


def task_data(spec: TaskSpec, data: SessionData) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The aligned ``(x, y)`` sample pairs of a task and the leakage gap of its windows.

    Applies the lag (``lag`` mode) or the channel split (``dimensionality`` mode), then
    aligns X and Y to a common number of samples.
    """
    p = spec.params
    px, py = p["processor_params_x"], p["processor_params_y"]
    gap = max(_window_gap(p["processor_type_x"], px), _window_gap(p["processor_type_y"], py))
    if p["mode"] == "dimensionality":
        x, y = _channel_halves(data.processed("x", px), p["run_seed"], spec.split)
        return x, y, gap
    if spec.lag and "spike" in (p["processor_type_x"], p["processor_type_y"]):
        if p["processor_type_x"] != p["processor_type_y"]:
            raise ParameterError(
                "Lags are supported when X and Y are both spike trains (lag in "
                "seconds) or both sampled signals (lag in samples)."
            )
        x, y = align_samples(data.processed("x", px), data.processed("y", py, lag=spec.lag))
        return x, y, gap
    x, y = align_samples(data.processed("x", px), data.processed("y", py))
    shift = _lag_in_samples(spec.lag, px)
    if shift >= len(x) - 1:
        raise InsufficientDataError(f"Lag {spec.lag} leaves no samples out of {len(x)}.")
    if shift > 0:
        x, y = x[:-shift], y[shift:]
    elif shift < 0:
        x, y = x[-shift:], y[:shift]
    return x, y, gap + abs(shift)


def _window_gap(ptype: str | None, params: Mapping[str, Any]) -> int:
    """Window indices between train and test so overlapping windows cannot leak."""
    if ptype is None:
        return 0
    return overlap_gap(params["window_size"], params["step_size"] or params["window_size"])


def _lag_in_samples(lag: float, params: Mapping[str, Any]) -> int:
    """Convert a lag in raw samples to a shift in window indices."""
    step = int(params.get("step_size", 1) or 1)
    if float(lag) != int(lag) or int(lag) % step:
        raise ParameterError(f"Lag {lag} must be an integer multiple of step_size {step}.")
    return int(lag) // step


def _channel_halves(
    x: torch.Tensor, run_seed: int, split: int
) -> tuple[torch.Tensor, torch.Tensor]:
    n_channels = x.shape[1]
    if n_channels < 2:
        raise DataShapeError(
            f"Dimensionality analysis splits the channels of X in two halves; X has {n_channels} "
            "channel(s)."
        )
    order = np.random.default_rng(derive_seed(run_seed, "channels", split)).permutation(n_channels)
    half = n_channels // 2
    first = torch.as_tensor(np.sort(order[:half]))
    second = torch.as_tensor(np.sort(order[half:]))
    return x.index_select(1, first), x.index_select(1, second)


def task_split(
    spec: TaskSpec, n_samples: int, gap: int, context: TaskContext | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out sample indices of a task (inside its gamma chunk)."""
    p, base = spec.params, spec.params["base"]
    run_seed = p["run_seed"]
    if context is not None and context.train_indices is not None:
        if spec.gamma != 1 or p["mode"] in ("lag", "dimensionality"):
            raise ParameterError(
                "train_indices/test_indices apply to the full data set; they "
                "cannot be combined with gamma subsampling, lags or channel splits."
            )
        return train_test_split(
            n_samples,
            p["split_mode"],
            train_indices=context.train_indices,
            test_indices=context.test_indices,
        )
    chunk = (
        np.arange(n_samples)
        if spec.gamma == 1
        else subset_indices(
            n_samples,
            spec.gamma,
            spec.subset,
            p["split_mode"],
            derive_seed(run_seed, "chunks", spec.gamma),
        )
    )
    train, test = train_test_split(
        len(chunk),
        p["split_mode"],
        train_fraction=base["train_fraction"],
        n_test_blocks=base["n_test_blocks"],
        gap=gap,
        rng_seed=derive_seed(run_seed, "split", spec.gamma, spec.subset, spec.repeat, spec.split),
    )
    return chunk[train], chunk[test]


#: Most tasks trained together in one group.
MAX_GROUP_SIZE = 16


def group_tasks(
    specs: Sequence[TaskSpec], min_groups: int = 1, max_size: int = MAX_GROUP_SIZE, parts: int = 1
) -> list[list[TaskSpec]]:
    """Cut tasks into groups that can be trained together, in plan order.

    Tasks share a group when they differ only in ``subset`` or ``repeat`` (same
    combination, gamma, lag and channel split: the same critic shape and split sizes).
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
        by_key.setdefault((spec.combo, spec.gamma, spec.lag, spec.split), []).append(spec)
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
    x, y, splits, critics, device = _prepare([spec], data, context)
    p, base = spec.params, spec.params["base"]
    estimator = get_estimator(p["estimator"], **p["estimator_params"])
    train_idx, test_idx = splits[0]
    outcome = train_critic(
        critics[0],
        estimator,
        x,
        y,
        train_idx,
        test_idx,
        base,
        seed=spec.seed,
        device=device,
        eval_batch_size=_eval_batch_size(base, context),
        progress=context.progress,
        description=spec.key,
    )
    if context.save_best_model_path is not None:
        torch.save(outcome.state_dict, context.save_best_model_path)
    return _finish([spec], [outcome], critics, x, y, splits, device, start)[0]


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
    start = time.perf_counter()
    x, y, splits, critics, device = _prepare(specs, data, context)
    if not (all(stackable(c) for c in critics) and len({(len(a), len(b)) for a, b in splits}) == 1):
        return [run_task(spec, data, context) for spec in specs]
    p, base = specs[0].params, specs[0].params["base"]
    estimator = get_estimator(p["estimator"], **p["estimator_params"])
    outcomes = train_critics(
        critics,
        estimator,
        x,
        y,
        splits,
        base,
        seeds=[spec.seed for spec in specs],
        device=device,
        eval_batch_size=_eval_batch_size(base, context),
        descriptions=[spec.key for spec in specs],
    )
    return _finish(specs, outcomes, critics, x, y, splits, device, start)


def _prepare(
    specs: Sequence[TaskSpec], data: SessionData, context: TaskContext
) -> tuple[
    torch.Tensor,
    torch.Tensor,
    list[tuple[np.ndarray, np.ndarray]],
    list[torch.nn.Module],
    torch.device,
]:
    """Data, splits and seeded critics of tasks that share their data (one group)."""
    x, y, gap = task_data(specs[0], data)
    splits = [task_split(spec, len(x), gap, context) for spec in specs]
    for spec, (train_idx, _) in zip(specs, splits):
        if len(train_idx) < 2:
            raise InsufficientDataError(
                f"Task {spec.key}: only {len(train_idx)} training sample(s) (gamma={spec.gamma}, "
                f"{len(x)} samples in all); at least 2 are needed per batch."
            )
    device = resolve_device(context.device)
    critics = []
    for spec in specs:
        torch.manual_seed(spec.seed)
        critics.append(
            _critic(
                spec.params["base"],
                x,
                y,
                context,
                marginal_terms=spec.params["mode"] == "dimensionality",
            )
        )
    return x, y, splits, critics, device


def _finish(
    specs: Sequence[TaskSpec],
    outcomes: Sequence[TrainOutcome],
    critics: Sequence[torch.nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    device: torch.device,
    start: float,
) -> list[TaskResult]:
    """Task results (with mode extras); the elapsed time is shared equally."""
    extras: list[dict[str, float]] = [{} for _ in specs]
    for spec, extra, critic, (_, test_idx) in zip(specs, extras, critics, splits):
        if spec.params["mode"] == "dimensionality":
            extra["participation_ratio"] = participation_ratio(critic, x, y, test_idx, device)
    share = (time.perf_counter() - start) / len(specs)
    return [
        _result(spec, outcome, share, extra)
        for spec, outcome, extra in zip(specs, outcomes, extras)
    ]


def _result(
    spec: TaskSpec, outcome: TrainOutcome, wall_time: float, extras: dict[str, float]
) -> TaskResult:
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
    )


def run_tasks(
    specs: Iterable[TaskSpec], data: SessionData, context: TaskContext | None = None
) -> Iterator[TaskResult]:
    """Run tasks in this process, group by group (:func:`group_tasks`), yielding each result."""
    for group in group_tasks(list(specs)):
        yield from run_group(group, data, context)


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
    """The task's critic; dimensionality tasks get marginal terms, so that
    ``embedding_dim`` counts the dimensions of the interaction only."""
    if context.custom_critic is not None:
        return context.custom_critic
    return build_critic(
        dict(base),
        tuple(x.shape[1:]),
        tuple(y.shape[1:]),
        custom_embedding_cls=context.custom_embedding_cls,
        marginal_terms=marginal_terms,
    )


def participation_ratio(
    critic: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    indices: np.ndarray,
    device: torch.device,
) -> float:
    """Participation ratio of the spectrum of the embeddings' cross-covariance.

    With singular values ``s`` of ``cov(z_x, z_y)`` on the held-out samples,
    ``PR = (sum s)^2 / sum s^2``: about the number of embedding directions that carry the
    shared signal. ``NaN`` for critics without separate embeddings (``concat``).
    """
    if not hasattr(critic, "embed"):
        return float("nan")
    rows = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    critic.eval()
    with torch.no_grad():
        zx, zy = critic.embed(x[rows].to(device), y[rows].to(device))
    zx = zx - zx.mean(0)
    zy = zy - zy.mean(0)
    s = torch.linalg.svdvals(zx.T @ zy / max(len(rows) - 1, 1))
    denominator = float((s**2).sum())
    return float(s.sum() ** 2 / denominator) if denominator > 0 else float("nan")
