"""Loaders: round trips through .npy, .npz, .zarr and spike-time archives."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from neural_mi.data import load_array, load_spike_times
from neural_mi.errors import ParameterError


@pytest.fixture
def array():
    return np.arange(24, dtype=np.float32).reshape(2, 12)


def test_npy_round_trip(tmp_path, array):
    np.save(tmp_path / "a.npy", array)
    loaded = load_array(tmp_path / "a.npy")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, array)


def test_npz_single_and_keyed(tmp_path, array):
    np.savez(tmp_path / "one.npz", data=array)
    assert np.array_equal(load_array(tmp_path / "one.npz"), array)
    np.savez(tmp_path / "two.npz", x=array, y=array * 2)
    assert np.array_equal(load_array(tmp_path / "two.npz", key="y"), array * 2)
    with pytest.raises(ParameterError, match="x, y"):
        load_array(tmp_path / "two.npz")
    with pytest.raises(ParameterError, match="No array 'z'.*x, y"):
        load_array(tmp_path / "two.npz", key="z")


def test_zarr_array_and_group(tmp_path, array):
    zarr.save_array(str(tmp_path / "a.zarr"), array, zarr_format=3)
    assert np.array_equal(load_array(tmp_path / "a.zarr"), array)
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    group.create_array("x", data=array)
    group.create_array("y", data=array + 1)
    assert np.array_equal(load_array(tmp_path / "g.zarr", key="y"), array + 1)
    with pytest.raises(ParameterError, match="x, y"):
        load_array(tmp_path / "g.zarr")


def test_spike_times_natural_order(tmp_path):
    channels = {f"ch{i}": np.array([0.1 * i, 0.1 * i + 0.05]) for i in range(12)}
    np.savez(tmp_path / "spikes.npz", **channels)
    loaded = load_spike_times(tmp_path / "spikes.npz")
    assert len(loaded) == 12
    for i, spikes in enumerate(loaded):  # ch10 comes after ch9, not after ch1
        assert spikes.dtype == np.float64
        assert np.allclose(spikes, channels[f"ch{i}"])


def test_missing_file_and_bad_suffix(tmp_path):
    missing = tmp_path / "nope.npy"
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        load_array(missing)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_spike_times(tmp_path / "nope.npz")
    (tmp_path / "a.csv").write_text("1,2\n")
    with pytest.raises(ParameterError, match=r"\.npy, \.npz, \.zarr"):
        load_array(tmp_path / "a.csv")
