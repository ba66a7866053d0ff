"""What a workflow plan's tasks cost: each combination's data size, from file headers
only, and each task's estimated seconds (:func:`neural_mi.workflow.cost.task_seconds`).
Torch-free."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..config.extents import DataExtent, processed_samples
from ..config.model import SessionConfig
from ..modes import data_group
from ..tasks import TaskSpec
from .cost import DataSize, task_seconds


def estimate_costs(
    specs: list[TaskSpec],
    session: SessionConfig,
    extents: Mapping[str, DataExtent],
    uses_y: bool,
) -> tuple[DataSize, dict[str, float]]:
    """The session's data size (the largest any combination gives) and each task's cost."""
    stacks: dict[tuple[Any, ...], int] = {}
    keys = []
    for spec in specs:
        key = data_group(spec)
        keys.append(key)
        stacks[key] = stacks.get(key, 0) + 1
    sizes: dict[str, DataSize] = {}
    costs: dict[str, float] = {}
    memo: dict[tuple[str, int, int], float] = {}
    for spec, key in zip(specs, keys):
        if spec.combo not in sizes:
            sizes[spec.combo] = _data_size(spec, session, extents, uses_y)
        memo_key = (spec.combo, spec.gamma, stacks[key])
        if memo_key not in memo:
            memo[memo_key] = task_seconds(spec, sizes[spec.combo], stacks[key])
        costs[spec.key] = memo[memo_key]
    largest = max(sizes.values(), key=lambda size: size.raw_mb, default=DataSize(0, 0, 0, 0.0))
    return largest, costs


def _data_size(
    spec: TaskSpec, session: SessionConfig, extents: Mapping[str, DataExtent], uses_y: bool
) -> DataSize:
    """What the cost model needs of a combination's data, from headers only."""
    p = spec.params
    names = ("x", "y") if uses_y else ("x",)
    samples, features, raw = [], [], 0.0
    for name in names:
        extent, kind = extents[name], p[f"processor_type_{name}"]
        params = p[f"processor_params_{name}"]
        samples.append(processed_samples(extent, kind, params))
        channels, n_time = _channels_and_time(session, extent, kind, params)
        raw += channels * n_time * 4 / 1e6
        if kind in ("continuous", "categorical"):
            features.append(channels * int(params["window_size"]))
        elif kind is None and extent.shape is not None:
            features.append(math.prod(extent.shape[1:]) or 1)
        else:  # spikes: neurons x spikes per window, neither known from the header
            features.append(_UNKNOWN_FEATURES)
    return DataSize(
        n_samples=min(samples),
        features_x=features[0],
        features_y=features[1] if uses_y else 0,
        raw_mb=raw,
    )


#: Input features assumed where the header does not tell them (spike windows).
_UNKNOWN_FEATURES = 16


def _channels_and_time(
    session: SessionConfig, extent: DataExtent, kind: str | None, params: Mapping[str, Any]
) -> tuple[int, int]:
    """``(channels, time points)`` of a variable's raw data, as far as known."""
    if kind is None and extent.shape is not None:  # processed: (samples, features...)
        return max(1, math.prod(extent.shape[1:])), int(extent.shape[0])
    if extent.shape is None:  # spike times: neurons unknown, ~ one value per 10 ms
        return _UNKNOWN_FEATURES, int((extent.last_spike or 0.0) * 100)
    shape = extent.shape
    if len(shape) == 1:  # synthetic (n_time,): the generator's dim, if it has one
        synthetic = session.synthetic
        dim = synthetic.kwargs.get("dim", 1) if synthetic is not None else 1
        return (dim if isinstance(dim, int) and dim > 0 else 1), int(shape[0])
    time_axis = 0 if params.get("time_axis", 1) == 0 else len(shape) - 1
    n_time = int(shape[time_axis])
    return max(1, math.prod(shape) // max(1, n_time)), n_time
