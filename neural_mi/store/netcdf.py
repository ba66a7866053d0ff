"""Task and summary datasets to and from netCDF files (``engine='h5netcdf'``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._json import jsonable

if TYPE_CHECKING:  # xarray is imported where datasets are read: train jobs never pay it
    import xarray as xr


def save_dataset(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a task or summary dataset to netCDF (``engine='h5netcdf'``).

    Attributes that netCDF cannot hold (dicts, lists of non-numbers, booleans, ``None``)
    are stored as JSON strings; object-dtype string variables are stored as strings.
    Parent directories are created.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = _strings_as_str(ds.copy())
    out.attrs = _netcdf_attrs(ds.attrs)
    for var in out.variables.values():
        var.attrs = _netcdf_attrs(var.attrs)
    out.to_netcdf(path, engine="h5netcdf")
    return path


def load_dataset(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a dataset written by :func:`save_dataset` into memory.

    String variables come back as numpy ``str`` arrays (not ``object``), so that a saved
    and reloaded dataset is identical to the original.
    """
    import xarray as xr

    return _strings_as_str(xr.load_dataset(path, engine="h5netcdf"))


def _strings_as_str(ds: xr.Dataset) -> xr.Dataset:
    """Cast object-dtype variables and coordinates (strings) to numpy ``str``."""
    coords = {name: c.astype(str) for name, c in ds.coords.items() if c.dtype == object}
    data = {name: v.astype(str) for name, v in ds.data_vars.items() if v.dtype == object}
    return ds.assign_coords(coords).assign(data)


def _netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in attrs.items():
        numeric_list = (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
        if (
            isinstance(value, (dict, bool, np.bool_))
            or value is None
            or (isinstance(value, (list, tuple)) and not numeric_list)
        ):
            converted[name] = json.dumps(jsonable(value), sort_keys=True)
        else:
            converted[name] = value
    return converted
