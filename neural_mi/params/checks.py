"""Checks of user-given values, in one place: names, choices, integers and numbers.

Every typed parameter model (:mod:`neural_mi.params`) and the workflow's config model build
on the annotated field types below, so "an integer >= 1" is checked by one function and reads the
same from ``nmi.run``, the planner and the workflow config.  Pydantic's own errors are
turned into :class:`~neural_mi.errors.ParameterError` messages that name the key and, for a
typo, the closest allowed name.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError

from ..errors import ParameterError

__all__ = [
    "Fraction",
    "IntAtLeastTwo",
    "Integer",
    "NonNegativeInt",
    "NonNegativeNumber",
    "Number",
    "OpenFraction",
    "PositiveInt",
    "PositiveNumber",
    "check_choice",
    "check_int",
    "check_keys",
    "check_number",
    "describe_validation_error",
    "did_you_mean",
]


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``options``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_keys(given: Iterable[str], allowed: Iterable[str], what: str) -> None:
    """Raise :class:`ParameterError` if ``given`` holds a key not in ``allowed``.

    Parameters
    ----------
    given
        Keys supplied by the user.
    allowed
        Keys that are accepted.
    what
        Where the keys came from (e.g. ``"base_params"``), used in the message.
    """
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            raise ParameterError(
                f"Unknown key {key!r} in {what}.{did_you_mean(key, allowed)} Allowed keys: "
                f"{', '.join(sorted(allowed)) or '(none)'}."
            )


def check_choice(value: Any, allowed: Iterable[Any], what: str) -> None:
    """Raise :class:`ParameterError` if ``value`` is not one of ``allowed``."""
    allowed = list(allowed)
    try:
        known = value in allowed
    except TypeError:  # an unhashable or incomparable value is not a choice
        known = False
    if not known:
        raise ParameterError(
            f"Unknown {what} {value!r}; choose one of {', '.join(repr(a) for a in allowed)}."
        )


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) of at least ``minimum``.

    numpy integers are accepted; floats, even whole ones, and strings are not (a ``1.5``
    must not be truncated silently, and a ``2.0`` usually means a unit mix-up).

    Raises
    ------
    ParameterError
        Naming ``name``, the rule and the value.
    """
    rule = "an integer" if minimum is None else f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be {rule}, got {value!r}.")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be {rule}, got {value!r}.")
    return int(value)


def check_number(
    value: Any,
    name: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> float:
    """``value`` as a finite ``float`` within the given bounds (not a bool or a string).

    Raises
    ------
    ParameterError
        Naming ``name``, the allowed range and the value.
    """
    bounds = [
        f"{op} {bound:g}"
        for op, bound in ((">", gt), (">=", ge), ("<", lt), ("<=", le))
        if bound is not None
    ]
    rule = "a finite number" + (f" {' and '.join(bounds)}" if bounds else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ParameterError(f"{name} must be {rule}, got {value!r}.")
    number = float(value)
    inside = (
        math.isfinite(number)
        and (gt is None or number > gt)
        and (ge is None or number >= ge)
        and (lt is None or number < lt)
        and (le is None or number <= le)
    )
    if not inside:
        raise ParameterError(f"{name} must be {rule}, got {value!r}.")
    return number


def _as_int(minimum: int | None) -> Any:
    def validate(value: Any) -> int:
        try:
            return check_int(value, "value", minimum)
        except ParameterError as err:
            raise ValueError(str(err).removeprefix("value ")) from None

    return validate


def _as_number(**bounds: float | None) -> Any:
    def validate(value: Any) -> Any:
        try:
            check_number(value, "value", **bounds)
        except ParameterError as err:
            raise ValueError(str(err).removeprefix("value ")) from None
        return value

    return validate


def _plain_number(value: Any) -> Any:
    # The value keeps the Python type it was given (``1`` stays an ``int``), so that a
    # parameter set hashes the same whether it was checked or not.
    return value.item() if isinstance(value, np.generic) else value


# Field types of the parameter models: integers (numpy integers accepted; bools, floats and
# strings refused) and finite numbers (bools and strings refused) within a range.  One
# validator each (:func:`check_int`, :func:`check_number`), so "an integer >= 1" reads the
# same everywhere; the JSON schema states each range.
Integer = Annotated[int, BeforeValidator(_as_int(None))]
PositiveInt = Annotated[int, BeforeValidator(_as_int(1)), Field(json_schema_extra={"minimum": 1})]
NonNegativeInt = Annotated[
    int, BeforeValidator(_as_int(0)), Field(json_schema_extra={"minimum": 0})
]
IntAtLeastTwo = Annotated[int, BeforeValidator(_as_int(2)), Field(json_schema_extra={"minimum": 2})]
Number = Annotated[float | int, BeforeValidator(_as_number()), AfterValidator(_plain_number)]
PositiveNumber = Annotated[
    float | int,
    BeforeValidator(_as_number(gt=0)),
    AfterValidator(_plain_number),
    Field(json_schema_extra={"exclusiveMinimum": 0}),
]
NonNegativeNumber = Annotated[
    float | int,
    BeforeValidator(_as_number(ge=0)),
    AfterValidator(_plain_number),
    Field(json_schema_extra={"minimum": 0}),
]
OpenFraction = Annotated[
    float | int,
    BeforeValidator(_as_number(gt=0, lt=1)),
    AfterValidator(_plain_number),
    Field(json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1}),
]
Fraction = Annotated[
    float | int,
    BeforeValidator(_as_number(gt=0, le=1)),
    AfterValidator(_plain_number),
    Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 1}),
]


def describe_validation_error(exc: ValidationError, what: str, fields: Iterable[str] = ()) -> str:
    """Turn a pydantic error into one message per problem, naming the key in ``what``.

    Parameters
    ----------
    exc
        The error raised by ``Model.model_validate``.
    what
        What was validated, e.g. ``"base_params"``; keys are shown as ``what['key']``.
    fields
        Allowed keys, for "did you mean" hints on unknown ones.
    """
    fields = list(fields)
    messages = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if not isinstance(part, int)]
        key = str(loc[0]) if loc else ""
        place = f"{what}[{key!r}]" if what and key else (key or what)
        given = error.get("input")
        if error["type"] == "extra_forbidden":
            messages.append(
                f"Unknown key {key!r} in {what}.{did_you_mean(key, fields)} Allowed keys: "
                f"{', '.join(sorted(fields)) or '(none)'}."
            )
        elif error["type"] == "literal_error":
            allowed = error.get("ctx", {}).get("expected", "")
            messages.append(f"Unknown {key or what} {given!r}; choose one of {allowed}.")
        elif error["type"] == "bool_type":
            messages.append(f"{place} must be True or False, got {given!r}.")
        elif error["type"] == "missing":
            messages.append(f"{place} is required.")
        elif error["type"] in ("model_type", "dict_type"):
            messages.append(f"{what} must be a mapping of keys to values, got {given!r}.")
        else:
            message = error["msg"].removeprefix("Value error, ")
            if not message.startswith("must"):
                message = f"is invalid: {message}, got {given!r}"
            messages.append(f"{place} {message}.".replace("..", "."))
    return " ".join(messages)


def plain(mapping: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """``mapping`` as a dict, or :class:`ParameterError` when it is not a mapping."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ParameterError(f"{what} must be a mapping of keys to values, got {mapping!r}.")
    return dict(mapping)
