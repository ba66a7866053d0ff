"""Engines: how a training step and an evaluation of the critics are computed.

:class:`ModuleEngine` trains one critic through its own ``forward``;
:class:`StackedEngine` trains several critics as one
:class:`~neural_mi.models.stacked.StackedMLPCritics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ..models.stacked import StackedMLPCritics
from ..optim import FusedAdam, adam_update

#: Score matrices of the critics evaluated together hold at most this many elements
#: (critics are evaluated in groups below it; one critic's matrix may exceed it).
EVAL_SCORE_LIMIT = 2**25


class ModuleEngine:
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


class StackedEngine:
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
