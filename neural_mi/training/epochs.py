"""One attempt of training critics in lockstep: the epoch loop with early stopping on the
smoothed held-out curve, then each critic's outcome and why it diverged."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..models.stacked import stackable
from .divergence import implausible
from .engines import ModuleEngine, StackedEngine
from .evaluation import eval_positions, evaluate, module_mi
from .outcome import TrainOutcome
from .samples import Split


@dataclass
class _Curves:
    """Per critic: the history, the best smoothed held-out value and its epoch, and why
    the critic diverged (``""`` when it did not)."""

    n_models: int
    window: int
    patience: int
    histories: list[dict[str, list[float]]] = field(init=False)
    best_smoothed: list[float] = field(init=False)
    best_epoch: list[int] = field(init=False)
    diverged: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.histories = [
            {"test_mi": [], "test_mi_smoothed": [], "loss": []} for _ in range(self.n_models)
        ]
        self.best_smoothed = [-math.inf] * self.n_models
        self.best_epoch = [-1] * self.n_models
        self.diverged = [""] * self.n_models

    def record(
        self, epoch: int, active: list[int], mean_loss: list[float], test_mi: list[float]
    ) -> tuple[list[int], list[int]]:
        """Record one epoch of the ``active`` critics; return the positions (in
        ``active``) of those that improved and of those that stop."""
        improved, stopped = [], []
        for k, m in enumerate(active):
            history = self.histories[m]
            history["loss"].append(mean_loss[k])
            history["test_mi"].append(test_mi[k])
            smoothed = float(np.mean(history["test_mi"][-self.window :]))
            history["test_mi_smoothed"].append(smoothed)
            if not (math.isfinite(mean_loss[k]) and math.isfinite(test_mi[k])):
                self.diverged[m] = (
                    f"at epoch {epoch} the loss became {mean_loss[k]} and the held-out "
                    f"estimate {test_mi[k]}"
                )
                stopped.append(k)
                continue
            if smoothed > self.best_smoothed[m]:
                self.best_smoothed[m], self.best_epoch[m] = smoothed, epoch
                improved.append(k)
            if epoch - self.best_epoch[m] > self.patience:
                stopped.append(k)
        return improved, stopped


def train_round(
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
    gather_limit: int,
) -> list[tuple[TrainOutcome, str]]:
    """One attempt of :func:`~neural_mi.train.train_critics`: each critic's outcome and
    why it diverged (``""`` when it did not)."""
    n_models = len(critics)
    if all(stackable(c) for c in critics):
        engine: ModuleEngine | StackedEngine = StackedEngine(critics, estimator, params, device)
    else:
        engine = ModuleEngine(critics[0], estimator, params, device)

    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    n_train, n_test = len(train_rows[0]), len(test_rows[0])
    limit = int(params["max_eval_samples"])
    test_eval = torch.stack([eval_positions(n_test, limit, g) for g in generators])
    train_eval = torch.stack([eval_positions(n_train, test_eval.shape[1], g) for g in generators])
    test_eval = test_eval.to(device)
    train = Split(xs, ys, train_rows, device, engine.layout, gather_limit)
    test = Split(xs, ys, test_rows, device, engine.layout, gather_limit)
    curves = _Curves(n_models, int(params["smoothing_window"]), int(params["patience"]))
    _run_epochs(
        engine,
        train,
        test,
        test_eval,
        generators,
        curves,
        params,
        n_train=n_train,
        device=device,
        eval_batch_size=eval_batch_size,
        progress=progress,
        description=descriptions[0],
    )

    results = []
    for m, state in enumerate(engine.finish()):
        arrays = {
            name: np.asarray(values, dtype=np.float64)
            for name, values in curves.histories[m].items()
        }
        best_epoch = curves.best_epoch[m]
        if curves.diverged[m]:
            train_mi = test_mi_kept = math.nan
        else:
            positions = train_rows[m][train_eval[m]]
            train_mi = module_mi(
                critics[m], estimator, xs[m], ys[m], positions, eval_batch_size, device
            )
            test_mi_kept = float(arrays["test_mi"][best_epoch])
        outcome = TrainOutcome(
            train_mi=train_mi,
            test_mi=test_mi_kept,
            best_epoch=best_epoch,
            n_epochs_run=len(arrays["loss"]),
            history=arrays,
            n_train=n_train,
            n_test=n_test,
            state_dict=state,
        )
        reason = curves.diverged[m] or implausible(train_mi, test_mi_kept, highest, best_epoch)
        results.append((outcome, reason))
    return results


def _run_epochs(
    engine: ModuleEngine | StackedEngine,
    train: Split,
    test: Split,
    test_eval: Tensor,
    generators: Sequence[torch.Generator],
    curves: _Curves,
    params: dict[str, Any],
    *,
    n_train: int,
    device: torch.device,
    eval_batch_size: int,
    progress: bool,
    description: str,
) -> None:
    """Train until every critic stopped early or ``n_epochs`` ran, dropping stopped
    critics from the engine and the splits; the engine keeps each critic's best state."""
    n_models = curves.n_models
    batch_size = min(int(params["batch_size"]), n_train)
    n_batches = math.ceil(n_train / batch_size)
    active = list(range(n_models))
    epochs = tqdm(
        range(int(params["n_epochs"])),
        desc=description,
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
            test_mi = evaluate(engine, test, test_eval, eval_batch_size)
        improved, stopped = curves.record(epoch, active, mean_loss, test_mi)
        engine.save_best(improved)
        if progress:
            epochs.set_postfix(test_mi=f"{test_mi[0]:.3f}", best_epoch=curves.best_epoch[active[0]])
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
