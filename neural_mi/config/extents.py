"""What a session's data gives, read from file headers: sample counts checked before any job.

:func:`check_plan` checks each planned task against its session's data without loading it:
every data file exists, X and Y (and Z) give sample counts that can be aligned, and in
rigorous mode every ``gamma`` leaves at least one batch per chunk.  The window counts come from
:mod:`neural_mi.data.windows`, the formula the processors use.  Torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.windows import count_spike_windows, count_windows
from ..errors import ConfigError, ParameterError
from ..params import MIN_ALIGN_RATIO, check_number
from ..tasks import TaskSpec
from .model import SessionConfig, SyntheticConfig, VariableConfig
from .sessions import generator_signature

__all__ = ["DataExtent", "check_plan", "processed_samples", "session_extents"]


@dataclass(frozen=True)
class DataExtent:
    """What a variable's sample count depends on, read without loading the data.

    ``shape``: shape of an array (a synthetic array is ``(n_time,)``, its channels
    unknown: ``synthetic`` is true); ``last_spike``: latest spike time in seconds (for
    synthetic spikes, the duration).
    """

    shape: tuple[int, ...] | None = None
    last_spike: float | None = None
    synthetic: bool = False


def session_extents(session: SessionConfig) -> dict[str, DataExtent]:
    """The extent of X (and Y, Z) of a session, from file headers or generator arguments."""
    variables = {"x": session.x, "y": session.y, "z": session.z}
    return {
        name: _extent(session, name, spec) for name, spec in variables.items() if spec is not None
    }


def _extent(session: SessionConfig, variable: str, spec: VariableConfig) -> DataExtent:
    where = f"session {session.name!r}, {variable}"
    if session.synthetic is not None:
        return _synthetic_extent(session.synthetic, spec, where)
    assert spec.path is not None  # the session model requires it without synthetic
    path = Path(spec.path)
    if not path.exists():
        raise ConfigError(
            f"{where}: data file {spec.path!r} not found (looked in "
            f"{str(path.absolute().parent)!r})."
        )
    try:
        if spec.type == "spike":
            return DataExtent(last_spike=_last_spike(path))
        return DataExtent(shape=_array_shape(path, spec.key))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{where}: cannot read {spec.path!r}: {exc}") from exc


def _synthetic_extent(synthetic: SyntheticConfig, spec: VariableConfig, where: str) -> DataExtent:
    """Extent from the generator's length argument (``duration`` for spikes, else
    ``n_samples``), as given or as its default."""
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
        return DataExtent(last_spike=float(value), synthetic=True)
    return DataExtent(shape=(int(value),), synthetic=True)


def _array_shape(path: Path, key: str | None) -> tuple[int, ...]:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if key is not None:
            raise ValueError(f"key {key!r} was given, but a .npy file holds a single array")
        return tuple(np.load(path, mmap_mode="r").shape)
    if suffix == ".npz":
        with np.load(path) as archive:
            name = _one_key(list(archive.files), key, path)
            with archive.zip.open(f"{name}.npy") as member:
                version = np.lib.format.read_magic(member)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                return tuple(read_header(member)[0])
    if suffix == ".zarr":
        import zarr

        node = zarr.open(str(path), mode="r")
        if isinstance(node, zarr.Group):
            arrays = dict(node.arrays())
            node = arrays[_one_key(sorted(arrays), key, path)]
        return tuple(node.shape)
    raise ValueError(f"unsupported file type {suffix!r}; use .npy, .npz or .zarr")


def _one_key(keys: list[str], key: str | None, path: Path) -> str:
    if key is None and len(keys) == 1:
        return keys[0]
    if key is None or key not in keys:
        wanted = "needs key: one" if key is None else f"has no array {key!r}; choose one"
        raise ValueError(f"{path.name} {wanted} of {', '.join(keys) or '(none)'}")
    return key


def _last_spike(path: Path) -> float:
    if path.suffix.lower() != ".npz":
        raise ValueError("spike times must be an .npz archive with one array per channel")
    latest = []
    with np.load(path) as archive:
        for name in archive.files:
            times = archive[name]
            bad = int(np.count_nonzero(~np.isfinite(times))) if times.dtype.kind == "f" else 0
            if bad:
                raise ValueError(f"spike channel {name!r} holds {bad} non-finite time(s)")
            if times.size:
                latest.append(float(np.max(times)))
    if not latest:
        raise ValueError("the spike archive holds no spikes")
    return max(latest)


def processed_samples(
    extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]
) -> int:
    """Number of samples a processor makes from data of this extent (0 if none fit).

    The counts of :mod:`neural_mi.data.windows`, as the processors make them; spike
    windows run to ``n_seconds``, by default the last spike time; processed data gives
    ``shape[0]``.
    """
    if processor_type is None:
        assert extent.shape is not None
        return int(extent.shape[0])
    if processor_type == "spike":
        window = float(params["window_size"])
        step = float(params["step_size"] or window)
        n_seconds = params["n_seconds"] or extent.last_spike
        assert n_seconds is not None  # a spike file's extent has its last spike
        return count_spike_windows(float(n_seconds), window, step)
    shape = extent.shape
    assert shape is not None
    n_time = shape[0] if len(shape) == 1 or params["time_axis"] == 0 else shape[-1]
    return count_windows(n_time, params["window_size"], params["step_size"])


def _sample_counts(
    spec: TaskSpec, extents: Mapping[str, DataExtent], uses_y: bool
) -> tuple[int, int | None]:
    """Processed sample counts ``(n_x, n_y)`` of a task (``n_y`` None without Y)."""
    p = spec.params
    n_x = processed_samples(extents["x"], p["processor_type_x"], p["processor_params_x"])
    if not uses_y:
        return n_x, None
    return n_x, processed_samples(extents["y"], p["processor_type_y"], p["processor_params_y"])


def _checked_z(
    spec: TaskSpec, extents: Mapping[str, DataExtent], n: int, where: str, coords: str
) -> int:
    """The samples of X and Y (``n``) cut to Z's, for tasks whose parameters hold a Z
    processor; Z's count is refused as X's and Y's are."""
    p = spec.params
    if "processor_type_z" not in p or "z" not in extents:
        return n
    n_z = processed_samples(extents["z"], p["processor_type_z"], p["processor_params_z"])
    if n_z < 2:
        raise ConfigError(
            f"{where}{coords}: processing Z leaves {n_z} sample(s); the window is longer than "
            "the recording."
        )
    if min(n, n_z) < MIN_ALIGN_RATIO * max(n, n_z):
        raise ConfigError(
            f"{where}{coords}: X and Y give {n} samples and Z gives {n_z}; they cannot be "
            f"aligned (the smaller must be at least {MIN_ALIGN_RATIO:g} of the larger). "
            "Check Z's window/step sizes, time axis and, for spikes, n_seconds and units."
        )
    return min(n, n_z)


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
    session: str,
    analysis: str,
    specs: Sequence[TaskSpec],
    extents: Mapping[str, DataExtent],
    uses_y: bool,
) -> None:
    """Refuse a plan whose tasks the session's data cannot serve.

    For every task: X and Y give sample counts that can be aligned; every gamma chunk
    holds a batch; and the task's own data (the mode's :meth:`task_extent`: lags,
    channel halves...) splits into training and held-out samples with the engine's own
    :func:`~neural_mi.engine.split.task_split` (checked once per data and gamma).

    Raises
    ------
    ConfigError
        Naming the session, the analysis, the sweep values and the numbers.
    """
    from ..engine.split import task_split
    from ..errors import NeuralMIError
    from ..modes import get_mode

    where = f"session {session!r}, analysis {analysis!r}"
    checked: set[tuple[Any, ...]] = set()
    for spec in specs:
        n_x, n_y = _sample_counts(spec, extents, uses_y)
        coords = f" (sweep values {spec.coords})" if spec.coords else ""
        for name, count in (("X", n_x), ("Y", n_y)):
            if count is not None and count < 2:
                raise ConfigError(
                    f"{where}{coords}: processing {name} leaves {count} sample(s); the window "
                    "is longer than the recording."
                )
        if n_y is not None and min(n_x, n_y) < MIN_ALIGN_RATIO * max(n_x, n_y):
            raise ConfigError(
                f"{where}{coords}: X gives {n_x} samples and Y gives {n_y}; they cannot be "
                f"aligned (the smaller must be at least {MIN_ALIGN_RATIO:g} of the larger). "
                "Check window/step sizes, time axes and, for spikes, n_seconds and units."
            )
        n = n_x if n_y is None else min(n_x, n_y)
        n = _checked_z(spec, extents, n, where, coords)
        batch = spec.params["base"]["batch_size"]
        if n // spec.gamma < batch:
            largest = max(1, n // batch)
            raise ConfigError(
                f"{where}{coords}: gamma={spec.gamma} cuts {n} samples into chunks of "
                f"{n // spec.gamma}, fewer than one batch (batch_size={batch}). Use gammas up "
                f"to {largest} or a batch_size of at most {n // spec.gamma}."
            )
        mode = get_mode(spec.params["mode"])
        signature = (mode.data_key(spec), spec.gamma)
        if signature in checked:
            continue
        checked.add(signature)
        p = spec.params
        channels = _n_channels(extents["x"], p["processor_type_x"], p["processor_params_x"])
        try:
            n_task, gap = mode.task_extent(spec, n, channels)
            train, _ = task_split(spec, n_task, gap)
        except NeuralMIError as exc:
            raise ConfigError(f"{where}{coords}: task {spec.key}: {exc}") from exc
        if len(train) < 2:
            raise ConfigError(
                f"{where}{coords}: task {spec.key}: {len(train)} training "
                "sample(s); at least 2 are needed per batch."
            )
