"""Hand-built task results for the store tests (no training)."""

from __future__ import annotations

import numpy as np

from neural_mi.tasks import TaskResult, TaskSpec


def make_result(
    key: str = "c1-g01-s00",
    *,
    combo: str = "c1",
    mode: str = "rigorous",
    test_mi: float = 1.0,
    coords: dict | None = None,
    extras: dict | None = None,
    history_len: int = 3,
    **spec_fields,
) -> TaskResult:
    """A hand-built TaskResult; the history curves are deterministic functions of test_mi."""
    spec = TaskSpec(
        key=key,
        combo=combo,
        params={"mode": mode, "run_seed": 7, "base": {"n_epochs": 5}},
        coords=coords or {},
        **spec_fields,
    )
    epochs = np.arange(history_len, dtype=float)
    return TaskResult(
        spec=spec,
        train_mi=test_mi + 0.5,
        test_mi=test_mi,
        best_epoch=max(history_len - 1, 0),
        n_epochs_run=history_len,
        history={"train_mi": test_mi * epochs / 3.0, "test_mi": test_mi * epochs / 7.0},
        n_train=900,
        n_test=100,
        wall_time=1.25,
        versions={"neural_mi": "0.1.0"},
        extras=extras or {},
    )


def mixed_results() -> list[TaskResult]:
    """Four results of two combinations with differing coords, extras and history lengths."""
    return [
        make_result(
            "c1-g01-s00",
            combo="c1",
            test_mi=1.0,
            gamma=1,
            coords={"embedding_dim": 4, "model": "mlp"},
            history_len=2,
        ),
        make_result(
            "c1-g02-s00",
            combo="c1",
            test_mi=0.9,
            gamma=2,
            subset=0,
            coords={"embedding_dim": 4, "model": "mlp"},
            extras={"participation_ratio": 3.5},
        ),
        make_result(
            "c1-g02-s01",
            combo="c1",
            test_mi=0.8,
            gamma=2,
            subset=1,
            coords={"embedding_dim": 4, "model": "mlp"},
            history_len=4,
        ),
        make_result(
            "c2-g01-s00",
            combo="c2",
            test_mi=2.0,
            gamma=1,
            coords={"embedding_dim": 8, "model": "gru", "window_size": 3},
        ),
    ]
