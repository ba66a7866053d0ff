"""Helpers shared by several test files: hand-built task records, task MI of a workflow run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neural_mi.store import load_dataset
from neural_mi.tasks import TaskResult, TaskSpec


def make_result(
    key: str,
    combo: str,
    mode: str,
    mi: float,
    *,
    coords: dict | None = None,
    extras: dict | None = None,
    **spec_fields,
) -> TaskResult:
    """A hand-built TaskResult whose train and test MI are ``mi`` (nats)."""
    spec = TaskSpec(
        key=key,
        combo=combo,
        params={"mode": mode, "run_seed": 1},
        coords=coords or {},
        **spec_fields,
    )
    return TaskResult(
        spec=spec,
        train_mi=mi,
        test_mi=mi,
        best_epoch=0,
        n_epochs_run=1,
        history={"test_mi": np.array([mi])},
        n_train=90,
        n_test=10,
        wall_time=0.1,
        versions={"numpy": "2"},
        extras=extras or {},
    )


def task_mi(workdir: Path) -> dict[str, float]:
    """``{analysis/key: test_mi}`` of every task of a finished run of ``config/test_tiny.yaml``."""
    values = {}
    for analysis in ("rigorous", "quick"):
        ds = load_dataset(workdir / "results" / "tiny" / analysis / "tasks.nc")
        values.update(
            {f"{analysis}/{k}": float(v) for k, v in zip(ds["key"].values, ds["test_mi"].values)}
        )
    return values
