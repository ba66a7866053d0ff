"""xarray source: netCDF and zarr with regular, irregular and datetime time coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neural_mi.data.sources import describe_source, load_source
from neural_mi.data.sources.xarray_files import regular_rate
from neural_mi.errors import DataSourceError

# zarr warns that its v3 format has no specification yet for the channel-name strings.
pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

RATE = 250.0
N = 500
LFP = np.arange(N * 3, dtype=np.float32).reshape(N, 3) % 101  # (time, channel) on disk


def lfp_dataset(start=1.5) -> xr.Dataset:
    time = start + np.arange(N) / RATE
    return xr.Dataset(
        {
            "lfp": (("time", "electrode"), LFP),
            "speed": (("time",), np.linspace(0.0, 1.0, N)),
            "gain": (("electrode",), np.ones(3)),
        },
        coords={"time": ("time", time, {"units": "s"}), "electrode": ["e1", "e2", "e3"]},
    )


@pytest.fixture(params=["nc", "zarr"])
def stored(request, tmp_path):
    """The dataset written as netCDF or as an xarray zarr store."""
    dataset = lfp_dataset()
    if request.param == "nc":
        path = tmp_path / "lfp.nc"
        dataset.to_netcdf(path, engine="h5netcdf")
        return {"path": str(path)}  # format inferred from .nc
    path = tmp_path / "lfp.zarr"
    dataset.to_zarr(path, zarr_format=3, consolidated=False)
    return {"path": str(path), "format": "xarray"}


def test_regular_time_coordinate(stored):
    config = {**stored, "variable": "lfp"}
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, LFP.T)
    assert signal.time_base.rate == RATE  # 1 / period, rounded to 12 digits
    assert signal.time_base.start == 1.5 and signal.time_base.timestamps is None
    assert signal.channel_ids == ("e1", "e2", "e3")
    info = describe_source(config)
    assert (info.n_channels, info.n_times, info.dtype, info.rate) == (3, N, "float32", RATE)
    assert info.span == (1.5, 1.5 + N / RATE)


def test_selection(stored):
    config = {**stored, "variable": "lfp", "channels": [2, 0], "time_range": [2.0, 2.5]}
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, LFP[125:250, [2, 0]].T)
    assert signal.channel_ids == ("e3", "e1") and signal.time_base.start == 2.0
    assert describe_source(config).n_times == 125


def test_one_dimensional_variable(stored):
    signal = load_source({**stored, "variable": "speed"})
    assert signal.values.shape == (1, N) and signal.channel_ids == (0,)


def test_irregular_times_are_kept(tmp_path):
    times = np.cumsum(np.linspace(0.01, 0.02, 40))
    path = tmp_path / "position.nc"
    xr.Dataset({"x": (("time",), np.arange(40.0))}, coords={"time": times}).to_netcdf(path)
    signal = load_source({"path": str(path)})  # the one variable over time
    assert signal.time_base.rate is None
    np.testing.assert_array_equal(signal.time_base.timestamps, times)
    assert describe_source({"path": str(path)}).span == (times[0], times[-1])


def test_datetime_and_millisecond_coordinates(tmp_path):
    start = np.datetime64("2024-01-01T00:00:00", "ns")
    times = start + (np.arange(100) * 4_000_000).astype("timedelta64[ns]")  # 4 ms
    path = tmp_path / "clock.nc"
    xr.Dataset({"v": (("time",), np.arange(100.0))}, coords={"time": times}).to_netcdf(path)
    signal = load_source({"path": str(path)})
    assert signal.time_base.rate == 250.0
    assert signal.time_base.start == float(start.astype(np.int64)) / 1e9
    ms = tmp_path / "ms.nc"
    xr.Dataset(
        {"v": (("t",), np.arange(100.0))},
        coords={"t": ("t", np.arange(100) * 4.0, {"units": "ms"})},
    ).to_netcdf(ms)
    signal = load_source({"path": str(ms), "time_dim": "t"})
    assert signal.time_base.rate == 250.0 and signal.time_base.start == 0.0


def test_errors(tmp_path):
    path = tmp_path / "lfp.nc"
    lfp_dataset().to_netcdf(path)
    with pytest.raises(DataSourceError, match=r"lfp.nc.*2 variables over 'time' \(lfp, speed\)"):
        describe_source({"path": str(path)})
    with pytest.raises(DataSourceError, match="no data variable 'lpf'; variables: lfp, speed,"):
        describe_source({"path": str(path), "variable": "lpf"})
    with pytest.raises(DataSourceError, match=r"'gain' has dims \('electrode',\), no 'time'"):
        describe_source({"path": str(path), "variable": "gain"})
    with pytest.raises(DataSourceError, match=r"channel position\(s\) \[5\] out of range"):
        describe_source({"path": str(path), "variable": "lfp", "channels": [5]})
    with pytest.raises(DataSourceError, match="holds no samples: its 500 timestamps run from 1.5"):
        load_source({"path": str(path), "variable": "lfp", "time_range": [10.0, 20.0]})
    seconds = tmp_path / "hours.nc"
    xr.Dataset(
        {"v": (("time",), np.arange(3.0))}, coords={"time": ("time", [0, 1, 2], {"units": "h"})}
    ).to_netcdf(seconds)
    with pytest.raises(DataSourceError, match="has units 'h'; store seconds"):
        describe_source({"path": str(seconds)})
    broken = tmp_path / "broken.nc"
    broken.write_bytes(b"CDF\x01" + bytes(10))
    with pytest.raises(DataSourceError, match="broken.nc.*cannot be opened with xarray"):
        describe_source({"path": str(broken)})


def test_regular_rate():
    assert regular_rate(np.arange(1000) / 30000.0) == 30000.0
    jitter = np.arange(100) / 100.0
    jitter[50] += 0.5e-3 * 0.01  # half a thousandth of a period off the grid: regular
    assert regular_rate(jitter) == 100.0
    jitter[50] += 1e-3 * 0.01  # one and a half thousandths: irregular
    assert regular_rate(jitter) is None
    assert regular_rate(np.array([1.0])) is None
