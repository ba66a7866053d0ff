"""What a session's data gives, read from file headers: window counts and pairings checked
before any job.

:func:`session_extents` reads each variable's headers once (a data source's
:meth:`~neural_mi.data.sources.Source.describe`: shapes, sampling rates, start times,
spike spans; nothing is loaded).  :func:`~neural_mi.config.plan_checks.check_plan` then
checks each planned task against them: every variable gives windows, X and Y (and Z) can
be paired (by time when they all have a time base, with :mod:`neural_mi.data.pairing`,
the code the engine pairs with; by index otherwise), every gamma chunk holds a batch, and
the mode's own task data splits.  The window counts come from :mod:`neural_mi.data.windows`,
the formula the processors use.
Torch-free.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..data.pairing import SpikeSpan, Timing, timing_label
from ..data.sources import SignalInfo, SpikesInfo, TimeBase, open_source
from ..data.sources.arrays import open_array
from ..data.windows import count_spike_windows, count_windows
from ..errors import ConfigError, NeuralMIError, ParameterError
from ..params import check_number
from .model import SessionConfig, SyntheticConfig
from .sessions import generator_signature
from .variables import SyntheticVariable

__all__ = [
    "VARIABLE_NAMES",
    "DataExtent",
    "processed_samples",
    "session_extents",
    "time_points",
    "timing_labels",
]

VARIABLE_NAMES = {"x": "X", "y": "Y", "z": "Z"}


@dataclass(frozen=True)
class DataExtent:
    """What a variable's window count and pairing depend on, read without loading data.

    Attributes
    ----------
    shape
        Shape of a signal as read, ``(channels, time)`` (or as the processor's
        ``time_axis`` says), or of processed data ``(n_samples, ...)``; a synthetic signal
        is ``(n_time,)``, its channels unknown (``synthetic`` is true).
    last_spike
        Spike trains: the end of their span (the last spike when the file gives no span;
        for synthetic spikes, the duration).
    synthetic
        Generated, not read.
    timing
        The time base (:class:`~neural_mi.data.sources.TimeBase` or
        :class:`~neural_mi.data.pairing.SpikeSpan`), or ``None``.
    approximate
        The time base is timestamps known by their span only: a regular approximation.
    """

    shape: tuple[int, ...] | None = None
    last_spike: float | None = None
    synthetic: bool = False
    timing: Timing | None = None
    approximate: bool = False


def session_extents(session: SessionConfig) -> dict[str, DataExtent]:
    """The extent of X (and Y, Z) of a session, from file headers or generator arguments.

    Raises
    ------
    ConfigError
        A missing or unreadable file, a missing object, an empty selection, a source of
        another kind than the variable's ``type``; naming the session and variable.
    """
    return {name: _extent(session, name, spec) for name, spec in session.variables().items()}


def timing_labels(
    session: SessionConfig, extents: Mapping[str, DataExtent], variables: Sequence[str]
) -> dict[str, Any]:
    """:func:`neural_mi.data.pairing.timing_label` of each of ``variables`` the session
    has (what :func:`neural_mi.plan.plan_tasks` takes as ``timing``)."""
    specs = session.variables()
    return {
        name: timing_label(specs[name].type, extents[name].timing)
        for name in variables
        if name in specs and name in extents
    }


def _extent(session: SessionConfig, variable: str, spec: Any) -> DataExtent:
    where = f"session {session.name!r}, {variable}"
    if session.synthetic is not None:
        assert isinstance(spec, SyntheticVariable)
        return _synthetic_extent(session.synthetic, spec, where)
    path = Path(spec.path)
    if not path.exists():
        raise ConfigError(
            f"{where}: data file {spec.path!r} not found (looked in "
            f"{str(path.absolute().parent)!r})."
        )
    try:
        if spec.type is None:
            return _processed_extent(spec)
        info = _described(spec.model_dump_json(), *_stat(path))
    except NeuralMIError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{where}: cannot read {spec.path!r}: {exc}") from exc
    if isinstance(info, SpikesInfo):
        if spec.type != "spike":
            raise ConfigError(
                f"{where}: {spec.path!r} holds spike trains ({info.n_units} units), but the "
                f"variable's type is {spec.type!r}: give type: spike."
            )
        start, stop = info.span
        return DataExtent(last_spike=stop, timing=SpikeSpan(start, stop))
    if spec.type == "spike":
        raise ConfigError(
            f"{where}: {spec.path!r} holds a signal ({info.n_channels} channels x "
            f"{info.n_times} samples), not spike trains: give type continuous or categorical."
        )
    return _signal_extent(info)


def _stat(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=4096)
def _described(config_json: str, size: int, mtime_ns: int) -> SignalInfo | SpikesInfo:
    """A source's header description, cached per config and file version (``neural-mi
    plan`` checks the config, then plans it: the headers are read once)."""
    from .variables import file_variable_models

    raw = json.loads(config_json)
    fmt = raw.get("format") or _format_of(raw)
    model = file_variable_models()[fmt].model_validate(raw)
    return open_source(model).describe()


def _format_of(raw: Mapping[str, Any]) -> str:
    from ..data.sources import infer_format

    return infer_format(raw["path"])


def _signal_extent(info: SignalInfo) -> DataExtent:
    shape = (info.n_channels, info.n_times)
    if info.rate is not None:
        assert info.start_time is not None
        return DataExtent(shape=shape, timing=TimeBase(rate=info.rate, start=info.start_time))
    if info.span is None:
        return DataExtent(shape=shape)
    start, end = info.span
    if info.n_times > 1 and end > start:  # timestamps: a regular grid through the first and last
        rate = (info.n_times - 1) / (end - start)
        return DataExtent(shape=shape, timing=TimeBase(rate=rate, start=start), approximate=True)
    return DataExtent(shape=shape, timing=TimeBase(timestamps=np.array([start])))


def _processed_extent(spec: Any) -> DataExtent:
    """Already processed rows ``(n_samples, ...)``: the header's shape, and the rows' time
    base from ``sampling_rate``."""
    shape = _array_shape(Path(spec.path), spec.key)
    rate = getattr(spec, "sampling_rate", None)
    timing = None if rate is None else TimeBase(rate=rate, start=spec.start_time or 0.0)
    return DataExtent(shape=shape, timing=timing)


def _array_shape(path: Path, key: str | None) -> tuple[int, ...]:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        from ..data.sources.arrays import _npz_shape

        return _npz_shape(path, key)[0]
    return tuple(open_array(path, key).shape)


def _synthetic_extent(
    synthetic: SyntheticConfig, spec: SyntheticVariable, where: str
) -> DataExtent:
    """Extent from the generator's length argument (``duration`` for spikes, else
    ``n_samples``), as given or as its default, and the variable's time base."""
    signature = generator_signature(synthetic.generator)
    assert signature is not None  # load_config checked the generator
    bound = signature.bind_partial(**synthetic.kwargs)
    bound.apply_defaults()
    name = "duration" if spec.type == "spike" else "n_samples"
    if name not in bound.arguments:
        raise ConfigError(
            f"{where}: generator {synthetic.generator!r} has no {name!r} "
            f"argument, so it does not make {spec.type} data; check the type."
        )
    try:
        value = check_number(bound.arguments[name], f"synthetic {name}", gt=0)
    except ParameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if spec.type == "spike":
        return DataExtent(last_spike=float(value), synthetic=True, timing=SpikeSpan())
    timing = (
        None
        if spec.sampling_rate is None
        else TimeBase(rate=float(spec.sampling_rate), start=float(spec.start_time or 0.0))
    )
    return DataExtent(shape=(int(value),), synthetic=True, timing=timing)


def time_points(extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]) -> int:
    """Time points (rows of processed data) of a sampled variable of this extent."""
    shape = extent.shape
    assert shape is not None
    if processor_type is None or len(shape) == 1 or params.get("time_axis") == 0:
        return int(shape[0])
    return int(shape[-1])


def processed_samples(
    extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]
) -> int:
    """Number of windows a processor makes from data of this extent (0 if none fit).

    The counts of :mod:`neural_mi.data.windows`, as the processors make them; spike
    windows run from the span's start to ``n_seconds`` (by default the span's end, or the
    last spike); processed data gives ``shape[0]``.
    """
    if processor_type is None:
        return time_points(extent, None, params)
    if processor_type == "spike":
        window = float(params["window_size"])
        step = float(params["step_size"] or window)
        span = extent.timing if isinstance(extent.timing, SpikeSpan) else SpikeSpan()
        n_seconds = params["n_seconds"] or span.stop or extent.last_spike
        assert n_seconds is not None  # a spike file's extent has its last spike
        stop = float(n_seconds)
        return count_spike_windows(stop - span.start, window, step)
    return count_windows(
        time_points(extent, processor_type, params), params["window_size"], params["step_size"]
    )
