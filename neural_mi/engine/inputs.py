"""A session's raw inputs (:class:`SessionData`) and a task's context (:class:`TaskContext`)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import process, validate_data
from ..data.pairing import (
    Pairing,
    SpikeSpan,
    Timing,
    VariableTime,
    check_align,
    lag_windows,
    pair_variables,
    timing_label,
)
from ..errors import DataShapeError
from ..params import DEFAULT_MIN_OVERLAP
from .raw_inputs import check_timing, detached, last_spike, time_points, unpacked
from .split import window_gap

__all__ = ["SessionData", "TaskContext"]

_NAMES = {"x": "X", "y": "Y", "z": "Z"}


@dataclass
class SessionData:
    """The raw, validated inputs of one analysis, with their time bases.

    Parameters
    ----------
    x, y
        Raw data: arrays ``(channels, time)`` (or as the processor's ``time_axis`` says),
        lists of spike-time arrays, already processed arrays, or what a data source
        returns (:class:`~neural_mi.data.sources.Signal`,
        :class:`~neural_mi.data.sources.SpikeTrains`, which bring their time base).
        ``y`` is ``None`` for analyses of X alone.  Torch tensors are detached from any
        autograd graph.
    processor_type_x, processor_type_y
        How each variable is processed (``None``: already processed).
    z, processor_type_z
        A third variable (the condition of a conditional MI), and its processing;
        ``None`` for analyses without one.
    time_x, time_y, time_z
        Time bases: a :class:`~neural_mi.data.sources.TimeBase` for sampled signals (and
        the rows of processed data), a :class:`~neural_mi.data.pairing.SpikeSpan` for spike
        trains (which always have one: from 0 s to their last spike when not given).
        Variables that all have one are paired by time
        (:mod:`neural_mi.data.pairing`), otherwise by index.
    align, min_overlap
        How variables without a time base are paired, and the least overlap of time
        spans (see :func:`neural_mi.data.pairing.pair_variables`).
    """

    x: Any
    y: Any | None
    processor_type_x: str | None = "continuous"
    processor_type_y: str | None = "continuous"
    z: Any | None = None
    processor_type_z: str | None = "continuous"
    time_x: Timing | None = None
    time_y: Timing | None = None
    time_z: Timing | None = None
    align: str = "auto"
    min_overlap: float = DEFAULT_MIN_OVERLAP
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for variable in ("x", "y", "z"):
            raw, timing = unpacked(
                detached(getattr(self, variable)),
                getattr(self, f"time_{variable}"),
                f"{variable}_data",
            )
            ptype = getattr(self, f"processor_type_{variable}")
            if raw is not None:
                validate_data(raw, ptype, name=f"{variable}_data")
                if ptype == "spike" and timing is None:
                    timing = SpikeSpan()
                check_timing(timing, ptype, variable)
            setattr(self, variable, raw)
            setattr(self, f"time_{variable}", timing)
        self.align, self.min_overlap = check_align(self.align, self.min_overlap)

    # ----------------------------------------------------------------------------------
    # Time bases
    # ----------------------------------------------------------------------------------

    def timing_labels(self, variables: Sequence[str] = ("x", "y")) -> dict[str, Any]:
        """:func:`~neural_mi.data.pairing.timing_label` of each variable present."""
        return {
            v: timing_label(getattr(self, f"processor_type_{v}"), getattr(self, f"time_{v}"))
            for v in variables
            if getattr(self, v) is not None
        }

    def replaced(self, **raw: Any) -> SessionData:
        """The same session with some raw inputs replaced (e.g. transformed), keeping every
        time base and the pairing settings."""
        values = {
            name: getattr(self, name)
            for name in (
                "x",
                "y",
                "z",
                "processor_type_x",
                "processor_type_y",
                "processor_type_z",
                "time_x",
                "time_y",
                "time_z",
                "align",
                "min_overlap",
            )
        }
        values.update(raw)
        return SessionData(**values)

    def raw(self, variable: str) -> tuple[Any, str | None]:
        """The raw data of ``x``, ``y`` or ``z`` and its processor type."""
        return getattr(self, variable), getattr(self, f"processor_type_{variable}")

    def with_raw(self, variable: str, raw: Any) -> SessionData:
        """A copy whose ``variable`` holds ``raw`` instead (data derived from validated
        data with the same extent, e.g. a null task's moved recording, so not validated
        again); what was processed or paired from the other variables alone is shared."""
        moved = copy.copy(self)  # no __init__: nothing is validated again
        setattr(moved, variable, raw)
        moved._cache = {
            key: value
            for key, value in self._cache.items()
            if not _mentions(json.loads(key), variable)
        }
        return moved

    def _variable_time(self, variable: str, params: Mapping[str, Any]) -> VariableTime:
        raw, ptype = getattr(self, variable), getattr(self, f"processor_type_{variable}")
        timing = getattr(self, f"time_{variable}")
        if ptype == "spike":
            return VariableTime(_NAMES[variable], ptype, params, timing, last_spike=last_spike(raw))
        n_times = time_points(raw, ptype, params)
        stamps = getattr(timing, "timestamps", None)
        if stamps is not None and stamps.size != n_times:
            raise DataShapeError(
                f"{variable}_data has {n_times} time points but {stamps.size} timestamps."
            )
        return VariableTime(_NAMES[variable], ptype, params, timing, n_times=n_times)

    def pairing(
        self, params: Mapping[str, Any], variables: Sequence[str] = ("x", "y"), lag: float = 0.0
    ) -> Pairing:
        """Which windows of each variable pair up for a task's parameters (cached).

        ``lag`` (seconds) moves Y's clock back (see
        :func:`neural_mi.data.pairing.pair_variables`).

        Raises
        ------
        DataShapeError
            When the task was planned for other time bases than the data's (its
            ``params['timing']``), or the variables cannot be paired.
        """
        key = json.dumps(["pairing", list(variables), _own_params(params, variables), lag])
        if key not in self._cache:
            self._check_planned_timing(params, variables)
            self._cache[key] = pair_variables(
                [self._variable_time(v, params[f"processor_params_{v}"]) for v in variables],
                align=self.align,
                min_overlap=self.min_overlap,
                lag=lag,
            )
        return self._cache[key]

    def _check_planned_timing(self, params: Mapping[str, Any], variables: Sequence[str]) -> None:
        """The data's time bases are those the task was planned with (when it recorded
        them): a sampling rate that changed between planning and training would pair
        other windows than planned."""
        planned = params.get("timing")
        if planned is None:
            return
        found = self.timing_labels(variables)
        wanted = {v: planned[v] for v in variables if v in planned}
        if not _same_labels(found, wanted):
            raise DataShapeError(
                f"The task was planned for the time bases {wanted} but the data has "
                f"{found}: plan the analysis on this data."
            )

    # ----------------------------------------------------------------------------------
    # Processing and pairing
    # ----------------------------------------------------------------------------------

    def processed(self, variable: str, params: Mapping[str, Any]) -> torch.Tensor:
        """Processed ``x``, ``y`` or ``z`` for a processor parameter set (cached per process).

        Spike windows start at the start of the trains' span (0 s unless the data says
        otherwise) and end by ``n_seconds``, the span's end, or the last spike.
        """
        if getattr(self, f"processor_type_{variable}") == "spike":
            span = getattr(self, f"time_{variable}")
            return self._spike_windows(variable, params, span.start, None, 0.0)
        key = json.dumps([variable, dict(params)], sort_keys=True, default=str)
        if key not in self._cache:
            raw, ptype = getattr(self, variable), getattr(self, f"processor_type_{variable}")
            self._cache[key] = process(raw, ptype, params)
        return self._cache[key]

    def _spike_windows(
        self,
        variable: str,
        params: Mapping[str, Any],
        origin: float,
        stop: float | None,
        lag: float,
    ) -> torch.Tensor:
        """Spike windows from ``origin`` on (window ``k`` at ``origin + k * step``), ending
        by ``stop`` (default: ``n_seconds``, the span's stop, the last spike), with spike
        times moved back by ``lag`` seconds."""
        key = json.dumps(
            ["spikes", variable, dict(params), origin, stop, lag], sort_keys=True, default=str
        )
        if key not in self._cache:
            raw = getattr(self, variable)
            span = getattr(self, f"time_{variable}")
            end = (
                (params.get("n_seconds") or span.stop or last_spike(raw)) if stop is None else stop
            )
            if end is None:
                raise DataShapeError(
                    f"Spike data {variable}: no spike and no n_seconds, so the recording's "
                    "length is unknown; give processor_params n_seconds."
                )
            shift = origin + lag
            trains = raw if not shift else [np.asarray(t, dtype=np.float64) - shift for t in raw]
            own = {**params, "n_seconds": float(end) - origin}
            self._cache[key] = process(trains, "spike", own)
        return self._cache[key]

    def paired(
        self, params: Mapping[str, Any], variables: Sequence[str] = ("x", "y"), lag: float = 0.0
    ) -> tuple[torch.Tensor, ...]:
        """The variables processed with a task's parameters and paired window by window
        (slices of the windows are views; ``lag`` in seconds, see :meth:`pairing`)."""
        pairing = self.pairing(params, variables, lag)
        out = []
        for position, variable in enumerate(variables):
            own = params[f"processor_params_{variable}"]
            spikes = getattr(self, f"processor_type_{variable}") == "spike"
            if spikes and pairing.by_time:
                origin = pairing.origins[position]
                assert origin is not None
                shift = lag if position == 1 else 0.0
                windows = self._spike_windows(variable, own, origin, pairing.stops[position], shift)
            else:
                windows = self.processed(variable, own)
            index = pairing.indices[position]
            out.append(
                windows[index] if isinstance(index, slice) else windows[torch.as_tensor(index)]
            )
        return tuple(out)

    @staticmethod
    def window_gap(params: Mapping[str, Any]) -> int:
        """See :func:`neural_mi.engine.split.window_gap`."""
        return window_gap(params)

    def aligned_pair(
        self, params: Mapping[str, Any], lag: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """X and Y processed with a task's parameters and paired, and the leakage gap of
        their windows (grown by the pairs a lag in seconds moves, see
        :func:`neural_mi.data.pairing.lag_windows`)."""
        x, y = self.paired(params, ("x", "y"), lag)
        return x, y, self.window_gap(params) + lag_windows(params, lag)

    def window_indices(
        self,
        params: Mapping[str, Any],
        variables: Sequence[str],
        samples: Mapping[str, Any],
        lag: float = 0.0,
    ) -> dict[str, np.ndarray]:
        """Window indices behind positions in the paired windows.

        Parameters
        ----------
        params
            The task's parameters.
        variables
            The variables the task pairs (as for :meth:`paired`).
        samples
            ``{variable: positions}`` in the pairs, for some of ``variables``.
        lag
            The lag (seconds) the pairs were made with.
        """
        pairing = self.pairing(params, variables, lag)
        return {
            v: pairing.windows(variables.index(v), samples[v]) for v in samples if v in variables
        }


def _mentions(key: list[Any], variable: str) -> bool:
    """Whether a cache key of :class:`SessionData` depends on ``variable``'s raw data:
    its processed windows (``[variable, ...]``), its spike windows (``["spikes",
    variable, ...]``) or a pairing that includes it (``["pairing", variables, ...]``)."""
    head = key[0]
    if head == "spikes":
        return bool(key[1] == variable)
    if head == "pairing":
        return variable in key[1]
    return bool(head == variable)


def _own_params(params: Mapping[str, Any], variables: Sequence[str]) -> list[Any]:
    return [
        [params.get(f"processor_type_{v}"), params.get(f"processor_params_{v}")] for v in variables
    ] + [params.get("timing")]


def _same_labels(found: Mapping[str, Any], planned: Mapping[str, Any]) -> bool:
    if set(found) != set(planned):
        return False
    for name, value in found.items():
        other = planned[name]
        if isinstance(value, float) and isinstance(other, (int, float)):
            if not math.isclose(value, other, rel_tol=1e-9):
                return False
        elif value != other:
            return False
    return True


@dataclass
class TaskContext:
    """Objects a task needs that cannot travel in a TaskSpec (not serialisable)."""

    device: str | torch.device = "auto"
    custom_critic: torch.nn.Module | None = None
    custom_embedding_cls: type | None = None
    train_indices: Any = None
    test_indices: Any = None
    save_best_model_path: str | Path | None = None
    progress: bool = False
