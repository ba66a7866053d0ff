"""Data layer: validation, processing into windows, alignment, splits and file loading.

Processed data is always a torch float32 tensor of shape
``(n_samples, n_channels, n_features)``.
"""

from __future__ import annotations

from .align import align_samples
from .loaders import load_array, load_spike_times
from .processors import (
    CategoricalProcessor,
    ContinuousProcessor,
    SpikeProcessor,
    as_processed,
    find_max_spikes_per_window,
    process,
)
from .splits import overlap_gap, subset_indices, train_test_split
from .validate import validate_data

__all__ = [
    "CategoricalProcessor",
    "ContinuousProcessor",
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
