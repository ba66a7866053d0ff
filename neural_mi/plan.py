"""Plans: an analysis and its parameters → the list of independent training tasks.

Every analysis is a static list of :class:`~neural_mi.tasks.TaskSpec`, known before
anything runs, so the same plan can execute in one process, a process pool, or a Snakemake
DAG, and the aggregation cannot tell the difference.  This module expands the sweep grid
into parameter combinations and validates each one; the analysis' mode
(:mod:`neural_mi.modes`) says which tasks a combination needs.

Seeds come from hashing ``(run seed, task key)`` (:func:`derive_seed`), never from the order
in which tasks execute.  This module is torch-free: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .data.pairing import resolve_seconds
from .errors import ParameterError
from .modes import Mode, ModeOptions, get_mode
from .null_plan import null_settings, null_tasks
from .params import (
    BASE_PARAM_DEFAULTS,
    DEFAULT_INPUT_TRANSFORM,
    ESTIMATOR_PARAM_DEFAULTS,
    INPUT_TRANSFORMS,
    PROCESSOR_PARAM_DEFAULTS,
    SPLIT_MODES,
    UNTRANSFORMED_TYPES,
    check_choice,
    check_int,
    resolve_base_params,
    resolve_estimator,
    resolve_processor_params,
)
from .params.checks import plain
from .seeding import derive_seed
from .tasks import TaskSpec

#: The ``sweep_grid`` key that repeats every task of each combination (NeuralMI 1.1's
#: convention): ``{'run_id': range(3)}`` trains each task three times, each with its own
#: seed and split, and the repeats are aggregated together (mean ± std).
REPEAT_KEY = "run_id"


def combination_id(params: Mapping[str, Any]) -> str:
    """Short stable id of a resolved parameter set (8 hex digits, prefixed ``c``)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return "c" + hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Combination:
    """One parameter combination of an analysis: what its tasks share.

    Attributes
    ----------
    id
        :func:`combination_id` of ``params``.
    params
        Fully resolved parameters: ``mode``, ``run_seed``, ``split_mode``,
        ``estimator``, ``estimator_params``, ``base`` (complete base_params),
        ``processor_type_x``/``_y``, ``processor_params_x``/``_y`` and, when it is not
        ``'none'``, ``input_transform``.
    coords
        The swept values of this combination (``{}`` without a sweep grid).
    repeats
        How many times each of its tasks is trained (``len(sweep_grid['run_id'])``, else
        1); see :meth:`repeated`.
    """

    id: str
    params: dict[str, Any]
    coords: dict[str, Any]
    repeats: int = 1

    def task(self, suffix: str = "", **fields: Any) -> TaskSpec:
        """A task of this combination, keyed ``<id>-<suffix>`` (or ``<id>``), seeded by key.

        ``fields`` are :class:`TaskSpec` fields such as ``gamma``, ``subset``, ``lag``,
        ``split`` or ``repeat``.
        """
        key = f"{self.id}-{suffix}" if suffix else self.id
        seed = derive_seed(self.params["run_seed"], key)
        return TaskSpec(
            key=key, combo=self.id, params=self.params, coords=self.coords, seed=seed, **fields
        )

    def repeated(self, task: TaskSpec) -> list[TaskSpec]:
        """``task`` once per repeat: keys ``<key>-i<k>``, each seeded by its key and with
        its own ``repeat`` index (so its own split); the task itself when ``repeats`` is 1.
        """
        if self.repeats == 1:
            return [task]
        copies = []
        for index in range(self.repeats):
            key = f"{task.key}-i{index:02d}"
            copies.append(
                dataclasses.replace(
                    task,
                    key=key,
                    repeat=task.repeat * self.repeats + index,
                    seed=derive_seed(self.params["run_seed"], key),
                )
            )
        return copies


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
    input_transform: str = DEFAULT_INPUT_TRANSFORM,
    options: Mapping[str, Any] | ModeOptions | None = None,
    max_samples_per_task: int | None = None,
    processor_type_z: str | None = "continuous",
    processor_params_z: Mapping[str, Any] | None = None,
    timing: Mapping[str, float | str | None] | None = None,
    **mode_arguments: Any,
) -> list[TaskSpec]:
    """Turn an analysis into its list of training tasks.

    Parameters
    ----------
    mode
        A registered mode (:func:`neural_mi.modes.available_modes`).
    random_seed
        The run seed every task seed is derived from.
    base_params
        Training/model parameters (see :class:`neural_mi.params.TrainParams`).
    processor_type_x, processor_params_x, processor_type_y, processor_params_y
        How X and Y are processed (``None`` type: already processed). A mode that uses X
        alone processes both halves like X.
    processor_type_z, processor_params_z
        How Z is processed, in modes that use a third variable
        (:attr:`~neural_mi.modes.base.Mode.uses_z`; ignored by the others, whose task
        parameters hold no Z).
    estimator, estimator_params
        MI bound and its parameters; ``None`` takes the mode's default.
    split_mode
        ``'blocked'`` (temporal data) or ``'random'`` (IID data).
    sweep_grid
        ``{name: [values...]}``; a name may be a base parameter, a processor parameter
        (applied to X and Y where the processor accepts it) or an estimator parameter.
        ``run_id`` (:data:`REPEAT_KEY`) repeats every task once per value instead.
    input_transform
        Per-channel transform of the inputs, fitted on each task's training samples
        (:data:`neural_mi.params.INPUT_TRANSFORMS`, :mod:`neural_mi.data.transforms`).
        Recorded as ``params['input_transform']`` only when it is not ``'none'`` and some
        variable can be transformed (not only spike times or categorical labels), so that
        the keys and seeds of analyses it cannot change are those they always had.
    options, **mode_arguments
        The mode's own arguments (e.g. ``gamma_range`` for rigorous, ``lag_range`` for
        lag), as a mapping or keywords.  With ``n_permutations`` the plan ends with the
        null tasks of a permutation test (:func:`null_tasks`); a ``null_method`` or
        ``null_min_shift`` other than the default is recorded in the parameters (like
        any training parameter, changing it changes every key).
    max_samples_per_task
        Each task trains and evaluates on at most this many samples (a random subset, in
        time order); refused by modes whose answer depends on the sample count
        (:attr:`~neural_mi.modes.base.Mode.sample_cap`).
    timing
        The time base of each variable the analysis uses
        (:func:`neural_mi.data.pairing.timing_label`: a rate in Hz, ``'timestamps'``,
        ``'spikes'`` or ``None``): window and step sizes given as durations become
        samples at these rates, and variables paired by time record them in
        ``params['timing']`` (:func:`neural_mi.data.pairing.resolve_seconds`).

    Returns
    -------
    list of TaskSpec
        In a stable order (combination, then the mode's order within a combination, then
        the repeats; then the null tasks, permutation by permutation).

    Raises
    ------
    ParameterError
        For an unknown mode, key or value, or an argument the mode does not use.
    """
    the_mode = get_mode(mode)
    opts = the_mode.options({**dict(_options_dict(options)), **mode_arguments})
    observed = [
        copy
        for combination in combinations(
            the_mode,
            random_seed=random_seed,
            base_params=base_params,
            processor_type_x=processor_type_x,
            processor_params_x=processor_params_x,
            processor_type_y=processor_type_y,
            processor_params_y=processor_params_y,
            estimator=estimator,
            estimator_params=estimator_params,
            split_mode=split_mode,
            sweep_grid=sweep_grid,
            max_samples_per_task=max_samples_per_task,
            processor_type_z=processor_type_z,
            processor_params_z=processor_params_z,
            input_transform=input_transform,
            timing=timing,
            null=null_settings(opts),
        )
        for task in the_mode.tasks(combination, opts)
        for copy in combination.repeated(task)
    ]
    return [*observed, *null_tasks(the_mode, observed, opts.n_permutations)]


def _options_dict(options: Mapping[str, Any] | ModeOptions | None) -> Mapping[str, Any]:
    if isinstance(options, ModeOptions):
        return options.model_dump()
    return plain(options, "options")


def combinations(
    mode: Mode,
    *,
    random_seed: int,
    base_params: Mapping[str, Any] | None,
    processor_type_x: str | None,
    processor_params_x: Mapping[str, Any] | None,
    processor_type_y: str | None,
    processor_params_y: Mapping[str, Any] | None,
    estimator: str | None,
    estimator_params: Mapping[str, Any] | None,
    split_mode: str,
    sweep_grid: Mapping[str, Sequence[Any]] | None,
    max_samples_per_task: int | None = None,
    processor_type_z: str | None = "continuous",
    processor_params_z: Mapping[str, Any] | None = None,
    input_transform: str = DEFAULT_INPUT_TRANSFORM,
    timing: Mapping[str, float | str | None] | None = None,
    null: Mapping[str, Any] | None = None,
) -> list[Combination]:
    """Every parameter combination of an analysis, validated and resolved.

    Arguments as for :func:`plan_tasks`; see there.  ``null``: the null settings that
    enter the parameters (:func:`null_settings`).
    """
    check_choice(split_mode, SPLIT_MODES, "split_mode")
    check_choice(input_transform, INPUT_TRANSFORMS, "input_transform")
    run_seed = check_int(random_seed, "random_seed")
    if estimator is None:
        estimator, default_params = mode.default_estimator
        estimator_params = {**default_params, **plain(estimator_params, "estimator_params")}
    if not mode.uses_y:
        processor_type_y, processor_params_y = processor_type_x, processor_params_x
        if timing is not None:  # Y's parameters are X's: so is its time base
            timing = {**timing, "y": timing.get("x")}
    common = {
        "mode": mode.name,
        "run_seed": run_seed,
        "split_mode": split_mode,
        "estimator": estimator,
    }
    if max_samples_per_task is not None:  # only when given: other plans keep their keys
        common["max_samples_per_task"] = _sample_cap(mode, max_samples_per_task)
    types = [processor_type_x, processor_type_y] + ([processor_type_z] if mode.uses_z else [])
    if input_transform != "none" and any(t not in UNTRANSFORMED_TYPES for t in types):
        common["input_transform"] = input_transform
    common.update(null or {})
    raw = {
        "base": plain(base_params, "base_params"),
        "estimator_params": plain(estimator_params, "estimator_params"),
        "processor_type_x": processor_type_x,
        "processor_params_x": plain(processor_params_x, "processor_params_x"),
        "processor_type_y": processor_type_y,
        "processor_params_y": plain(processor_params_y, "processor_params_y"),
    }
    if mode.uses_z:
        raw["processor_type_z"] = processor_type_z
        raw["processor_params_z"] = plain(processor_params_z, "processor_params_z")
    grid, repeats = _split_repeats(
        mode.grid(None if sweep_grid is None else plain(sweep_grid, "sweep_grid"))
    )
    return [
        dataclasses.replace(_resolve(common, raw, coords, timing), repeats=repeats)
        for coords in _grid(grid, raw, estimator)
    ]


def _split_repeats(
    sweep_grid: Mapping[str, Sequence[Any]] | None,
) -> tuple[Mapping[str, Sequence[Any]] | None, int]:
    """The grid without :data:`REPEAT_KEY`, and how many repeats that key asks for."""
    if not isinstance(sweep_grid, Mapping) or REPEAT_KEY not in sweep_grid:
        return sweep_grid, 1
    values = sweep_grid[REPEAT_KEY]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ParameterError(
            f"sweep_grid[{REPEAT_KEY!r}] must be a list of run ids, got {values!r}."
        )
    n_repeats = len(list(values))
    if n_repeats == 0:
        raise ParameterError(f"sweep_grid[{REPEAT_KEY!r}] is empty.")
    rest = {name: value for name, value in sweep_grid.items() if name != REPEAT_KEY}
    return rest or None, n_repeats


def _sample_cap(mode: Mode, max_samples_per_task: Any) -> int:
    if not mode.sample_cap:
        raise ParameterError(
            f"max_samples_per_task is not supported in mode {mode.name!r}: its answer "
            "depends on how many samples each task has."
        )
    return check_int(max_samples_per_task, "max_samples_per_task", 2)


def _grid(
    sweep_grid: Mapping[str, Sequence[Any]] | None, raw: Mapping[str, Any], estimator: str
) -> list[dict[str, Any]]:
    """Expand ``sweep_grid`` into a list of coordinate dicts (one per combination)."""
    if not sweep_grid:
        return [{}]
    value_lists = []
    for name, values in sweep_grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ParameterError(f"sweep_grid[{name!r}] must be a list of values, got {values!r}.")
        _grid_target(name, raw, estimator)  # validates the name
        value_lists.append(list(values))
        if not value_lists[-1]:
            raise ParameterError(f"sweep_grid[{name!r}] is empty.")
    names = list(sweep_grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*value_lists)]


def _grid_target(name: str, raw: Mapping[str, Any], estimator: str) -> list[str]:
    """Which parameter dicts of ``raw`` a sweep_grid name sets."""
    if name in BASE_PARAM_DEFAULTS:
        return ["base"]
    if name in ESTIMATOR_PARAM_DEFAULTS.get(estimator, {}):
        return ["estimator_params"]
    targets = [
        f"processor_params_{v}"
        for v in ("x", "y", "z")
        if f"processor_type_{v}" in raw
        and name in PROCESSOR_PARAM_DEFAULTS.get(raw[f"processor_type_{v}"], {})
    ]
    if targets:
        return targets
    raise ParameterError(
        f"sweep_grid key {name!r} is neither a base_params key, a parameter of estimator "
        f"{estimator!r}, nor a parameter of the X/Y processors "
        f"({raw['processor_type_x']!r}/{raw['processor_type_y']!r})."
    )


def _resolve(
    common: Mapping[str, Any],
    raw: Mapping[str, Any],
    coords: Mapping[str, Any],
    timing: Mapping[str, float | str | None] | None = None,
) -> Combination:
    """Apply one grid combination and validate the complete parameter set (durations
    become samples at the variables' rates)."""
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
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
    if "processor_type_z" in merged:
        params["processor_type_z"] = merged["processor_type_z"]
        params["processor_params_z"] = resolve_processor_params(
            merged["processor_type_z"], merged["processor_params_z"], "z"
        )
    params = resolve_seconds(params, timing)
    return Combination(id=combination_id(params), params=params, coords=dict(coords))
