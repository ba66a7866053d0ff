"""Checks of a plan against the extents of a session's data (:mod:`neural_mi.config.extents`):
every variable gives windows, the variables pair, every gamma chunk holds a batch, each
task's data splits and a null move fits its recording.  Torch-free."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..data.pairing import SpikeSpan, VariableTime, pair_variables
from ..data.validate import layout_hint
from ..errors import ConfigError, NeuralMIError
from ..tasks import TaskSpec
from .extents import VARIABLE_NAMES, DataExtent, processed_samples, time_points
from .model import SessionConfig


def _variable_time(
    variable: str, extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]
) -> VariableTime:
    name = VARIABLE_NAMES[variable]
    if processor_type == "spike":
        timing = extent.timing if extent.timing is not None else SpikeSpan()
        return VariableTime(name, processor_type, params, timing, last_spike=extent.last_spike)
    return VariableTime(
        name,
        processor_type,
        params,
        extent.timing,
        n_times=time_points(extent, processor_type, params),
        approximate=extent.approximate,
    )


def _used(spec: TaskSpec, extents: Mapping[str, DataExtent], uses_y: bool) -> list[str]:
    """The variables a task pairs: X, Y when the mode uses it, Z when its parameters do."""
    names = ["x"] + (["y"] if uses_y else [])
    if "processor_type_z" in spec.params and "z" in extents:
        names.append("z")
    return names


def pair_count(
    spec: TaskSpec,
    extents: Mapping[str, DataExtent],
    uses_y: bool,
    session: SessionConfig,
) -> int:
    """Number of paired windows of a task's variables (windows of X alone without Y).

    Raises
    ------
    NeuralMIError
        As :func:`neural_mi.data.pairing.pair_variables`.
    """
    p = spec.params
    names = _used(spec, extents, uses_y)
    variables = [
        _variable_time(v, extents[v], p[f"processor_type_{v}"], p[f"processor_params_{v}"])
        for v in names
    ]
    if len(variables) == 1:
        return processed_samples(extents["x"], p["processor_type_x"], p["processor_params_x"])
    pairing = pair_variables(variables, align=session.align, min_overlap=session.min_overlap)
    return pairing.n


def _n_channels(
    extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]
) -> int | None:
    """Channels of X when its header tells them (files of sampled signals), else None."""
    shape = extent.shape
    if extent.synthetic or shape is None or processor_type in (None, "spike"):
        return None
    if len(shape) == 1:
        return 1
    return int(shape[-1] if params.get("time_axis") == 0 else shape[0])


def check_plan(
    session: SessionConfig,
    analysis: str,
    specs: Sequence[TaskSpec],
    extents: Mapping[str, DataExtent],
    uses_y: bool,
) -> None:
    """Refuse a plan whose tasks the session's data cannot serve.

    For every task: each variable gives windows; X and Y (and Z) can be paired; every
    gamma chunk holds a batch; and the task's own data (the mode's :meth:`task_extent`:
    lags, channel halves...) splits into training and held-out samples with the engine's
    own split (:func:`~neural_mi.engine.split.task_split_sizes`, once per data and gamma).  A
    permutation test's null move must fit the recording it moves
    (:func:`~neural_mi.engine.null.null_move`).

    Raises
    ------
    ConfigError
        Naming the session, the analysis, the sweep values and the numbers (for pairing:
        every span and window grid).
    """
    from ..modes import data_group, get_mode

    where = f"session {session.name!r}, analysis {analysis!r}"
    checked: set[tuple[Any, ...]] = set()
    counts: dict[str, int] = {}
    for spec in specs:
        p = spec.params
        coords = f" (sweep values {spec.coords})" if spec.coords else ""
        # Tasks of one processing share their windows and pairing: checked once.  The
        # settings are JSON values, which repr writes in full (a key written differently
        # for equal settings only repeats a check).
        used = _used(spec, extents, uses_y)
        signature = repr([(v, p[f"processor_type_{v}"], p[f"processor_params_{v}"]) for v in used])
        if signature not in counts:
            for v in used:
                _check_windows(spec, v, extents[v], f"{where}{coords}")
            try:
                counts[signature] = pair_count(spec, extents, uses_y, session)
            except NeuralMIError as exc:
                raise ConfigError(f"{where}{coords}: {exc}") from None
        n = counts[signature]
        if spec.permutation:
            # A null task's data has its observed task's sizes: only its move is checked,
            # which every permutation draws from the same range.
            if spec.permutation == 1:
                _check_null(spec, extents, n, f"{where}{coords}")
            continue
        batch = p["base"]["batch_size"]
        if n // spec.gamma < batch:
            largest = max(1, n // batch)
            raise ConfigError(
                f"{where}{coords}: gamma={spec.gamma} cuts {n} samples into chunks of "
                f"{n // spec.gamma}, fewer than one batch (batch_size={batch}). Use gammas up "
                f"to {largest} or a batch_size of at most {n // spec.gamma}."
            )
        mode = get_mode(p["mode"])
        key = (data_group(spec), spec.gamma)
        if key in checked:
            continue
        checked.add(key)
        _check_split(spec, mode, n, extents["x"], f"{where}{coords}")


def _check_windows(spec: TaskSpec, v: str, extent: DataExtent, where: str) -> None:
    """Refuse a variable whose processing leaves fewer than 2 windows."""
    p = spec.params
    count = processed_samples(extent, p[f"processor_type_{v}"], p[f"processor_params_{v}"])
    if count < 2:
        shape = extent.shape
        hint = (
            None
            if shape is None or extent.synthetic
            else layout_hint(shape, p[f"processor_type_{v}"], p[f"processor_params_{v}"], v)
        )
        raise ConfigError(
            f"{where}: processing {VARIABLE_NAMES[v]} leaves {count} sample(s); the "
            "window is longer than the recording." + (f" {hint}" if hint else "")
        )


def _check_split(spec: TaskSpec, mode: Any, n: int, x: DataExtent, where: str) -> None:
    """Refuse a task whose own data (the mode's :meth:`task_extent`) does not split into
    training and held-out samples (the sizes :func:`~neural_mi.engine.split.task_split`
    gives, from :func:`~neural_mi.engine.split.task_split_sizes`)."""
    from ..engine.split import task_split_sizes

    p = spec.params
    channels = _n_channels(x, p["processor_type_x"], p["processor_params_x"])
    try:
        n_task, gap = mode.task_extent(spec, n, channels)
        n_train, _ = task_split_sizes(spec, n_task, gap)
    except NeuralMIError as exc:
        raise ConfigError(f"{where}: task {spec.key}: {exc}") from exc
    if n_train < 2:
        raise ConfigError(
            f"{where}: task {spec.key}: {n_train} training "
            "sample(s); at least 2 are needed per batch."
        )


def _check_null(
    spec: TaskSpec, extents: Mapping[str, DataExtent], n_samples: int, where: str
) -> None:
    """Refuse a null task whose move does not fit its recording (too short for the
    minimum shift, or for two blocks); ``n_samples``: the task's paired windows."""
    from ..engine.null import null_move
    from ..modes import get_mode

    variable = get_mode(spec.params["mode"]).null_variable(spec)
    if variable is None or variable not in extents:
        return
    ptype = spec.params[f"processor_type_{variable}"]
    length = extent_length(extents[variable], ptype, spec.params[f"processor_params_{variable}"])
    try:
        null_move(spec, variable, length, n_samples)
    except NeuralMIError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def extent_length(
    extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]
) -> float:
    """A raw recording's length from its extent, as :func:`neural_mi.engine.null.raw_length`
    measures the data: rows, time points, or seconds (``n_seconds``, else the last spike)."""
    if processor_type == "spike":
        return float(params.get("n_seconds") or extent.last_spike or 0.0)
    shape = extent.shape
    assert shape is not None
    if processor_type is None or len(shape) == 1 or params.get("time_axis", -1) == 0:
        return int(shape[0])
    return int(shape[-1])
