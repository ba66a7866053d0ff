"""The two records that cross every boundary: :class:`TaskSpec` and :class:`TaskResult`.

A *task* is one training of one critic on one slice of data.  The planner
(:mod:`neural_mi.plan`) produces ``TaskSpec`` objects before anything runs; executing a
spec (:func:`neural_mi.execute.run_task`) produces a ``TaskResult``; the store
(:mod:`neural_mi.store`) writes and reads results.  This module is torch-free so that the
Snakefile can import it at parse time.

All MI values inside a ``TaskResult`` are in **nats**; conversion to bits happens when
results are reported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """Everything needed to run one training task, known before anything runs.

    Attributes
    ----------
    key
        Unique, filename-safe identifier of the task within its analysis, e.g.
        ``"c1a2b3c4-g04-s02"``; stable across runs for the same parameters.
    combo
        Identifier of the parameter combination the task belongs to (shared by every
        gamma/subset/lag/split/repeat task of that combination).
    params
        Fully resolved parameters: ``mode``, ``base`` (complete base_params),
        ``estimator``, ``estimator_params``, ``processor_type_x``/``_y``,
        ``processor_params_x``/``_y``, ``split_mode``, ``run_seed`` and, when not
        ``'none'``, ``input_transform``.
    coords
        The values of the swept parameters for this combination (e.g.
        ``{"embedding_dim": 8}``), used as coordinates when results are aggregated.
    gamma
        Subsampling factor: the data is cut into ``gamma`` disjoint chunks.
    subset
        Which chunk (``0 <= subset < gamma``).
    lag
        Lag of Y after X, in samples (continuous/categorical) or seconds (spikes).
    split
        Index of the random channel split (dimensionality mode), else 0.
    repeat
        Repeat index (sweep ``n_repeats``), else 0.
    seed
        Seed of this task, derived from the run seed and ``key`` by hashing.
    role
        What the task measures within its combination, for modes whose answer combines
        several kinds of fit (``""`` otherwise): a label its mode defines and parses, e.g.
        ``"xz_y"`` (the joint fit of a conditional MI) or ``"x[0]|x[3]"`` (a channel pair).
        It is part of the task's identity, so it names everything the task's data depends
        on beyond ``params`` and the other fields.
    """

    key: str
    combo: str
    params: dict[str, Any]
    coords: dict[str, Any] = field(default_factory=dict)
    gamma: int = 1
    subset: int = 0
    lag: float = 0
    split: int = 0
    repeat: int = 0
    seed: int = 0
    role: str = ""

    def to_json(self) -> str:
        """Serialise to a JSON string (stable key order).

        An empty ``role`` is left out, so that a task without one serialises exactly as
        before the field existed (a workflow does not rerun its train job).
        """
        fields = asdict(self)
        if not self.role:
            del fields["role"]
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TaskSpec:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclass
class TaskResult:
    """What one training task produced.

    Attributes
    ----------
    spec
        The task that was run.
    train_mi, test_mi
        MI estimate (nats) of the best state on the training and held-out data.
    best_epoch
        0-based epoch whose state was kept (maximum of the smoothed held-out MI).
    n_epochs_run
        Epochs actually trained (early stopping may end before ``n_epochs``).
    history
        Per-epoch curves, each of shape ``(n_epochs_run,)``: ``train_mi``, ``test_mi``,
        ``test_mi_smoothed`` (nats) and ``loss``.
    n_train, n_test
        Number of samples used for training and for the held-out evaluation.
    wall_time
        Seconds spent in the task (processing, training and evaluation).
    versions
        Versions of ``neural_mi``, ``torch`` and ``numpy`` that produced the result.
    extras
        Mode-specific scalars, e.g. ``participation_ratio`` in dimensionality mode.
    status
        ``"ok"``, or ``"failed"`` when training could not give a usable number (its MI
        values are then NaN, ``message`` says why, and no aggregate uses it).
    message
        Why a task failed, or how a problem was recovered from (e.g. a restart after the
        loss diverged); empty when there is nothing to say.
    diagnostics
        What a reader needs to trust the number, JSON-serialisable: e.g. ``restarts``,
        the ``learning_rate`` that finished, ``ceiling_nats`` (the largest value the
        estimator can return on the held-out evaluation).
    """

    spec: TaskSpec
    train_mi: float
    test_mi: float
    best_epoch: int
    n_epochs_run: int
    history: dict[str, np.ndarray]
    n_train: int
    n_test: int
    wall_time: float
    versions: dict[str, str]
    extras: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    message: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)
