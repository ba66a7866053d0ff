"""What training one critic returns: :class:`TrainOutcome`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class TrainOutcome:
    """Result of :func:`~neural_mi.train.train_critic`; MI values in nats.

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
        ``'ok'``, or ``'failed'`` when every attempt diverged
        (:func:`~neural_mi.train.train_critics`).
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
        :data:`~neural_mi.training.divergence.CEILING_MARGIN_NATS` of it).
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
