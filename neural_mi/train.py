"""Training of one critic on one train/test split: the torch hot path lives here.

:func:`train_critic` takes an already built critic, the processed data and the split, and
returns a :class:`TrainOutcome`.  It knows nothing about modes, plans or stores.

Design choices that matter for the statistics:

- Mini-batches are drawn by indexing tensors with a seeded permutation every epoch, cut
  into ``ceil(n_train / batch_size)`` near-equal batches: every sample is used every epoch
  and no batch is much smaller than the others (contrastive bounds depend on the batch
  size). With few samples (large gamma) this also keeps the number of optimisation steps
  from collapsing to one per epoch.
- Held-out MI is evaluated every epoch, under ``torch.no_grad()`` and in eval mode, on a
  fixed subset of at most ``max_eval_samples`` test samples, in as few batches as the
  critic affords (contrastive bounds tighten with the batch size); training MI is
  evaluated the same way on a fixed training subset of the same size, so both numbers use
  the same bound at the same batch size.
- Early stopping follows the *smoothed* held-out curve (trailing mean over
  ``smoothing_window`` epochs): the kept state is the one at the epoch where the smoothed
  curve peaked, and training stops ``patience`` epochs after that peak.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import InsufficientDataError, TrainingError

logger = logging.getLogger(__name__)

#: Materialise the training windows on the device when they take at most this many bytes;
#: larger data is gathered batch by batch from the (strided) processed view.
GATHER_LIMIT_BYTES = 256 * 2**20


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
        ``train_mi``, ``test_mi``, ``test_mi_smoothed`` and ``loss`` per epoch.
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


class _Batches:
    """Index into processed data either from a materialised copy or batch by batch."""

    def __init__(self, data: torch.Tensor, indices: torch.Tensor, device: torch.device) -> None:
        nbytes = indices.numel() * math.prod(data.shape[1:]) * data.element_size()
        if nbytes <= GATHER_LIMIT_BYTES:
            self._data = data[indices].to(device)
            self._indices = None
        else:
            self._data = data
            self._indices = indices
        self._device = device

    def take(self, positions: torch.Tensor) -> torch.Tensor:
        """Samples at ``positions`` (positions within this split), on the device."""
        if self._indices is None:
            return self._data[positions]
        rows = self._indices[positions.cpu()]
        return self._data[rows].to(self._device, non_blocking=True)


def _eval_positions(n: int, limit: int, generator: torch.Generator) -> torch.Tensor:
    """A fixed subset of at most ``limit`` positions out of ``n`` (all when n <= limit)."""
    if n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)[:limit].sort().values


def _evaluate(critic: torch.nn.Module, estimator: Callable[[torch.Tensor], torch.Tensor],
              x: _Batches, y: _Batches, positions: torch.Tensor, eval_batch_size: int,
              device: torch.device) -> float:
    """Mean bound over near-equal batches of at most ``eval_batch_size`` samples (no gradients)."""
    n_chunks = max(1, math.ceil(len(positions) / eval_batch_size))
    total = 0.0
    for chunk in torch.tensor_split(positions, n_chunks):
        chunk = chunk.to(device)
        scores, _ = critic(x.take(chunk), y.take(chunk))
        total += float(estimator(scores))
    return total / n_chunks


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
    n_train, n_test = len(train_idx), len(test_idx)
    if n_train < 2 or n_test < 2:
        raise InsufficientDataError(
            f"Need at least 2 training and 2 held-out samples, got {n_train} and {n_test}."
        )
    generator = torch.Generator().manual_seed(int(seed))
    batch_size = min(int(params["batch_size"]), n_train)
    train_rows = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
    test_rows = torch.as_tensor(np.asarray(test_idx), dtype=torch.long)
    x_train, y_train = _Batches(x, train_rows, device), _Batches(y, train_rows, device)
    x_test, y_test = _Batches(x, test_rows, device), _Batches(y, test_rows, device)
    limit = int(params["max_eval_samples"])
    eval_batch_size = int(eval_batch_size or limit)
    test_eval = _eval_positions(n_test, limit, generator)
    train_eval = _eval_positions(n_train, len(test_eval), generator)

    critic.to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=float(params["learning_rate"]))
    beta = float(params["beta"])
    n_batches = math.ceil(n_train / batch_size)
    window = int(params["smoothing_window"])
    patience = int(params["patience"])
    history: dict[str, list[float]] = {"train_mi": [], "test_mi": [], "test_mi_smoothed": [],
                                       "loss": []}
    best = {"smoothed": -math.inf, "epoch": -1, "state": None}

    epochs = tqdm(range(int(params["n_epochs"])), desc=description, disable=not progress,
                  leave=False)
    for epoch in epochs:
        critic.train()
        order = torch.randperm(n_train, generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        for positions in torch.tensor_split(order, n_batches):
            scores, kl = critic(x_train.take(positions), y_train.take(positions))
            loss = -estimator(scores) + beta * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
        mean_loss = float(loss_sum) / n_batches
        if not math.isfinite(mean_loss):
            raise TrainingError(
                f"Loss became {mean_loss} at epoch {epoch}; try a smaller learning_rate "
                f"(now {params['learning_rate']}) or the 'smile' estimator with a clip."
            )
        critic.eval()
        with torch.no_grad():
            test_mi = _evaluate(critic, estimator, x_test, y_test, test_eval,
                                eval_batch_size, device)
            train_mi = _evaluate(critic, estimator, x_train, y_train, train_eval,
                                 eval_batch_size, device)
        history["loss"].append(mean_loss)
        history["test_mi"].append(test_mi)
        history["train_mi"].append(train_mi)
        smoothed = float(np.mean(history["test_mi"][-window:]))
        history["test_mi_smoothed"].append(smoothed)
        if smoothed > best["smoothed"]:
            best = {"smoothed": smoothed, "epoch": epoch,
                    "state": {k: v.detach().to("cpu", copy=True)
                              for k, v in critic.state_dict().items()}}
        if progress:
            epochs.set_postfix(test_mi=f"{test_mi:.3f}", best_epoch=best["epoch"])
        if epoch - best["epoch"] > patience:
            break

    critic.load_state_dict(best["state"])
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in history.items()}
    return TrainOutcome(
        train_mi=float(arrays["train_mi"][best["epoch"]]),
        test_mi=float(arrays["test_mi"][best["epoch"]]),
        best_epoch=int(best["epoch"]),
        n_epochs_run=len(arrays["loss"]),
        history=arrays,
        n_train=n_train,
        n_test=n_test,
        state_dict=best["state"],
    )
