"""``nmi.run``: validate → plan → execute (serial or pool, resumable) → aggregate → Results."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .engine.execution import preflight, run_tasks
from .engine.inputs import SessionData, TaskContext
from .errors import DataShapeError, InsufficientDataError
from .modes import Mode, get_mode
from .params import DEFAULT_INPUT_TRANSFORM, DEFAULT_MIN_OVERLAP
from .plan import plan_tasks
from .results import Results
from .run_arguments import (
    UNSET,
    check_custom_critic,
    check_device,
    check_mode_arguments,
    check_run_arguments,
    given_options,
    layout_hint,
    processor_z,
    resolve_processors,
    store_directory,
    time_bases,
)
from .store import results_to_dataset

__all__ = ["UNSET", "check_device", "resolve_processors", "run", "time_bases"]

logger = logging.getLogger("neural_mi")

#: Which per-task MI enters the aggregation unless the caller says otherwise.
DEFAULT_MI_SOURCE = "test_mi"


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
    sampling_rate: float | Mapping[str, float] | None = None,
    start_time: float | Mapping[str, float] | None = None,
    align: str = "auto",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
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
    n_permutations: int | None = None,
    null_method: str | None = None,
    null_min_shift: float | None = None,
    alpha: float | None = None,
    correction: str | None = None,
    **mode_arguments: Any,
) -> Results:
    """Estimate mutual information between ``x_data`` and ``y_data``.

    Parameters
    ----------
    x_data, y_data
        Raw data. Continuous signals ``(channels, time)`` (``time_axis=0`` in the processor
        params declares ``(time, channels)``), spike trains (a list of spike-time arrays in
        seconds, one per neuron), categorical labels ``(channels, time)``, already
        processed arrays ``(n_samples, features)`` / ``(n_samples, channels, features)``
        with processor type ``None``, or what a data source returns
        (:func:`neural_mi.data.sources.load_source`: a ``Signal`` or ``SpikeTrains``, with
        its time base). ``y_data`` is omitted in modes that analyse X alone
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
        Window and step sizes of sampled signals are samples, or durations such as
        ``'0.5 s'`` / ``'100 ms'`` converted at the variable's ``sampling_rate`` (spike
        windows are seconds).
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
        Lags for ``'lag'`` mode; positive means Y follows X. When X and Y are paired by
        time, durations (``'0.2 s'``) or plain numbers (seconds for spike trains, samples
        of X for signals), and the lags are reported in seconds; signals paired by index
        take samples (multiples of ``step_size``).
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
    sampling_rate, start_time
        Time bases of sampled signals: the sampling rate in Hz and the time (s) of the
        first sample (default 0).  A number applies to every variable that is not spike
        trains; a mapping names variables (``{'x': 250.0, 'y': 1000.0}``; a spike
        variable's ``start_time`` is the start of its span).  When every variable has a
        time base (spike trains always do: from 0 s, or ``start_time``, to their last
        spike or ``n_seconds``), windows are paired by their start times over the common
        time span (:mod:`neural_mi.data.pairing`); otherwise by index.
    align
        Pairing of variables without a time base: ``'auto'`` (window ``i`` with window
        ``i``, only when the counts are equal) or ``'truncate'`` (also unequal counts,
        dropping the longer variable's last windows).
    min_overlap
        Least fraction of the longest time span that the span common to X and Y must
        cover (default 0.5); less is refused as a wrong rate, clock or unit.
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
        Where to save the best weights (``'estimate'`` mode only; the observed task's,
        never a null task's).
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
        given); the default is :data:`neural_mi.params.DEFAULT_INPUT_TRANSFORM`.  A
        variable of more than five channels is then scaled so that its channels'
        variances sum to 5 (:data:`neural_mi.data.transforms.TOTAL_VARIANCE`).
        Categorical labels and spike times are never transformed.
    allow_partial
        When tasks fail (training diverged even after restarts at lower learning
        rates), summarise the others and label the result partial, instead of refusing
        the analysis.
    n_permutations
        A permutation test: every task is trained again on this many copies of the data
        whose pairing is broken (null tasks, resumable from ``store`` like any task), and
        each number of the analysis gets a null distribution, a p-value
        ``(1 + #{null >= observed}) / (1 + n_permutations)`` and ``is_significant``
        (:mod:`neural_mi.significance`; what each mode's null breaks:
        ``Results.summary()``).  Default 0: no test.
    null_method
        How the pairing is broken (:mod:`neural_mi.engine.null`): ``'circular'`` (one
        variable shifted in time, wrapping around: each keeps its temporal structure),
        ``'block'`` (its blocks permuted), ``'permute'`` (its samples permuted: IID data);
        default ``'auto'``: ``'permute'`` with ``split_mode='random'`` and non-overlapping
        windows, else ``'circular'``.
    null_min_shift
        The smallest circular shift, or the block length (raw time points, seconds for
        spikes, rows for processed data); default: the time one task sample spans plus
        the analysis' largest lag.
    alpha
        Significance level of ``is_significant`` (default 0.05).
    correction
        ``'none'`` (default: each number tested on its own) or ``'max'`` (family-wise over
        the lags, combinations, pairs or terms of a statistic: max-statistic p-values).
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
    mode_arguments = check_mode_arguments(the_mode, mode_arguments, run)
    random_seed = check_run_arguments(
        the_mode,
        output_units=output_units,
        mi_source=mi_source,
        n_workers=n_workers,
        random_seed=random_seed,
        verbose=verbose,
        y_data=y_data,
        z_data=z_data,
        save_best_model_path=save_best_model_path,
        train_indices=train_indices,
        test_indices=test_indices,
        max_samples_per_task=max_samples_per_task,
    )
    options = the_mode.options(
        given_options(
            gamma_range=gamma_range,
            delta_threshold=delta_threshold,
            min_gamma_points=min_gamma_points,
            confidence_level=confidence_level,
            lag_range=None if lag_range is None else list(lag_range),
            n_splits=n_splits,
            strictness=None if strictness is None else list(strictness),
            n_repeats=n_repeats,
            allow_partial=allow_partial,
            n_permutations=n_permutations,
            null_method=null_method,
            null_min_shift=null_min_shift,
            alpha=alpha,
            correction=correction,
            **mode_arguments,
        )
    )
    check_custom_critic(options, custom_critic)
    ptype_x, pparams_x, ptype_y, pparams_y = resolve_processors(
        processor_type,
        processor_params,
        processor_type_x,
        processor_params_x,
        processor_type_y,
        processor_params_y,
    )
    ptype_z, pparams_z = processor_z(
        processor_type, processor_params, ptype_x, pparams_x, processor_type_z, processor_params_z
    )
    data = SessionData(
        x_data,
        y_data,
        ptype_x,
        ptype_y if the_mode.uses_y else None,
        z=z_data,
        processor_type_z=ptype_z,
        align=align,
        min_overlap=min_overlap,
        **time_bases(
            sampling_rate,
            start_time,
            {"x": (x_data, ptype_x), "y": (y_data, ptype_y), "z": (z_data, ptype_z)},
        ),
    )
    context = TaskContext(
        device=check_device(device),
        custom_critic=custom_critic,
        custom_embedding_cls=custom_embedding_cls,
        train_indices=train_indices,
        test_indices=test_indices,
        save_best_model_path=save_best_model_path,
    )
    store = store_directory(store)

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
        timing=data.timing_labels(_used(the_mode)),
    )
    context.progress = verbose and len(specs) == 1
    _preflight(specs, data, context)

    if verbose:
        logger.info("Running %d task(s) for mode %r (n_workers=%d).", len(specs), mode, n_workers)
    results = list(
        run_tasks(specs, data, context, n_workers=n_workers, store=store, progress=verbose)
    )
    return _results(
        results,
        specs,
        data,
        options,
        mode=mode,
        random_seed=random_seed,
        output_units=output_units,
        mi_source=mi_source,
        split_mode=split_mode,
        input_transform=input_transform,
    )


def _preflight(specs: list[Any], data: SessionData, context: TaskContext) -> None:
    """:func:`~neural_mi.engine.execution.preflight`, with a hint when the data gives too
    few samples because a variable's layout looks transposed."""
    try:
        preflight(specs, data, context)
    except InsufficientDataError as err:
        hint = layout_hint(data, specs[0].params)
        if hint is None:
            raise
        raise DataShapeError(f"{hint} ({err})") from None


def _results(
    results: list[Any],
    specs: list[Any],
    data: SessionData,
    options: Any,
    *,
    mode: str,
    random_seed: int,
    output_units: str,
    mi_source: str,
    split_mode: str,
    input_transform: str,
) -> Results:
    """The :class:`~neural_mi.results.Results` of the finished tasks, with the run's
    parameters."""
    params = {
        "mode": mode,
        "random_seed": random_seed,
        "output_units": output_units,
        "mi_source": mi_source,
        "split_mode": split_mode,
        "input_transform": input_transform,
        "align": data.align,
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


def _used(mode: Mode) -> tuple[str, ...]:
    """The variables an analysis in ``mode`` reads."""
    return ("x",) + (("y",) if mode.uses_y else ()) + (("z",) if mode.uses_z else ())
