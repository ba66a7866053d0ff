"""A session's raw variables as ``nmi.run`` takes them: tensors detached, a source's
records unpacked into data and time base, time bases checked
(:class:`~neural_mi.engine.inputs.SessionData`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..data.pairing import SpikeSpan, Timing
from ..data.sources import Signal, SpikeTrains, TimeBase
from ..errors import DataShapeError


def detached(data: Any) -> Any:
    """Torch tensors as detached CPU tensors (a tensor that requires grad would make
    training fail half-way); everything else unchanged."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu()
    if isinstance(data, (list, tuple)):
        return type(data)(detached(item) for item in data)
    return data


def unpacked(data: Any, timing: Timing | None, name: str) -> tuple[Any, Timing | None]:
    """A source's :class:`Signal` or :class:`SpikeTrains` as raw data and its time base."""
    if not isinstance(data, (Signal, SpikeTrains)):
        return data, timing
    own: Timing | None
    values: Any
    if isinstance(data, Signal):
        values, own = data.values, data.time_base
    else:
        values, own = list(data.times), SpikeSpan(*data.span)
    if timing is not None and own is not None:
        raise DataShapeError(
            f"{name} is a {type(data).__name__} with its own time base; do not give it "
            "another (sampling_rate, start_time)."
        )
    return values, timing if own is None else own


def check_timing(timing: Timing | None, processor_type: str | None, variable: str) -> None:
    """Refuse a time base of the wrong kind for the variable's processor."""
    if timing is None:
        return
    spikes = processor_type == "spike"
    if spikes != isinstance(timing, SpikeSpan):
        wanted = "a SpikeSpan (spike trains)" if spikes else "a TimeBase (sampled data)"
        raise DataShapeError(
            f"{variable}_data needs {wanted} as its time base, got {type(timing).__name__}."
        )
    if not isinstance(timing, (SpikeSpan, TimeBase)):
        raise DataShapeError(f"time base of {variable}_data: got {timing!r}.")


def time_points(raw: Any, processor_type: str | None, params: Mapping[str, Any]) -> int:
    """Time points of a sampled signal along the processor's time axis (rows of processed
    data)."""
    shape = tuple(np.shape(raw))
    if processor_type is None or len(shape) == 1:
        return int(shape[0])
    return int(shape[0] if params.get("time_axis") == 0 else shape[-1])


def last_spike(trains: Sequence[Any]) -> float | None:
    """The latest spike of any train, or None without spikes."""
    last = [float(np.max(t)) for t in trains if np.size(t)]
    return max(last) if last else None
