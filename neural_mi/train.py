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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .errors import InsufficientDataError, ParameterError
from .estimators import ceiling
from .models.stacked import StackedMLPCritics, stackable
from .optim import FusedAdam, adam_update

logger = logging.getLogger(__name__)

#: Materialise the training (or held-out) windows of the critics trained together on the
#: device when they take at most this many bytes; larger data is gathered batch by batch
#: from the (strided) processed view.
GATHER_LIMIT_BYTES = 256 * 2**20

#: A critic that diverged is trained again from its initial weights at most this many
#: times, each time at :data:`RESTART_LR_FACTOR` times the previous learning rate.
MAX_RESTARTS = 2
RESTART_LR_FACTOR = 0.1

#: Estimates (nats) below minus this cannot come from a working critic: 0.1 bit.  A
#: trained critic on independent data keeps its held-out estimate near 0 (the smallest
#: measured over 495 rigorous tasks on 5-d independent Gaussians of 1,000 to 5,000
#: samples, 20 to 1,000 held-out samples each, was -0.050 nats); far below it the critic
#: is worse than a constant one (inputs in the thousands drive it to -450 bits).
NEGATIVE_TOLERANCE_NATS = 0.1 * math.log(2.0)

#: For estimators without a ceiling (SMILE, NWJ, TUBA, JS), estimates above this many
#: times ``log K`` (``K`` held-out samples per evaluation batch) count as divergence: a
#: critic whose scores run off (SMILE's clipped partition term lets a constant shift of
#: the scores raise the estimate without limit) reports thousands of nats, while no
#: distribution-free lower bound from ``K`` samples can certify more than O(log K)
#: (McAllester & Stratos, "Formal limitations on the measurement of mutual information",
#: AISTATS 2020).
UNBOUNDED_CEILING_FACTOR = 2.0

#: An InfoNCE held-out estimate within this many nats of its ceiling ``log K`` is flagged
#: ``at_ceiling``.  With an optimal critic and density ratio ``r = e^I``, InfoNCE on ``K``
#: samples gives about ``log K - log(1 + K e^-I)``: an estimate ``g`` nats below the
#: ceiling is short of the truth by about ``-log(1 - e^-g)``.  That shortfall exceeds 0.1
#: bit when ``g`` is below 2.7 nats (3.9 bits), so nearer than that the estimate is limited
#: by ``K`` rather than by the data.  Trained critics fall shorter still: on 5-d Gaussians
#: (5,000 samples, ``K`` = 1,000 or 2,500) estimates 2 to 3.8 bits below the ceiling were
#: 0.5 to 1.1 bit low, those 4.3 to 7.4 bits below it 0.1 to 0.36 bit low.
CEILING_MARGIN_NATS = -math.log(1.0 - math.exp(-0.1 * math.log(2.0)))

#: Score matrices of the critics evaluated together hold at most this many elements
#: (critics are evaluated in groups below it; one critic's matrix may exceed it).
EVAL_SCORE_LIMIT = 2**25


@dataclass
class TrainOutcome:
    """Result of :func:`train_critic`; MI values in nats.

    Attributes
    ----------
    train_mi, test_mi
        MI of the kept state on the training and held-out evaluation subsets; NaN when
        ``status`` is ``'failed'``.
    best_epoch
        0-based epoch of the kept state (-1 when failed).
    n_epochs_run
        Number of epochs trained (in the last attempt, when the critic was restarted).
    history
        ``test_mi``, ``test_mi_smoothed`` and ``loss`` (mean over the epoch's batches:
        minus the training bound, plus ``beta`` x KL for variational embeddings) per
        epoch, of the last attempt.
    n_train, n_test
        Training samples and held-out samples available.
    state_dict
        The kept weights (on the CPU); empty when failed.
    status
        ``'ok'``, or ``'failed'`` when every attempt diverged (:func:`train_critics`).
    message
        Empty, or what went wrong and what was done about it: the divergence of each
        attempt and the restarts, or that the held-out estimate is at the estimator's
        ceiling.
    diagnostics
        JSON-serialisable: ``restarts`` (attempts after the first), ``learning_rate`` (of
        the last attempt), ``divergences`` (the reason per diverged attempt),
        ``ceiling_nats`` (the largest value the estimator can return on the held-out
        evaluation: ``log K`` averaged over the evaluation batches for InfoNCE, ``None``
        for unbounded estimators) and ``at_ceiling`` (the held-out estimate is within
        :data:`CEILING_MARGIN_NATS` of it).
    """

    train_mi: float
    test_mi: float
    best_epoch: int
    n_epochs_run: int
    history: dict[str, np.ndarray]
    n_train: int
    n_test: int
    state_dict: dict[str, torch.Tensor]
    status: str = "ok"
    message: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device to use: ``'auto'`` picks cuda, then mps, then cpu."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


# --------------------------------------------------------------------------------------
# Samples of one split, for every critic
# --------------------------------------------------------------------------------------


class _Split:
    """The samples of one split (training or held-out) of every critic, batch by batch.

    ``layout`` says what :meth:`take` returns for positions ``(M, b)`` (positions within
    each critic's split): ``"module"`` (one critic): ``[x (b, C, F), y (b, C, F)]``;
    ``"joint"``: ``[xy (2M, b, d)]``, X of every critic then Y; ``"separate"``:
    ``[x (M, b, d_x), y (M, b, d_y)]``.  Every critic has its own rows of its own data
    (``xs[m]``, ``ys[m]``: the same tensors for every critic unless each task transformed
    its inputs).  Materialised samples are stored as ``(slots * n, d)`` matrices, so a
    batch is one ``index_select`` per matrix.
    """

    def __init__(
        self,
        xs: Sequence[Tensor],
        ys: Sequence[Tensor],
        rows: Sequence[Tensor],
        device: torch.device,
        layout: str,
    ) -> None:
        self._layout = layout
        self._device = device
        self._n = len(rows[0])
        x, y = xs[0], ys[0]
        per_sample = (
            math.prod(x.shape[1:]) * x.element_size() + math.prod(y.shape[1:]) * y.element_size()
        )
        self._materialised = len(rows) * self._n * per_sample <= GATHER_LIMIT_BYTES
        if not self._materialised:
            self._xs, self._ys, self._rows = list(xs), list(ys), torch.stack(list(rows))
        elif layout == "module":
            self._data = [
                x.index_select(0, rows[0]).to(device),
                y.index_select(0, rows[0]).to(device),
            ]
        elif layout == "joint":
            self._data = [self._stack([*zip(xs, rows), *zip(ys, rows)], device)]
        else:
            self._data = [
                self._stack(list(zip(xs, rows)), device),
                self._stack(list(zip(ys, rows)), device),
            ]
        self._set_offsets(len(rows))

    @staticmethod
    def _stack(blocks: Sequence[tuple[Tensor, Tensor]], device: torch.device) -> Tensor:
        """``(slots * n, d)``: the flattened samples ``data[rows]`` of each block in turn."""
        first, rows = blocks[0]
        n = len(rows)
        out = torch.empty((len(blocks) * n, math.prod(first.shape[1:])), dtype=first.dtype)
        for k, (data, rows) in enumerate(blocks):
            out[k * n : (k + 1) * n] = data.index_select(0, rows).flatten(1)
        return out.to(device)

    def _set_offsets(self, n_models: int) -> None:
        n_slots = 2 * n_models if self._layout == "joint" else n_models
        self._offsets = (torch.arange(n_slots, device=self._device) * self._n)[:, None]

    def take(self, positions: Tensor) -> list[Tensor]:
        """Samples at ``positions`` (``(M, b)`` on the device), laid out as ``layout``."""
        if not self._materialised:
            return self._gather(positions)
        if self._layout == "module":
            return [d.index_select(0, positions[0]) for d in self._data]
        if self._layout == "joint":
            positions = torch.cat([positions, positions])
        index = (positions + self._offsets).flatten()
        return [d.index_select(0, index).view(*positions.shape, -1) for d in self._data]

    def _gather(self, positions: Tensor) -> list[Tensor]:
        """Gather a batch from the (strided) processed data, on the host, then move it."""
        rows = self._rows.gather(1, positions.cpu())
        if any(x is not self._xs[0] for x in self._xs) or any(
            y is not self._ys[0] for y in self._ys
        ):
            return self._gather_per_critic(rows)
        rows = rows.flatten()
        x, y = self._xs[0], self._ys[0]
        if self._layout == "module":
            return [
                x.index_select(0, rows).to(self._device, non_blocking=True),
                y.index_select(0, rows).to(self._device, non_blocking=True),
            ]
        if self._layout == "joint":
            out = torch.empty((2, len(rows), *x.shape[1:]), dtype=x.dtype)
            torch.index_select(x, 0, rows, out=out[0])
            torch.index_select(y, 0, rows, out=out[1])
            return [out.view(2 * len(positions), positions.shape[1], -1).to(self._device)]
        return [s.index_select(0, rows).view(*positions.shape, -1).to(self._device) for s in (x, y)]

    def _gather_per_critic(self, rows: Tensor) -> list[Tensor]:
        """:meth:`_gather` when critics have data of their own: one gather per critic."""
        x = torch.stack([d.index_select(0, r) for d, r in zip(self._xs, rows)])
        y = torch.stack([d.index_select(0, r) for d, r in zip(self._ys, rows)])
        if self._layout == "module":
            return [x[0].to(self._device), y[0].to(self._device)]
        if self._layout == "joint":
            return [torch.cat([x, y]).flatten(2).to(self._device)]
        return [x.flatten(2).to(self._device), y.flatten(2).to(self._device)]

    def keep(self, models: Tensor) -> None:
        """Keep the samples of the critics at positions ``models`` only."""
        if not self._materialised:
            self._rows = self._rows[models]
            self._xs = [self._xs[i] for i in models.tolist()]
            self._ys = [self._ys[i] for i in models.tolist()]
        else:
            slots = (
                torch.cat([models, models + len(self._offsets) // 2])
                if self._layout == "joint"
                else models
            )
            self._data = [
                d.view(-1, self._n, d.shape[-1])[slots.to(self._device)].view(-1, d.shape[-1])
                for d in self._data
            ]
        self._set_offsets(len(models))


# --------------------------------------------------------------------------------------
# Engines: how a step and an evaluation are computed
# --------------------------------------------------------------------------------------


class _ModuleEngine:
    """One critic trained through its own ``forward`` (any critic)."""

    layout = "module"

    def __init__(
        self,
        critic: torch.nn.Module,
        estimator: Callable[[Tensor], Tensor],
        params: dict[str, Any],
        device: torch.device,
    ) -> None:
        self.critic = critic
        self.estimator = estimator
        self.beta = float(params["beta"])
        self.adam = FusedAdam(
            [p for p in critic.parameters() if p.requires_grad], params["learning_rate"]
        )
        self.best: dict[str, Tensor] = {}

    def train(self) -> None:
        self.critic.train()

    def eval(self) -> None:
        self.critic.eval()

    def step(self, batch: list[Tensor]) -> Tensor:
        scores, kl = self.critic(*batch)
        loss = -self.estimator(scores)
        if kl.requires_grad:
            loss = loss + self.beta * kl
        self.adam.zero_grad()
        loss.backward()
        self.adam.step()
        return loss.detach().reshape(1)

    def evaluate(self, batch: list[Tensor]) -> Tensor:
        return self.estimator(self.critic(*batch)[0]).reshape(1)

    def keep(self, models: Tensor) -> None:
        """Keep the critics at ``models``: with one critic, only ever itself."""

    def save_best(self, improved: list[int]) -> None:
        if improved:
            self.best = {k: v.detach().clone() for k, v in self.critic.state_dict().items()}

    def finish(self) -> list[dict[str, Tensor]]:
        if not self.best:  # diverged before any epoch could be kept
            return [{}]
        self.critic.load_state_dict(self.best)
        return [{k: v.to("cpu", copy=True) for k, v in self.best.items()}]


class _StackedEngine:
    """Critics trained as one :class:`StackedMLPCritics` (shared kernels, own numbers)."""

    def __init__(
        self,
        critics: Sequence[torch.nn.Module],
        estimator: Callable[[Tensor], Tensor],
        params: dict[str, Any],
        device: torch.device,
    ) -> None:
        self.critics = critics
        self.stack = StackedMLPCritics(critics, device)
        self.layout = "joint" if self.stack.joint else "separate"
        self.estimator = estimator
        self.lr = float(params["learning_rate"])
        self.n_full = len(critics)
        self.models = torch.arange(self.n_full)
        self.best = [p.detach().clone() for p in self.stack.params]
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.stack.params]
        self.step_count = torch.zeros((), dtype=torch.float32, device=device)
        self._views()

    def _views(self) -> None:
        """Per-slot views of parameters, gradients and moments for the fused Adam."""
        self._params, self._grads = self.stack.slot_views()
        self._exp_avgs = [m[k] for m, _ in self.moments for k in range(len(m))]
        self._exp_avg_sqs = [v[k] for _, v in self.moments for k in range(len(v))]
        self._steps = [self.step_count] * len(self._params)

    def train(self) -> None:
        """No dropout or normalisation: nothing to switch."""

    def eval(self) -> None:
        """No dropout or normalisation: nothing to switch."""

    def step(self, batch: list[Tensor]) -> Tensor:
        values = self.estimator(self.stack.scores(batch))
        self.stack.zero_grad()
        (-values.sum()).backward()
        with torch.no_grad():
            self.step_count.add_(1.0)
            adam_update(
                self._params, self._grads, self._exp_avgs, self._exp_avg_sqs, self._steps, self.lr
            )
        return -values.detach()

    def evaluate(self, batch: list[Tensor]) -> Tensor:
        zx, zy = self.stack.embed(batch)
        n = zx.shape[1]
        per_group = max(1, EVAL_SCORE_LIMIT // (n * n))
        return torch.cat(
            [
                self.estimator(
                    torch.bmm(zx[i : i + per_group], zy[i : i + per_group].transpose(1, 2))
                )
                for i in range(0, len(zx), per_group)
            ]
        )

    def save_best(self, improved: list[int]) -> None:
        if not improved:
            return
        current = torch.tensor(improved)
        full = self.stack.slots(self.models[current], self.n_full)
        now = self.stack.slots(current)
        with torch.no_grad():
            for best, p, i_full, i_now in zip(self.best, self.stack.params, full, now):
                best.index_copy_(
                    0, i_full.to(best.device), p.detach().index_select(0, i_now.to(p.device))
                )

    def keep(self, models: Tensor) -> None:
        index = self.stack.keep(models)
        self.moments = [
            (m.index_select(0, i.to(m.device)), v.index_select(0, i.to(v.device)))
            for (m, v), i in zip(self.moments, index)
        ]
        self.models = self.models[models]
        self._views()

    def finish(self) -> list[dict[str, Tensor]]:
        states = []
        for model, critic in enumerate(self.critics):
            self.stack.copy_into(critic, self.best, model, self.n_full)
            states.append(
                {k: v.detach().to("cpu", copy=True) for k, v in critic.state_dict().items()}
            )
        return states


# --------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------


def _eval_positions(n: int, limit: int, generator: torch.Generator) -> torch.Tensor:
    """A fixed subset of at most ``limit`` positions out of ``n`` (all when n <= limit)."""
    if n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)[:limit].sort().values


def _eval_chunks(positions: Tensor, eval_batch_size: int) -> tuple[Tensor, ...]:
    """``positions`` cut along the last axis into near-equal batches of at most
    ``eval_batch_size``."""
    n_chunks = max(1, math.ceil(positions.shape[-1] / eval_batch_size))
    return torch.tensor_split(positions, n_chunks, dim=-1)


def _evaluate(
    engine: _ModuleEngine | _StackedEngine, split: _Split, positions: Tensor, eval_batch_size: int
) -> list[float]:
    """Mean bound per critic over near-equal batches of at most ``eval_batch_size``."""
    chunks = _eval_chunks(positions, eval_batch_size)
    total = sum((engine.evaluate(split.take(chunk)) for chunk in chunks), torch.zeros(()))
    return (total / len(chunks)).tolist()


def _module_mi(
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
    chunks = _eval_chunks(rows, eval_batch_size)
    with torch.no_grad():
        values = [
            estimator(
                critic(x.index_select(0, chunk).to(device), y.index_select(0, chunk).to(device))[0]
            )
            for chunk in chunks
        ]
    return float(sum(values) / len(chunks))


def _eval_batch_sizes(n_eval: int, eval_batch_size: int) -> list[int]:
    """Sizes of the near-equal batches in which ``n_eval`` samples are evaluated."""
    return [len(chunk) for chunk in _eval_chunks(torch.empty(n_eval), eval_batch_size)]


def evaluation_ceiling(
    estimator: Callable[[Tensor], Tensor], n_eval: int, eval_batch_size: int
) -> float | None:
    """The largest held-out value ``estimator`` can return when ``n_eval`` samples are
    evaluated in near-equal batches of at most ``eval_batch_size`` (nats).

    The held-out estimate is the mean of the batches' bounds, so its ceiling is the mean of
    the batches' ceilings (:func:`~neural_mi.estimators.ceiling`): ``log K`` for InfoNCE
    evaluated in one batch of ``K``; ``None`` for estimators without a ceiling.
    """
    ceilings = [ceiling(estimator, size) for size in _eval_batch_sizes(n_eval, eval_batch_size)]
    bounded = [c for c in ceilings if c is not None]
    return float(np.mean(bounded)) if len(bounded) == len(ceilings) else None


def _highest_plausible(
    estimator: Callable[[Tensor], Tensor], n_eval: int, eval_batch_size: int
) -> float:
    """The largest estimate (nats) a working critic can give on this evaluation: the
    estimator's ceiling (plus :data:`NEGATIVE_TOLERANCE_NATS` for rounding), or, for
    estimators without one, :data:`UNBOUNDED_CEILING_FACTOR` times ``log K``."""
    upper = evaluation_ceiling(estimator, n_eval, eval_batch_size)
    if upper is not None:
        return upper + NEGATIVE_TOLERANCE_NATS
    sizes = _eval_batch_sizes(n_eval, eval_batch_size)
    return UNBOUNDED_CEILING_FACTOR * float(np.mean([math.log(k) for k in sizes]))


def _implausible(train_mi: float, test_mi: float, highest: float, epoch: int) -> str:
    """Why the kept state's estimates cannot come from a working critic, or ``""``."""
    for name, value in (("held-out", test_mi), ("training", train_mi)):
        if not math.isfinite(value):
            return f"the {name} estimate of the kept state (epoch {epoch}) is {value}"
        if value < -NEGATIVE_TOLERANCE_NATS:
            return (
                f"the {name} estimate of the kept state (epoch {epoch}) is {value:.4g} nats, "
                f"below -{NEGATIVE_TOLERANCE_NATS:.4g} nats (-0.1 bit)"
            )
        if value > highest:
            return (
                f"the {name} estimate of the kept state (epoch {epoch}) is {value:.4g} nats, "
                f"above the {highest:.4g} nats this evaluation can support"
            )
    return ""


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
    if n_models > 1 and not all(stackable(c) for c in critics):
        raise ParameterError(
            "Only separable/bilinear critics with MLP embeddings can be "
            "trained together; train the others one at a time."
        )
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
    highest = _highest_plausible(estimator, n_eval, eval_batch_size)

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
        attempts = _train_round(
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
        outcomes[m] = _failed(outcomes[m])
    for m, outcome in outcomes.items():
        _describe(outcome, divergences[m], last_rate[m], upper)
        if outcome.status == "failed":
            logger.warning("%s: %s", descriptions[m], outcome.message)
    return [outcomes[m] for m in range(n_models)]


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


def _failed(outcome: TrainOutcome) -> TrainOutcome:
    """The outcome of a critic that diverged in every attempt: NaN MI, no kept state."""
    return TrainOutcome(
        train_mi=math.nan,
        test_mi=math.nan,
        best_epoch=-1,
        n_epochs_run=outcome.n_epochs_run,
        history=outcome.history,
        n_train=outcome.n_train,
        n_test=outcome.n_test,
        state_dict={},
        status="failed",
    )


def _describe(
    outcome: TrainOutcome, divergences: list[str], learning_rate: float, upper: float | None
) -> None:
    """Fill an outcome's ``message`` and ``diagnostics`` (see :class:`TrainOutcome`)."""
    failed = outcome.status == "failed"
    at_ceiling = upper is not None and outcome.test_mi >= upper - CEILING_MARGIN_NATS
    outcome.diagnostics = {
        "restarts": len(divergences) - 1 if failed else len(divergences),
        "learning_rate": learning_rate,
        "divergences": list(divergences),
        "ceiling_nats": upper,
        "at_ceiling": bool(at_ceiling),
    }
    notes = list(divergences)
    if failed:
        notes.append(
            f"gave up after {MAX_RESTARTS} restart(s): use a smaller learning_rate, or "
            "bring the inputs to a common scale (input_transform); held-out estimates only "
            "a little below -0.1 bit mean that the critic learned nothing that generalises "
            "(train longer, or on more samples)"
        )
    elif divergences:
        notes.append(f"restarted from the initial weights at learning_rate={learning_rate:g}")
    if at_ceiling:
        notes.append(
            f"the held-out estimate ({outcome.test_mi:.4g} nats) is within "
            f"{CEILING_MARGIN_NATS:.3g} nats of the estimator's ceiling log K = {upper:.4g} "
            "nats: the true MI may be higher (more held-out samples raise the ceiling; the "
            "'smile' estimator has none)"
        )
    outcome.message = "; ".join(notes)


def _train_round(
    critics: Sequence[torch.nn.Module],
    estimator: Callable[[torch.Tensor], torch.Tensor],
    xs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    train_rows: Sequence[Tensor],
    test_rows: Sequence[Tensor],
    params: dict[str, Any],
    *,
    seeds: Sequence[int],
    device: torch.device,
    eval_batch_size: int,
    highest: float,
    progress: bool,
    descriptions: Sequence[str],
) -> list[tuple[TrainOutcome, str]]:
    """One attempt of :func:`train_critics`: each critic's outcome and why it diverged
    (``""`` when it did not)."""
    n_models = len(critics)
    if all(stackable(c) for c in critics):
        engine: _ModuleEngine | _StackedEngine = _StackedEngine(critics, estimator, params, device)
    else:
        engine = _ModuleEngine(critics[0], estimator, params, device)

    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    n_train, n_test = len(train_rows[0]), len(test_rows[0])
    limit = int(params["max_eval_samples"])
    test_eval = torch.stack([_eval_positions(n_test, limit, g) for g in generators])
    train_eval = torch.stack([_eval_positions(n_train, test_eval.shape[1], g) for g in generators])
    test_eval = test_eval.to(device)
    train = _Split(xs, ys, train_rows, device, engine.layout)
    test = _Split(xs, ys, test_rows, device, engine.layout)

    batch_size = min(int(params["batch_size"]), n_train)
    n_batches = math.ceil(n_train / batch_size)
    window = int(params["smoothing_window"])
    patience = int(params["patience"])
    histories: list[dict[str, list[float]]] = [
        {"test_mi": [], "test_mi_smoothed": [], "loss": []} for _ in range(n_models)
    ]
    best_smoothed = [-math.inf] * n_models
    best_epoch = [-1] * n_models
    diverged = [""] * n_models
    active = list(range(n_models))

    epochs = tqdm(
        range(int(params["n_epochs"])),
        desc=descriptions[0],
        disable=not progress or n_models > 1,
        leave=False,
    )
    for epoch in epochs:
        engine.train()
        order = torch.stack([torch.randperm(n_train, generator=generators[m]) for m in active]).to(
            device
        )
        loss_sum = torch.zeros(len(active), device=device)
        for positions in torch.tensor_split(order, n_batches, dim=1):
            loss_sum += engine.step(train.take(positions))
        mean_loss = (loss_sum / n_batches).tolist()
        engine.eval()
        with torch.no_grad():
            test_mi = _evaluate(engine, test, test_eval, eval_batch_size)
        improved, stopped = [], []
        for k, m in enumerate(active):
            history = histories[m]
            history["loss"].append(mean_loss[k])
            history["test_mi"].append(test_mi[k])
            smoothed = float(np.mean(history["test_mi"][-window:]))
            history["test_mi_smoothed"].append(smoothed)
            if not (math.isfinite(mean_loss[k]) and math.isfinite(test_mi[k])):
                diverged[m] = (
                    f"at epoch {epoch} the loss became {mean_loss[k]} and the held-out "
                    f"estimate {test_mi[k]}"
                )
                stopped.append(k)
                continue
            if smoothed > best_smoothed[m]:
                best_smoothed[m], best_epoch[m] = smoothed, epoch
                improved.append(k)
            if epoch - best_epoch[m] > patience:
                stopped.append(k)
        engine.save_best(improved)
        if progress:
            epochs.set_postfix(test_mi=f"{test_mi[0]:.3f}", best_epoch=best_epoch[active[0]])
        if stopped:
            kept = [k for k in range(len(active)) if k not in stopped]
            if not kept:
                break
            index = torch.tensor(kept)
            engine.keep(index)
            train.keep(index)
            test.keep(index)
            test_eval = test_eval[index.to(device)]
            active = [active[k] for k in kept]

    results = []
    for m, state in enumerate(engine.finish()):
        arrays = {
            name: np.asarray(values, dtype=np.float64) for name, values in histories[m].items()
        }
        if diverged[m]:
            train_mi = test_mi_kept = math.nan
        else:
            positions = train_rows[m][train_eval[m]]
            train_mi = _module_mi(
                critics[m], estimator, xs[m], ys[m], positions, eval_batch_size, device
            )
            test_mi_kept = float(arrays["test_mi"][best_epoch[m]])
        outcome = TrainOutcome(
            train_mi=train_mi,
            test_mi=test_mi_kept,
            best_epoch=best_epoch[m],
            n_epochs_run=len(arrays["loss"]),
            history=arrays,
            n_train=n_train,
            n_test=n_test,
            state_dict=state,
        )
        reason = diverged[m] or _implausible(train_mi, test_mi_kept, highest, best_epoch[m])
        results.append((outcome, reason))
    return results
