"""A session's raw inputs, written once to one zarr group that every train job reads.

Layout of ``<results_dir>/<session>/data.zarr`` (zarr v3):

- group attributes: ``session`` (name), ``complete: true`` (written last);
- one subgroup per variable, ``x`` and (if the session has them) ``y`` and ``z``, with
  attributes
  ``processor_type`` (``continuous``, ``spike``, ``categorical`` or ``None``) and
  ``kind``:

  - ``"array"``: array ``values``, the raw array as given (e.g. ``(channels, time)``);
  - ``"spikes"``: arrays ``times`` (every channel's spike times, seconds, concatenated,
    float64) and ``counts`` (spikes per channel, int64), so channel ``c`` is
    ``times[sum(counts[:c]) : sum(counts[:c + 1])]``.

The group is written under a temporary name and renamed into place, so a reader never sees
a half-written store.  Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import zarr

from .errors import DataShapeError, IncompleteStoreError
from .store.atomic import write_atomically

_Node = TypeVar("_Node", zarr.Group, zarr.Array)

__all__ = ["load_prepared", "write_prepared"]


def write_prepared(
    path: str | os.PathLike[str],
    x: Any,
    y: Any | None,
    processor_type_x: str | None,
    processor_type_y: str | None,
    session: str = "",
    z: Any | None = None,
    processor_type_z: str | None = None,
) -> Path:
    """Write a session's raw X (and Y, Z) atomically to a zarr group.

    Parameters
    ----------
    path
        Target ``.../data.zarr``; an existing store there is replaced.
    x, y
        Raw data: an array of any shape (numpy or array-like), or for ``'spike'`` a list of
        1-D spike-time arrays (seconds), one per channel.  ``y`` may be ``None``.
    processor_type_x, processor_type_y
        Processor of each variable; ``'spike'`` data is stored as spike lists.
    session
        Session name, kept as an attribute.
    z, processor_type_z
        A third variable and its processor, or ``None``.

    Returns
    -------
    Path
        The written store.
    """

    def write(tmp: Path) -> None:
        group = zarr.open_group(tmp, mode="w")
        group.attrs["session"] = session
        _write_variable(group, "x", x, processor_type_x)
        if y is not None:
            _write_variable(group, "y", y, processor_type_y)
        if z is not None:
            _write_variable(group, "z", z, processor_type_z)
        group.attrs["complete"] = True

    target = write_atomically(path, write)
    return target


def _write_variable(group: zarr.Group, name: str, data: Any, processor_type: str | None) -> None:
    sub = group.create_group(name)
    sub.attrs["processor_type"] = processor_type
    if processor_type == "spike":
        channels = _spike_channels(data, name)
        sub.attrs["kind"] = "spikes"
        times = np.concatenate(channels) if channels else np.zeros(0)
        sub.create_array("times", data=times)
        sub.create_array("counts", data=np.array([c.size for c in channels], dtype=np.int64))
    else:
        sub.attrs["kind"] = "array"
        sub.create_array("values", data=np.asarray(data))


def _spike_channels(data: Any, name: str) -> list[np.ndarray]:
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise DataShapeError(
            f"Spike data {name} must be a list of 1-D spike-time arrays, one "
            f"per channel, got {type(data).__name__}."
        )
    channels = [np.asarray(c, dtype=np.float64) for c in data]
    for index, channel in enumerate(channels):
        if channel.ndim != 1:
            raise DataShapeError(
                f"Spike data {name}: channel {index} has shape "
                f"{channel.shape}; each channel must be 1-D."
            )
    return channels


def load_prepared(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a store written by :func:`write_prepared`.

    Parameters
    ----------
    path
        The ``data.zarr`` store.

    Returns
    -------
    dict
        ``x``, ``y``, ``z`` (numpy arrays, or lists of 1-D float64 spike-time arrays;
        ``y`` and ``z`` are ``None`` when the session has none), ``processor_type_x``,
        ``processor_type_y``, ``processor_type_z``: the keyword arguments of
        :class:`neural_mi.engine.inputs.SessionData`.

    Raises
    ------
    IncompleteStoreError
        If the store was never completed, or its layout is not the one written here.
    """
    group = zarr.open_group(Path(path), mode="r")
    if not group.attrs.get("complete", False):
        raise IncompleteStoreError(f"Prepared data {str(path)!r} is incomplete; rerun prepare.")
    x, type_x = _read_variable(_node(group, "x", zarr.Group))
    y, type_y = _read_variable(_node(group, "y", zarr.Group)) if "y" in group else (None, None)
    z, type_z = _read_variable(_node(group, "z", zarr.Group)) if "z" in group else (None, None)
    return {
        "x": x,
        "y": y,
        "z": z,
        "processor_type_x": type_x,
        "processor_type_y": type_y,
        "processor_type_z": type_z,
    }


def _node(group: zarr.Group, name: str, kind: type[_Node]) -> _Node:
    """``group[name]``, which must be a ``kind`` (a zarr group or array) in a complete store."""
    node = group[name]
    if not isinstance(node, kind):
        raise IncompleteStoreError(
            f"Prepared data {str(group.store_path)!r}: {name!r} is not a zarr "
            f"{kind.__name__}; rerun prepare."
        )
    return node


def _read_variable(sub: zarr.Group) -> tuple[Any, str | None]:
    processor_type = sub.attrs["processor_type"]
    if processor_type is not None and not isinstance(processor_type, str):
        raise IncompleteStoreError(
            f"Prepared data {str(sub.store_path)!r}: processor_type {processor_type!r} is not "
            "a name; rerun prepare."
        )
    if sub.attrs["kind"] == "spikes":
        times = _node(sub, "times", zarr.Array)[...]
        bounds = np.cumsum(_node(sub, "counts", zarr.Array)[...])[:-1]
        return np.split(times, bounds), processor_type
    return _node(sub, "values", zarr.Array)[...], processor_type
