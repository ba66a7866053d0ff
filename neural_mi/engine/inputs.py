"""A session's raw inputs (:class:`SessionData`) and a task's context (:class:`TaskContext`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import align_samples, process, validate_data
from .split import window_gap

__all__ = ["SessionData", "TaskContext"]


def _detached(data: Any) -> Any:
    """Torch tensors as detached CPU tensors (a tensor that requires grad would make
    training fail half-way); everything else unchanged."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu()
    if isinstance(data, (list, tuple)):
        return type(data)(_detached(item) for item in data)
    return data


@dataclass
class SessionData:
    """The raw, validated inputs of one analysis.

    Parameters
    ----------
    x, y
        Raw data: arrays ``(channels, time)`` (or as the processor's ``time_axis`` says),
        lists of spike-time arrays, or already processed arrays. ``y`` is ``None`` for
        analyses of X alone.  Torch tensors are detached from any autograd graph.
    processor_type_x, processor_type_y
        How each variable is processed (``None``: already processed).
    z, processor_type_z
        A third variable on the same time base (the condition of a conditional MI), and
        its processing; ``None`` for analyses without one.
    """

    x: Any
    y: Any | None
    processor_type_x: str | None = "continuous"
    processor_type_y: str | None = "continuous"
    z: Any | None = None
    processor_type_z: str | None = "continuous"
    _cache: dict[str, torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.x, self.y, self.z = _detached(self.x), _detached(self.y), _detached(self.z)
        validate_data(self.x, self.processor_type_x, name="x_data")
        if self.y is not None:
            validate_data(self.y, self.processor_type_y, name="y_data")
        if self.z is not None:
            validate_data(self.z, self.processor_type_z, name="z_data")

    def processed(
        self, variable: str, params: Mapping[str, Any], shift_seconds: float = 0.0
    ) -> torch.Tensor:
        """Processed ``x``, ``y`` or ``z`` for a processor parameter set (cached per process).

        For spike data a non-zero ``shift_seconds`` moves every spike time back by that
        much before windowing (Y following X by that lag then lines up with X).
        """
        raw, ptype = {
            "x": (self.x, self.processor_type_x),
            "y": (self.y, self.processor_type_y),
            "z": (self.z, self.processor_type_z),
        }[variable]
        key = json.dumps(
            [variable, ptype, dict(params), shift_seconds], sort_keys=True, default=str
        )
        if key not in self._cache:
            if ptype == "spike" and shift_seconds:
                raw = [np.asarray(ch, dtype=np.float64) - shift_seconds for ch in raw]
                raw = [ch[ch >= 0] for ch in raw]
            self._cache[key] = process(raw, ptype, params)
        return self._cache[key]

    @staticmethod
    def window_gap(params: Mapping[str, Any]) -> int:
        """See :func:`neural_mi.engine.split.window_gap`."""
        return window_gap(params)

    def aligned_pair(self, params: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, int]:
        """X and Y processed with a task's parameters, aligned, and their window gap."""
        x = self.processed("x", params["processor_params_x"])
        y = self.processed("y", params["processor_params_y"])
        x, y = align_samples(x, y)
        return x, y, self.window_gap(params)


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
