"""Readable messages for config errors: where (session, analysis, key) and what would be right.

Pydantic reports a location such as ``('analyses', 0, 'rigorous', 'fit', 'confidence')``;
these functions turn it into ``analyses[0] (rig): unknown key 'confidence' in fit (did
you mean 'confidence_level'?)``.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["describe_validation_error", "did_you_mean_paren"]


def did_you_mean_paren(name: str, options: Sequence[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``options``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_validation_error(
    exc: ValidationError, raw: Mapping[str, Any], model: type[BaseModel]
) -> str:
    """Every problem of a config, one line each, naming its place.

    The alternatives a value failed (a number or ``'auto'``...) are joined in one line.
    """
    lines: dict[str, list[str]] = {}
    for error in exc.errors():
        place, problem = _describe_one(error, raw, model)
        lines.setdefault(place, [])
        if problem not in lines[place]:
            lines[place].append(problem)
    return "Invalid config:\n  " + "\n  ".join(
        f"{place}: {'; or '.join(problems)}" for place, problems in lines.items()
    )


def _describe_one(
    error: Mapping[str, Any], raw: Mapping[str, Any], model: type[BaseModel]
) -> tuple[str, str]:
    """One pydantic error as ``("analyses[0] (rigorous)", "unknown key 'gama_range' ...")``:
    its place (with the key, where the message is about a value) and the problem."""
    loc = _without_tags(list(error["loc"]), raw)
    where, key_path = _where(loc, raw)
    if error["type"] == "union_tag_invalid":
        from ..modes import available_modes

        given = error.get("ctx", {}).get("tag", "")
        return where, (
            f"unknown mode {given!r}{did_you_mean_paren(given, available_modes())}"
            f"; modes: {', '.join(available_modes())}"
        )
    if error["type"] == "union_tag_not_found":
        return where, "mode is missing"
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        inside = f" in {'.'.join(key_path[:-1])}" if len(key_path) > 1 else ""
        other = _other_modes(key, loc, raw)
        if other:
            return where, f"{key!r}{inside} is not used in this mode ({other})"
        hint = did_you_mean_paren(key, _fields_at(loc[:-1], raw, model))
        return where, f"unknown key {key!r}{inside}{hint}"
    message = error["msg"].removeprefix("Value error, ")
    return (f"{where}: {'.'.join(key_path)}" if key_path else where), message


def _without_tags(loc: list[Any], raw: Mapping[str, Any]) -> list[Any]:
    """Drop the discriminator tag pydantic inserts after ``analyses[i]``, and the names of
    the alternatives of a union (``literal['auto']``, ``function-before[...]``)."""
    loc = [part for part in loc if not (isinstance(part, str) and "[" in part)]
    if len(loc) >= 3 and loc[0] == "analyses" and isinstance(loc[1], int):
        item = _item(raw, "analyses", loc[1])
        if isinstance(item, Mapping) and loc[2] == item.get("mode"):
            return loc[:2] + loc[3:]
    return loc


def _item(raw: Mapping[str, Any], section: str, index: int) -> Any:
    items = raw.get(section) or []
    return items[index] if isinstance(items, list) and index < len(items) else None


def _where(loc: list[Any], raw: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Split a pydantic location into a readable place and the key path inside it."""
    if len(loc) >= 2 and loc[0] in ("sessions", "analyses") and isinstance(loc[1], int):
        item = _item(raw, loc[0], loc[1])
        name = item.get("name") if isinstance(item, Mapping) else None
        place = f"{loc[0]}[{loc[1]}]" + (f" ({name})" if name else "")
        return place, [str(part) for part in loc[2:]]
    return "config", [str(part) for part in loc]


def _other_modes(key: str, loc: list[Any], raw: Mapping[str, Any]) -> str:
    """``"it is an argument of mode 'rigorous'"`` when an analysis key belongs to another
    mode, else ``""``."""
    if not (len(loc) >= 3 and loc[0] == "analyses" and isinstance(loc[1], int)):
        return ""
    from ..modes import modes_using

    users = modes_using(key)
    if not users:
        return ""
    return f"it is an argument of mode {' / '.join(repr(u) for u in users)}"


def _fields_at(loc: Sequence[Any], raw: Mapping[str, Any], model: type[BaseModel]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model``."""
    current: Any = model
    for position, part in enumerate(loc):
        if isinstance(part, int):
            if position == 1 and loc[0] == "analyses":
                from .model import analysis_model

                item = _item(raw, "analyses", part)
                try:
                    current = analysis_model(item.get("mode"))
                except Exception:
                    return []
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = next(
            (
                arg
                for arg in _flat_args(field.annotation)
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
        if current is None:
            return []
    return list(current.model_fields)


def _flat_args(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [a for arg in args for a in _flat_args(arg)]
