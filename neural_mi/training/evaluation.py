"""Evaluation of critics: fixed evaluation subsets, near-equal evaluation batches, the
mean bound over them, and the ceiling of an estimator on such an evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..estimators import ceiling
from .engines import ModuleEngine, StackedEngine
from .samples import Split


def eval_positions(n: int, limit: int, generator: torch.Generator) -> torch.Tensor:
    """A fixed subset of at most ``limit`` positions out of ``n`` (all when n <= limit)."""
    if n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)[:limit].sort().values


def eval_chunks(positions: Tensor, eval_batch_size: int) -> tuple[Tensor, ...]:
    """``positions`` cut along the last axis into near-equal batches of at most
    ``eval_batch_size``."""
    n_chunks = max(1, math.ceil(positions.shape[-1] / eval_batch_size))
    return torch.tensor_split(positions, n_chunks, dim=-1)


def evaluate(
    engine: ModuleEngine | StackedEngine, split: Split, positions: Tensor, eval_batch_size: int
) -> list[float]:
    """Mean bound per critic over near-equal batches of at most ``eval_batch_size``."""
    chunks = eval_chunks(positions, eval_batch_size)
    total = sum((engine.evaluate(split.take(chunk)) for chunk in chunks), torch.zeros(()))
    return (total / len(chunks)).tolist()


def module_mi(
    critic: torch.nn.Module,
    estimator: Callable[[Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    rows: Tensor,
    eval_batch_size: int,
    device: torch.device,
) -> float:
    """Mean bound of ``critic`` (in eval mode) over near-equal batches of ``rows``."""
    critic.eval()
    chunks = eval_chunks(rows, eval_batch_size)
    with torch.no_grad():
        values = [
            estimator(
                critic(x.index_select(0, chunk).to(device), y.index_select(0, chunk).to(device))[0]
            )
            for chunk in chunks
        ]
    return float(sum(values) / len(chunks))


def eval_batch_sizes(n_eval: int, eval_batch_size: int) -> list[int]:
    """Sizes of the near-equal batches in which ``n_eval`` samples are evaluated."""
    return [len(chunk) for chunk in eval_chunks(torch.empty(n_eval), eval_batch_size)]


def evaluation_ceiling(
    estimator: Callable[[Tensor], Tensor], n_eval: int, eval_batch_size: int
) -> float | None:
    """The largest held-out value ``estimator`` can return when ``n_eval`` samples are
    evaluated in near-equal batches of at most ``eval_batch_size`` (nats).

    The held-out estimate is the mean of the batches' bounds, so its ceiling is the mean of
    the batches' ceilings (:func:`~neural_mi.estimators.ceiling`): ``log K`` for InfoNCE
    evaluated in one batch of ``K``; ``None`` for estimators without a ceiling.
    """
    ceilings = [ceiling(estimator, size) for size in eval_batch_sizes(n_eval, eval_batch_size)]
    bounded = [c for c in ceilings if c is not None]
    return float(np.mean(bounded)) if len(bounded) == len(ceilings) else None
