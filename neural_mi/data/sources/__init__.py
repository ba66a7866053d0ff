"""Data sources: one variable of one recording, read from its file with its time base.

Each format (``array``: .npy/.npz/.zarr; ``nwb``; ``phy``: Kilosort/phy folders;
``mat``: MATLAB; ``xarray``: netCDF/zarr with a time coordinate) has a config model and
a :class:`Source` with :meth:`~Source.describe` (headers only, after selection) and
:meth:`~Source.load` (only the selected channels, units and time range), returning a
:class:`Signal` ``(channels, time)`` with its :class:`TimeBase`, or :class:`SpikeTrains`
(seconds) with their span::

    from neural_mi.data.sources import load_source
    lfp = load_source({"path": "s1.nwb", "object": "processing/ecephys/LFP/LFP",
                       "channels": [0, 2], "time_range": [10.0, 600.0]})
    good = load_source({"path": "s1.nwb", "object": "units",
                        "units": {"where": {"quality": "good"}}})

Torch-free; pynwb, h5py, scipy and xarray are imported only by the formats that use them,
when they read.
"""

from .arrays import ArraySource, ArraySourceConfig
from .base import (
    Signal,
    SignalInfo,
    Source,
    SourceConfigBase,
    SpikesInfo,
    SpikeTrains,
    TimeBase,
    UnitSelection,
)
from .matlab import MatSource, MatSourceConfig
from .nwb import NwbSource, NwbSourceConfig
from .phy import PhySource, PhySourceConfig
from .registry import (
    SOURCES,
    SourceConfig,
    describe_source,
    infer_format,
    load_source,
    open_source,
    parse_source_config,
)
from .xarray_files import XarraySource, XarraySourceConfig

__all__ = [
    "SOURCES",
    "ArraySource",
    "ArraySourceConfig",
    "MatSource",
    "MatSourceConfig",
    "NwbSource",
    "NwbSourceConfig",
    "PhySource",
    "PhySourceConfig",
    "Signal",
    "SignalInfo",
    "Source",
    "SourceConfig",
    "SourceConfigBase",
    "SpikeTrains",
    "SpikesInfo",
    "TimeBase",
    "UnitSelection",
    "XarraySource",
    "XarraySourceConfig",
    "describe_source",
    "infer_format",
    "load_source",
    "open_source",
    "parse_source_config",
]
