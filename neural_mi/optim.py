"""Adam for the training loop: torch's fused Adam kernel without the optimizer object.

:func:`adam_update` and :class:`FusedAdam` apply exactly the update of
``torch.optim.Adam(params, lr, fused=True)`` (the same kernel, ``torch._fused_adam_``,
with ``betas=(0.9, 0.999)``, ``eps=1e-8``, no weight decay) but call it directly.  For the
small critics trained here this matters:

- ``torch.optim.Optimizer`` imports ``torch._dynamo`` on first use: about 1.7 s of start-up
  in every process that trains (every pool worker, every train job of the workflow);
- its ``step`` spends ~100 µs per call in Python (hooks, grouping by device and dtype,
  state look-ups), as much as the arithmetic of a whole step of a small critic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

BETAS = (0.9, 0.999)
EPS = 1e-8


def adam_update(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    steps: Sequence[Tensor],
    lr: float,
) -> None:
    """One Adam update of ``params`` in place (torch's fused kernel).

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
    torch._fused_adam_(
        list(params),
        list(grads),
        list(exp_avgs),
        list(exp_avg_sqs),
        [],
        list(steps),
        lr=float(lr),
        beta1=BETAS[0],
        beta2=BETAS[1],
        weight_decay=0.0,
        eps=EPS,
        amsgrad=False,
        maximize=False,
    )


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
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        steps = [self.steps[i] for i in live]
        with torch.no_grad():
            torch._foreach_add_(steps, 1.0)
            adam_update(
                [self.params[i] for i in live],
                [self.params[i].grad for i in live],
                [self.exp_avgs[i] for i in live],
                [self.exp_avg_sqs[i] for i in live],
                steps,
                self.lr,
            )
