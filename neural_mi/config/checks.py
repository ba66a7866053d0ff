"""Everything a workflow run would refuse, found before any job starts.

:func:`check_config` is what ``neural-mi plan`` runs (and ``neural-mi run`` before it starts
Snakemake): the config's structure, every session × analysis plan checked against its data's
headers (:func:`neural_mi.config.plan_config`), and then each session's data read (or
generated) once and checked as the workflow's prepare step would (values, shapes, dtypes,
spike times, categorical labels, the generator's own checks).  Every problem is collected
and reported together, each naming the session, the variable and the key.  ``neural-mi run``
remembers the sessions that passed, so their data is read again only when it or their
config changes.  Torch-free.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, NeuralMIError
from . import load_config, plan_config
from .model import Config, SessionConfig
from .sessions import load_session_arrays

__all__ = ["check_config", "check_session_data"]


def check_config(
    source: str | Path | Mapping[str, Any], *, data: bool = True, checked: str | Path | None = None
) -> Config:
    """Validate a config, its plan and (with ``data``) every session's data.

    Parameters
    ----------
    source
        A config file or mapping.
    data
        Read (or generate) each session's data once and check it.
    checked
        A file remembering the sessions whose data passed (their config and their files'
        sizes and times): those are not read again while nothing about them changed.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Listing every problem found, one per line.
    """
    config = load_config(source)
    problems = []
    try:
        plan_config(config)
    except ConfigError as exc:
        problems.append(str(exc))
    if data:
        memory = _read_checked(checked)
        used = {session for session, _ in config.pairs()}
        for session in config.sessions:
            if session.name not in used:
                continue
            fingerprint = _fingerprint(session, config.seed)
            if memory.get(session.name) == fingerprint:
                continue
            found = check_session_data(session, config.seed)
            problems += found
            if not found:
                memory[session.name] = fingerprint
        _write_checked(checked, memory)
    if problems:
        raise ConfigError(_report(problems))
    return config


def _fingerprint(session: SessionConfig, seed: int) -> str:
    """The session's config, the seed and its files' sizes and modification times."""
    files = []
    for spec in (session.x, session.y, session.z):
        if spec is not None and spec.path:
            try:
                stat = os.stat(spec.path)
                files.append(f"{spec.path}:{stat.st_size}:{stat.st_mtime_ns}")
            except OSError:
                files.append(f"{spec.path}:missing")
    content = session.model_dump(mode="json")
    return json.dumps({"seed": seed, "session": content, "files": files}, sort_keys=True)


def _read_checked(path: str | Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        memory = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return memory if isinstance(memory, dict) else {}


def _write_checked(path: str | Path | None, memory: dict[str, str]) -> None:
    if path is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(memory, sort_keys=True))
    os.replace(tmp, target)


def check_session_data(session: SessionConfig, seed: int) -> list[str]:
    """Problems of a session's data, read or generated once (``[]`` when there are none)."""
    from ..data import validate_data

    where = f"session {session.name!r}"
    try:
        x, y, z = load_session_arrays(session, seed)
    except (NeuralMIError, OSError, ValueError, TypeError) as exc:
        if session.synthetic is None:
            return [f"{where}: {exc}"]
        # a generator refusing its arguments
        return [f"{where}: synthetic generator {session.synthetic.generator!r}: {exc}"]
    problems = []
    for variable, values, spec in (("x", x, session.x), ("y", y, session.y), ("z", z, session.z)):
        if spec is None or values is None:
            continue
        try:
            validate_data(values, spec.type, name=f"{where}, {variable}")
        except NeuralMIError as exc:
            problems.append(str(exc))
    return problems


def _report(problems: list[str]) -> str:
    lines = [line for problem in problems for line in problem.splitlines() if line.strip()]
    lines = [line.strip() for line in lines if line.strip() != "Invalid config:"]
    return f"{len(lines)} problem(s) found:\n  " + "\n  ".join(lines)
