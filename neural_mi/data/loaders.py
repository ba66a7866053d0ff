"""Read arrays and spike times from ``.npy``, ``.npz`` and ``.zarr`` files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import zarr

from ..errors import DataShapeError, InsufficientDataError, ParameterError

__all__ = ["load_array", "load_spike_times"]

_SUPPORTED = (".npy", ".npz", ".zarr")


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such data file or store: {str(path)!r}.")
    return path


def _pick_key(keys: list[str], key: str | None, path: Path) -> str:
    if key is None:
        if len(keys) == 1:
            return keys[0]
        raise ParameterError(
            f"{str(path)!r} holds {len(keys)} arrays; pass key= one of: {', '.join(keys)}."
        )
    if key not in keys:
        raise ParameterError(
            f"No array {key!r} in {str(path)!r}; available keys: {', '.join(keys) or '(none)'}."
        )
    return key


def load_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """Load one array from disk.

    Parameters
    ----------
    path
        A ``.npy`` file, a ``.npz`` archive, or a ``.zarr`` store (zarr v3 array or group).
    key
        Array name inside an ``.npz`` archive or a zarr group.  May be omitted when the
        archive/group holds exactly one array; must be omitted for ``.npy`` files and
        zarr arrays.

    Returns
    -------
    numpy.ndarray
        The array, fully read into memory.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ParameterError
        Unsupported suffix, missing or unknown ``key`` (the message lists the keys).
    """
    path = _existing(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if key is not None:
            raise ParameterError(
                f"key={key!r} was given, but {str(path)!r} is a single .npy array."
            )
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[_pick_key(list(archive.files), key, path)]
    if suffix == ".zarr":
        store = zarr.open(str(path), mode="r")
        if isinstance(store, zarr.Array):
            if key is not None:
                raise ParameterError(
                    f"key={key!r} was given, but {str(path)!r} is a single zarr array."
                )
            return np.asarray(store[...])
        keys = sorted(name for name, _ in store.arrays())
        return np.asarray(store[_pick_key(keys, key, path)][...])
    raise ParameterError(
        f"Unsupported data file {str(path)!r}; supported: {', '.join(_SUPPORTED)}."
    )


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key under which ``ch2`` < ``ch10`` (digit runs compare as numbers)."""
    return [
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part
    ]


def load_spike_times(path: str | Path) -> list[np.ndarray]:
    """Load spike times stored as an ``.npz`` archive with one array per channel.

    Parameters
    ----------
    path
        ``.npz`` archive; each entry is a 1-D array of spike times (seconds) of one
        channel.  Channels are ordered by natural sort of the keys
        (``ch0, ch1, ..., ch9, ch10``).

    Returns
    -------
    list of numpy.ndarray
        One 1-D float64 array per channel.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ParameterError
        If ``path`` is not an ``.npz`` archive.
    DataShapeError
        If an entry is not 1-D.
    InsufficientDataError
        If the archive holds no arrays.
    """
    path = _existing(path)
    if path.suffix.lower() != ".npz":
        raise ParameterError(
            f"Spike times must be an .npz archive with one array per channel, got {str(path)!r}."
        )
    with np.load(path, allow_pickle=False) as archive:
        keys = sorted(archive.files, key=_natural_key)
        if not keys:
            raise InsufficientDataError(f"{str(path)!r} holds no spike-time arrays.")
        channels = [np.asarray(archive[k], dtype=np.float64) for k in keys]
    for name, spikes in zip(keys, channels):
        if spikes.ndim != 1:
            raise DataShapeError(
                f"Spike channel {name!r} in {str(path)!r} must be 1-D, got shape {spikes.shape}."
            )
    return channels
