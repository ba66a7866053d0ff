"""Read whole arrays and spike-time archives from ``.npy``, ``.npz`` and ``.zarr`` files.

The 1.x loading functions: they return the data as stored, without a time base.  They
share their file access with :mod:`neural_mi.data.sources.arrays`, which adds time bases
and selections (channels, units, time ranges).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sources.arrays import open_array, read_spike_archive

__all__ = ["load_array", "load_spike_times"]


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such data file or store: {str(path)!r}.")
    return path


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
    DataSourceError
        Unsupported suffix, missing or unknown ``key`` (the message lists the keys).
    """
    array = open_array(_existing(path), key)
    if isinstance(array, np.memmap):
        return np.array(array)  # a copy in memory, detached from the file
    return np.asarray(array[...])


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
    DataSourceError
        If ``path`` is not an ``.npz`` archive.
    DataShapeError
        If an entry is not 1-D.
    InsufficientDataError
        If the archive holds no arrays.
    """
    return read_spike_archive(_existing(path))[1]
