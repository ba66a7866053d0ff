"""Tiny files of every source format, written with known contents."""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

LFP_RATE = 250.0
LFP_START = 2.0
LFP_CONVERSION = 0.5
ROI_RATE = 30.0


@dataclass
class NwbContents:
    """What :func:`write_nwb` wrote (stored values, before scaling)."""

    path: Path
    lfp: np.ndarray  # (time, channels) float32, as stored
    electrode_ids: list[int]
    raw: np.ndarray  # (time, channels) int16
    raw_channel_conversion: np.ndarray
    roi: np.ndarray  # (time, rois)
    roi_ids: list[int]
    position: np.ndarray  # (time, 2)
    position_times: np.ndarray
    unit_ids: list[int]
    quality: list[str]
    spikes: list[np.ndarray]


def write_nwb(
    path: Path,
    *,
    obs_intervals: list[list[float]] | None = None,
    spikes: list[list[float]] | None = None,
) -> NwbContents:
    """An NWB file with an LFP (250 Hz, processing module), a raw int16 ElectricalSeries
    (acquisition, conversion/offset/channel_conversion), a RoiResponseSeries, a
    SpatialSeries with timestamps and a Units table with a quality column."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.ecephys import LFP, ElectricalSeries
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries

    rng = np.random.default_rng(0)
    nwb = NWBFile(
        session_description="tiny",
        identifier="tiny",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    device = nwb.create_device("probe")
    group = nwb.create_electrode_group("shank", description="s", location="CA1", device=device)
    electrode_ids = [20, 21, 22, 23]
    for electrode in electrode_ids:
        nwb.add_electrode(group=group, location="CA1", id=electrode)
    region = nwb.create_electrode_table_region(list(range(4)), "all electrodes")

    lfp = (np.arange(500 * 4, dtype=np.float32).reshape(500, 4) % 97) - 40.0
    series = ElectricalSeries(
        name="LFP",
        data=lfp,
        electrodes=region,
        rate=LFP_RATE,
        starting_time=LFP_START,
        conversion=LFP_CONVERSION,
    )
    container = LFP()  # in the file before the series, whose electrodes must share its root
    nwb.create_processing_module("ecephys", "LFP").add(container)
    container.add_electrical_series(series)

    raw = rng.integers(-1000, 1000, size=(300, 4)).astype(np.int16)
    channel_conversion = np.array([1.0, 2.0, 0.5, 4.0])
    nwb.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            data=raw,
            electrodes=nwb.create_electrode_table_region([0, 1, 2, 3], "raw"),
            rate=1000.0,
            conversion=1e-6,
            offset=0.25,
            channel_conversion=channel_conversion,
        )
    )

    microscope = nwb.create_device("microscope")
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="green", description="green", emission_lambda=510.0),
        description="plane",
        device=microscope,
        excitation_lambda=920.0,
        imaging_rate=ROI_RATE,
        indicator="GCaMP6f",
        location="V1",
    )
    ophys = nwb.create_processing_module("ophys", "calcium")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    planes = segmentation.create_plane_segmentation(
        description="rois", imaging_plane=plane, name="PlaneSegmentation"
    )
    roi_ids = [5, 6, 9]
    for roi in roi_ids:
        planes.add_roi(image_mask=np.ones((4, 4)), id=roi)
    roi = rng.random((90, 3))
    fluorescence = Fluorescence()
    ophys.add(fluorescence)
    fluorescence.add_roi_response_series(
        RoiResponseSeries(
            name="RoiResponseSeries",
            data=roi,
            rois=planes.create_roi_table_region(region=[0, 1, 2], description="all"),
            unit="a.u.",
            rate=ROI_RATE,
        )
    )

    position_times = np.cumsum(rng.uniform(0.01, 0.03, size=120))
    position = rng.standard_normal((120, 2))
    behavior = nwb.create_processing_module("behavior", "position")
    behavior.add(
        Position(
            spatial_series=SpatialSeries(
                name="position",
                data=position,
                timestamps=position_times,
                reference_frame="arena corner",
            )
        )
    )

    nwb.add_unit_column("quality", "curation label")
    unit_ids = [3, 7, 11, 12]
    quality = ["good", "mua", "good", "noise"]
    trains = spikes or [[0.5, 1.0, 1.5, 4.0], [0.2, 0.7], [1.2, 2.4, 3.6], [0.9]]
    for i, unit in enumerate(unit_ids):
        extra = {} if obs_intervals is None else {"obs_intervals": [obs_intervals[i]]}
        nwb.add_unit(spike_times=trains[i], quality=quality[i], id=unit, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)
    return NwbContents(
        path=path,
        lfp=lfp,
        electrode_ids=electrode_ids,
        raw=raw,
        raw_channel_conversion=channel_conversion,
        roi=roi,
        roi_ids=roi_ids,
        position=position,
        position_times=position_times,
        unit_ids=unit_ids,
        quality=quality,
        spikes=[np.asarray(t, dtype=np.float64) for t in trains],
    )


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory) -> NwbContents:
    return write_nwb(tmp_path_factory.mktemp("nwb") / "session.nwb")
