"""NWB source: TimeSeries (LFP, raw, calcium, position) and Units, selections and errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from conftest import LFP_CONVERSION, LFP_RATE, LFP_START, ROI_RATE, write_nwb

from neural_mi.data.sources import (
    NwbSource,
    NwbSourceConfig,
    Signal,
    SignalInfo,
    SpikesInfo,
    SpikeTrains,
    describe_source,
    load_source,
)
from neural_mi.errors import DataSourceError

LFP = "processing/ecephys/LFP/LFP"


def nwb(path, obj, **selection):
    return {"path": str(path), "object": obj, **selection}


def assert_info_matches(info, loaded):
    """describe() announces exactly what load() returns."""
    if isinstance(loaded, Signal):
        assert isinstance(info, SignalInfo)
        assert (info.n_channels, info.n_times) == loaded.values.shape
        assert info.dtype == loaded.values.dtype.name
        assert info.channel_ids == loaded.channel_ids
        assert info.start_time == loaded.time_base.start
        assert info.rate == loaded.time_base.rate
        assert info.span == loaded.span
    else:
        assert isinstance(info, SpikesInfo)
        assert info.unit_ids == loaded.unit_ids and info.span == loaded.span


def test_lfp_in_processing_module(nwb_file):
    config = nwb(nwb_file.path, LFP)
    signal = load_source(config)
    assert signal.values.shape == (4, 500)  # (channels, time), stored as (time, channels)
    np.testing.assert_array_equal(signal.values, nwb_file.lfp.T * np.float32(LFP_CONVERSION))
    assert signal.values.dtype == np.float32
    assert signal.time_base.rate == LFP_RATE and signal.time_base.start == LFP_START
    assert signal.channel_ids == tuple(nwb_file.electrode_ids)
    assert signal.span == (LFP_START, LFP_START + 500 / LFP_RATE)
    assert_info_matches(describe_source(config), signal)


def test_lfp_channels_and_time_range(nwb_file):
    config = nwb(nwb_file.path, LFP, channels=[3, 1], time_range=[2.5, 3.0])
    signal = load_source(config)
    # [2.5, 3.0) s at 250 Hz from 2.0 s: samples 125..249
    expected = nwb_file.lfp[125:250, [3, 1]].T * np.float32(LFP_CONVERSION)
    np.testing.assert_array_equal(signal.values, expected)
    assert signal.time_base.start == 2.5 and signal.n_times == 125
    assert signal.channel_ids == (23, 21)
    assert_info_matches(describe_source(config), signal)


def test_time_range_edges_between_samples(nwb_file):
    # 2.001 s lies after sample 0 (2.000) and before sample 1 (2.004): the first kept is 1.
    signal = load_source(nwb(nwb_file.path, LFP, time_range=[2.001, 2.0121]))
    assert signal.time_base.start == pytest.approx(2.004) and signal.n_times == 3


def test_raw_series_scaled_per_channel(nwb_file):
    signal = load_source(nwb(nwb_file.path, "acquisition/ElectricalSeries", channels=[1, 3]))
    gain = 1e-6 * nwb_file.raw_channel_conversion[[1, 3]]
    expected = nwb_file.raw[:, [1, 3]].T.astype(np.float32) * gain[:, None].astype(np.float32)
    expected += np.float32(0.25)
    assert signal.values.dtype == np.float32  # int16 data scaled: float32 holds it exactly
    np.testing.assert_allclose(signal.values, expected, rtol=1e-6)
    assert signal.time_base.rate == 1000.0 and signal.time_base.start == 0.0
    assert describe_source(nwb(nwb_file.path, "acquisition/ElectricalSeries")).dtype == "float32"


def test_roi_response_series(nwb_file):
    config = nwb(nwb_file.path, "processing/ophys/Fluorescence/RoiResponseSeries")
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, nwb_file.roi.T)
    assert signal.channel_ids == tuple(nwb_file.roi_ids)
    assert signal.time_base.rate == ROI_RATE
    assert_info_matches(describe_source(config), signal)


def test_spatial_series_with_timestamps(nwb_file):
    times = nwb_file.position_times
    t0, t1 = float(times[10]), float(times[20])
    config = nwb(nwb_file.path, "processing/behavior/Position/position", time_range=[t0, t1])
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, nwb_file.position[10:20].T)
    assert signal.time_base.rate is None
    np.testing.assert_array_equal(signal.time_base.timestamps, times[10:20])
    assert_info_matches(describe_source(config), signal)


def test_units_all(nwb_file):
    config = nwb(nwb_file.path, "units")
    trains = load_source(config)
    assert isinstance(trains, SpikeTrains)
    assert trains.unit_ids == tuple(nwb_file.unit_ids)
    for got, expected in zip(trains.times, nwb_file.spikes):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)
    assert trains.span == (0.2, 4.0)  # no obs_intervals: first to last spike
    assert_info_matches(describe_source(config), trains)


def test_units_where_and_ids(nwb_file):
    good = load_source(nwb(nwb_file.path, "units", units={"where": {"quality": "good"}}))
    assert good.unit_ids == (3, 11)
    np.testing.assert_array_equal(good.times[1], nwb_file.spikes[2])
    assert good.span == (0.5, 4.0)
    either = describe_source(
        nwb(nwb_file.path, "units", units={"where": {"quality": ["mua", "noise"]}})
    )
    assert either.unit_ids == (7, 12)
    ordered = load_source(nwb(nwb_file.path, "units", units={"ids": [11, 3, 7]}))
    assert ordered.unit_ids == (11, 3, 7)
    np.testing.assert_array_equal(ordered.times[0], nwb_file.spikes[2])
    both = describe_source(
        nwb(nwb_file.path, "units", units={"ids": [12, 11, 7], "where": {"quality": "good"}})
    )
    assert both.unit_ids == (11,)


def test_units_time_range(nwb_file):
    trains = load_source(nwb(nwb_file.path, "units", time_range=[1.0, 3.6]))
    np.testing.assert_array_equal(trains.times[0], [1.0, 1.5])
    np.testing.assert_array_equal(trains.times[2], [1.2, 2.4])  # 3.6 is the open end
    assert trains.times[1].size == 0 and trains.span == (1.0, 3.6)


def test_units_span_from_obs_intervals(tmp_path):
    contents = write_nwb(
        tmp_path / "obs.nwb", obs_intervals=[[0.0, 5.0], [0.1, 6.0], [0.0, 5.0], [0.0, 4.5]]
    )
    path = contents.path
    assert describe_source(nwb(path, "units")).span == (0.0, 6.0)
    good = load_source(nwb(path, "units", units={"where": {"quality": "good"}}))
    assert good.span == (0.0, 5.0)
    clipped = load_source(nwb(path, "units", time_range=[1.0, 10.0]))
    assert clipped.span == (1.0, 6.0)  # the recording ends at 6 s
    with pytest.raises(DataSourceError, match=r"outside the recording, which covers \[0, 6\)"):
        describe_source(nwb(path, "units", time_range=[7.0, 8.0]))


def test_missing_object_lists_readable_objects(nwb_file):
    with pytest.raises(DataSourceError) as error:
        describe_source(nwb(nwb_file.path, "processing/ecephys/LFP/LPF"))
    message = str(error.value)
    assert "session.nwb" in message and "'processing/ecephys/LFP/LPF'" in message
    for listed in (
        "acquisition/ElectricalSeries (ElectricalSeries)",
        "processing/ecephys/LFP/LFP (ElectricalSeries)",
        "processing/ophys/Fluorescence/RoiResponseSeries (RoiResponseSeries)",
        "processing/behavior/Position/position (SpatialSeries)",
        "units (Units)",
    ):
        assert listed in message


def test_container_that_is_not_a_series(nwb_file):
    with pytest.raises(DataSourceError, match="of type LFP, neither a TimeSeries.*units"):
        load_source(nwb(nwb_file.path, "processing/ecephys/LFP"))


@pytest.mark.parametrize(
    "selection, message",
    [
        (
            {"where": {"quality": "great"}},
            r"none of its 4 units \(quality values: 'good' \(2\), 'mua' \(1\), 'noise' \(1\)\)",
        ),
        ({"where": {"rating": 5}}, r"column 'rating', which is not there; columns: quality"),
        ({"ids": [3, 99]}, r"units.ids \[99\] not found; unit ids: 3, 7, 11, 12"),
        ({"ids": [7], "where": {"quality": "good"}}, "matches none of its 4 units"),
    ],
)
def test_unit_filter_errors(nwb_file, selection, message):
    with pytest.raises(DataSourceError, match=message) as error:
        describe_source(nwb(nwb_file.path, "units", units=selection))
    assert "session.nwb' object 'units'" in str(error.value)


def test_selection_errors(nwb_file):
    with pytest.raises(DataSourceError, match=r"position\(s\) \[4\] out of range: it has 4"):
        describe_source(nwb(nwb_file.path, LFP, channels=[0, 4]))
    with pytest.raises(
        DataSourceError, match=r"holds no samples: it covers \[2, 4\) s \(500 samples at 250 Hz\)"
    ):
        load_source(nwb(nwb_file.path, LFP, time_range=[10.0, 11.0]))
    with pytest.raises(DataSourceError, match="holds no samples: its 120 timestamps run"):
        describe_source(
            nwb(nwb_file.path, "processing/behavior/Position/position", time_range=[-2, -1])
        )
    with pytest.raises(DataSourceError, match="Units table: select units with units:"):
        describe_source(nwb(nwb_file.path, "units", channels=[0]))
    with pytest.raises(DataSourceError, match="not a Units table: select channels"):
        describe_source(nwb(nwb_file.path, LFP, units={"ids": [1]}))
    with pytest.raises(DataSourceError, match=r"have no spikes in time_range \[5.0, 6.0\]"):
        load_source(nwb(nwb_file.path, "units", time_range=[5.0, 6.0]))


def test_unsorted_spike_times_are_refused(tmp_path):
    contents = write_nwb(tmp_path / "unsorted.nwb", spikes=[[0.5, 1.0], [0.7, 0.2], [1.2], [0.9]])
    with pytest.raises(DataSourceError, match="unit 7 are not in ascending order"):
        load_source(nwb(contents.path, "units"))


def test_corrupt_and_foreign_files(tmp_path):
    corrupt = tmp_path / "corrupt.nwb"
    corrupt.write_bytes(b"\x89HDF\r\n" + bytes(200))
    with pytest.raises(DataSourceError, match="corrupt.nwb.*not an HDF5 file"):
        describe_source(nwb(corrupt, "units"))
    plain = tmp_path / "plain.nwb"
    with h5py.File(plain, "w") as handle:
        handle["data"] = np.arange(3)
    with pytest.raises(DataSourceError, match="plain.nwb.*(not a readable NWB|cannot be opened)"):
        describe_source(nwb(plain, "data"))
    with pytest.raises(DataSourceError, match=r"missing.nwb.*not found"):
        describe_source(nwb(tmp_path / "missing.nwb", "units"))


def test_source_class_and_config_model(nwb_file):
    config = NwbSourceConfig(path=str(nwb_file.path), object=LFP, channels=[0])
    source = NwbSource(config)
    assert source.label == f"{str(nwb_file.path)!r} object {LFP!r}"
    assert source.load().values.shape == (1, 500)
    with pytest.raises(ValueError, match="channels .* or units .*, not both"):
        NwbSourceConfig(path="a.nwb", object="units", channels=[0], units={"ids": [1]})
