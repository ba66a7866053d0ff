"""``nmi.run``: validate → plan → execute (serial or pool, resumable) → aggregate → Results."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from . import store as task_store
from .engine.execution import preflight, run_tasks
from .engine.inputs import SessionData, TaskContext
from .errors import ParameterError
from .modes import Mode, available_modes, get_mode
from .params import (
    DEFAULT_INPUT_TRANSFORM,
    OUTPUT_UNITS,
    check_choice,
    check_int,
    did_you_mean,
)
from .plan import plan_tasks
from .results import Results
from .store import results_to_dataset

logger = logging.getLogger("neural_mi")

#: Which per-task MI enters the aggregation unless the caller says otherwise.
DEFAULT_MI_SOURCE = "test_mi"


class _Unset:
    """Marks an argument that was not given (``None`` means something for some)."""

    def __repr__(self) -> str:
        return "<not given>"


UNSET: Any = _Unset()


def run(
    x_data: Any,
    y_data: Any = None,
    mode: str = "estimate",
    *,
    processor_type: str | None = UNSET,
    processor_params: Mapping[str, Any] | None = None,
    processor_type_x: str | None = UNSET,
    processor_params_x: Mapping[str, Any] | None = None,
    processor_type_y: str | None = UNSET,
    processor_params_y: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
    gamma_range: Iterable[int] | None = None,
    delta_threshold: float | None = None,
    min_gamma_points: int | None = None,
    confidence_level: float | None = None,
    lag_range: Iterable[float] | None = None,
    n_splits: int | None = None,
    strictness: Sequence[float] | None = None,
    n_repeats: int | None = None,
    max_samples_per_task: int | None = None,
    z_data: Any = None,
    processor_type_z: str | None = UNSET,
    processor_params_z: Mapping[str, Any] | None = None,
    n_workers: int = 1,
    output_units: str = "bits",
    estimator: str | None = None,
    estimator_params: Mapping[str, Any] | None = None,
    custom_critic: torch.nn.Module | None = None,
    custom_embedding_cls: type | None = None,
    save_best_model_path: str | Path | None = None,
    random_seed: int = 42,
    verbose: bool = True,
    device: str = "auto",
    split_mode: str = "blocked",
    train_indices: Sequence[int] | None = None,
    test_indices: Sequence[int] | None = None,
    store: str | Path | None = None,
    mi_source: str = DEFAULT_MI_SOURCE,
    input_transform: str = DEFAULT_INPUT_TRANSFORM,
    allow_partial: bool = False,
    **mode_arguments: Any,
) -> Results:
    """Estimate mutual information between ``x_data`` and ``y_data``.

    Parameters
    ----------
    x_data, y_data
        Raw data. Continuous signals ``(channels, time)`` (``time_axis=0`` in the processor
        params declares ``(time, channels)``), spike trains (a list of spike-time arrays in
        seconds, one per neuron), categorical labels ``(channels, time)``, or already
        processed arrays ``(n_samples, features)`` / ``(n_samples, channels, features)``
        with processor type ``None``. ``y_data`` is omitted in modes that analyse X alone
        (``'dimensionality'``).
    mode
        ``'estimate'`` (one training), ``'sweep'`` (one per ``sweep_grid`` combination),
        ``'rigorous'`` (bias-corrected: MI extrapolated to infinite data over
        ``gamma_range``), ``'lag'`` (one per lag in ``lag_range``),
        ``'dimensionality'`` (MI between random channel halves of X per embedding size),
        ``'conditional'`` (I(X;Y|Z), with ``z_data``), ``'transfer'`` (transfer entropy
        per direction), ``'pairwise'`` / ``'pairwise_xy'`` (the MI matrix of X's channel
        pairs / of X's against Y's channels), or any mode registered with
        :func:`neural_mi.modes.register_mode`.
    processor_type, processor_params
        Processing applied to X and Y; ``processor_type_x`` / ``_y`` and
        ``processor_params_x`` / ``_y`` override them per variable. Types:
        ``'continuous'`` (default), ``'spike'``, ``'categorical'``, or ``None`` (the data
        is already processed). When only X's type or parameters are given, Y takes X's.
    base_params
        Model and training parameters (:class:`neural_mi.params.TrainParams`).
    sweep_grid
        ``{parameter: [values]}`` over base, processor or estimator parameters;
        ``'run_id': range(k)`` (NeuralMI 1.1's convention) trains every task ``k`` times
        with its own seed and split, aggregated together (mean ± std).
    gamma_range, delta_threshold, min_gamma_points, confidence_level
        Subsampling factors and fit settings of ``'rigorous'`` mode (defaults: 1..10,
        0.1, 5, 0.68).
    lag_range
        Lags for ``'lag'`` mode: samples, or seconds for spike trains; positive means Y
        follows X.
    n_splits, strictness
        Random channel splits (default 5) and saturation levels (default 0.8, 0.9,
        0.95) of ``'dimensionality'`` mode.
    n_repeats
        Repeats per combination in ``'sweep'`` mode, per role in ``'conditional'`` and
        ``'transfer'``, per pair in the pairwise modes (default 1).
    z_data, processor_type_z, processor_params_z
        A third variable on the time base of X and Y, for modes that use one (the
        condition Z of ``'conditional'``), and its processing; Z takes the shared
        ``processor_type``/``processor_params`` (else X's) when its own are not given.
    max_samples_per_task
        Each task uses at most this many samples (a random subset kept in time order),
        for quick looks at long recordings; refused in ``'rigorous'`` mode, whose
        extrapolation is over the sample count.
    n_workers
        Processes training tasks in parallel (each uses one torch thread).
    output_units
        ``'bits'`` or ``'nats'``.
    estimator, estimator_params
        ``'infonce'`` (default), ``'smile'`` (``clip``), ``'nwj'``, ``'tuba'``, ``'js'``.
    custom_critic
        A :class:`~neural_mi.models.BaseCritic` instance used instead of a built one.
    custom_embedding_cls
        An embedding class built as ``cls(input_dim, hidden_dim, embed_dim, n_layers)``.
    save_best_model_path
        Where to save the best weights (``'estimate'`` mode only).
    random_seed
        Seed of every random choice (an integer); the same seed gives the same numbers.
    verbose
        Progress bars and INFO logging.
    device
        ``'auto'`` (cuda, then mps, then cpu), ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or
        ``'mps'`` (refused when not available here).
    split_mode
        ``'blocked'`` (temporal data: contiguous test blocks, a gap against window overlap)
        or ``'random'`` (IID data).
    train_indices, test_indices
        Explicit sample indices of the split (``'estimate'`` mode).
    store
        Directory keeping one store per finished task (created if missing); a rerun reads
        finished tasks back instead of retraining them (resumable notebooks).
    mi_source
        Which per-task MI enters the aggregation: ``'test_mi'`` (default) or ``'train_mi'``.
    input_transform
        Per-channel transform of continuous and already-processed inputs, fitted on each
        task's training samples only (:mod:`neural_mi.data.transforms`):
        ``'rank_gauss'``, ``'standardize'``, ``'robust'`` or ``'none'`` (the data as
        given); the default is :data:`neural_mi.params.DEFAULT_INPUT_TRANSFORM`.
        Categorical labels and spike times are never transformed.
    allow_partial
        When tasks fail (training diverged even after restarts at lower learning
        rates), summarise the others and label the result partial, instead of refusing
        the analysis.
    **mode_arguments
        Further arguments of the mode (fields of its
        :attr:`~neural_mi.modes.base.Mode.Options`): ``rigorous`` for ``'conditional'``
        and ``'transfer'`` (then ``gamma_range`` and the fit settings apply), ``history``,
        ``horizon`` and ``both_directions`` for ``'transfer'``, ``channels``,
        ``channels_y`` and ``pairs`` for the pairwise modes, or a plug-in mode's.

    Returns
    -------
    Results

    Raises
    ------
    ParameterError, DataShapeError, DataValueError, InsufficientDataError
        On bad arguments or data, before any training starts.
    FailedTasksError
        After training, when tasks failed and ``allow_partial`` is false; the message
        names them and why (with ``store``, a rerun reads every task back).
    """
    the_mode = get_mode(mode)
    mode_arguments = _mode_arguments(the_mode, mode_arguments)
    check_choice(output_units, OUTPUT_UNITS, "output_units")
    check_choice(mi_source, ("test_mi", "train_mi"), "mi_source")
    check_int(n_workers, "n_workers", 1)
    random_seed = check_int(random_seed, "random_seed")
    if not isinstance(verbose, bool):
        raise ParameterError(f"verbose must be True or False, got {verbose!r}.")
    _check_variables(the_mode, y_data, z_data)
    _check_single_task_options(the_mode, save_best_model_path, train_indices, test_indices)
    if train_indices is not None and max_samples_per_task is not None:
        raise ParameterError(
            "max_samples_per_task cannot be combined with train_indices/test_indices, "
            "which say exactly which samples to use."
        )
    options = the_mode.options(
        _given(
            gamma_range=gamma_range,
            delta_threshold=delta_threshold,
            min_gamma_points=min_gamma_points,
            confidence_level=confidence_level,
            lag_range=None if lag_range is None else list(lag_range),
            n_splits=n_splits,
            strictness=None if strictness is None else list(strictness),
            n_repeats=n_repeats,
            allow_partial=allow_partial,
            **mode_arguments,
        )
    )
    ptype_x, pparams_x, ptype_y, pparams_y = resolve_processors(
        processor_type,
        processor_params,
        processor_type_x,
        processor_params_x,
        processor_type_y,
        processor_params_y,
    )
    ptype_z, pparams_z = _processor_z(
        processor_type, processor_params, ptype_x, pparams_x, processor_type_z, processor_params_z
    )
    context = TaskContext(
        device=check_device(device),
        custom_critic=custom_critic,
        custom_embedding_cls=custom_embedding_cls,
        train_indices=train_indices,
        test_indices=test_indices,
        save_best_model_path=save_best_model_path,
    )
    store = _store_directory(store)

    specs = plan_tasks(
        mode,
        random_seed=random_seed,
        base_params=base_params,
        processor_type_x=ptype_x,
        processor_params_x=pparams_x,
        processor_type_y=ptype_y,
        processor_params_y=pparams_y,
        estimator=estimator,
        estimator_params=estimator_params,
        split_mode=split_mode,
        sweep_grid=sweep_grid,
        input_transform=input_transform,
        options=options,
        max_samples_per_task=max_samples_per_task,
        processor_type_z=ptype_z,
        processor_params_z=pparams_z,
    )
    data = SessionData(
        x_data,
        y_data,
        ptype_x,
        ptype_y if the_mode.uses_y else None,
        z=z_data,
        processor_type_z=ptype_z,
    )
    context.progress = verbose and len(specs) == 1
    preflight(specs, data, context)

    if verbose:
        logger.info("Running %d task(s) for mode %r (n_workers=%d).", len(specs), mode, n_workers)
    results = list(
        run_tasks(specs, data, context, n_workers=n_workers, store=store, progress=verbose)
    )
    params = {
        "mode": mode,
        "random_seed": random_seed,
        "output_units": output_units,
        "mi_source": mi_source,
        "split_mode": split_mode,
        "input_transform": input_transform,
        "n_tasks": len(specs),
        "options": options.model_dump(),
        "task_params": specs[0].params,
    }
    return Results.from_tasks(
        results_to_dataset(results, mode),
        mode,
        options,
        output_units=output_units,
        mi_source=mi_source,
        params=params,
    )


def _mode_arguments(mode: Mode, given: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments that are options of the mode (a plug-in mode's own arguments);
    anything else is refused, naming the closest allowed name."""
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


def _given(**arguments: Any) -> dict[str, Any]:
    """The mode arguments the caller gave (``None``: not given, the mode's default)."""
    return {name: value for name, value in arguments.items() if value is not None}


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


def _processor_z(
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


def _store_directory(store: str | Path | None) -> Path | None:
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
