"""The plan of a workflow run, computed once when Snakemake parses the workflow.

:func:`workflow_plan` validates a config, plans every session × analysis (checking each
plan against the session's data from file headers) and packs the tasks into train jobs.
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
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, load_config, plan_config
from ..errors import ConfigError
from ..modes import get_mode
from ..tasks import TaskSpec
from .markers import check_marker
from .packing import pack_tasks

__all__ = [
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
    """

    session: str
    analysis: str
    mode: str
    options: dict[str, Any]
    output_units: str
    mi_source: str
    plugins: list[str] = field(default_factory=list)
    packs: dict[str, list[TaskSpec]] = field(default_factory=dict)

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
        """Combinations, tasks and train jobs per session × analysis, with totals."""
        import pandas as pd

        rows = [
            (
                s,
                a,
                plan.mode,
                len({spec.combo for spec in plan.tasks}),
                len(plan.tasks),
                len(plan.packs),
            )
            for (s, a), plan in self.analyses.items()
        ]
        rows.append(("total", "", "", "", sum(r[4] for r in rows), sum(r[5] for r in rows)))
        columns = ["session", "analysis", "mode", "combinations", "tasks", "train_jobs"]
        return pd.DataFrame(rows, columns=columns).to_string(index=False)

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

    Raises
    ------
    ConfigError
        As :func:`neural_mi.config.load_config` and :func:`neural_mi.config.plan_config`.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    analyses = {}
    for (session, analysis), specs in plan_config(cfg).items():
        a = cfg.analysis(analysis)
        analyses[(session, analysis)] = AnalysisPlan(
            session=session,
            analysis=analysis,
            mode=a.mode,
            options=get_mode(a.mode).options(a.mode_options()).model_dump(mode="json"),
            output_units=a.output_units,
            mi_source=a.mi_source,
            plugins=list(cfg.plugins),
            packs=pack_tasks(specs, cfg.tasks_per_job),
        )
    return WorkflowPlan(config=cfg, analyses=analyses)


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
