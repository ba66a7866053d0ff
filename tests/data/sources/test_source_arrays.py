"""Array source: .npy/.npz/.zarr signals with an optional time base, .npz spike archives."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from neural_mi.data.sources import ArraySourceConfig, describe_source, load_source
from neural_mi.errors import DataSourceError

SIGNAL = np.arange(4 * 1000, dtype=np.float32).reshape(4, 1000)


@pytest.fixture(params=["npy", "npz", "zarr_array", "zarr_group"])
def array_file(request, tmp_path):
    """SIGNAL, (channels, time), in each layout the array source reads."""
    kind = request.param
    if kind == "npy":
        path = tmp_path / "lfp.npy"
        np.save(path, SIGNAL)
        return {"path": str(path)}
    if kind == "npz":
        path = tmp_path / "lfp.npz"
        np.savez(path, lfp=SIGNAL, other=SIGNAL[:1])
        return {"path": str(path), "key": "lfp"}
    if kind == "zarr_array":
        path = tmp_path / "lfp.zarr"
        zarr.save_array(str(path), SIGNAL, zarr_format=3)
        return {"path": str(path)}
    path = tmp_path / "session.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array("lfp", data=SIGNAL, chunks=(2, 64))
    group.create_array("speed", data=SIGNAL[0])
    return {"path": str(path), "key": "lfp"}


def test_signal_without_time_base(array_file):
    signal = load_source(array_file)
    np.testing.assert_array_equal(signal.values, SIGNAL)
    assert signal.time_base is None and signal.span is None
    info = describe_source(array_file)
    assert (info.n_channels, info.n_times, info.dtype) == (4, 1000, "float32")
    assert info.rate is None and info.start_time is None


def test_time_base_and_selection(array_file):
    config = {
        **array_file,
        "sampling_rate": 100.0,
        "start_time": 5.0,
        "channels": [3, 1],
        "time_range": [6.0, 7.5],
    }
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, SIGNAL[[3, 1], 100:250])
    assert signal.time_base.rate == 100.0 and signal.time_base.start == 6.0
    assert signal.channel_ids == (3, 1) and signal.span == (6.0, 7.5)
    info = describe_source(config)
    assert (info.n_channels, info.n_times, info.start_time, info.span) == (2, 150, 6.0, (6.0, 7.5))


def test_time_by_channels_and_vectors(tmp_path):
    path = tmp_path / "tc.npy"
    np.save(path, SIGNAL.T)
    signal = load_source({"path": str(path), "time_axis": 0})
    np.testing.assert_array_equal(signal.values, SIGNAL)
    vector = tmp_path / "v.npy"
    np.save(vector, SIGNAL[2])
    assert load_source({"path": str(vector), "sampling_rate": 10.0}).values.shape == (1, 1000)


def test_spike_archive(tmp_path):
    path = tmp_path / "spikes.npz"
    np.savez(path, ch10=[3.0, 1.0], ch2=[0.5], ch0=np.zeros(0))
    config = {"path": str(path), "kind": "spikes"}
    trains = load_source(config)
    assert trains.unit_ids == ("ch0", "ch2", "ch10")  # natural order
    np.testing.assert_array_equal(trains.times[2], [1.0, 3.0])
    assert trains.span == (0.0, 3.0)
    assert describe_source(config).unit_ids == ("ch0", "ch2", "ch10")
    picked = load_source({**config, "units": {"ids": ["ch10"]}, "time_range": [0.0, 2.0]})
    assert picked.unit_ids == ("ch10",) and picked.span == (0.0, 2.0)
    np.testing.assert_array_equal(picked.times[0], [1.0])


def test_errors(tmp_path):
    path = tmp_path / "lfp.npy"
    np.save(path, SIGNAL)
    with pytest.raises(DataSourceError, match="time_range needs a time base.*give sampling_rate"):
        describe_source({"path": str(path), "time_range": [0.0, 1.0]})
    with pytest.raises(DataSourceError, match=r"position\(s\) \[4, 9\] out of range: it has 4"):
        load_source({"path": str(path), "channels": [0, 4, 9]})
    with pytest.raises(DataSourceError, match=r"holds no samples: it covers \[0, 10\) s"):
        load_source({"path": str(path), "sampling_rate": 100.0, "time_range": [20.0, 30.0]})
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((2, 3, 4)))
    with pytest.raises(DataSourceError, match=r"3-D array \(2, 3, 4\)"):
        describe_source({"path": str(cube)})
    archive = tmp_path / "two.npz"
    np.savez(archive, a=SIGNAL, b=SIGNAL)
    with pytest.raises(DataSourceError, match="holds 2 arrays; pass key= one of: a, b"):
        describe_source({"path": str(archive)})
    with pytest.raises(DataSourceError, match=r"absent.npy.*not found"):
        load_source({"path": str(tmp_path / "absent.npy")})


def test_config_model():
    with pytest.raises(ValueError, match="start_time needs sampling_rate"):
        ArraySourceConfig(path="a.npy", start_time=1.0)
    with pytest.raises(ValueError, match="channels apply to kind signal, not spikes"):
        ArraySourceConfig(path="a.npz", kind="spikes", channels=[0])
    with pytest.raises(ValueError, match="units applies to kind spikes"):
        ArraySourceConfig(path="a.npy", units={"ids": ["ch0"]})
    with pytest.raises(ValueError, match="channels repeats a channel"):
        ArraySourceConfig(path="a.npy", channels=[1, 1])
    with pytest.raises(ValueError, match=r"time_range \[2.0, 2.0\) is empty"):
        ArraySourceConfig(path="a.npy", sampling_rate=1.0, time_range=[2.0, 2.0])
