"""Sessions listed in a table or found by a glob, completed by shared defaults.

Hundreds of sessions are not written as hundreds of YAML blocks.  A config may list them in
a sheet (``sessions_table``: a ``.tsv`` or ``.csv`` file, one row per session) or let a glob
find them (``sessions_glob``: one session per matching file or folder, named after it),
and give what the sessions share once (``session_defaults``)::

    sessions_table: data/sessions.tsv
    session_defaults:
      x: {object: processing/ecephys/LFP/LFP, params: {window_size: 0.2 s, step_size: 0.1 s}}
      y: {object: units, units: {where: {quality: good}},
          params: {window_size: 0.2, step_size: 0.1}}

Columns of the sheet:

- ``name`` (required): the session's name;
- ``path``: the file of every variable the defaults name (X, Y, Z in one NWB file);
- ``x.<key>``, ``y.<key>``, ``z.<key>``: a key of one variable (``x.path``, ``y.object``,
  ``x.channels``, ``x.params.window_size``...), the cell read as YAML (``[0, 2]`` is a
  list); a ``<variable>.path`` column on its own adds that variable;
- ``align``, ``min_overlap``: the session's pairing settings;
- any other column (subject, area, condition, date...): the session's ``metadata``, which
  goes to ``results/summary.csv`` and, as coordinates, to ``results/summary.nc``.

An empty cell leaves the key to the defaults.  Relative paths in a sheet are relative to
the sheet's folder.  Every problem names the sheet, the row (as numbered in a spreadsheet:
the header is row 1), the session and the column.
"""

from __future__ import annotations

import copy
import csv
import glob
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError

__all__ = ["RESERVED_COLUMNS", "expand_sessions"]

#: Columns of the cross-session summary: a metadata column may not take these names.
RESERVED_COLUMNS = ("session", "analysis", "mode", "mi", "mi_error", "is_reliable", "units")

_VARIABLES = ("x", "y", "z")
_SESSION_KEYS = ("align", "min_overlap")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def expand_sessions(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A raw config with the sessions of its sheet and glob added to ``sessions``.

    Parameters
    ----------
    raw
        The config mapping as read (``sessions_table``, ``sessions_glob`` and
        ``session_defaults`` are kept, for the record).

    Returns
    -------
    dict
        A copy whose ``sessions`` lists the config's own sessions, then the sheet's rows,
        then the glob's files.

    Raises
    ------
    ConfigError
        A missing or unreadable sheet, a missing or repeated column or name, a cell that
        is not valid, a glob that matches nothing; naming the sheet, row and column.
    """
    table, pattern = raw.get("sessions_table"), raw.get("sessions_glob")
    if table is None and pattern is None:
        return dict(raw)
    defaults = raw.get("session_defaults") or {}
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"config: session_defaults must be a mapping, got {defaults!r}.")
    found: list[tuple[dict[str, Any], str, dict[str, str]]] = []
    if table is not None:
        found += _table_sessions(table, defaults)
    if pattern is not None:
        found += _glob_sessions(pattern, defaults)
    _check_sessions(found)
    own = raw.get("sessions") or []
    if not isinstance(own, list):
        raise ConfigError(f"config: sessions must be a list, got {type(own).__name__}.")
    return {**raw, "sessions": [*own, *(session for session, _, _ in found)]}


def _table_sessions(
    table: Any, defaults: Mapping[str, Any]
) -> list[tuple[dict[str, Any], str, dict[str, str]]]:
    if not isinstance(table, str) or not table:
        raise ConfigError(
            f"config: sessions_table must be the path of a .tsv or .csv file, got {table!r}."
        )
    path = Path(table)
    if not path.is_file():
        raise ConfigError(
            f"config: sessions_table {table!r} not found (looked in "
            f"{str(path.absolute().parent)!r})."
        )
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"sessions_table {table!r} cannot be read: {exc}") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ConfigError(f"sessions_table {table!r} is empty: it needs a header row.")
    header = [cell.strip() for cell in rows[0]]
    _check_header(header, table)
    folder = path.parent
    sessions = []
    for number, cells in enumerate(rows[1:], start=2):
        where = f"sessions_table {table!r}, row {number}"
        if len(cells) > len(header):
            raise ConfigError(
                f"{where}: {len(cells)} cells, but the header has {len(header)} columns."
            )
        row = {column: cell.strip() for column, cell in zip(header, cells)}
        name = row.get("name", "")
        if not name:
            raise ConfigError(f"{where}, column 'name': empty; every session needs a name.")
        where = f"{where} (session {name!r})"
        session, columns = _row_session(row, defaults, folder, where)
        sessions.append((session, where, columns))
    if not sessions:
        raise ConfigError(f"sessions_table {table!r} has a header but no session rows.")
    return sessions


def _check_header(header: list[str], table: str) -> None:
    if "name" not in header:
        raise ConfigError(
            f"sessions_table {table!r} has no 'name' column; its columns: {', '.join(header)}."
        )
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise ConfigError(f"sessions_table {table!r} repeats column(s) {', '.join(repeated)}.")
    for column in header:
        if not column:
            raise ConfigError(f"sessions_table {table!r} has a column without a name.")
        if column in RESERVED_COLUMNS:
            raise ConfigError(
                f"sessions_table {table!r}, column {column!r}: the name is taken by the "
                f"summary's own columns ({', '.join(RESERVED_COLUMNS)}); rename it."
            )
        head = column.split(".")[0]
        if "." in column and head not in _VARIABLES:
            raise ConfigError(
                f"sessions_table {table!r}, column {column!r}: a dotted column sets a key of "
                "a variable, x.<key>, y.<key> or z.<key>."
            )


def _row_session(
    row: Mapping[str, str], defaults: Mapping[str, Any], folder: Path, where: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """A session mapping from one row, and which column set each of its keys."""
    session = _defaults_for(defaults, where)
    columns: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    for column, cell in row.items():
        if column == "name":
            session["name"] = cell
            continue
        if cell == "":
            continue
        if column == "path":
            variables = [v for v in _VARIABLES if v in session]
            if not variables:
                raise ConfigError(
                    f"{where}, column 'path': session_defaults names no variable (x, y, z) "
                    "to read it for; give x: {...} (and y, z) in session_defaults, or use "
                    "columns x.path, y.path."
                )
            for variable in variables:
                session[variable]["path"] = _relative(cell, folder)
                columns[f"{variable}.path"] = column
            continue
        if column in _SESSION_KEYS:
            session[column] = _cell(cell, where, column)
            columns[column] = column
            continue
        if "." in column:
            variable, *keys = column.split(".")
            value = _cell(cell, where, column)
            if keys == ["path"] and isinstance(value, str):
                value = _relative(value, folder)
            target = session.setdefault(variable, {})
            for key in keys[:-1]:
                inner = target.get(key)
                target = target.setdefault(key, {}) if inner is None else inner
                if not isinstance(target, dict):
                    raise ConfigError(f"{where}, column {column!r}: {key} is not a mapping.")
            target[keys[-1]] = value
            columns[column] = column
            continue
        metadata[column] = _metadata(cell)
    if metadata:
        session["metadata"] = metadata
    return session, columns


def _defaults_for(defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    session: dict[str, Any] = {}
    for key, value in defaults.items():
        if key in _VARIABLES:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"config: session_defaults.{key} must be a mapping (a variable), got {value!r}."
                )
            session[key] = copy.deepcopy(dict(value))
        elif key in _SESSION_KEYS:
            session[key] = value
        else:
            raise ConfigError(
                f"config: unknown key {key!r} in session_defaults; it takes x, y, z, "
                f"{', '.join(_SESSION_KEYS)}."
            )
    return session


def _relative(path: str, folder: Path) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(folder, path))


def _cell(cell: str, where: str, column: str) -> Any:
    try:
        return yaml.safe_load(cell)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{where}, column {column!r}: {cell!r} is not a valid value "
            f"({' '.join(str(exc).split())})."
        ) from None


def _metadata(cell: str) -> Any:
    """A metadata cell: a number when it is one, otherwise the text as written (so that a
    date or an id with leading zeros stays as it is)."""
    for kind in (int, float):
        try:
            number = kind(cell)
        except ValueError:
            continue
        if kind is float or str(number) == cell:
            return number
    return cell


def _glob_sessions(
    pattern: Any, defaults: Mapping[str, Any]
) -> list[tuple[dict[str, Any], str, dict[str, str]]]:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"config: sessions_glob must be a file pattern, got {pattern!r}.")
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise ConfigError(
            f"config: sessions_glob {pattern!r} matches no file (from {str(Path.cwd())!r})."
        )
    sessions: list[tuple[dict[str, Any], str, dict[str, str]]] = []
    for path in paths:
        name = _NOT_NAME.sub("_", Path(path).name.split(".")[0]).strip("_") or "session"
        where = f"sessions_glob {pattern!r}, file {path!r} (session {name!r})"
        session = _defaults_for(defaults, where)
        variables = [v for v in _VARIABLES if v in session]
        if not variables:
            raise ConfigError(
                "config: sessions_glob needs session_defaults with the variables (x, y, z) "
                "to read each file for."
            )
        for variable in variables:
            session[variable]["path"] = path
        sessions.append(({"name": name, **session}, where, {}))
    return sessions


def _check_sessions(found: list[tuple[dict[str, Any], str, dict[str, str]]]) -> None:
    """Validate each session of a sheet or glob on its own, so that a problem names the
    row and the column (or the default) it comes from."""
    from .model import SessionConfig

    seen: dict[str, str] = {}
    problems = []
    for session, where, columns in found:
        name = session.get("name")
        if name in seen:
            problems.append(f"{where}: session name {name!r} repeats {seen[name]}.")
            continue
        seen[str(name)] = where
        try:
            SessionConfig.model_validate(session)
        except ValidationError as exc:
            problems += [_problem(error, where, columns) for error in exc.errors()]
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))


def _problem(error: Mapping[str, Any], where: str, columns: Mapping[str, str]) -> str:
    from .messages import variable_tags

    tags = variable_tags()
    loc = [
        str(part)
        for part in error["loc"]
        if not (isinstance(part, str) and ("[" in part or part in tags))
    ]
    key = ".".join(loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    column = next(
        (columns[prefix] for prefix in _prefixes(loc) if prefix in columns),
        None,
    )
    source = f"column {column!r}" if column else "session_defaults"
    if not key:
        return f"{where}: {message}"
    if key == "name":
        source = "column 'name'"
    return f"{where}, {source}: {key}: {message}"


def _prefixes(loc: list[str]) -> list[str]:
    return [".".join(loc[:n]) for n in range(len(loc), 0, -1)]
