"""Data layer: validation, processing into windows, alignment, splits and file loading.

Files are read by :mod:`neural_mi.data.sources` (one module per format, each returning the
signal with its time base, or spike trains in seconds); :func:`load_array` and
:func:`load_spike_times` read whole arrays without a time base.

Processed data is always a torch float32 tensor of shape
``(n_samples, n_channels, n_features)``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .loaders import load_array, load_spike_times
from .splits import overlap_gap, subset_indices, train_test_split
from .validate import validate_data

#: Names from modules that need torch, imported on first use (validation, loading and
#: splits work without torch: the workflow's prepare step uses only those).
_TORCH_NAMES = {
    "DataHandler": "handler",
    "align_samples": "align",
    "CategoricalProcessor": "processors",
    "ContinuousProcessor": "processors",
    "SpikeProcessor": "processors",
    "as_processed": "processors",
    "find_max_spikes_per_window": "processors",
    "process": "processors",
}


#: Submodules reachable as attributes (``nmi.data.processors.find_max_spikes_per_window``,
#: as NeuralMI 1.1 notebooks call it).
_SUBMODULES = ("align", "handler", "processors", "sources", "spikes")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        return getattr(import_module(f".{_TORCH_NAMES[name]}", __name__), name)
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CategoricalProcessor",
    "ContinuousProcessor",
    "DataHandler",
    "SpikeProcessor",
    "align_samples",
    "as_processed",
    "find_max_spikes_per_window",
    "load_array",
    "load_spike_times",
    "overlap_gap",
    "process",
    "subset_indices",
    "train_test_split",
    "validate_data",
]
