"""The null tasks of a permutation test, planned next to the observed tasks
(:func:`neural_mi.plan.plan_tasks`).  Torch-free."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import ParameterError
from .seeding import derive_seed

if TYPE_CHECKING:
    from .modes import Mode, ModeOptions
    from .tasks import TaskSpec


def null_settings(options: ModeOptions) -> dict[str, Any]:
    """The null method and minimum shift an analysis gives besides their defaults (they
    enter the task parameters; defaults leave the parameters, keys and seeds as they are).

    Raises
    ------
    ParameterError
        When they are given without ``n_permutations``.
    """
    given: dict[str, Any] = {}
    if options.null_method != "auto":
        given["null_method"] = options.null_method
    if options.null_min_shift is not None:
        given["null_min_shift"] = options.null_min_shift
    if given and not options.n_permutations:
        raise ParameterError(
            f"{', '.join(given)} only apply to a permutation test; give n_permutations "
            "(or leave them out)."
        )
    return given


def null_key(key: str, permutation: int) -> str:
    """The key of permutation ``permutation`` (>= 1) of the task keyed ``key``."""
    return f"{key}-n{permutation:04d}"


def null_tasks(mode: Mode, observed: Sequence[TaskSpec], n_permutations: int) -> list[TaskSpec]:
    """The null copies of the observed tasks: permutation 1, then 2..., each holding a copy
    of every task whose data the null changes (:meth:`~neural_mi.modes.base.Mode.
    null_variable`), keyed :func:`null_key` and seeded by that key.  With lags, their
    parameters hold the largest ``null_lag_span`` (the default minimum shift covers it,
    :func:`neural_mi.engine.null.minimum_shift`).

    Raises
    ------
    ParameterError
        When the mode defines no null.
    """
    if not n_permutations:
        return []
    changed = [spec for spec in observed if mode.null_variable(spec) is not None]
    span = max((abs(spec.lag) for spec in changed), default=0)
    extra = {"null_lag_span": span} if span else {}
    return [
        dataclasses.replace(
            spec,
            key=null_key(spec.key, k),
            seed=derive_seed(spec.params["run_seed"], null_key(spec.key, k)),
            permutation=k,
            params={**spec.params, **extra},
        )
        for k in range(1, n_permutations + 1)
        for spec in changed
    ]
