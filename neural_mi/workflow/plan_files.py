"""The files a workflow run's jobs read, and their layout: the plan of one analysis
(:class:`AnalysisPlan`, ``plan.json``), the session file, pack markers.  Torch-free."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..tasks import TaskSpec
from .cost import DataSize

#: File names of the layout (see the module docstring).
SESSION_FILE = "session.json"
SESSIONS_FILE = "sessions.json"
PLAN_FILE = "plan.json"
PREPARED = "data.zarr"
MARKER_SUFFIX = ".done"

#: ``TaskSpec`` fields stored per task in a plan file (the parameters are stored once per
#: combination); ``permutation`` only where it is not 0 (a null task's).
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
        packs = {pack: [_task_fields(spec) for spec in specs] for pack, specs in self.packs.items()}
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


def _task_fields(spec: TaskSpec) -> dict[str, Any]:
    """A task's entry in a plan file (see :data:`_TASK_FIELDS`)."""
    fields = {name: getattr(spec, name) for name in _TASK_FIELDS}
    if spec.permutation:
        fields["permutation"] = spec.permutation
    return fields


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


def write_if_changed(path: str, text: str) -> list[Path]:
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
