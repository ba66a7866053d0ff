"""The plan of a workflow run, computed once when Snakemake parses the workflow.

:func:`workflow_plan` validates a config, plans every session × analysis (checking each
plan against the session's data from file headers), estimates each task's cost
(:mod:`neural_mi.workflow.cost`) and packs the tasks into train jobs
(:mod:`neural_mi.workflow.packing`).  :class:`WorkflowPlan` also gives each job its cluster
group and the runtime and memory it asks for (:meth:`WorkflowPlan.job_group`,
:meth:`WorkflowPlan.job_runtime`, :meth:`WorkflowPlan.job_memory_mb`).
When a run starts (not in a dry run), the main Snakemake process writes what the jobs need
to files (:meth:`WorkflowPlan.write_files`): ``<results>/<session>/session.json`` (how to read or
generate the session), ``<results>/<session>/<analysis>/plan.json`` (the analysis'
settings and every pack's tasks) and ``<results>/sessions.json`` (each session's metadata,
for the cross-session summary).  A job reads its part and never plans again, so settings
given with ``snakemake --config`` reach every job, and a train job runs exactly the tasks
the run planned.  The files are rewritten only when their content changes.

Layout of an analysis' outputs: ``tasks/<pack>/<key>.zarr`` (one store per task) and
``tasks/<pack>.done`` (the train job's completion marker, written after every store of
its pack).  Torch-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..config import Config, load_config, plan_with_extents
from ..errors import ConfigError
from ..modes import get_mode
from .cost import Calibration, DataSize, aggregate_seconds, prepare_seconds, train_memory_mb
from .job_resources import CALIBRATION_SAMPLE, GROUP_PARENT, calibrate, cluster_groups, job_id
from .markers import check_marker
from .packing import pack_tasks
from .plan_files import (
    MARKER_SUFFIX,
    PLAN_FILE,
    PREPARED,
    SESSION_FILE,
    SESSIONS_FILE,
    AnalysisPlan,
    pack_paths,
    read_plan,
    read_session,
    session_file,
    write_if_changed,
)
from .task_costs import estimate_costs

__all__ = [
    "CALIBRATION_SAMPLE",
    "GROUP_PARENT",
    "MARKER_SUFFIX",
    "PLAN_FILE",
    "PREPARED",
    "SESSIONS_FILE",
    "SESSION_FILE",
    "AnalysisPlan",
    "WorkflowPlan",
    "pack_paths",
    "read_plan",
    "read_session",
    "session_file",
    "workflow_plan",
]


@dataclass(frozen=True)
class WorkflowPlan:
    """Every session × analysis of a config, planned and packed."""

    config: Config
    analyses: dict[tuple[str, str], AnalysisPlan]

    @property
    def results_dir(self) -> str:
        """The config's ``results_dir`` without a trailing slash."""
        return self.config.results_dir.rstrip("/") or "."

    def session_file(self, session: str) -> str:
        """Where the prepare job reads how to get a session's data."""
        return f"{self.results_dir}/{session}/{SESSION_FILE}"

    def plan_file(self, session: str, analysis: str) -> str:
        """Where the train and aggregate jobs of an analysis read its plan."""
        return f"{self.results_dir}/{session}/{analysis}/{PLAN_FILE}"

    def pack_dir(self, session: str, analysis: str, pack: str) -> str:
        """Folder of a pack's task stores."""
        return f"{self.results_dir}/{session}/{analysis}/tasks/{pack}"

    def pack_marker(self, session: str, analysis: str, pack: str) -> str:
        """The train job's output: written once every store of its pack is."""
        return f"{self.pack_dir(session, analysis, pack)}{MARKER_SUFFIX}"

    @property
    def sessions_file(self) -> str:
        """Where the collect job reads each session's metadata."""
        return f"{self.results_dir}/{SESSIONS_FILE}"

    def sessions_json(self) -> str:
        """``{session: metadata}`` of the sessions that run (what collect adds to the
        summary; changing it reruns only collect)."""
        names = dict.fromkeys(s for s, _ in self.analyses)
        return json.dumps(
            {name: self.config.session(name).metadata for name in names}, sort_keys=True
        )

    def session_json(self, session: str) -> str:
        """What prepare's output depends on (changing it reruns prepare)."""
        model = self.config.session(session)
        content = model.model_dump(mode="json", exclude={"metadata"})
        return json.dumps({"seed": self.config.seed, "session": content}, sort_keys=True)

    def describe(self) -> str:
        """Combinations, tasks, train jobs and estimated training minutes (one core; an
        upper bound, see :mod:`neural_mi.workflow.cost`) per session × analysis, with totals."""
        import pandas as pd

        rows: list[tuple[Any, ...]] = []
        for (s, a), plan in self.analyses.items():
            seconds = sum(self.job_seconds("train", s, a, pack) for pack in plan.packs)
            rows.append(
                (
                    s,
                    a,
                    plan.mode,
                    len({spec.combo for spec in plan.tasks}),
                    len(plan.tasks),
                    len(plan.packs),
                    round(seconds / 60, 1),
                )
            )
        tasks, jobs, minutes = (sum(row[i] for row in rows) for i in (4, 5, 6))
        rows.append(("total", "", "", "", tasks, jobs, round(minutes, 1)))
        columns = ["session", "analysis", "mode", "combinations", "tasks", "train_jobs"]
        return pd.DataFrame(rows, columns=[*columns, "train_minutes"]).to_string(index=False)

    def remove_stale_markers(self) -> list[tuple[Path, list[tuple[Path, str]]]]:
        """Remove the completion marker of every pack that lost or damaged a store.

        See :func:`neural_mi.workflow.markers.check_marker`: a store is verified in full
        only when its files changed since its train job wrote them, so this is cheap
        enough for every run.  Snakemake then sees the pack's train job as not done, and
        its next run trains exactly the missing tasks.

        Returns
        -------
        list
            ``(marker, [(store, reason), ...])`` of every marker removed.
        """
        removed = []
        for (session, analysis), plan in self.analyses.items():
            for pack in plan.packs:
                marker = Path(self.pack_marker(session, analysis, pack))
                bad = check_marker(marker, self.pack_dir(session, analysis, pack))
                if bad:
                    removed.append((marker, bad))
        return removed

    # ----------------------------------------------------------------------------------
    # Costs, cluster groups and resources
    # ----------------------------------------------------------------------------------

    @cached_property
    def calibration(self) -> Calibration:
        """How this machine's finished tasks compare with the cost model
        (:func:`~neural_mi.workflow.job_resources.calibrate`).  It scales runtimes
        requested and the cluster groups, never the packs: those depend on the plan alone.
        """
        return calibrate(self)

    def job_seconds(self, rule: str, session: str, analysis: str = "", pack: str = "") -> float:
        """A job's estimated seconds on this machine (calibrated).

        ``rule`` is ``prepare`` (``session``), ``train`` (all three) or ``aggregate``
        (``session`` and ``analysis``).
        """
        factor = self.calibration.factor
        if rule == "prepare":
            return prepare_seconds(DataSize(0, 0, 0, self._raw_mb[session]))
        plan = self.analyses[(session, analysis)]
        if rule == "train":
            return factor * sum(plan.costs[spec.key] for spec in plan.packs[pack])
        if rule == "aggregate":
            return aggregate_seconds(len(plan.costs))
        raise ConfigError(f"no cost model for rule {rule!r}.")

    def job_memory_mb(
        self, rule: str, session: str, analysis: str = "", pack: str = "", attempt: int = 1
    ) -> int:
        """A job's estimated peak memory (MB), times ``attempt`` on retries."""
        size = self.analyses[(session, analysis)].size if analysis else None
        raw = size.raw_mb if size is not None else self._raw_mb[session]
        # A train job holds its data's windows and tensors; prepare holds the raw data and
        # writes it; aggregate reads the task stores.
        share = raw if rule == "train" else raw / 2
        return math.ceil(train_memory_mb(DataSize(0, 0, 0, share))) * attempt

    @cached_property
    def _raw_mb(self) -> dict[str, float]:
        """``{session: raw data size (MB)}``, the largest any of its analyses reads."""
        raw: dict[str, float] = {}
        for (session, _), plan in self.analyses.items():
            size = plan.size.raw_mb if plan.size is not None else 0.0
            raw[session] = max(raw.get(session, 0.0), size)
        return raw

    def pack_signature(self, session: str, analysis: str, pack: str) -> str:
        """Every training parameter of a pack's tasks, as JSON: the train rule's params.

        The text of ``[spec.to_json(), ...]``, built without copying each task's
        parameters (they are written once per combination).
        """
        plan = self.analyses[(session, analysis)]
        cache = self._signature_parts
        parts = []
        for spec in plan.packs[pack]:
            shared = cache.get((session, analysis, spec.combo))
            if shared is None:
                shared = (
                    json.dumps(spec.coords, sort_keys=True),
                    json.dumps(spec.params, sort_keys=True),
                )
                cache[(session, analysis, spec.combo)] = shared
            coords, params = shared
            # json.dumps of the other fields: keys are plain names, the rest numbers.
            lag = spec.lag if type(spec.lag) is int else json.dumps(spec.lag)
            # A null task's permutation, where to_json has it (absent for observed tasks,
            # whose signature is as before the field existed).
            permutation = f'"permutation": {spec.permutation}, ' if spec.permutation else ""
            parts.append(
                f'{{"combo": "{spec.combo}", "coords": {coords}, "gamma": {spec.gamma}, '
                f'"key": "{spec.key}", "lag": {lag}, "params": {params}, {permutation}'
                f'"repeat": {spec.repeat}, "seed": {spec.seed}, '
                f'"split": {spec.split}, "subset": {spec.subset}}}'
            )
        return "[" + ", ".join(parts) + "]"

    @cached_property
    def _signature_parts(self) -> dict[tuple[str, str, str], tuple[str, str]]:
        return {}

    @cached_property
    def _groups(self) -> dict[tuple[str, ...], tuple[str, int]]:
        """``{job: (cluster group, runtime minutes)}`` for every job but collect
        (:func:`~neural_mi.workflow.job_resources.cluster_groups`), computed once."""
        return cluster_groups(self)

    def job_group(self, rule: str, session: str, analysis: str = "", pack: str = "") -> str:
        """The cluster group a job is submitted with (see :attr:`_groups`)."""
        return self._groups[job_id(rule, session, analysis, pack)][0]

    def job_runtime(
        self, rule: str, session: str, analysis: str = "", pack: str = "", attempt: int = 1
    ) -> int:
        """Minutes a job asks for (see :attr:`_groups`), times ``attempt`` on retries."""
        return self._groups[job_id(rule, session, analysis, pack)][1] * attempt

    def write_files(self) -> list[Path]:
        """Write every session and plan file whose content changed; return those written."""
        written = write_if_changed(self.sessions_file, self.sessions_json())
        for session in dict.fromkeys(s for s, _ in self.analyses):
            written += write_if_changed(self.session_file(session), self.session_json(session))
        for (session, analysis), plan in self.analyses.items():
            written += write_if_changed(self.plan_file(session, analysis), plan.to_json())
        return written


def workflow_plan(config: Mapping[str, Any] | Config) -> WorkflowPlan:
    """Validate a config, plan and check every session × analysis, and pack the tasks.

    :func:`neural_mi.config.plan_with_extents` (every session × analysis planned, every plan
    checked against its session's data headers, each session's headers read once), then
    each task's cost estimated (:mod:`neural_mi.workflow.cost`) and the tasks packed
    (:func:`neural_mi.workflow.packing.pack_tasks`).

    Raises
    ------
    ConfigError
        As :func:`neural_mi.config.load_config` and :func:`neural_mi.config.plan_config`.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    target = float(cfg.target_job_minutes) * 60.0
    planned, extents = plan_with_extents(cfg)
    analyses = {}
    for (session, analysis), specs in planned.items():
        a = cfg.analysis(analysis)
        mode = get_mode(a.mode)
        size, costs = estimate_costs(specs, cfg.session(session), extents[session], mode.uses_y)
        analyses[(session, analysis)] = AnalysisPlan(
            session=session,
            analysis=analysis,
            mode=a.mode,
            options=mode.options(a.mode_options()).model_dump(mode="json"),
            output_units=a.output_units,
            mi_source=a.mi_source,
            plugins=list(cfg.plugins),
            packs=pack_tasks(specs, cfg.tasks_per_job, costs, target),
            costs=costs,
            size=size,
        )
    return WorkflowPlan(config=cfg, analyses=analyses)
