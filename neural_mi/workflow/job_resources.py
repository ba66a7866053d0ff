"""Cluster groups and the runtime of a workflow plan's jobs, calibrated on this machine's
finished tasks (the cost model itself is :mod:`neural_mi.workflow.cost`).  Torch-free."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from .cost import HEADROOM, STARTUP_S, Calibration, requested_minutes
from .plan_files import PREPARED

if TYPE_CHECKING:
    from .plan import WorkflowPlan

#: Parent of the cluster job groups (``nmi00000``, ``nmi00001``...); a profile's
#: ``group-components: [nmi=...]`` lets Snakemake submit each group as one job.
GROUP_PARENT = "nmi"
#: Most finished task stores read to calibrate the cost model.
CALIBRATION_SAMPLE = 256


def calibrate(workflow: WorkflowPlan) -> Calibration:
    """How this machine's finished tasks of ``workflow`` compare with the cost model
    (:attr:`WorkflowPlan.calibration <neural_mi.workflow.plan.WorkflowPlan.calibration>`).

    Reads the ``wall_time`` recorded in up to :data:`CALIBRATION_SAMPLE` finished
    task stores of this run (the first task of each finished pack, in plan order; only
    the store's metadata file, no store is opened).
    """
    records: list[tuple[float, float]] = []
    for (session, analysis), plan in workflow.analyses.items():
        for pack, specs in plan.packs.items():
            if len(records) >= CALIBRATION_SAMPLE:
                return Calibration.from_records(records)
            folder = Path(workflow.pack_dir(session, analysis, pack))
            wall = recorded_wall_time(folder / f"{specs[0].key}.zarr" / "zarr.json")
            if wall is not None:
                records.append((wall, plan.costs[specs[0].key]))
    return Calibration.from_records(records)


def cluster_groups(plan: WorkflowPlan) -> dict[tuple[str, ...], tuple[str, int]]:
    """``{job: (cluster group, runtime minutes)}`` for every job of ``plan`` but collect.

    Jobs are taken session by session in the order they run (prepare, then each
    analysis' packs and aggregation), so every dependency points to the same group or
    an earlier one.  A group closes once its jobs that still have to run are estimated
    at ``target_job_minutes``.  Each group's runtime, ``(estimate x HEADROOM +
    STARTUP_S)`` rounded up to minutes, is spread over its jobs by the running sum (a
    job's runtime: its group's rounded total after it, minus that before it), so that
    the jobs Snakemake submits together ask for the group's total, not for a rounded
    minute each.  A job whose output exists (it will not run unless something changed)
    adds nothing to a group and asks for its own runtime.
    """
    target = float(plan.config.target_job_minutes) * 60.0
    result: dict[tuple[str, ...], tuple[str, int]] = {}
    group, load, minutes_before = 0, 0.0, 0

    def add(job: tuple[str, ...], seconds: float, done: bool) -> None:
        nonlocal group, load, minutes_before
        if done:
            result[job] = (f"{GROUP_PARENT}{group:05d}", requested_minutes(seconds))
            return
        if load > 0 and load + seconds > target:
            group, load, minutes_before = group + 1, 0.0, 0
        load += seconds
        total = math.ceil((load * HEADROOM + STARTUP_S) / 60.0)
        result[job] = (f"{GROUP_PARENT}{group:05d}", total - minutes_before)
        minutes_before = total

    by_session: dict[str, list[str]] = {}
    for session, analysis in plan.analyses:
        by_session.setdefault(session, []).append(analysis)
    for session, names in by_session.items():
        prepared = Path(plan.results_dir, session, PREPARED)
        add(("prepare", session), plan.job_seconds("prepare", session), prepared.exists())
        for analysis in names:
            for pack in plan.analyses[(session, analysis)].packs:
                marker = Path(plan.pack_marker(session, analysis, pack))
                seconds = plan.job_seconds("train", session, analysis, pack)
                add(("train", session, analysis, pack), seconds, marker.exists())
            results = Path(plan.results_dir, session, analysis, "results.json")
            seconds = plan.job_seconds("aggregate", session, analysis)
            add(("aggregate", session, analysis), seconds, results.exists())
    return result


def job_id(rule: str, session: str, analysis: str, pack: str) -> tuple[str, ...]:
    """A job's key in :func:`cluster_groups`: the names its rule's wildcards take."""
    if rule == "prepare":
        return (rule, session)
    if rule == "aggregate":
        return (rule, session, analysis)
    return (rule, session, analysis, pack)


def recorded_wall_time(metadata: Path) -> float | None:
    """The ``wall_time`` in a task store's metadata file; None if there is none."""
    try:
        wall = json.loads(metadata.read_text())["attributes"]["wall_time"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(wall) if isinstance(wall, (int, float)) else None
