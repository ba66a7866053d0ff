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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .errors import InsufficientDataError, ParameterError, TrainingError
from .models.stacked import StackedMLPCritics, stackable
from .optim import FusedAdam, adam_update

logger = logging.getLogger(__name__)

#: Materialise the training (or held-out) windows of the critics trained together on the
#: device when they take at most this many bytes; larger data is gathered batch by batch
#: from the (strided) processed view.
GATHER_LIMIT_BYTES = 256 * 2**20

#: Score matrices of the critics evaluated together hold at most this many elements
#: (critics are evaluated in groups below it; one critic's matrix may exceed it).
EVAL_SCORE_LIMIT = 2**25


@dataclass
class TrainOutcome:
    """Result of :func:`train_critic`; MI values in nats.

    Attributes
    ----------
    train_mi, test_mi
        MI of the kept state on the training and held-out evaluation subsets.
    best_epoch
        0-based epoch of the kept state.
    n_epochs_run
        Number of epochs trained.
    history
        ``test_mi``, ``test_mi_smoothed`` and ``loss`` (mean over the epoch's batches:
        minus the training bound, plus ``beta`` x KL for variational embeddings) per
        epoch.
    n_train, n_test
        Training samples and held-out samples available.
    state_dict
        The kept weights (on the CPU).
    """

    train_mi: float
    test_mi: float
    best_epoch: int
    n_epochs_run: int
    history: dict[str, np.ndarray]
    n_train: int
    n_test: int
    state_dict: dict[str, torch.Tensor]


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
    ``[x (M, b, d_x), y (M, b, d_y)]``.  Materialised samples are stored as
    ``(slots * n, d)`` matrices, so a batch is one ``index_select`` per matrix.
    """

    def __init__(
        self, x: Tensor, y: Tensor, rows: Sequence[Tensor], device: torch.device, layout: str
    ) -> None:
        self._layout = layout
        self._device = device
        self._n = len(rows[0])
        per_sample = (
            math.prod(x.shape[1:]) * x.element_size() + math.prod(y.shape[1:]) * y.element_size()
        )
        self._materialised = len(rows) * self._n * per_sample <= GATHER_LIMIT_BYTES
        if not self._materialised:
            self._sources, self._rows = [x, y], torch.stack(list(rows))
        elif layout == "module":
            self._data = [
                x.index_select(0, rows[0]).to(device),
                y.index_select(0, rows[0]).to(device),
            ]
        elif layout == "joint":
            self._data = [self._stack([(x, r) for r in rows] + [(y, r) for r in rows], device)]
        else:
            self._data = [
                self._stack([(x, r) for r in rows], device),
                self._stack([(y, r) for r in rows], device),
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
        rows = self._rows.gather(1, positions.cpu()).flatten()
        x, y = self._sources
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
        return [
            s.index_select(0, rows).view(*positions.shape, -1).to(self._device)
            for s in self._sources
        ]

    def keep(self, models: Tensor) -> None:
        """Keep the samples of the critics at positions ``models`` only."""
        if not self._materialised:
            self._rows = self._rows[models]
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

    def save_best(self, improved: list[int]) -> None:
        if improved:
            self.best = {k: v.detach().clone() for k, v in self.critic.state_dict().items()}

    def finish(self) -> list[dict[str, Tensor]]:
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
    total = sum(engine.evaluate(split.take(chunk)) for chunk in chunks)
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

    Raises
    ------
    InsufficientDataError
        If the training or held-out set has fewer than 2 samples.
    TrainingError
        If the loss becomes NaN or infinite.
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
    x: torch.Tensor,
    y: torch.Tensor,
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

    Parameters
    ----------
    critics
        One critic, or several critics accepted by
        :func:`~neural_mi.models.stacked.stackable`, all of one shape.
    estimator
        Function of score matrices ``(..., b, b)`` returning the MI bound(s) (nats).
    x, y
        Processed data shared by every critic, ``(n_samples, channels, features)``.
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
        Label per critic (progress bar, error messages).

    Returns
    -------
    list of TrainOutcome
        In the order of ``critics``.

    Raises
    ------
    ParameterError
        If several critics are given that cannot share kernels, or their splits differ
        in size.
    InsufficientDataError, TrainingError
        As for :func:`train_critic`.
    """
    n_models = len(critics)
    descriptions = list(descriptions or [f"critic {m}" for m in range(n_models)])
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
    for critic in critics:
        critic.to(device)
    if all(stackable(c) for c in critics):
        engine: _ModuleEngine | _StackedEngine = _StackedEngine(critics, estimator, params, device)
    elif n_models == 1:
        engine = _ModuleEngine(critics[0], estimator, params, device)
    else:
        raise ParameterError(
            "Only separable/bilinear critics with MLP embeddings can be "
            "trained together; train the others one at a time."
        )

    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    limit = int(params["max_eval_samples"])
    eval_batch_size = int(eval_batch_size or limit)
    test_eval = torch.stack([_eval_positions(n_test, limit, g) for g in generators])
    train_eval = torch.stack([_eval_positions(n_train, test_eval.shape[1], g) for g in generators])
    test_eval = test_eval.to(device)
    train_rows, test_rows = (
        [torch.as_tensor(np.asarray(split[i]), dtype=torch.long) for split in splits]
        for i in (0, 1)
    )
    train = _Split(x, y, train_rows, device, engine.layout)
    test = _Split(x, y, test_rows, device, engine.layout)

    batch_size = min(int(params["batch_size"]), n_train)
    n_batches = math.ceil(n_train / batch_size)
    window = int(params["smoothing_window"])
    patience = int(params["patience"])
    histories = [{"test_mi": [], "test_mi_smoothed": [], "loss": []} for _ in range(n_models)]
    best_smoothed = [-math.inf] * n_models
    best_epoch = [-1] * n_models
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
        for k, m in enumerate(active):
            if not math.isfinite(mean_loss[k]):
                raise TrainingError(
                    f"{descriptions[m]}: loss became {mean_loss[k]} at epoch {epoch}; try a "
                    f"smaller learning_rate (now {params['learning_rate']}) or the 'smile' "
                    "estimator with a clip."
                )
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

    outcomes = []
    for m, state in enumerate(engine.finish()):
        arrays = {
            name: np.asarray(values, dtype=np.float64) for name, values in histories[m].items()
        }
        positions = train_rows[m][train_eval[m]]
        outcomes.append(
            TrainOutcome(
                train_mi=_module_mi(
                    critics[m], estimator, x, y, positions, eval_batch_size, device
                ),
                test_mi=float(arrays["test_mi"][best_epoch[m]]),
                best_epoch=best_epoch[m],
                n_epochs_run=len(arrays["loss"]),
                history=arrays,
                n_train=n_train,
                n_test=n_test,
                state_dict=state,
            )
        )
    return outcomes
