"""Tests of neural_mi.store.netcdf: datasets to netCDF and back."""

from __future__ import annotations

import json

import xarray as xr
from store_helpers import make_result

from neural_mi import store


def test_netcdf_round_trip_keeps_strings_bools_and_dict_attrs(tmp_path):
    results = [
        make_result("a", coords={"use_variational": True, "model": "mlp"}),
        make_result("b", coords={"use_variational": False, "model": "gru"}),
    ]
    ds = store.results_to_dataset(results)
    assert ds["use_variational"].dtype == bool
    ds.attrs["settings"] = {"clip": 5.0}
    path = store.save_dataset(ds, tmp_path / "out" / "tasks.nc")
    back = store.load_dataset(path)
    assert ds.attrs["settings"] == {"clip": 5.0}  # the caller's dataset is left alone
    assert json.loads(back.attrs.pop("settings")) == {"clip": 5.0}
    del ds.attrs["settings"]
    xr.testing.assert_identical(back, ds)
    assert back["model"].dtype.kind == "U"
    assert back["use_variational"].dtype == bool
