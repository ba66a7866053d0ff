"""Training of critics on train/test splits: the torch hot path lives here.

:func:`train_critic` takes an already built critic, the processed data and the split, and
returns a :class:`TrainOutcome`; :func:`train_critics` does the same for several critics
of one shape whose splits have the same sizes, in lockstep.  Neither knows anything about
modes, plans or stores.

Design choices that matter for the statistics:

- Mini-batches are drawn by indexing tensors with a seeded permutation every epoch, cut
  into ``ceil(n_train / batch_size)`` near-equal batches: every sample is used every epoch
  and no batch is much smaller than the others (contrastive bounds depend on the batch
  size). With few samples (large gamma) this also keeps the number of optimisation steps
  from collapsing to one per epoch.
- Held-out MI is evaluated every epoch, under ``torch.no_grad()``, on a fixed subset of at
  most ``max_eval_samples`` test samples, in as few batches as the critic affords
  (contrastive bounds tighten with the batch size).  Training MI is evaluated the same way,
  once, for the kept state, on a fixed training subset of the same size, so both numbers
  use the same bound at the same batch size.  (Per epoch the history records the mean
  training loss over the epoch's batches; evaluating the training subset every epoch as
  well would cost 7 % of a wide critic's training time for a curve the loss already
  shows.)
- Early stopping follows the *smoothed* held-out curve (trailing mean over
  ``smoothing_window`` epochs): the kept state is the one at the epoch where the smoothed
  curve peaked, and training stops ``patience`` epochs after that peak.

How it is made fast (none of it changes what is computed):

- Separable and bilinear critics with MLP embeddings (the default) train through
  :class:`~neural_mi.models.stacked.StackedMLPCritics`: X and Y embeddings, and several
  critics, share batched matrix products; a critic's numbers do not depend on how many
  critics it shares them with.  Other critics train through their own ``forward``.
- Adam is torch's fused kernel called directly (:mod:`neural_mi.optim`), gradients
  are zeroed in one kernel, the loss stays on the device during an epoch (one host sync
  per epoch for the losses and one per evaluation), and the kept state is a device copy.
- Training samples are copied once to the device when they fit in
  :data:`GATHER_LIMIT_BYTES`; otherwise each batch is gathered from the processed (strided,
  never materialised) windows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .errors import InsufficientDataError, ParameterError
from .models.stacked import stackable
from .training.divergence import (
    CEILING_MARGIN_NATS,
    MAX_RESTARTS,
    NEGATIVE_TOLERANCE_NATS,
    RESTART_LR_FACTOR,
    UNBOUNDED_CEILING_FACTOR,
    describe,
    failed,
    highest_plausible,
)
from .training.engines import EVAL_SCORE_LIMIT
from .training.epochs import train_round
from .training.evaluation import evaluation_ceiling
from .training.outcome import TrainOutcome

__all__ = [
    "CEILING_MARGIN_NATS",
    "EVAL_SCORE_LIMIT",
    "GATHER_LIMIT_BYTES",
    "MAX_RESTARTS",
    "NEGATIVE_TOLERANCE_NATS",
    "RESTART_LR_FACTOR",
    "UNBOUNDED_CEILING_FACTOR",
    "TrainOutcome",
    "evaluation_ceiling",
    "resolve_device",
    "train_critic",
    "train_critics",
]

logger = logging.getLogger(__name__)

#: Materialise the training (or held-out) windows of the critics trained together on the
#: device when they take at most this many bytes; larger data is gathered batch by batch
#: from the (strided) processed view.
GATHER_LIMIT_BYTES = 256 * 2**20


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device to use: ``'auto'`` picks cuda, then mps, then cpu."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def train_critic(
    critic: torch.nn.Module,
    estimator: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    params: dict[str, Any],
    *,
    seed: int,
    device: torch.device,
    eval_batch_size: int | None = None,
    progress: bool = False,
    description: str = "training",
) -> TrainOutcome:
    """Train ``critic`` to maximise ``estimator`` and keep the best held-out state.

    Parameters
    ----------
    critic
        Module mapping ``(x_batch, y_batch)`` to ``(scores (b, b), kl scalar)``.
    estimator
        Function of the score matrix returning the MI bound (nats) to maximise.
    x, y
        Processed data, ``(n_samples, channels, features)`` each (may be strided views).
    train_idx, test_idx
        Sample indices of the training and held-out sets.
    params
        Complete base parameters (``n_epochs``, ``learning_rate``, ``batch_size``,
        ``patience``, ``beta``, ``smoothing_window``, ``max_eval_samples``).
    seed
        Seed of the batch order and the evaluation subsets.
    device
        Where to train.
    eval_batch_size
        Samples per evaluation batch; default ``max_eval_samples`` (the whole evaluation
        subset in one batch). Contrastive bounds are biased low by roughly
        ``E[r^2]/K`` for a batch of ``K`` (``r`` the density ratio), so evaluating with the
        largest affordable batch gives the tightest held-out estimate.
    progress
        Show a progress bar over epochs.
    description
        Label of the progress bar.

    Returns
    -------
    TrainOutcome
        With ``status='failed'`` (NaN MI) when training diverged in every attempt; see
        :func:`train_critics` for how divergence is detected and recovered from.

    Raises
    ------
    InsufficientDataError
        If the training or held-out set has fewer than 2 samples.
    """
    return train_critics(
        [critic],
        estimator,
        x,
        y,
        [(train_idx, test_idx)],
        params,
        seeds=[seed],
        device=device,
        eval_batch_size=eval_batch_size,
        progress=progress,
        descriptions=[description],
    )[0]


def train_critics(
    critics: Sequence[torch.nn.Module],
    estimator: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | Sequence[torch.Tensor],
    y: torch.Tensor | Sequence[torch.Tensor],
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    params: dict[str, Any],
    *,
    seeds: Sequence[int],
    device: torch.device,
    eval_batch_size: int | None = None,
    progress: bool = False,
    descriptions: Sequence[str] | None = None,
) -> list[TrainOutcome]:
    """Train several critics in lockstep, each exactly as :func:`train_critic` would.

    Each critic has its own split, seed (batch order, evaluation subsets) and early
    stopping; a critic that stops is dropped from the shared kernels.  On the CPU with one
    torch thread (as ``nmi.run`` and the workflow train) every critic's numbers are
    bit-identical to those of :func:`train_critic`; with several threads, work split
    between threads may round differently.

    A critic *diverges* when its epoch loss or held-out estimate becomes NaN or infinite
    (it is dropped from the shared kernels at once), or when the estimates of its kept
    state lie outside what a working critic can give: below ``-0.1`` bit
    (:data:`NEGATIVE_TOLERANCE_NATS`), above the estimator's ceiling
    (:func:`evaluation_ceiling`), or, for estimators without one, above
    :data:`UNBOUNDED_CEILING_FACTOR` times ``log K``.  The critics that diverged are trained
    again, together, from their initial weights and seeds at :data:`RESTART_LR_FACTOR`
    times the learning rate, at most :data:`MAX_RESTARTS` times; a restarted critic ends
    exactly as a critic trained alone at that learning rate from the start would, and the
    other critics' numbers do not change.  A critic that diverges in every attempt is returned with
    ``status='failed'`` and NaN MI.  Every outcome's ``message`` and ``diagnostics`` say
    what happened.

    Parameters
    ----------
    critics
        One critic, or several critics accepted by
        :func:`~neural_mi.models.stacked.stackable`, all of one shape.
    estimator
        Function of score matrices ``(..., b, b)`` returning the MI bound(s) (nats).
    x, y
        Processed data shared by every critic, ``(n_samples, channels, features)``, or
        one such tensor per critic (all of one shape; e.g. each task's inputs transformed
        with a fit on its own training samples).
    splits
        ``(train_idx, test_idx)`` per critic; every critic must have the same numbers of
        training and of held-out samples.
    params, device, eval_batch_size
        As for :func:`train_critic`, shared.
    seeds
        Seed per critic.
    progress
        Show a progress bar over epochs (one critic only).
    descriptions
        Label per critic (progress bar, log messages).

    Returns
    -------
    list of TrainOutcome
        In the order of ``critics``.

    Raises
    ------
    ParameterError
        If several critics are given that cannot share kernels, their splits differ in
        size, or per-critic data does not match the critics.
    InsufficientDataError
        As for :func:`train_critic`.
    """
    n_models = len(critics)
    descriptions = list(descriptions or [f"critic {m}" for m in range(n_models)])
    xs, ys = _per_critic(x, n_models, "x"), _per_critic(y, n_models, "y")
    n_test = _check_together(critics, splits)
    for critic in critics:
        critic.to(device)
    initial = [{k: v.detach().clone() for k, v in c.state_dict().items()} for c in critics]
    train_rows, test_rows = (
        [torch.as_tensor(np.asarray(split[i]), dtype=torch.long) for split in splits]
        for i in (0, 1)
    )
    eval_batch_size = int(eval_batch_size or params["max_eval_samples"])
    n_eval = min(n_test, int(params["max_eval_samples"]))
    upper = evaluation_ceiling(estimator, n_eval, eval_batch_size)
    highest = highest_plausible(estimator, n_eval, eval_batch_size)

    outcomes: dict[int, TrainOutcome] = {}
    last_rate: dict[int, float] = {}
    divergences: list[list[str]] = [[] for _ in range(n_models)]
    pending = list(range(n_models))
    learning_rate = float(params["learning_rate"])
    for attempt in range(MAX_RESTARTS + 1):
        if attempt:
            learning_rate *= RESTART_LR_FACTOR
            for m in pending:
                critics[m].load_state_dict(initial[m])
        attempts = train_round(
            [critics[m] for m in pending],
            estimator,
            [xs[m] for m in pending],
            [ys[m] for m in pending],
            [train_rows[m] for m in pending],
            [test_rows[m] for m in pending],
            {**params, "learning_rate": learning_rate} if attempt else params,
            seeds=[seeds[m] for m in pending],
            device=device,
            eval_batch_size=eval_batch_size,
            highest=highest,
            progress=progress,
            descriptions=[descriptions[m] for m in pending],
            gather_limit=GATHER_LIMIT_BYTES,
        )
        for m, (outcome, reason) in zip(pending, attempts):
            outcomes[m], last_rate[m] = outcome, learning_rate
            if reason:
                divergences[m].append(f"{reason} (learning_rate={learning_rate:g})")
                logger.warning("%s: training diverged: %s.", descriptions[m], divergences[m][-1])
        pending = [m for m, (_, reason) in zip(pending, attempts) if reason]
        if not pending:
            break
    for m in pending:
        outcomes[m] = failed(outcomes[m])
    for m, outcome in outcomes.items():
        describe(outcome, divergences[m], last_rate[m], upper)
        if outcome.status == "failed":
            logger.warning("%s: %s", descriptions[m], outcome.message)
    return [outcomes[m] for m in range(n_models)]


def _check_together(
    critics: Sequence[torch.nn.Module], splits: Sequence[tuple[np.ndarray, np.ndarray]]
) -> int:
    """Refuse critics that cannot be trained together (splits of unequal sizes, fewer
    than 2 training or held-out samples, critics that cannot share kernels); return the
    number of held-out samples."""
    n_train, n_test = len(splits[0][0]), len(splits[0][1])
    if any((len(a), len(b)) != (n_train, n_test) for a, b in splits):
        raise ParameterError(
            "Critics trained together need splits of equal sizes, got "
            f"{[(len(a), len(b)) for a, b in splits]}."
        )
    if n_train < 2 or n_test < 2:
        raise InsufficientDataError(
            f"Need at least 2 training and 2 held-out samples, got {n_train} and {n_test}."
        )
    if len(critics) > 1 and not all(stackable(c) for c in critics):
        raise ParameterError(
            "Only separable/bilinear critics with MLP embeddings can be "
            "trained together; train the others one at a time."
        )
    return n_test


def _per_critic(
    data: torch.Tensor | Sequence[torch.Tensor], n_models: int, name: str
) -> list[torch.Tensor]:
    """``data`` as one tensor per critic (the same tensor repeated when it is shared)."""
    if isinstance(data, torch.Tensor):
        return [data] * n_models
    tensors = list(data)
    if len(tensors) != n_models or len({tuple(t.shape[1:]) for t in tensors}) != 1:
        raise ParameterError(
            f"Per-critic {name} must hold one tensor per critic ({n_models}), all with the "
            f"same sample shape; got shapes {[tuple(t.shape) for t in tensors]}."
        )
    return tensors
