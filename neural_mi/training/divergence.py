"""Divergence of a critic: which estimates a working critic cannot give, the restart
policy, and the message and diagnostics that say what happened."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from torch import Tensor

from .evaluation import eval_batch_sizes, evaluation_ceiling
from .outcome import TrainOutcome

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


def highest_plausible(
    estimator: Callable[[Tensor], Tensor], n_eval: int, eval_batch_size: int
) -> float:
    """The largest estimate (nats) a working critic can give on this evaluation: the
    estimator's ceiling (plus :data:`NEGATIVE_TOLERANCE_NATS` for rounding), or, for
    estimators without one, :data:`UNBOUNDED_CEILING_FACTOR` times ``log K``."""
    upper = evaluation_ceiling(estimator, n_eval, eval_batch_size)
    if upper is not None:
        return upper + NEGATIVE_TOLERANCE_NATS
    sizes = eval_batch_sizes(n_eval, eval_batch_size)
    return UNBOUNDED_CEILING_FACTOR * float(np.mean([math.log(k) for k in sizes]))


def implausible(train_mi: float, test_mi: float, highest: float, epoch: int) -> str:
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


def failed(outcome: TrainOutcome) -> TrainOutcome:
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


def describe(
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
