"""JSON forms of values: builtins for zarr attributes and netCDF, and one canonical text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside ``value`` to JSON-compatible builtins."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return jsonable(value.tolist())
    return value


def canonical_json(value: Any) -> bytes:
    """One text per value: sorted keys, no spaces, ASCII, ``NaN``/``Infinity`` as zarr writes
    them; equal values (as read back from JSON) give equal bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True
    ).encode("ascii")
