"""Variational lower bounds on mutual information, as functions of a critic's score matrix.

Every estimator takes ``scores`` of shape ``(batch, batch)`` with
``scores[i, j] = f(x_i, y_j)``: the diagonal holds samples of the joint ``p(x, y)``, the
``batch * (batch - 1)`` off-diagonal entries stand in for samples of the product of the
marginals ``q = p(x) p(y)``.  Each returns a scalar tensor whose *value* is the MI
estimate in nats and whose *gradient* is the training signal to **maximise**.

A stack of score matrices ``(..., batch, batch)`` (several critics trained together) gives
one estimate per matrix, shape ``(...)``; every reduction runs along the last axis, so the
estimate of one matrix does not depend on the others in the stack.

References
----------
van den Oord, Li & Vinyals (2018), "Representation learning with contrastive predictive
coding" (InfoNCE).  Poole, Ozair, van den Oord, Alemi & Tucker (2019), "On variational
bounds of mutual information" (NWJ, TUBA, JS).  Song & Ermon (2020), "Understanding the
limitations of variational mutual information estimators" (SMILE).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import DataShapeError
from .params import resolve_estimator

Estimator = Callable[[Tensor], Tensor]


def _check_scores(scores: Tensor) -> int:
    """Return the batch size of a valid ``(..., batch, batch)`` stack of score matrices."""
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2] or scores.shape[-1] < 2:
        raise DataShapeError(
            f"scores must be a square (batch, batch) matrix (or a stack of them, "
            f"(..., batch, batch)) with batch >= 2, got shape {tuple(scores.shape)}."
        )
    return scores.shape[-1]


def _diagonal(scores: Tensor) -> Tensor:
    """The ``batch`` joint-sample scores, shape ``(..., batch)``."""
    return scores.diagonal(dim1=-2, dim2=-1)


def _off_diagonal(scores: Tensor) -> Tensor:
    """The ``batch * (batch - 1)`` off-diagonal entries, shape ``(..., batch * (batch - 1))``."""
    mask = ~torch.eye(scores.shape[-1], dtype=torch.bool, device=scores.device)
    return scores[..., mask]


def _log_mean_exp_off_diagonal(scores: Tensor) -> Tensor:
    """``log E_q[exp(f)]`` over the off-diagonal entries, computed stably."""
    off = _off_diagonal(scores)
    return torch.logsumexp(off, dim=-1) - math.log(off.shape[-1])


def _js_fgan(scores: Tensor) -> Tensor:
    """Jensen-Shannon f-GAN bound ``E_p[-softplus(-f)] - E_q[softplus(f)]``.

    Its maximiser is ``f = log p(x, y) / (p(x) p(y))``.
    """
    return -F.softplus(-_diagonal(scores)).mean(-1) - F.softplus(_off_diagonal(scores)).mean(-1)


def _with_gradient_of(value: Tensor, training_term: Tensor) -> Tensor:
    """A tensor with the value of ``value`` and the gradient of ``training_term``."""
    return training_term + (value - training_term).detach()


def infonce(scores: Tensor) -> Tensor:
    """InfoNCE bound (van den Oord et al. 2018).

    ``mean_i [f_ii - logsumexp_j f_ij] + log(batch)``; never exceeds ``log(batch)``.
    Computed as ``log(batch) + mean_i log_softmax(f_i)_i`` (the same quantity; one fused
    log-softmax per row, whose backward is cheaper than that of ``logsumexp``).

    Parameters
    ----------
    scores
        Shape ``(batch, batch)``, or ``(..., batch, batch)``.

    Returns
    -------
    Tensor
        Scalar (shape ``(...)`` for a stack), nats.
    """
    batch = _check_scores(scores)
    return math.log(batch) + _diagonal(F.log_softmax(scores, dim=-1)).mean(-1)


def nwj(scores: Tensor) -> Tensor:
    """NWJ bound (Nguyen, Wainwright & Jordan; as written in Poole et al. 2019).

    ``E_p[f] - exp(-1) E_q[exp(f)]``; its maximiser is ``f = 1 + log p/(p_x p_y)``.

    Parameters
    ----------
    scores
        Shape ``(batch, batch)``, or ``(..., batch, batch)``.

    Returns
    -------
    Tensor
        Scalar (shape ``(...)`` for a stack), nats.
    """
    _check_scores(scores)
    return _diagonal(scores).mean(-1) - torch.exp(_log_mean_exp_off_diagonal(scores) - 1.0)


def tuba(scores: Tensor) -> Tensor:
    """TUBA bound with the constant baseline ``a(y) = 1`` (Poole et al. 2019).

    ``1 + E_p[f] - E_q[exp(f)]``; its maximiser is ``f = log p/(p_x p_y)``.

    Parameters
    ----------
    scores
        Shape ``(batch, batch)``, or ``(..., batch, batch)``.

    Returns
    -------
    Tensor
        Scalar (shape ``(...)`` for a stack), nats.
    """
    _check_scores(scores)
    return 1.0 + _diagonal(scores).mean(-1) - torch.exp(_log_mean_exp_off_diagonal(scores))


def js(scores: Tensor) -> Tensor:
    """Critic trained with the Jensen-Shannon f-GAN bound, evaluated with NWJ (Poole et al.).

    Value: :func:`nwj` of ``scores + 1`` (the JS maximiser is the log density ratio, NWJ's
    is one more).  Gradient: that of ``E_p[-softplus(-f)] - E_q[softplus(f)]``.

    Parameters
    ----------
    scores
        Shape ``(batch, batch)``, or ``(..., batch, batch)``.

    Returns
    -------
    Tensor
        Scalar (shape ``(...)`` for a stack), nats.
    """
    _check_scores(scores)
    return _with_gradient_of(nwj(scores + 1.0), _js_fgan(scores))


def smile(scores: Tensor, clip: float | None = 5.0) -> Tensor:
    """SMILE estimator (Song & Ermon 2020).

    Value: the Donsker-Varadhan estimate with a clipped partition term,
    ``E_p[f] - log E_q[exp(clip(f, -clip, clip))]``; ``clip=None`` gives the unclipped
    DV (MINE) estimate.  Gradient: that of the Jensen-Shannon f-GAN bound.

    Parameters
    ----------
    scores
        Shape ``(batch, batch)``, or ``(..., batch, batch)``.
    clip
        Clipping threshold ``tau > 0`` of the scores in the partition term, or ``None``.

    Returns
    -------
    Tensor
        Scalar (shape ``(...)`` for a stack), nats.
    """
    _check_scores(scores)
    clipped = scores if clip is None else scores.clamp(-clip, clip)
    value = _diagonal(scores).mean(-1) - _log_mean_exp_off_diagonal(clipped)
    return _with_gradient_of(value, _js_fgan(scores))


#: Estimators by name.
ESTIMATORS: dict[str, Callable[..., Tensor]] = {
    "infonce": infonce,
    "nwj": nwj,
    "tuba": tuba,
    "js": js,
    "smile": smile,
}


def ceiling(estimator: Estimator, batch_size: int) -> float | None:
    """The largest value ``estimator`` can return on a batch of ``batch_size`` samples.

    ``log(batch_size)`` for :func:`infonce` (its ceiling: with ``K`` samples per batch it
    cannot report more than ``log K`` nats, whatever the true MI); ``None`` for the other
    bounds, which are not bounded above.

    Parameters
    ----------
    estimator
        One of :data:`ESTIMATORS`, possibly with parameters bound (:func:`get_estimator`).
    batch_size
        Samples per evaluation batch.
    """
    function = getattr(estimator, "func", estimator)
    return math.log(batch_size) if function is infonce else None


def get_estimator(name: str, **params: Any) -> Estimator:
    """The estimator ``name`` with its parameters bound.

    Parameters
    ----------
    name
        One of :data:`ESTIMATORS`.
    **params
        Estimator parameters (``clip`` for ``'smile'``); missing ones take their defaults.

    Returns
    -------
    Callable
        Maps ``scores`` of shape ``(batch, batch)`` to a scalar MI estimate (nats).

    Raises
    ------
    ParameterError
        On an unknown name (the message lists the allowed ones) or parameter.
    """
    resolved = resolve_estimator(name, params)
    return functools.partial(ESTIMATORS[name], **resolved)
