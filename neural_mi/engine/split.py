"""The samples a task trains and is evaluated on: its gamma chunk, then train/test.

Torch-free, so that ``neural-mi plan`` checks every task's split with the engine's own
code before any job runs.  Seeds derive from the run seed and the task's identifiers:

- the gamma chunks from ``(run seed, "chunks", gamma)``, so every parameter combination
  sees the same chunks (paired comparison);
- the train/test split inside a chunk from ``(run seed, "split", gamma, subset, repeat,
  split)``, shared by every combination as well;
- the ``max_samples_per_task`` subset from ``(run seed, "cap", gamma, subset, repeat,
  split)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from ..data.splits import overlap_gap, subset_indices, train_test_split
from ..errors import ParameterError
from ..plan import derive_seed
from ..tasks import TaskSpec

__all__ = ["task_split", "task_split_sizes", "window_gap"]


def window_gap(params: Mapping[str, Any]) -> int:
    """Window indices to leave between training and held-out samples so that windows of X
    or Y that overlap in time cannot leak (0 for processed data)."""
    gaps = [0]
    for variable in ("x", "y"):
        if params[f"processor_type_{variable}"] is not None:
            p = params[f"processor_params_{variable}"]
            gaps.append(overlap_gap(p["window_size"], p["step_size"] or p["window_size"]))
    return max(gaps)


def task_split(
    spec: TaskSpec, n_samples: int, gap: int, train_indices: Any = None, test_indices: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out sample indices of a task (inside its gamma chunk, subsampled to
    ``max_samples_per_task`` when the plan has one).

    Parameters
    ----------
    spec
        The task.
    n_samples
        Samples of the task's data.
    gap
        Window indices to leave between training and held-out samples (overlapping
        windows must not leak).
    train_indices, test_indices
        An explicit split of the whole data, used as given (only modes with
        :attr:`~neural_mi.modes.base.Mode.explicit_split` accept one).
    """
    p, base = spec.params, spec.params["base"]
    run_seed = p["run_seed"]
    if train_indices is not None:
        if spec.gamma != 1:
            raise ParameterError(
                "train_indices/test_indices apply to the full data set; they "
                "cannot be combined with gamma subsampling."
            )
        return train_test_split(
            n_samples, p["split_mode"], train_indices=train_indices, test_indices=test_indices
        )
    chunk = (
        np.arange(n_samples)
        if spec.gamma == 1
        else subset_indices(
            n_samples,
            spec.gamma,
            spec.subset,
            p["split_mode"],
            derive_seed(run_seed, "chunks", spec.gamma),
        )
    )
    cap = p.get("max_samples_per_task")
    if cap is not None and len(chunk) > cap:
        # A random subset kept in time order: a blocked split's gap (in indices) then
        # still separates overlapping windows, since kept indices are at least as far apart.
        rng = np.random.default_rng(
            derive_seed(run_seed, "cap", spec.gamma, spec.subset, spec.repeat, spec.split)
        )
        chunk = np.sort(rng.choice(chunk, size=cap, replace=False))
    train, test = train_test_split(
        len(chunk),
        p["split_mode"],
        train_fraction=base["train_fraction"],
        n_test_blocks=base["n_test_blocks"],
        gap=gap,
        rng_seed=derive_seed(run_seed, "split", spec.gamma, spec.subset, spec.repeat, spec.split),
    )
    return chunk[train], chunk[test]


def task_split_sizes(spec: TaskSpec, n_samples: int, gap: int) -> tuple[int, int]:
    """Numbers of training and held-out samples :func:`task_split` gives a task, without
    drawing them.

    The sizes do not depend on the seeds (a random chunk, subset or split only chooses
    *which* samples), so tasks that differ only in their seeds or identifiers share one
    computation: ``neural-mi plan`` checks every task of many sessions with it.  It raises
    what :func:`task_split` raises for the same task.
    """
    p, base = spec.params, spec.params["base"]
    if spec.gamma == 1:
        n_chunk = n_samples
    else:
        n_chunk = len(subset_indices(n_samples, spec.gamma, spec.subset, "blocked", 0))
    cap = p.get("max_samples_per_task")
    if cap is not None:
        n_chunk = min(n_chunk, cap)
    return _split_sizes(
        n_chunk, p["split_mode"], base["train_fraction"], base["n_test_blocks"], gap
    )


@lru_cache(maxsize=4096)
def _split_sizes(
    n: int, split_mode: str, train_fraction: float, n_test_blocks: int, gap: int
) -> tuple[int, int]:
    train, test = train_test_split(
        n, split_mode, train_fraction=train_fraction, n_test_blocks=n_test_blocks, gap=gap
    )
    return len(train), len(test)
