"""MATLAB source: the same contents written as v5 (scipy.io) and v7.3 (HDF5, MATLAB layout)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from neural_mi.data.sources import MatSourceConfig, describe_source, load_source
from neural_mi.errors import DataSourceError

LFP = np.arange(3 * 400, dtype=np.float64).reshape(3, 400) / 7.0  # channels x time
TIMES = 0.5 + np.cumsum(np.linspace(0.001, 0.002, 400))
VECTOR = (np.arange(400) % 13).astype(np.int16)
SPIKES = [np.array([0.9, 0.1, 0.5]), np.zeros(0), np.array([0.3, 2.0])]
STRUCT_LFP = np.arange(100, dtype=np.float64).reshape(2, 50)


def matlab_contents() -> dict:
    """Variables as MATLAB sees them (2-D shapes, rows x cols)."""
    return {
        "lfp": LFP,
        "lfp_t": LFP.T.copy(),
        "fs": np.array([[200.0]]),
        "t": TIMES[None, :],
        "vec": VECTOR[:, None],
        "spikes": SPIKES,
        "S": {"lfp": STRUCT_LFP, "fs": np.array([[50.0]])},
    }


def write_v5(path):
    variables = {}
    for name, value in matlab_contents().items():
        if isinstance(value, list):
            cell = np.empty((1, len(value)), dtype=object)
            for i, item in enumerate(value):
                cell[0, i] = item[None, :] if item.size else np.zeros((0, 0))
            value = cell
        variables[name] = value
    scipy.io.savemat(path, variables)
    return path


_CLASSES = {np.dtype(np.float64): "double", np.dtype(np.int16): "int16"}


def _write_v73_value(group, refs, name, value):
    if isinstance(value, dict):
        struct = group.create_group(name)
        struct.attrs["MATLAB_class"] = np.bytes_("struct")
        for field, item in value.items():
            _write_v73_value(struct, refs, field, item)
    elif isinstance(value, list):  # a 1 x n cell: HDF5 (n, 1) of references
        references = []
        for i, item in enumerate(value):
            element_name = f"{name}_{i}"
            if item.size:
                element = refs.create_dataset(element_name, data=item[None, :].T)
                element.attrs["MATLAB_class"] = np.bytes_("double")
            else:
                element = refs.create_dataset(element_name, data=np.array([0, 0], np.uint64))
                element.attrs["MATLAB_class"] = np.bytes_("double")
                element.attrs["MATLAB_empty"] = np.uint8(1)
            references.append(element.ref)
        cell = group.create_dataset(name, data=np.array(references, dtype=h5py.ref_dtype)[:, None])
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    else:  # MATLAB rows x cols is stored as HDF5 (cols, rows)
        dataset = group.create_dataset(name, data=value.T, chunks=True)
        dataset.attrs["MATLAB_class"] = np.bytes_(_CLASSES[value.dtype])


def write_v73(path):
    with h5py.File(path, "w", userblock_size=512) as handle:
        refs = handle.create_group("#refs#")
        for name, value in matlab_contents().items():
            _write_v73_value(handle, refs, name, value)
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 2024 HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as handle:
        handle.write(header.ljust(116) + bytes(8) + b"\x00\x02" + b"IM")
    return path


@pytest.fixture(params=["v5", "v73"], scope="module")
def mat_path(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    write = write_v5 if request.param == "v5" else write_v73
    return write(folder / f"session_{request.param}.mat")


def mat(path, variable, **fields):
    return {"path": str(path), "variable": variable, **fields}


def test_signal_with_rate_variable(mat_path):
    config = mat(mat_path, "lfp", sampling_rate_variable="fs")
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, LFP)
    assert signal.time_base.rate == 200.0 and signal.time_base.start == 0.0
    assert signal.channel_ids == (0, 1, 2)
    info = describe_source(config)
    assert (info.n_channels, info.n_times, info.dtype) == (3, 400, "float64")
    assert (info.rate, info.start_time, info.span) == (200.0, 0.0, (0.0, 2.0))


def test_time_by_channels_layout(mat_path):
    signal = load_source(mat(mat_path, "lfp_t", time_axis=0, sampling_rate=200.0))
    np.testing.assert_array_equal(signal.values, LFP)
    wrong_axis = describe_source(mat(mat_path, "lfp_t"))  # channels x time by default
    assert (wrong_axis.n_channels, wrong_axis.n_times) == (400, 3)


def test_vector_is_one_channel(mat_path):
    for time_axis in (0, 1):
        signal = load_source(mat(mat_path, "vec", time_axis=time_axis))
        assert signal.values.dtype == np.int16 and signal.time_base is None
        np.testing.assert_array_equal(signal.values, VECTOR[None, :])


def test_channels_and_time_range(mat_path):
    config = mat(
        mat_path,
        "lfp",
        sampling_rate=200.0,
        start_time=10.0,
        channels=[2, 0],
        time_range=[10.5, 11.0],
    )
    signal = load_source(config)
    np.testing.assert_array_equal(signal.values, LFP[[2, 0], 100:200])
    assert signal.time_base.start == 10.5 and signal.channel_ids == (2, 0)
    assert describe_source(config).n_times == 100


def test_timestamps_variable(mat_path):
    t0, t1 = float(TIMES[50]), float(TIMES[60])
    signal = load_source(mat(mat_path, "lfp", timestamps_variable="t", time_range=[t0, t1]))
    np.testing.assert_array_equal(signal.values, LFP[:, 50:60])
    np.testing.assert_array_equal(signal.time_base.timestamps, TIMES[50:60])


def test_struct_fields(mat_path):
    signal = load_source(mat(mat_path, "S.lfp", sampling_rate_variable="S.fs"))
    np.testing.assert_array_equal(signal.values, STRUCT_LFP)
    assert signal.time_base.rate == 50.0


def test_spike_cells(mat_path):
    config = mat(mat_path, "spikes")
    trains = load_source(config)
    assert trains.unit_ids == (0, 1, 2)
    np.testing.assert_array_equal(trains.times[0], [0.1, 0.5, 0.9])  # sorted
    assert trains.times[1].size == 0
    np.testing.assert_array_equal(trains.times[2], [0.3, 2.0])
    assert trains.span == (0.0, 2.0)
    info = describe_source(config)
    assert info.unit_ids == (0, 1, 2) and info.span == (0.0, 2.0)
    picked = load_source(mat(mat_path, "spikes", units={"ids": [2]}, time_range=[0.0, 1.0]))
    assert picked.unit_ids == (2,) and picked.span == (0.0, 1.0)
    np.testing.assert_array_equal(picked.times[0], [0.3])
    with pytest.raises(DataSourceError, match=r"columns: \(none: this source has no unit labels"):
        describe_source(mat(mat_path, "spikes", units={"where": {"group": "good"}}))


def test_errors(mat_path):
    name = mat_path.name
    missing = rf"{name}' variable 'lpf'.*the file has no variable or field 'lpf'; it has: S, fs,"
    with pytest.raises(DataSourceError, match=missing):
        describe_source(mat(mat_path, "lpf"))
    with pytest.raises(DataSourceError, match="struct 'S' has no .* 'rate'; it has: fs, lfp"):
        describe_source(mat(mat_path, "S.rate"))
    with pytest.raises(DataSourceError, match="time_range needs a time base: give sampling_rate"):
        describe_source(mat(mat_path, "lfp", time_range=[0.0, 1.0]))
    with pytest.raises(DataSourceError, match="'lfp' is a 3x400 double, not a numeric scalar"):
        describe_source(mat(mat_path, "vec", sampling_rate_variable="lfp"))
    with pytest.raises(DataSourceError, match=r"channel position\(s\) \[3\] out of range"):
        load_source(mat(mat_path, "lfp", channels=[3]))
    with pytest.raises(DataSourceError, match="is a 1x3 cell; a signal|select units, not channels"):
        load_source(mat(mat_path, "spikes", channels=[0]))
    with pytest.raises(DataSourceError, match="holds no samples"):
        load_source(mat(mat_path, "lfp", sampling_rate=200.0, time_range=[5.0, 6.0]))


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "notes.mat"
    path.write_text("not matlab at all " * 20)
    with pytest.raises(DataSourceError, match="notes.mat.*not a readable MAT-file"):
        describe_source(mat(path, "x"))


def test_config_model():
    with pytest.raises(ValueError, match="one time base, not sampling_rate and timestamps_var"):
        MatSourceConfig(path="a.mat", variable="x", sampling_rate=1.0, timestamps_variable="t")
    with pytest.raises(ValueError, match="start_time needs sampling_rate"):
        MatSourceConfig(path="a.mat", variable="x", start_time=3.0)
