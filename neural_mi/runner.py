"""``nmi.run``: validate → plan → execute (serial or pool, resumable) → aggregate → Results."""

from __future__ import annotations

import difflib
import inspect
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from . import store as task_store
from .aggregate import summarize
from .errors import CorruptStoreError, InsufficientDataError, ParameterError
from .execute import (
    SessionData,
    TaskContext,
    run_task,
    task_data,
    task_split,
)
from .params import MODES, OUTPUT_UNITS, check_choice
from .plan import plan_tasks
from .pool import single_thread, train_in_pool
from .results import Results
from .tasks import TaskResult, TaskSpec

logger = logging.getLogger("neural_mi")

#: Which per-task MI enters the aggregation unless the caller says otherwise.
DEFAULT_MI_SOURCE = "test_mi"


def run(
    x_data: Any,
    y_data: Any = None,
    mode: str = "estimate",
    *,
    processor_type: str | None = None,
    processor_params: Mapping[str, Any] | None = None,
    processor_type_x: str | None = None,
    processor_params_x: Mapping[str, Any] | None = None,
    processor_type_y: str | None = None,
    processor_params_y: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
    gamma_range: Iterable[int] | None = None,
    delta_threshold: float = 0.1,
    min_gamma_points: int = 5,
    confidence_level: float = 0.68,
    lag_range: Iterable[float] | None = None,
    n_splits: int = 5,
    n_repeats: int = 1,
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
    **unknown: Any,
) -> Results:
    """Estimate mutual information between ``x_data`` and ``y_data``.

    Parameters
    ----------
    x_data, y_data
        Raw data. Continuous signals ``(channels, time)`` (``time_axis=0`` in the processor
        params declares ``(time, channels)``), spike trains (a list of spike-time arrays in
        seconds, one per neuron), categorical labels ``(channels, time)``, or already
        processed arrays ``(n_samples, features)`` / ``(n_samples, channels, features)``
        with processor type ``None``. ``y_data`` is omitted in ``'dimensionality'`` mode.
    mode
        ``'estimate'`` (one training), ``'sweep'`` (one per ``sweep_grid`` combination),
        ``'rigorous'`` (bias-corrected: MI extrapolated to infinite data over
        ``gamma_range``), ``'lag'`` (one per lag in ``lag_range``) or
        ``'dimensionality'`` (MI between random channel halves of X per embedding size).
    processor_type, processor_params
        Processing applied to both X and Y; ``processor_type_x`` / ``_y`` and
        ``processor_params_x`` / ``_y`` override them per variable. Types:
        ``'continuous'`` (default), ``'spike'``, ``'categorical'``, or ``None``.
    base_params
        Model and training parameters (``n_epochs``, ``learning_rate``, ``batch_size``,
        ``patience``, ``embedding_dim``, ``hidden_dim``, ``n_layers``, ``critic_type``,
        ``embedding_model``, ``use_variational``, ``beta``, ``kernel_size``,
        ``bidirectional``, ``nhead``, ``train_fraction``, ``n_test_blocks``,
        ``smoothing_window``, ``max_eval_samples``).
    sweep_grid
        ``{parameter: [values]}`` over base, processor or estimator parameters.
    gamma_range, delta_threshold, min_gamma_points, confidence_level
        Subsampling factors and fit settings of ``'rigorous'`` mode.
    lag_range
        Lags for ``'lag'`` mode: samples, or seconds for spike trains; positive means Y
        follows X.
    n_splits
        Random channel splits in ``'dimensionality'`` mode.
    n_repeats
        Repeats per combination in ``'sweep'`` mode.
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
        Seed of every random choice; the same seed gives the same numbers.
    verbose
        Progress bars and INFO logging.
    device
        ``'auto'`` (cuda, then mps, then cpu) or a torch device string.
    split_mode
        ``'blocked'`` (temporal data: contiguous test blocks, a gap against window overlap)
        or ``'random'`` (IID data).
    train_indices, test_indices
        Explicit sample indices of the split (``'estimate'`` mode).
    store
        Directory keeping one store per finished task; a rerun reads finished tasks back
        instead of retraining them (resumable notebooks).  Each store read back is
        verified; one that fails (damaged, edited, cut short) is retrained and rewritten,
        with a WARNING naming it.
    mi_source
        Which per-task MI enters the aggregation: ``'test_mi'`` (default) or ``'train_mi'``.

    Returns
    -------
    Results

    Raises
    ------
    ParameterError, DataShapeError, DataValueError, InsufficientDataError
        On bad arguments or data (e.g. ``store`` naming a file), before any training
        starts.
    """
    _reject_unknown(unknown)
    check_choice(mode, MODES, "mode")
    check_choice(output_units, OUTPUT_UNITS, "output_units")
    check_choice(mi_source, ("test_mi", "train_mi"), "mi_source")
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ParameterError(f"n_workers must be an integer >= 1, got {n_workers!r}.")
    if mode == "dimensionality":
        if y_data is not None:
            raise ParameterError("mode 'dimensionality' analyses X alone; pass y_data=None.")
    elif y_data is None:
        raise ParameterError(f"mode {mode!r} needs y_data.")
    if save_best_model_path is not None and mode != "estimate":
        raise ParameterError("save_best_model_path is only supported in mode 'estimate'.")
    if (train_indices is None) != (test_indices is None):
        raise ParameterError("Give both train_indices and test_indices, or neither.")
    if train_indices is not None and mode != "estimate":
        raise ParameterError("train_indices/test_indices are only supported in mode 'estimate'.")
    if store is not None:
        task_store.check_store_directory(store)

    ptype_x = processor_type_x or processor_type or "continuous"
    ptype_y = processor_type_y or processor_type or "continuous"
    pparams_x = processor_params_x if processor_params_x is not None else processor_params
    pparams_y = processor_params_y if processor_params_y is not None else processor_params
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
        gamma_range=gamma_range,
        lag_range=lag_range,
        n_splits=n_splits,
        n_repeats=n_repeats,
    )
    data = SessionData(x_data, y_data, ptype_x, ptype_y if mode != "dimensionality" else None)
    context = TaskContext(
        device=device,
        custom_critic=custom_critic,
        custom_embedding_cls=custom_embedding_cls,
        train_indices=train_indices,
        test_indices=test_indices,
        save_best_model_path=save_best_model_path,
        progress=verbose and len(specs) == 1,
    )
    preflight(specs, data, context)

    if verbose:
        logger.info("Running %d task(s) for mode %r (n_workers=%d).", len(specs), mode, n_workers)
    results = list(execute(specs, data, context, n_workers=n_workers, store=store, verbose=verbose))
    tasks = task_store.results_to_dataset(results, mode)
    fit = (
        {
            "delta_threshold": delta_threshold,
            "min_gamma_points": min_gamma_points,
            "confidence_level": confidence_level,
        }
        if mode == "rigorous"
        else {}
    )
    summary, headline = summarize(tasks, mode, mi_var=mi_source, output_units=output_units, **fit)
    params = {
        "mode": mode,
        "random_seed": random_seed,
        "output_units": output_units,
        "mi_source": mi_source,
        "split_mode": split_mode,
        "n_tasks": len(specs),
        "task_params": specs[0].params,
    }
    return Results(
        mode=mode,
        params=params,
        headline=headline,
        summary_dataset=summary,
        tasks=tasks,
        results=results,
    )


def _reject_unknown(unknown: Mapping[str, Any]) -> None:
    if not unknown:
        return
    allowed = [name for name in inspect.signature(run).parameters if name != "unknown"]
    name = next(iter(unknown))
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ParameterError(
        f"Unknown argument {name!r} to nmi.run.{hint} Allowed: {', '.join(allowed)}."
    )


def preflight(specs: Sequence[TaskSpec], data: SessionData, context: TaskContext) -> None:
    """Check that every task has usable data before any training starts.

    Processing, lags, alignment, gamma chunks and train/test splits are all computed
    (cheap: views and index arrays), so a window longer than the recording, a gamma
    range too large for the data or a split without samples fails here, naming the task.
    """
    checked: set[tuple[Any, ...]] = set()
    for spec in specs:
        base = spec.params["base"]
        signature = (spec.combo, spec.gamma, spec.lag, spec.split)
        if signature in checked:
            continue
        checked.add(signature)
        x, _, gap = task_data(spec, data)
        try:
            train_idx, _test_idx = task_split(spec, len(x), gap, context)
        except InsufficientDataError as err:
            raise InsufficientDataError(
                f"{err} (task {spec.key}: gamma={spec.gamma} leaves {len(x) // spec.gamma} of "
                f"{len(x)} samples per chunk)"
            ) from None
        if min(base["batch_size"], len(train_idx)) < 2:
            raise InsufficientDataError(
                f"Task {spec.key}: {len(train_idx)} training sample(s) give batches of fewer "
                "than 2 samples; use more data or a smaller gamma_range."
            )
        if len(train_idx) < base["batch_size"]:
            logger.warning(
                "Task %s: %d training samples, fewer than batch_size=%d; batches hold all of them.",
                spec.key,
                len(train_idx),
                base["batch_size"],
            )


def execute(
    specs: Sequence[TaskSpec],
    data: SessionData,
    context: TaskContext,
    *,
    n_workers: int = 1,
    store: str | Path | None = None,
    verbose: bool = True,
) -> Iterator[TaskResult]:
    """Run the tasks (reading finished ones back from ``store``), yielding results in plan order.

    Parameters
    ----------
    specs
        The planned tasks.
    data
        The session's inputs.
    context
        Device, custom models and split indices shared by every task.
    n_workers
        1: in this process; more: a pool of that many processes.
    store
        Directory of task stores: finished tasks with an identical spec are read back
        (verified: a store that fails verification is retrained and rewritten), new
        results are written as soon as each task finishes.
    verbose
        Progress bar over tasks.
    """
    done = _finished(specs, store) if store is not None else {}
    todo = [spec for spec in specs if spec.key not in done]
    if done:
        logger.info(
            "Read %d finished task(s) back from %s; %d to train.", len(done), store, len(todo)
        )
    bar = tqdm(total=len(todo), desc="tasks", unit="task", disable=not verbose or len(todo) <= 1)
    with bar:
        for result in _train_all(todo, data, context, n_workers):
            if store is not None:
                task_store.write_task(result, store)
            done[result.spec.key] = result
            bar.update()
    yield from (done[spec.key] for spec in specs)


def _finished(specs: Sequence[TaskSpec], store: str | Path) -> dict[str, TaskResult]:
    """Results in ``store`` that pass verification and whose spec equals the planned one.

    A store that fails verification, or holds another spec, is retrained (and rewritten)
    with a WARNING naming it and why; stores of tasks that are not planned are left alone.
    """
    paths = {spec.key: task_store.store_path(store, spec.key) for spec in specs}
    present = [spec for spec in specs if os.path.lexists(paths[spec.key])]
    finished = {}
    for spec, outcome in zip(present, task_store.read_tasks(paths[s.key] for s in present)):
        if isinstance(outcome, CorruptStoreError):
            logger.warning("%s; retraining task %s.", outcome, spec.key)
        elif outcome.spec != spec:
            logger.warning(
                "Store %s holds a different spec for task %s; retraining it.",
                paths[spec.key],
                spec.key,
            )
        else:
            finished[spec.key] = outcome
    return finished


def _train_all(
    specs: Sequence[TaskSpec], data: SessionData, context: TaskContext, n_workers: int
) -> Iterator[TaskResult]:
    """Train the tasks: one at a time in this process (each result can be stored as soon as
    it exists), or in a pool of ``n_workers`` processes (:func:`~neural_mi.pool.train_in_pool`)."""
    if n_workers == 1 or len(specs) <= 1:
        with single_thread():
            for spec in specs:
                yield run_task(spec, data, context)
        return
    yield from train_in_pool(specs, data, context, n_workers)
