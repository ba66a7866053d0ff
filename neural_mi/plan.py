"""Plans: an analysis mode and its parameters → the list of independent training tasks.

Every analysis is a static list of :class:`~neural_mi.tasks.TaskSpec`, known before
anything runs, so the same plan can execute in one process, a process pool, or a Snakemake
DAG, and the aggregation cannot tell the difference.

- ``estimate``: one task.
- ``sweep``: one task per combination of ``sweep_grid`` × ``n_repeats``.
- ``rigorous``: per combination, for each ``gamma`` in ``gamma_range``, one task per
  subset ``0 .. gamma-1`` (the data cut into ``gamma`` disjoint chunks): 55 tasks for
  gamma 1..10.
- ``lag``: per combination, one task per lag in ``lag_range``.
- ``dimensionality``: per combination (``sweep_grid`` must hold ``embedding_dim``), one task
  per random channel split ``0 .. n_splits-1``.

Seeds come from hashing ``(run seed, task key)`` (:func:`derive_seed`), never from the order
in which tasks execute.  This module is torch-free: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import ParameterError
from .params import (
    BASE_PARAM_DEFAULTS,
    ESTIMATOR_PARAM_DEFAULTS,
    MODES,
    PROCESSOR_PARAM_DEFAULTS,
    SPLIT_MODES,
    check_choice,
    resolve_base_params,
    resolve_estimator,
    resolve_processor_params,
)
from .tasks import TaskSpec

#: Estimator used when the caller does not name one, per mode.
DEFAULT_ESTIMATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "dimensionality": ("smile", {"clip": 5.0}),
}
DEFAULT_ESTIMATOR: tuple[str, dict[str, Any]] = ("infonce", {})

DEFAULT_GAMMA_RANGE: tuple[int, ...] = tuple(range(1, 11))
DEFAULT_EMBEDDING_DIMS: tuple[int, ...] = (1, 2, 4, 6, 8, 12, 16)


def derive_seed(run_seed: int, *parts: Any) -> int:
    """Return a 32-bit seed derived by hashing the run seed and ``parts``.

    The same inputs always give the same seed, whatever the execution order, process or
    machine.

    Parameters
    ----------
    run_seed
        The analysis' ``random_seed``.
    *parts
        Anything that identifies the random choice (a task key, ``"chunks"`` and a gamma...).
    """
    text = "|".join([str(int(run_seed)), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def plan_tasks(
    mode: str = "estimate",
    *,
    random_seed: int = 42,
    base_params: Mapping[str, Any] | None = None,
    processor_type_x: str | None = "continuous",
    processor_params_x: Mapping[str, Any] | None = None,
    processor_type_y: str | None = "continuous",
    processor_params_y: Mapping[str, Any] | None = None,
    estimator: str | None = None,
    estimator_params: Mapping[str, Any] | None = None,
    split_mode: str = "blocked",
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
    gamma_range: Iterable[int] | None = None,
    lag_range: Iterable[float] | None = None,
    n_splits: int = 5,
    n_repeats: int = 1,
) -> list[TaskSpec]:
    """Turn an analysis into its list of training tasks.

    Parameters
    ----------
    mode
        One of ``'estimate'``, ``'sweep'``, ``'rigorous'``, ``'dimensionality'``, ``'lag'``.
    random_seed
        The run seed every task seed is derived from.
    base_params
        Training/model parameters (see :data:`neural_mi.params.BASE_PARAM_DEFAULTS`).
    processor_type_x, processor_params_x, processor_type_y, processor_params_y
        How X and Y are processed (``None`` type: already processed). In dimensionality
        mode only X is used.
    estimator, estimator_params
        MI bound and its parameters; ``None`` takes the mode's default (``infonce``;
        ``smile`` with ``clip=5`` for dimensionality).
    split_mode
        ``'blocked'`` (temporal data) or ``'random'`` (IID data).
    sweep_grid
        ``{name: [values...]}``; a name may be a base parameter, a processor parameter
        (applied to X and Y where the processor accepts it) or an estimator parameter.
    gamma_range
        Subsampling factors for ``rigorous`` (default 1..10).
    lag_range
        Lags for ``lag`` mode (samples, or seconds for spike data).
    n_splits
        Random channel splits for ``dimensionality``.
    n_repeats
        Independent repeats per combination for ``sweep``.

    Returns
    -------
    list of TaskSpec
        In a stable order (combination, then gamma/subset, lag, split or repeat).

    Raises
    ------
    ParameterError
        For an unknown mode, key or value, or an argument the mode does not use.
    """
    check_choice(mode, MODES, "mode")
    check_choice(split_mode, SPLIT_MODES, "split_mode")
    _check_mode_arguments(mode, sweep_grid, gamma_range, lag_range)
    if estimator is None:
        estimator, default_params = DEFAULT_ESTIMATORS.get(mode, DEFAULT_ESTIMATOR)
        estimator_params = {**default_params, **dict(estimator_params or {})}
    if mode == "dimensionality":
        processor_type_y, processor_params_y = processor_type_x, processor_params_x
        sweep_grid = dict(sweep_grid or {})
        sweep_grid.setdefault("embedding_dim", list(DEFAULT_EMBEDDING_DIMS))
    common = {
        "mode": mode,
        "run_seed": int(random_seed),
        "split_mode": split_mode,
        "estimator": estimator,
    }
    raw = {
        "base": dict(base_params or {}),
        "estimator_params": dict(estimator_params or {}),
        "processor_type_x": processor_type_x,
        "processor_params_x": dict(processor_params_x or {}),
        "processor_type_y": processor_type_y,
        "processor_params_y": dict(processor_params_y or {}),
    }
    combos = [
        _resolve_combination(common, raw, coords) for coords in _grid(sweep_grid, raw, estimator)
    ]
    return [
        task
        for params, coords in combos
        for task in _tasks_for_combination(
            mode,
            params,
            coords,
            random_seed=int(random_seed),
            gamma_range=gamma_range,
            lag_range=lag_range,
            n_splits=n_splits,
            n_repeats=n_repeats,
        )
    ]


def _check_mode_arguments(mode: str, sweep_grid: Any, gamma_range: Any, lag_range: Any) -> None:
    if sweep_grid and mode in ("estimate", "lag"):
        raise ParameterError(f"sweep_grid is not used in mode {mode!r}; use mode='sweep'.")
    if gamma_range is not None and mode != "rigorous":
        raise ParameterError(f"gamma_range is only used in mode 'rigorous', not {mode!r}.")
    if lag_range is not None and mode != "lag":
        raise ParameterError(f"lag_range is only used in mode 'lag', not {mode!r}.")
    if mode == "sweep" and not sweep_grid:
        raise ParameterError(
            "mode 'sweep' needs a non-empty sweep_grid, e.g. {'embedding_dim': [4, 8]}."
        )
    if mode == "lag" and lag_range is None:
        raise ParameterError("mode 'lag' needs lag_range, e.g. range(0, 101, 5).")


def _grid(
    sweep_grid: Mapping[str, Sequence[Any]] | None, raw: Mapping[str, Any], estimator: str
) -> list[dict[str, Any]]:
    """Expand ``sweep_grid`` into a list of coordinate dicts (one per combination)."""
    if not sweep_grid:
        return [{}]
    for name, values in sweep_grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ParameterError(f"sweep_grid[{name!r}] must be a list of values, got {values!r}.")
        _grid_target(name, raw, estimator)  # validates the name
    names = list(sweep_grid)
    value_lists = [list(sweep_grid[name]) for name in names]
    for name, values in zip(names, value_lists):
        if not values:
            raise ParameterError(f"sweep_grid[{name!r}] is empty.")
    return [dict(zip(names, combo)) for combo in itertools.product(*value_lists)]


def _grid_target(name: str, raw: Mapping[str, Any], estimator: str) -> list[str]:
    """Which parameter dicts of ``raw`` a sweep_grid name sets."""
    if name in BASE_PARAM_DEFAULTS:
        return ["base"]
    if name in ESTIMATOR_PARAM_DEFAULTS[estimator]:
        return ["estimator_params"]
    targets = [
        f"processor_params_{v}"
        for v in ("x", "y")
        if name in PROCESSOR_PARAM_DEFAULTS[raw[f"processor_type_{v}"]]
    ]
    if targets:
        return targets
    raise ParameterError(
        f"sweep_grid key {name!r} is neither a base_params key, a parameter of estimator "
        f"{estimator!r}, nor a parameter of the X/Y processors "
        f"({raw['processor_type_x']!r}/{raw['processor_type_y']!r})."
    )


def _resolve_combination(
    common: Mapping[str, Any], raw: Mapping[str, Any], coords: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply one grid combination and validate the complete parameter set."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for name, value in coords.items():
        for target in _grid_target(name, raw, common["estimator"]):
            merged[target][name] = value
    params = {
        **common,
        "base": resolve_base_params(merged["base"]),
        "estimator_params": resolve_estimator(common["estimator"], merged["estimator_params"]),
        "processor_type_x": merged["processor_type_x"],
        "processor_params_x": resolve_processor_params(
            merged["processor_type_x"], merged["processor_params_x"], "x"
        ),
        "processor_type_y": merged["processor_type_y"],
        "processor_params_y": resolve_processor_params(
            merged["processor_type_y"], merged["processor_params_y"], "y"
        ),
    }
    return params, dict(coords)


def combination_id(params: Mapping[str, Any]) -> str:
    """Short stable id of a resolved parameter set (8 hex digits, prefixed ``c``)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return "c" + hashlib.sha256(text.encode()).hexdigest()[:8]


def _format_lag(lag: float) -> str:
    text = f"{lag:g}"
    return text.replace("-", "m").replace(".", "p").replace("+", "")


def _tasks_for_combination(
    mode: str,
    params: dict[str, Any],
    coords: dict[str, Any],
    *,
    random_seed: int,
    gamma_range: Iterable[int] | None,
    lag_range: Iterable[float] | None,
    n_splits: int,
    n_repeats: int,
) -> list[TaskSpec]:
    combo = combination_id(params)

    def spec(suffix: str, **ids: Any) -> TaskSpec:
        key = f"{combo}-{suffix}" if suffix else combo
        return TaskSpec(
            key=key,
            combo=combo,
            params=params,
            coords=coords,
            seed=derive_seed(random_seed, key),
            **ids,
        )

    if mode == "rigorous":
        gammas = _check_gammas(gamma_range)
        return [spec(f"g{g:02d}-s{s:02d}", gamma=g, subset=s) for g in gammas for s in range(g)]
    if mode == "lag":
        lags = list(lag_range or [])
        if not lags:
            raise ParameterError("lag_range is empty.")
        return [spec(f"L{_format_lag(lag)}", lag=lag) for lag in lags]
    if mode == "dimensionality":
        _check_positive_int(n_splits, "n_splits")
        return [spec(f"d{k:02d}", split=k) for k in range(n_splits)]
    if mode == "sweep":
        _check_positive_int(n_repeats, "n_repeats")
        return [spec(f"r{r:02d}", repeat=r) for r in range(n_repeats)]
    return [spec("")]


def _check_gammas(gamma_range: Iterable[int] | None) -> list[int]:
    gammas = list(DEFAULT_GAMMA_RANGE if gamma_range is None else gamma_range)
    if not gammas:
        raise ParameterError("gamma_range is empty.")
    for g in gammas:
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise ParameterError(f"gamma_range values must be integers >= 1, got {g!r}.")
    if len(set(gammas)) != len(gammas):
        raise ParameterError(f"gamma_range has repeated values: {gammas}.")
    return sorted(gammas)


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be an integer >= 1, got {value!r}.")
