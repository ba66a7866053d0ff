"""The checksum a task store's completion record carries over the store's content.

The digest covers everything a reader takes from the store: the task key, every attribute
(as canonical JSON, so the text layout of ``zarr.json`` does not matter) and every array
(its name, dtype, shape and little-endian bytes, as decoded: how the chunks are compressed
does not matter).  A value edited by hand, a chunk deleted (zarr then reads its fill value)
or an array removed changes the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._json import canonical_json

#: Prefix of the hashed bytes; a new layout of the hashed content takes a new prefix.
_DOMAIN = b"neural_mi task store content v2\0"


def content_sha256(key: str, attributes: Mapping[str, Any], arrays: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a task store's content.

    Parameters
    ----------
    key
        The task key.
    attributes
        The store's attributes other than the completion record, JSON-compatible builtins
        (as written to, and read back from, ``zarr.json``).
    arrays
        ``{name: array}``: the store's arrays, in any order.

    Returns
    -------
    str
        64 hex digits.
    """
    canonical = {name: _little_endian(np.asarray(a)) for name, a in arrays.items()}
    layout = {
        "key": key,
        "attributes": attributes,
        "arrays": {name: [a.dtype.str, list(a.shape)] for name, a in canonical.items()},
    }
    digest = hashlib.sha256(_DOMAIN)
    digest.update(canonical_json(layout))
    for name in sorted(canonical):
        digest.update(b"\0" + name.encode() + b"\0")
        digest.update(canonical[name].tobytes())
    return digest.hexdigest()


def _little_endian(array: np.ndarray) -> np.ndarray:
    """C-ordered copy (or view) of ``array`` with little-endian byte order."""
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
