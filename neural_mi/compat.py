"""Private APIs of our dependencies, each behind one small function with a public fallback.

We call a few private functions because the public route costs more than the work it does
(see ``docs/performance.md``).  Each call lives here, alone, so that a dependency release
that moves or drops it is noticed in one place: the function falls back to the public API
and ``tests/test_compat.py`` checks that the fallback gives the same numbers (or, where
there is no number, the same behaviour).

- :func:`adam_step`: ``torch._fused_adam_`` (public route: ``torch.optim``, whose first
  use imports ``torch._dynamo`` in every training process);
- :func:`run_coroutine`: ``zarr.core.sync.sync``, which runs a coroutine on zarr's own IO
  loop (public route: ``asyncio.run`` in a thread of its own, which also works inside a
  running event loop such as a notebook's);
- :func:`cancel_pending_timers`: cancels Snakemake's leftover rate-limiter timers (public
  route: none; without it a finished run waits for the last timer);
- :func:`known_signature`: tells Snakemake the parameters of a rule's input, params,
  group or resource function once (``snakemake.common.overwrite_function_params``; public
  route: none, Snakemake then calls ``inspect.signature`` on every call, twice per job and
  function, a tenth of a 30,000-job dry run).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # torch is imported where Adam runs: the Snakefile imports this module
    from torch import Tensor

__all__ = [
    "ADAM_BETAS",
    "ADAM_EPS",
    "adam_step",
    "cancel_pending_timers",
    "known_signature",
    "run_coroutine",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def adam_step(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    steps: Sequence[Tensor],
    lr: float,
    *,
    private: bool = True,
) -> None:
    """One Adam update in place (betas 0.9/0.999, eps 1e-8, no weight decay).

    Parameters
    ----------
    params, grads, exp_avgs, exp_avg_sqs
        Matching lists of float32 tensors on one device.
    steps
        0-d float32 step counts, already incremented.
    lr
        Learning rate.
    private
        Use torch's fused kernel (``torch._fused_adam_``) when this torch has it;
        ``False`` (or a torch without it) uses the public functional Adam of
        ``torch.optim``, single-tensor implementation.
    """
    import torch

    fused = getattr(torch, "_fused_adam_", None) if private else None
    # Keyword arguments of both kernels (floats and flags).
    arguments: dict[str, Any] = dict(
        lr=float(lr), weight_decay=0.0, eps=ADAM_EPS, amsgrad=False, maximize=False
    )
    if fused is not None:
        fused(
            list(params),
            list(grads),
            list(exp_avgs),
            list(exp_avg_sqs),
            [],
            list(steps),
            beta1=ADAM_BETAS[0],
            beta2=ADAM_BETAS[1],
            **arguments,
        )
        return
    from torch.optim.adam import adam

    # The functional Adam increments the step counts itself: hand it copies one behind.
    before = [step.detach().clone().sub_(1.0) for step in steps]
    adam(
        list(params),
        list(grads),
        list(exp_avgs),
        list(exp_avg_sqs),
        [],
        before,
        foreach=False,
        fused=False,
        capturable=False,
        differentiable=False,
        has_complex=False,
        beta1=ADAM_BETAS[0],
        beta2=ADAM_BETAS[1],
        **arguments,
    )


def run_coroutine(coroutine: Coroutine[Any, Any, T], *, private: bool = True) -> T:
    """Run a coroutine to completion from synchronous code and return its result.

    Parameters
    ----------
    coroutine
        E.g. reads through ``zarr.api.asynchronous``.
    private
        Run it on zarr's IO loop (``zarr.core.sync.sync``, shared with zarr's own
        synchronous API) when this zarr has it; ``False`` (or a zarr without it) runs it
        with ``asyncio.run`` in a thread of its own.
    """
    if private:
        try:
            from zarr.core.sync import sync
        except ImportError:
            pass
        else:
            return sync(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def cancel_pending_timers() -> int:
    """Cancel every pending ``threading.Timer`` of this process; return how many.

    Snakemake's job rate limiter leaves a non-daemon ``threading.Timer`` per scheduling
    round, and the interpreter waits for the last one before it exits.  The workflow's
    ``onsuccess`` handler calls this once nothing more is scheduled.
    """
    timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    for timer in timers:
        timer.cancel()
    return len(timers)


def known_signature(func: F, *, private: bool = True) -> F:
    """Return ``func`` with its parameters recorded for Snakemake, which otherwise
    inspects the signature of a rule's function every time it calls it.

    Parameters
    ----------
    func
        An input, params, group or resource function of a rule (its parameters: e.g.
        ``wildcards`` and ``attempt``).
    private
        Record them with ``snakemake.common.overwrite_function_params`` when this
        Snakemake has it; ``False`` (or a Snakemake without it) returns ``func`` as it is.
    """
    if private:
        try:
            from snakemake.common import overwrite_function_params  # type: ignore[import-untyped]
        except ImportError:
            return func
        # Snakemake reads the record as inspect's parameter mapping (names and kinds).
        overwrite_function_params(func, inspect.signature(func).parameters)
    return func
