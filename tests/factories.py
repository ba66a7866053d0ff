"""Hand-built task records for tests of the store, the aggregation and the figures."""

from __future__ import annotations

import numpy as np

from neural_mi.tasks import TaskResult, TaskSpec


def make_result(key: str, combo: str, mode: str, mi: float, *, coords: dict | None = None,
                extras: dict | None = None, **spec_fields) -> TaskResult:
    """A hand-built TaskResult whose train and test MI are ``mi`` (nats)."""
    spec = TaskSpec(key=key, combo=combo, params={"mode": mode, "run_seed": 1},
                    coords=coords or {}, **spec_fields)
    return TaskResult(spec=spec, train_mi=mi, test_mi=mi, best_epoch=0, n_epochs_run=1,
                      history={"test_mi": np.array([mi])}, n_train=90, n_test=10,
                      wall_time=0.1, versions={"numpy": "2"}, extras=extras or {})
