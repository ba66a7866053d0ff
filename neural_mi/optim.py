"""Adam for the training loop: torch's fused Adam kernel without the optimizer object.

:func:`adam_update` and :class:`FusedAdam` apply exactly the update of
``torch.optim.Adam(params, lr, fused=True)`` (the same kernel, ``torch._fused_adam_``,
with ``betas=(0.9, 0.999)``, ``eps=1e-8``, no weight decay) but call it directly, through
:func:`neural_mi.compat.adam_step`.  For the small critics trained here this matters:
``torch.optim.Optimizer`` imports ``torch._dynamo`` on first use, in every process that
trains, and its ``step`` spends about as much time in Python as the arithmetic of a whole
step of a small critic (figures in ``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .compat import adam_step


def adam_update(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    steps: Sequence[Tensor],
    lr: float,
) -> None:
    """One Adam update of ``params`` in place (torch's fused kernel, see
    :func:`neural_mi.compat.adam_step`).

    Parameters
    ----------
    params, grads, exp_avgs, exp_avg_sqs
        Matching lists of float32 tensors on one device: the parameters (or views of
        them), their gradients and Adam's first and second moments (updated in place).
        Each tensor is updated on its own, so passing per-slot views of stacked weights
        gives every slot the arithmetic it would get alone.
    steps
        0-d float32 tensors on the same device, one per parameter (the same tensor may
        be repeated): the step number of this update, already incremented.
    lr
        Learning rate.
    """
    adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, lr)


class FusedAdam:
    """``torch.optim.Adam(params, lr, fused=True)`` for the parameters of one module.

    As with ``torch.optim.Adam``, a parameter whose ``.grad`` is ``None`` at a step is
    skipped and its step count is not advanced.

    Parameters
    ----------
    params
        Leaf tensors (e.g. ``module.parameters()``), float32, all on one device.
    lr
        Learning rate.
    """

    def __init__(self, params: Sequence[Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = float(lr)
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients (the next backward pass allocates fresh ones)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        grads = {i: p.grad for i, p in enumerate(self.params) if p.grad is not None}
        live = list(grads)
        if not live:
            return
        steps = [self.steps[i] for i in live]
        with torch.no_grad():
            for step in steps:
                step.add_(1.0)
            adam_update(
                [self.params[i] for i in live],
                list(grads.values()),
                [self.exp_avgs[i] for i in live],
                [self.exp_avg_sqs[i] for i in live],
                steps,
                self.lr,
            )
