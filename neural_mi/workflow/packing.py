"""Packing: which tasks of a session × analysis share one train job (torch-free).

A pack's name is the identity of its train job (its marker ``tasks/<pack>.done`` and its
store folder ``tasks/<pack>/``), so packing decides what a rerun trains again: a task
whose pack keeps its name keeps its finished store.  Packing is a pure function of the
planned tasks and their estimated costs (never of calibration data, the machine or the
order in which anything ran), so the same plan always gives the same packs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Literal

from ..errors import ConfigError
from ..modes import get_mode
from ..tasks import TaskSpec

__all__ = ["pack_by_cost", "pack_tasks"]


def pack_tasks(
    specs: Sequence[TaskSpec],
    tasks_per_job: int | Literal["auto"],
    costs: Mapping[str, float] | None = None,
    target: float | None = None,
) -> dict[str, list[TaskSpec]]:
    """Group tasks into train jobs.

    Parameters
    ----------
    specs
        The tasks of one session × analysis.
    tasks_per_job
        ``"auto"``: :func:`pack_by_cost` with ``costs`` and ``target``.  ``1``: one job per
        task, named by the task key.  ``k > 1``: ``ceil(len(specs) / k)`` packs ``p000,
        p001, ...``; tasks, most expensive first (cost ``1 / gamma``: a task trains on
        ``1/gamma`` of the data; ties by key), each go to the pack with the least cost so
        far (ties: lowest pack number).
    costs
        ``{task key: estimated seconds}`` (``"auto"`` only).
    target
        Estimated seconds a pack is sized for (``"auto"`` only).

    Returns
    -------
    dict
        ``{pack_id: [TaskSpec, ...]}``; within a pack, tasks keep their plan order.
        Deterministic: the same specs (and costs) always give the same packs.
    """
    if tasks_per_job == "auto":
        if costs is None or target is None:
            raise ConfigError("tasks_per_job 'auto' needs the tasks' costs and a target.")
        return pack_by_cost(specs, costs, target)
    if isinstance(tasks_per_job, bool) or not isinstance(tasks_per_job, int) or tasks_per_job < 1:
        raise ConfigError(
            f"tasks_per_job must be 'auto' or an integer >= 1, got {tasks_per_job!r}."
        )
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


def pack_by_cost(
    specs: Sequence[TaskSpec], costs: Mapping[str, float], target: float
) -> dict[str, list[TaskSpec]]:
    """Pack tasks into jobs of about ``target`` estimated seconds, stable under changes.

    The unit is the parameter combination (its tasks share their parameters, and those
    that train on the same data train together as one stacked model, so they stay in one
    pack where they can):

    - a combination estimated above ``target`` gets ``k = ceil(cost / target)`` packs of
      its own, ``<combo>-0`` ... ``<combo>-<k-1>``: its groups of tasks that train together
      (cut into parts of at most ``target`` where one is larger), largest first, each go
      to the pack with the least cost so far;
    - smaller combinations are merged, in the order of their ids (hashes, so the order does
      not follow the sweep grid), into packs named after their first combination.  A pack
      ends after a combination whose id hashes below ``cost / target`` (on average every
      ``target`` seconds), or where the next combination would take it above ``target``.

    A changed parameter changes the id of the combinations it touches.  Every pack of the
    other combinations keeps its tasks and its name (a split combination's packs depend on
    it alone; a merged pack ends where its own combinations say), except the merged pack
    that held a changed combination and at most its neighbours, where the cut by size
    moves.  So a rerun trains only those packs again.

    Returns
    -------
    dict
        ``{pack_id: [TaskSpec, ...]}``, packs in the plan order of their first task; within
        a pack, tasks keep their plan order.
    """
    if not target > 0:
        raise ConfigError(f"the target of a train job must be positive, got {target!r}.")
    index = {spec.key: i for i, spec in enumerate(specs)}
    by_combo: dict[str, list[TaskSpec]] = {}
    for spec in specs:
        by_combo.setdefault(spec.combo, []).append(spec)
    packs: dict[str, list[TaskSpec]] = {}
    small: list[tuple[str, float]] = []
    for combo, members in by_combo.items():
        cost = sum(costs[spec.key] for spec in members)
        if cost > target:
            packs.update(_split_combination(combo, members, costs, target))
        else:
            small.append((combo, cost))
    small.sort()
    run: list[str] = []
    load = 0.0
    for i, (combo, cost) in enumerate(small):
        run.append(combo)
        load += cost
        following = small[i + 1][1] if i + 1 < len(small) else None
        if following is None or _unit_hash(combo) < cost / target or load + following > target:
            packs[run[0]] = [spec for c in run for spec in by_combo[c]]
            run, load = [], 0.0
    ordered = sorted(packs.items(), key=lambda item: min(index[s.key] for s in item[1]))
    return {name: sorted(members, key=lambda spec: index[spec.key]) for name, members in ordered}


def _split_combination(
    combo: str, members: Sequence[TaskSpec], costs: Mapping[str, float], target: float
) -> dict[str, list[TaskSpec]]:
    """The packs ``<combo>-<i>`` of one combination estimated above ``target``."""
    groups: dict[tuple[object, ...], list[TaskSpec]] = {}
    for spec in members:
        key = get_mode(spec.params["mode"]).data_key(spec)
        groups.setdefault(key, []).append(spec)
    units: list[list[TaskSpec]] = []
    for group in groups.values():
        cost = sum(costs[spec.key] for spec in group)
        parts = min(len(group), max(1, math.ceil(cost / target)))
        size = math.ceil(len(group) / parts)
        units += [group[i : i + size] for i in range(0, len(group), size)]
    total = sum(costs[spec.key] for spec in members)
    n_packs = min(len(units), math.ceil(total / target))
    unit_cost = [sum(costs[spec.key] for spec in unit) for unit in units]
    order = sorted(range(len(units)), key=lambda u: (-unit_cost[u], units[u][0].key))
    loads = [0.0] * n_packs
    content: list[list[TaskSpec]] = [[] for _ in range(n_packs)]
    for u in order:
        pack = min(range(n_packs), key=lambda p: (loads[p], p))
        loads[pack] += unit_cost[u]
        content[pack] += units[u]
    return {f"{combo}-{p}": content[p] for p in range(n_packs)}


def _unit_hash(text: str) -> float:
    """A number in [0, 1) fixed by ``text`` (its SHA-256)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16) / 16**13
