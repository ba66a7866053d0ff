"""Shared selection: the block reader reads only the selection; time ranges on sample edges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_mi.data.sources import ArraySource, ArraySourceConfig, TimeBase
from neural_mi.data.sources import selection as sel
from neural_mi.errors import DataSourceError


class RecordingArray:
    """An on-disk array stand-in that records every region read from it."""

    def __init__(self, values: np.ndarray, chunks: tuple[int, ...] | None = None) -> None:
        self.values = values
        self.shape = values.shape
        self.dtype = values.dtype
        self.chunks = chunks
        self.reads: list[tuple[slice, ...]] = []

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if any(not isinstance(k, (slice, int)) for k in key):
            raise AssertionError(f"only slices and single elements are read, got {key}")
        self.reads.append(key)
        return np.array(self.values[key])

    def read_elements(self) -> int:
        total = 0
        for key in self.reads:
            total += math.prod(
                1 if isinstance(k, int) else len(range(*k.indices(n)))
                for k, n in zip(key, self.shape)
            )
        return total


@pytest.fixture
def source():
    return ArraySource(ArraySourceConfig(path="test.npy"))


VALUES = np.arange(10_000 * 16, dtype=np.float64).reshape(10_000, 16)  # (time, channels)


def test_unchunked_arrays_are_read_in_bounded_blocks(monkeypatch):
    monkeypatch.setattr(sel, "BLOCK_BYTES", 8 * 100)  # 100 float64 values per block
    disk = RecordingArray(VALUES)
    out = sel.read_signal(disk, time_axis=0, start=1000, stop=3000, positions=np.array([5, 3]))
    np.testing.assert_array_equal(out, VALUES[1000:3000, [5, 3]].T)
    assert out.flags.c_contiguous
    for time_slice, channel_slice in disk.reads:
        assert channel_slice == slice(3, 6)  # channels 3..5 only
        assert 1000 <= time_slice.start < time_slice.stop <= 3000
        assert time_slice.stop - time_slice.start <= 33  # 100 values over 3 channels
    assert disk.read_elements() == 2000 * 3  # every sample read once


def test_chunked_arrays_are_read_by_whole_chunks(monkeypatch):
    monkeypatch.setattr(sel, "BLOCK_BYTES", 8 * 8 * 128)  # two chunks of 64 x 8
    disk = RecordingArray(VALUES, chunks=(64, 8))
    out = sel.read_signal(disk, time_axis=0, start=1000, stop=3000, positions=np.array([5, 3]))
    np.testing.assert_array_equal(out, VALUES[1000:3000, [5, 3]].T)
    for time_slice, channel_slice in disk.reads:
        assert channel_slice == slice(0, 8)  # the chunk column holding channels 3 and 5
        assert time_slice.stop % 128 == 0 or time_slice.stop == 3000  # ends on chunk edges
        assert time_slice.stop - time_slice.start <= 128
    assert disk.reads[0][0] == slice(1000, 1024)  # up to the first block edge
    assert disk.read_elements() == 2000 * 8  # every sample of the chunk column, once
    channels_first = RecordingArray(VALUES.T.copy(), chunks=(8, 64))
    out = sel.read_signal(channels_first, time_axis=1, start=0, stop=500, positions=np.array([9]))
    np.testing.assert_array_equal(out, VALUES[:500, [9]].T)
    assert all(key[0] == slice(8, 16) for key in channels_first.reads)


def test_channels_first_layout_and_scaling():
    values = np.arange(3 * 50, dtype=np.int16).reshape(3, 50)
    disk = RecordingArray(values)
    out = sel.read_signal(
        disk,
        time_axis=1,
        start=10,
        stop=20,
        positions=np.array([2]),
        gain=np.array([0.5]),
        offset=1.0,
    )
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, values[[2], 10:20] * 0.5 + 1.0)


def test_lazy_timestamp_search_reads_few_values(source):
    stamps = RecordingArray(np.cumsum(np.full(1_000_000, 0.001)))
    i0, i1 = sel.timestamp_range(stamps, (10.0, 20.0), source)
    expected = np.searchsorted(stamps.values, [10.0, 20.0])
    assert (i0, i1) == tuple(expected)
    assert stamps.read_elements() <= 2 * math.ceil(math.log2(1_000_000))


def test_regular_range_on_sample_edges(source):
    # 0.1 + 3 / 30000 is sample 3 exactly, though (t - start) * rate = 2.9999999999999996
    start, rate = 0.1, 30000.0
    t0 = start + 3 / rate
    assert sel.regular_range(rate, start, 100, (t0, 1.0), source) == (3, 100)
    assert sel.regular_range(rate, start, 100, (0.0, start + 10 / rate), source) == (0, 10)
    with pytest.raises(DataSourceError, match="holds no samples"):
        sel.regular_range(rate, start, 100, (t0 + 0.1 / rate, t0 + 0.9 / rate), source)


def test_time_base():
    regular = TimeBase(rate=250.0, start=2.0)
    np.testing.assert_array_equal(regular.times(3), [2.0, 2.004, 2.008])
    assert regular.span(500) == (2.0, 4.0)
    stamps = TimeBase(timestamps=np.array([0.5, 0.7, 1.5]))
    assert stamps.start == 0.5 and stamps.span(3) == (0.5, 1.5) and not stamps.regular
    with pytest.raises(ValueError, match="either a rate or timestamps"):
        TimeBase(rate=1.0, timestamps=np.array([0.0]))
    with pytest.raises(ValueError, match="non-decreasing"):
        TimeBase(timestamps=np.array([1.0, 0.5]))
