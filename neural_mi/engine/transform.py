"""A task's data with its inputs transformed per channel, fitted on its training samples.

An input transform (:mod:`neural_mi.data.transforms`) is fitted per task, on the raw
points of that task's training windows only, so held-out values never shape it.  The
task's mode says which windows those are (:meth:`~neural_mi.modes.base.Mode.task_windows`:
a lag shifts them) and then builds the task's data from the transformed raw inputs exactly
as it would from the originals (:meth:`~neural_mi.modes.base.Mode.task_data`), so every
mode and front door transforms the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data.pairing import lag_in_seconds
from ..data.transforms import transform_input
from ..modes import get_mode
from ..params import UNTRANSFORMED_TYPES
from ..tasks import TaskSpec
from .inputs import SessionData

__all__ = ["input_transform", "transformed_bytes", "transformed_task_data"]


def input_transform(spec: TaskSpec) -> str:
    """The task's input transform (``'none'`` when its parameters name none)."""
    return str(spec.params.get("input_transform", "none"))


def transformed_bytes(data: SessionData) -> int:
    """Bytes of one task's transformed copy of the raw inputs (float32 arrays of the
    continuous and already-processed variables; categorical labels and spike times are
    never transformed, so never copied)."""
    total = 0
    for raw, ptype in (
        (data.x, data.processor_type_x),
        (data.y, data.processor_type_y),
        (data.z, data.processor_type_z),
    ):
        if raw is not None and ptype not in UNTRANSFORMED_TYPES:
            total += 4 * int(np.prod(np.shape(raw)))
    return total


def transformed_task_data(
    spec: TaskSpec, data: SessionData, train_idx: np.ndarray
) -> tuple[torch.Tensor | None, torch.Tensor | None, dict[str, Any]]:
    """The task's ``(x, y)`` pairs from inputs transformed per channel with a fit on the
    raw points of its training samples, and the fits' summaries.

    Parameters
    ----------
    spec
        The task; ``input_transform`` in its parameters names the transform.
    data
        The session's raw inputs.
    train_idx
        The task's training samples (indices into its mode's ``task_data`` pairs).

    Returns
    -------
    x, y
        As :meth:`~neural_mi.modes.base.Mode.task_data` returns them for the transformed
        inputs; both ``None`` when neither variable can be transformed (categorical
        labels, spike times), so that the caller keeps the data it already has.
    summary
        JSON-serialisable: ``kind`` and, per transformed variable (``x``, ``y``), its
        :meth:`~neural_mi.data.transforms.FittedTransform.summary`.
    """
    p, kind = spec.params, input_transform(spec)
    mode = get_mode(p["mode"])
    windows_x, windows_y = _window_indices(spec, data, *mode.task_windows(spec, train_idx))
    raw_x, fit_x = transform_input(
        data.x, data.processor_type_x, p["processor_params_x"], kind, windows_x
    )
    raw_y, fit_y = (
        (None, None)
        if data.y is None
        else transform_input(
            data.y, data.processor_type_y, p["processor_params_y"], kind, windows_y
        )
    )
    # A third variable's samples pair with X's (sample i of each is its window i), so Z is
    # fitted on the windows of X's training samples.
    raw_z, fit_z = (
        (None, None)
        if data.z is None or not mode.uses_z
        else transform_input(
            data.z, data.processor_type_z, p["processor_params_z"], kind, windows_x
        )
    )
    summary: dict[str, Any] = {"kind": kind}
    for name, fit in (("x", fit_x), ("y", fit_y), ("z", fit_z)):
        if fit is not None:
            summary[name] = fit.summary()
    if fit_x is None and fit_y is None and fit_z is None:
        return None, None, summary
    transformed = data.replaced(x=raw_x, y=raw_y, z=data.z if raw_z is None else raw_z)
    x, y, _ = mode.task_data(spec, transformed)
    return x, y, summary


def _window_indices(
    spec: TaskSpec, data: SessionData, pairs_x: np.ndarray, pairs_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Window indices of X and Y behind positions in their paired windows (pairing by
    time may take windows of each variable at other indices, and a lag in seconds is in
    the pairing)."""
    p = spec.params
    if data.y is None:
        return pairs_x, pairs_y
    variables = ("x", "y", "z") if "processor_type_z" in p and data.z is not None else ("x", "y")
    lag = float(spec.lag) if lag_in_seconds(p) else 0.0
    found = data.window_indices(p, variables, {"x": pairs_x, "y": pairs_y}, lag)
    return found["x"], found["y"]
