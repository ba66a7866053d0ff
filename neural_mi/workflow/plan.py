"""The plan of a workflow run, computed once when Snakemake parses the workflow.

:func:`workflow_plan` validates a config, plans every session × analysis (checking each
plan against the session's data from file headers), estimates each task's cost
(:mod:`neural_mi.workflow.cost`) and packs the tasks into train jobs
(:mod:`neural_mi.workflow.packing`).  :class:`WorkflowPlan` also gives each job its cluster
group and the runtime and memory it asks for (:meth:`WorkflowPlan.job_group`,
:meth:`WorkflowPlan.job_runtime`, :meth:`WorkflowPlan.job_memory_mb`).
When a run starts (not in a dry run), the main Snakemake process writes what the jobs need
to files (:meth:`WorkflowPlan.write_files`): ``<results>/<session>/session.json`` (how to read or
generate the session) and ``<results>/<session>/<analysis>/plan.json`` (the analysis'
settings and every pack's tasks).  A job reads its part and never plans again, so settings
given with ``snakemake --config`` reach every job, and a train job runs exactly the tasks
the run planned.  The files are rewritten only when their content changes.

Layout of an analysis' outputs: ``tasks/<pack>/<key>.zarr`` (one store per task) and
``tasks/<pack>.done`` (the train job's completion marker, written after every store of
its pack).  Torch-free.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..config import Config, load_config, plan_with_extents
from ..config.extents import DataExtent, processed_samples
from ..config.model import SessionConfig
from ..errors import ConfigError
from ..modes import get_mode
from ..tasks import TaskSpec
from .cost import (
    HEADROOM,
    STARTUP_S,
    Calibration,
    DataSize,
    aggregate_seconds,
    prepare_seconds,
    requested_minutes,
    task_seconds,
    train_memory_mb,
)
from .markers import check_marker
from .packing import pack_tasks

__all__ = [
    "GROUP_PARENT",
    "PLAN_FILE",
    "AnalysisPlan",
    "WorkflowPlan",
    "pack_paths",
    "read_plan",
    "read_session",
    "session_file",
    "workflow_plan",
]

#: File names of the layout (see the module docstring).
SESSION_FILE = "session.json"
PLAN_FILE = "plan.json"
PREPARED = "data.zarr"
MARKER_SUFFIX = ".done"

#: ``TaskSpec`` fields stored per task in a plan file (the parameters are stored once per
#: combination).
_TASK_FIELDS = ("key", "combo", "gamma", "subset", "lag", "split", "repeat", "seed", "role")

#: Parent of the cluster job groups (``nmi00000``, ``nmi00001``...); a profile's
#: ``group-components: [nmi=...]`` lets Snakemake submit each group as one job.
GROUP_PARENT = "nmi"
#: Most finished task stores read to calibrate the cost model.
CALIBRATION_SAMPLE = 256


@dataclass(frozen=True)
class AnalysisPlan:
    """One analysis on one session: its settings and its tasks, packed into train jobs.

    Attributes
    ----------
    session, analysis
        Names in the config.
    mode
        The analysis' mode.
    options
        The mode's arguments (planning and aggregation settings), JSON-friendly.
    output_units, mi_source
        How the summary is reported.
    plugins
        Modules to import before the mode can be found (plugin modes).
    packs
        ``{pack: [TaskSpec, ...]}``.
    costs
        ``{task key: estimated reference seconds}`` (:mod:`neural_mi.workflow.cost`); not
        in the plan file.
    size
        The session's data as the tasks' cost model sees it; not in the plan file.
    """

    session: str
    analysis: str
    mode: str
    options: dict[str, Any]
    output_units: str
    mi_source: str
    plugins: list[str] = field(default_factory=list)
    packs: dict[str, list[TaskSpec]] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    size: DataSize | None = field(default=None, compare=False, repr=False)

    @property
    def tasks(self) -> list[TaskSpec]:
        """Every task, pack by pack."""
        return [spec for specs in self.packs.values() for spec in specs]

    def settings(self) -> dict[str, Any]:
        """What the aggregation depends on besides the task results."""
        return {
            "mode": self.mode,
            "options": self.options,
            "output_units": self.output_units,
            "mi_source": self.mi_source,
        }

    def to_json(self) -> str:
        """The plan as JSON: parameters once per combination, then each pack's tasks."""
        combos = {spec.combo: {"params": spec.params, "coords": spec.coords} for spec in self.tasks}
        packs = {
            pack: [{name: getattr(spec, name) for name in _TASK_FIELDS} for spec in specs]
            for pack, specs in self.packs.items()
        }
        return json.dumps(
            {
                "session": self.session,
                "analysis": self.analysis,
                **self.settings(),
                "plugins": self.plugins,
                "combos": combos,
                "packs": packs,
            },
            sort_keys=True,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> AnalysisPlan:
        """Inverse of :meth:`to_json`."""
        raw = json.loads(text)
        combos = raw["combos"]
        packs = {
            pack: [
                TaskSpec(
                    params=combos[task["combo"]]["params"],
                    coords=combos[task["combo"]]["coords"],
                    **task,
                )
                for task in tasks
            ]
            for pack, tasks in raw["packs"].items()
        }
        return cls(
            session=raw["session"],
            analysis=raw["analysis"],
            mode=raw["mode"],
            options=raw["options"],
            output_units=raw["output_units"],
            mi_source=raw["mi_source"],
            plugins=raw["plugins"],
            packs=packs,
        )


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

    def session_json(self, session: str) -> str:
        """What prepare's output depends on (changing it reruns prepare)."""
        model = self.config.session(session)
        content = model.model_dump(mode="json")
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
        """How this machine's finished tasks compare with the cost model.

        Reads the ``wall_time`` recorded in up to :data:`CALIBRATION_SAMPLE` finished
        task stores of this run (the first task of each finished pack, in plan order; only
        the store's metadata file, no store is opened).  It scales runtimes requested and
        the cluster groups, never the packs: those depend on the plan alone.
        """
        records: list[tuple[float, float]] = []
        for (session, analysis), plan in self.analyses.items():
            for pack, specs in plan.packs.items():
                if len(records) >= CALIBRATION_SAMPLE:
                    return Calibration.from_records(records)
                folder = Path(self.pack_dir(session, analysis, pack))
                wall = _recorded_wall_time(folder / f"{specs[0].key}.zarr" / "zarr.json")
                if wall is not None:
                    records.append((wall, plan.costs[specs[0].key]))
        return Calibration.from_records(records)

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
            parts.append(
                f'{{"combo": "{spec.combo}", "coords": {coords}, "gamma": {spec.gamma}, '
                f'"key": "{spec.key}", "lag": {lag}, "params": {params}, '
                f'"repeat": {spec.repeat}, "seed": {spec.seed}, '
                f'"split": {spec.split}, "subset": {spec.subset}}}'
            )
        return "[" + ", ".join(parts) + "]"

    @cached_property
    def _signature_parts(self) -> dict[tuple[str, str, str], tuple[str, str]]:
        return {}

    @cached_property
    def _groups(self) -> dict[tuple[str, ...], tuple[str, int]]:
        """``{job: (cluster group, runtime minutes)}`` for every job but collect.

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
        target = float(self.config.target_job_minutes) * 60.0
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
        for session, analysis in self.analyses:
            by_session.setdefault(session, []).append(analysis)
        for session, names in by_session.items():
            prepared = Path(self.results_dir, session, PREPARED)
            add(("prepare", session), self.job_seconds("prepare", session), prepared.exists())
            for analysis in names:
                for pack in self.analyses[(session, analysis)].packs:
                    marker = Path(self.pack_marker(session, analysis, pack))
                    seconds = self.job_seconds("train", session, analysis, pack)
                    add(("train", session, analysis, pack), seconds, marker.exists())
                results = Path(self.results_dir, session, analysis, "results.json")
                seconds = self.job_seconds("aggregate", session, analysis)
                add(("aggregate", session, analysis), seconds, results.exists())
        return result

    def job_group(self, rule: str, session: str, analysis: str = "", pack: str = "") -> str:
        """The cluster group a job is submitted with (see :attr:`_groups`)."""
        return self._groups[_job_id(rule, session, analysis, pack)][0]

    def job_runtime(
        self, rule: str, session: str, analysis: str = "", pack: str = "", attempt: int = 1
    ) -> int:
        """Minutes a job asks for (see :attr:`_groups`), times ``attempt`` on retries."""
        return self._groups[_job_id(rule, session, analysis, pack)][1] * attempt

    def write_files(self) -> list[Path]:
        """Write every session and plan file whose content changed; return those written."""
        written = []
        for session in dict.fromkeys(s for s, _ in self.analyses):
            written += _write_if_changed(self.session_file(session), self.session_json(session))
        for (session, analysis), plan in self.analyses.items():
            written += _write_if_changed(self.plan_file(session, analysis), plan.to_json())
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
        size, costs = _estimate(specs, cfg.session(session), extents[session], mode.uses_y)
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


def _estimate(
    specs: list[TaskSpec],
    session: SessionConfig,
    extents: Mapping[str, DataExtent],
    uses_y: bool,
) -> tuple[DataSize, dict[str, float]]:
    """The session's data size (the largest any combination gives) and each task's cost."""
    stacks: dict[tuple[Any, ...], int] = {}
    keys = []
    for spec in specs:
        key = get_mode(spec.params["mode"]).data_key(spec)
        keys.append(key)
        stacks[key] = stacks.get(key, 0) + 1
    sizes: dict[str, DataSize] = {}
    costs: dict[str, float] = {}
    memo: dict[tuple[str, int, int], float] = {}
    for spec, key in zip(specs, keys):
        if spec.combo not in sizes:
            sizes[spec.combo] = _data_size(spec, session, extents, uses_y)
        memo_key = (spec.combo, spec.gamma, stacks[key])
        if memo_key not in memo:
            memo[memo_key] = task_seconds(spec, sizes[spec.combo], stacks[key])
        costs[spec.key] = memo[memo_key]
    largest = max(sizes.values(), key=lambda size: size.raw_mb, default=DataSize(0, 0, 0, 0.0))
    return largest, costs


def _data_size(
    spec: TaskSpec, session: SessionConfig, extents: Mapping[str, DataExtent], uses_y: bool
) -> DataSize:
    """What the cost model needs of a combination's data, from headers only."""
    p = spec.params
    names = ("x", "y") if uses_y else ("x",)
    samples, features, raw = [], [], 0.0
    for name in names:
        extent, kind = extents[name], p[f"processor_type_{name}"]
        params = p[f"processor_params_{name}"]
        samples.append(processed_samples(extent, kind, params))
        channels, n_time = _channels_and_time(session, extent, kind, params)
        raw += channels * n_time * 4 / 1e6
        if kind in ("continuous", "categorical"):
            features.append(channels * int(params["window_size"]))
        elif kind is None and extent.shape is not None:
            features.append(math.prod(extent.shape[1:]) or 1)
        else:  # spikes: neurons x spikes per window, neither known from the header
            features.append(_UNKNOWN_FEATURES)
    return DataSize(
        n_samples=min(samples),
        features_x=features[0],
        features_y=features[1] if uses_y else 0,
        raw_mb=raw,
    )


#: Input features assumed where the header does not tell them (spike windows).
_UNKNOWN_FEATURES = 16


def _channels_and_time(
    session: SessionConfig, extent: DataExtent, kind: str | None, params: Mapping[str, Any]
) -> tuple[int, int]:
    """``(channels, time points)`` of a variable's raw data, as far as known."""
    if kind is None and extent.shape is not None:  # processed: (samples, features...)
        return max(1, math.prod(extent.shape[1:])), int(extent.shape[0])
    if extent.shape is None:  # spike times: neurons unknown, ~ one value per 10 ms
        return _UNKNOWN_FEATURES, int((extent.last_spike or 0.0) * 100)
    shape = extent.shape
    if len(shape) == 1:  # synthetic (n_time,): the generator's dim, if it has one
        synthetic = session.synthetic
        dim = synthetic.kwargs.get("dim", 1) if synthetic is not None else 1
        return (dim if isinstance(dim, int) and dim > 0 else 1), int(shape[0])
    time_axis = 0 if params.get("time_axis", 1) == 0 else len(shape) - 1
    n_time = int(shape[time_axis])
    return max(1, math.prod(shape) // max(1, n_time)), n_time


def session_file(prepared: str | os.PathLike[str]) -> Path:
    """The session file beside a session's ``data.zarr``."""
    return Path(prepared).parent / SESSION_FILE


def pack_paths(marker: str | os.PathLike[str]) -> tuple[Path, str, Path]:
    """The plan file, the pack and the store folder of a pack's completion marker."""
    marker = Path(marker)
    if not marker.name.endswith(MARKER_SUFFIX):
        raise ConfigError(f"{str(marker)!r} is not a pack marker (<pack>{MARKER_SUFFIX}).")
    pack = marker.name.removesuffix(MARKER_SUFFIX)
    return marker.parent.parent / PLAN_FILE, pack, marker.parent / pack


def read_plan(path: str | os.PathLike[str]) -> AnalysisPlan:
    """The plan file a train or aggregate job was given (plugins imported).

    Raises
    ------
    ConfigError
        If the file is missing or not a plan.
    """
    from ..modes import load_plugins

    try:
        plan = AnalysisPlan.from_json(Path(path).read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"Cannot read the plan file {str(path)!r} ({exc}); run the "
            "workflow again to rewrite it."
        ) from exc
    load_plugins(plan.plugins)
    return plan


def read_session(path: str | os.PathLike[str]) -> tuple[int, Any]:
    """The run seed and the session config a prepare job was given."""
    from ..config import SessionConfig

    try:
        raw = json.loads(Path(path).read_text())
        return int(raw["seed"]), SessionConfig.model_validate(raw["session"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"Cannot read the session file {str(path)!r} ({exc}); run the "
            "workflow again to rewrite it."
        ) from exc


def _job_id(rule: str, session: str, analysis: str, pack: str) -> tuple[str, ...]:
    if rule == "prepare":
        return (rule, session)
    if rule == "aggregate":
        return (rule, session, analysis)
    return (rule, session, analysis, pack)


def _recorded_wall_time(metadata: Path) -> float | None:
    """The ``wall_time`` in a task store's metadata file; None if there is none."""
    try:
        wall = json.loads(metadata.read_text())["attributes"]["wall_time"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(wall) if isinstance(wall, (int, float)) else None


def _write_if_changed(path: str, text: str) -> list[Path]:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that."""
    target = Path(path)
    try:
        if target.read_text() == text:
            return []
    except (OSError, UnicodeDecodeError):
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(text)
    os.replace(tmp, target)
    return [target]
