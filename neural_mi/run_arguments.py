"""Checking and resolving the arguments of :func:`neural_mi.runner.run` (``nmi.run``):
everything here runs before any task is planned or trained."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import store as task_store
from .engine.inputs import SessionData
from .errors import ParameterError
from .modes import Mode, available_modes, get_mode
from .params import OUTPUT_UNITS, check_choice, check_int, check_number, did_you_mean


class _Unset:
    """Marks an argument that was not given (``None`` means something for some)."""

    def __repr__(self) -> str:
        return "<not given>"


UNSET: Any = _Unset()


def check_run_arguments(
    mode: Mode,
    *,
    output_units: Any,
    mi_source: Any,
    n_workers: Any,
    random_seed: Any,
    verbose: Any,
    y_data: Any,
    z_data: Any,
    save_best_model_path: Any,
    train_indices: Any,
    test_indices: Any,
    max_samples_per_task: Any,
) -> int:
    """Check the arguments of ``nmi.run`` that do not depend on the mode's options;
    return the random seed as an ``int``.

    Raises
    ------
    ParameterError
        Naming the argument that is wrong.
    """
    check_choice(output_units, OUTPUT_UNITS, "output_units")
    check_choice(mi_source, ("test_mi", "train_mi"), "mi_source")
    check_int(n_workers, "n_workers", 1)
    seed = check_int(random_seed, "random_seed")
    if not isinstance(verbose, bool):
        raise ParameterError(f"verbose must be True or False, got {verbose!r}.")
    _check_variables(mode, y_data, z_data)
    _check_single_task_options(mode, save_best_model_path, train_indices, test_indices)
    if train_indices is not None and max_samples_per_task is not None:
        raise ParameterError(
            "max_samples_per_task cannot be combined with train_indices/test_indices, "
            "which say exactly which samples to use."
        )
    return seed


def check_mode_arguments(
    mode: Mode, given: Mapping[str, Any], run: Callable[..., Any]
) -> dict[str, Any]:
    """Keyword arguments of ``run`` (``nmi.run``) that are options of the mode (a plug-in
    mode's own arguments); anything else is refused, naming the closest allowed name."""
    own = set(mode.Options.model_fields)
    for name in given:
        if name not in own:
            allowed = [n for n in inspect.signature(run).parameters if n != "mode_arguments"]
            allowed += sorted(own - set(allowed))
            raise ParameterError(
                f"Unknown argument {name!r} to nmi.run.{did_you_mean(name, allowed)} "
                f"Allowed: {', '.join(allowed)}."
            )
    return dict(given)


def given_options(**arguments: Any) -> dict[str, Any]:
    """The mode arguments the caller gave (``None``: not given, the mode's default)."""
    return {name: value for name, value in arguments.items() if value is not None}


def check_custom_critic(options: Any, custom_critic: Any) -> None:
    """Refuse a ``custom_critic`` instance with a permutation test."""
    if options.n_permutations and custom_critic is not None:
        raise ParameterError(
            "custom_critic is one module instance, trained in place, so it cannot start "
            "afresh for every null task of a permutation test; pass custom_embedding_cls "
            "instead, or leave n_permutations out."
        )


def time_bases(
    sampling_rate: Any, start_time: Any, variables: Mapping[str, tuple[Any, str | None]]
) -> dict[str, Any]:
    """``time_x``, ``time_y``, ``time_z`` of :class:`SessionData` from ``nmi.run``'s
    ``sampling_rate`` and ``start_time`` (see there); ``None`` where not given.

    Raises
    ------
    ParameterError
        Unknown variable names, rates that are not positive numbers, a start time
        without a rate, a rate for spike trains.
    """
    from .data.pairing import SpikeSpan
    from .data.sources import TimeBase

    rates = _per_variable(sampling_rate, "sampling_rate", variables)
    starts = _per_variable(start_time, "start_time", variables)
    out: dict[str, Any] = {}
    for name, (data, ptype) in variables.items():
        rate, start = rates.get(name), starts.get(name)
        if data is None or (rate is None and start is None):
            continue
        if start is not None:
            start = check_number(start, f"start_time of {name}")
        if ptype == "spike":
            if rate is not None and isinstance(sampling_rate, Mapping):
                raise ParameterError(
                    f"sampling_rate of {name}: {name} is spike trains (times in seconds), "
                    "which have no sampling rate."
                )
            if start is not None:
                out[f"time_{name}"] = SpikeSpan(start=start)
            continue
        if rate is None:
            raise ParameterError(
                f"start_time of {name} needs its sampling_rate (the time of the other samples)."
            )
        rate = check_number(rate, f"sampling_rate of {name}", gt=0)
        out[f"time_{name}"] = TimeBase(rate=rate, start=start or 0.0)
    return out


def _per_variable(value: Any, what: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        for name in value:
            if name not in variables:
                raise ParameterError(
                    f"{what} names unknown variable {name!r}; use 'x', 'y' or 'z'."
                )
        return dict(value)
    return {name: value for name, (_, ptype) in variables.items() if ptype != "spike"}


def layout_hint(data: SessionData, params: Mapping[str, Any]) -> str | None:
    """Why the data gives too few samples, when a variable's layout looks transposed."""
    from .data.validate import layout_hint as transposed_hint

    for name in ("x", "y", "z"):
        raw = getattr(data, name)
        if raw is None or f"processor_params_{name}" not in params:
            continue
        hint = transposed_hint(
            np.shape(raw),
            getattr(data, f"processor_type_{name}"),
            params[f"processor_params_{name}"],
            f"{name}_data",
        )
        if hint is not None:
            return hint
    return None


def _check_variables(mode: Mode, y_data: Any, z_data: Any) -> None:
    if not mode.uses_y and y_data is not None:
        raise ParameterError(f"mode {mode.name!r} analyses X alone; pass y_data=None.")
    if mode.uses_y and y_data is None:
        raise ParameterError(f"mode {mode.name!r} needs y_data.")
    if mode.uses_z and z_data is None:
        raise ParameterError(f"mode {mode.name!r} needs z_data (a third variable).")
    if not mode.uses_z and z_data is not None:
        users = [name for name in available_modes() if get_mode(name).uses_z]
        raise ParameterError(
            f"z_data is not used in mode {mode.name!r} (it is used in mode "
            f"{' / '.join(repr(u) for u in users) or '(none registered)'})."
        )


def _check_single_task_options(
    mode: Mode, save_best_model_path: Any, train_indices: Any, test_indices: Any
) -> None:
    if (train_indices is None) != (test_indices is None):
        raise ParameterError("Give both train_indices and test_indices, or neither.")
    for name, value in (
        ("save_best_model_path", save_best_model_path),
        ("train_indices/test_indices", train_indices),
    ):
        if value is not None and not mode.explicit_split:
            raise ParameterError(
                f"{name} is only supported in mode 'estimate' (a single "
                f"task on the whole data), not {mode.name!r}."
            )


def resolve_processors(
    processor_type: Any,
    processor_params: Any,
    processor_type_x: Any,
    processor_params_x: Any,
    processor_type_y: Any,
    processor_params_y: Any,
) -> tuple[str | None, Any, str | None, Any]:
    """Each variable's processor type and parameters, as ``nmi.run`` takes them.

    A per-variable argument wins over the shared one; ``None`` is a type (already processed
    data), so only an argument left out (:data:`UNSET`) falls back; the shared type
    defaults to ``'continuous'``.  Y takes X's type and parameters when only X's were given
    (as in NeuralMI 1.1), so that both variables are windowed alike.

    Returns
    -------
    tuple
        ``(processor_type_x, processor_params_x, processor_type_y, processor_params_y)``.
    """
    shared = "continuous" if processor_type is UNSET else processor_type
    ptype_x = shared if processor_type_x is UNSET else processor_type_x
    if processor_type_y is not UNSET:
        ptype_y = processor_type_y
    else:
        ptype_y = ptype_x if processor_type is UNSET else processor_type
    pparams_x = processor_params if processor_params_x is None else processor_params_x
    if processor_params_y is not None:
        pparams_y = processor_params_y
    elif processor_params is not None:
        pparams_y = processor_params
    else:
        pparams_y = pparams_x if ptype_y == ptype_x else None
    return ptype_x, pparams_x, ptype_y, pparams_y


def processor_z(
    processor_type: Any,
    processor_params: Any,
    ptype_x: str | None,
    pparams_x: Any,
    processor_type_z: Any,
    processor_params_z: Any,
) -> tuple[str | None, Any]:
    """Z's processor type and parameters: its own, else the shared ones, else X's (as Y
    takes X's, so that the three variables are windowed alike)."""
    if processor_type_z is not UNSET:
        ptype_z = processor_type_z
    else:
        ptype_z = ptype_x if processor_type is UNSET else processor_type
    if processor_params_z is not None:
        return ptype_z, processor_params_z
    if processor_params is not None:
        return ptype_z, processor_params
    return ptype_z, pparams_x if ptype_z == ptype_x else None


def check_device(device: Any) -> str | torch.device:
    """``device`` if it names a device this machine has (or ``'auto'``).

    Raises
    ------
    ParameterError
        For a malformed name or a device that is not available, naming what is.
    """
    if isinstance(device, str) and device == "auto":
        return device
    available = ["auto", "cpu"]
    if torch.cuda.is_available():
        available += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        available.append("mps")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(
            f"Unknown device {device!r} ({exc}); available here: {', '.join(available)}."
        ) from None
    name = str(parsed)
    if name not in available:
        raise ParameterError(
            f"device {device!r} is not available on this machine; available "
            f"here: {', '.join(available)}."
        )
    return device


def store_directory(store: str | Path | None) -> Path | None:
    """The store folder, created if missing; a path that is (or is under) a file is
    refused."""
    if store is None:
        return None
    path = task_store.check_store_directory(store)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"store={str(store)!r} cannot be created: {exc}") from None
    return path
