"""Packing: which tasks of a session × analysis share one train job (torch-free)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ConfigError
from ..tasks import TaskSpec

__all__ = ["pack_tasks"]


def pack_tasks(specs: Sequence[TaskSpec], tasks_per_job: int) -> dict[str, list[TaskSpec]]:
    """Group tasks into train jobs.

    Parameters
    ----------
    specs
        The tasks of one session × analysis.
    tasks_per_job
        ``1``: one job per task, named by the task key.  ``k > 1``:
        ``ceil(len(specs) / k)`` packs ``p000, p001, ...``; tasks, most expensive first
        (cost ``1 / gamma``: a task trains on ``1/gamma`` of the data; ties by key), each
        go to the pack with the least cost so far (ties: lowest pack number).

    Returns
    -------
    dict
        ``{pack_id: [TaskSpec, ...]}``; within a pack, tasks keep their plan order.
        Deterministic: the same specs always give the same packs.
    """
    if isinstance(tasks_per_job, bool) or not isinstance(tasks_per_job, int) or tasks_per_job < 1:
        raise ConfigError(f"tasks_per_job must be an integer >= 1, got {tasks_per_job!r}.")
    if tasks_per_job == 1:
        return {spec.key: [spec] for spec in specs}
    n_packs = math.ceil(len(specs) / tasks_per_job)
    loads = [0.0] * n_packs
    members: list[list[int]] = [[] for _ in range(n_packs)]
    order = sorted(range(len(specs)), key=lambda i: (-1.0 / specs[i].gamma, specs[i].key))
    for i in order:
        pack = min(range(n_packs), key=lambda p: (loads[p], p))
        loads[pack] += 1.0 / specs[i].gamma
        members[pack].append(i)
    return {f"p{p:03d}": [specs[i] for i in sorted(members[p])] for p in range(n_packs)}
