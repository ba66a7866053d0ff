"""Quantities that are a difference of two MI fits: the shared design of ``conditional``
and ``transfer``.

Conditional MI and transfer entropy are each a *full* MI minus a *reduced* one, e.g.
``I(X;Y|Z) = I([X,Z];Y) - I(Z;Y)``.  Each fit is its own task (its ``role`` says which), so
the two run in parallel like any other tasks.  The full and reduced tasks of one chunk and
repeat have the same number of samples, hence the same gamma chunk and the same train/test
split (the split seeds do not depend on the role): their difference is paired.

- Without ``rigorous``: one task per role and repeat on the whole data; the estimate is the
  mean of the paired differences, its error their standard error (NaN for one repeat).
- With ``rigorous=True``: the tasks of every gamma chunk (as in mode ``rigorous``); the
  differences are formed per chunk and extrapolated to infinite data by
  :func:`neural_mi.fit.fit_rigorous`, with its interval.  The fit is linear in the values,
  so the extrapolated difference is the difference of the extrapolated MIs whenever both
  would keep the same gammas.

Keys are ``<combo>-<role part>-g<gamma>-s<subset>-r<repeat>`` whether or not the analysis
is rigorous, so that turning ``rigorous`` on reuses the whole-data tasks of a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import field_validator

from ..errors import ParameterError
from ..fit import FIT_DEFAULTS
from ..params import IntAtLeastTwo, OpenFraction, PositiveInt, PositiveNumber
from .base import Mode, ModeOptions
from .difference_summary import aggregate_differences, first_term_headline, plot_differences

if TYPE_CHECKING:
    import xarray as xr

    from ..plan import Combination
    from ..tasks import TaskSpec

__all__ = [
    "DEFAULT_GAMMA_RANGE",
    "FIT_SETTINGS",
    "RIGOROUS_ONLY",
    "DifferenceMode",
    "DifferenceOptions",
    "aggregate_differences",
    "first_term_headline",
    "plot_differences",
]

#: Gammas of a rigorous difference when ``gamma_range`` is not given (as mode ``rigorous``).
DEFAULT_GAMMA_RANGE: tuple[int, ...] = tuple(range(1, 11))

#: The options that set the bias-correction fit (aggregation only).
FIT_SETTINGS: tuple[str, ...] = ("delta_threshold", "min_gamma_points", "confidence_level")

#: The options that only a rigorous analysis uses.
RIGOROUS_ONLY: tuple[str, ...] = ("gamma_range", *FIT_SETTINGS)


class DifferenceOptions(ModeOptions):
    """Arguments shared by the modes whose answer is a full minus a reduced MI."""

    rigorous: bool = False
    """Bias-correct the difference: train on every gamma chunk and extrapolate the
    per-chunk differences to infinite data (with a confidence interval)."""
    n_repeats: PositiveInt = 1
    """Independent trainings (own seeds and splits) per role and chunk."""
    gamma_range: list[PositiveInt] | None = None
    """With rigorous: the subsampling factors (default 1..10)."""
    delta_threshold: PositiveNumber | None = None
    """With rigorous: largest accepted curvature criterion of the fit (default 0.1)."""
    min_gamma_points: IntAtLeastTwo | None = None
    """With rigorous: fewest distinct gammas a reliable fit uses (default 5)."""
    confidence_level: OpenFraction | None = None
    """With rigorous: coverage of the interval whose half-width is the error (default 0.68)."""

    @field_validator("gamma_range")
    @classmethod
    def _distinct_sorted(cls, gammas: list[int] | None) -> list[int] | None:
        if gammas is None:
            return None
        if not gammas:
            raise ValueError("must not be empty")
        if len(set(gammas)) != len(gammas):
            raise ValueError(f"must not repeat values, got {gammas}")
        return sorted(gammas)

    def gammas(self) -> list[int]:
        """The gammas planned: ``gamma_range`` (default 1..10) when rigorous, else ``[1]``."""
        if not self.rigorous:
            return [1]
        return list(self.gamma_range or DEFAULT_GAMMA_RANGE)

    def fit_settings(self) -> dict[str, Any]:
        """The settings of :func:`~neural_mi.fit.fit_rigorous`, defaults filled in."""
        return {
            name: FIT_DEFAULTS[name] if getattr(self, name) is None else getattr(self, name)
            for name in FIT_SETTINGS
        }


#: The options class of a difference mode (its methods take an instance of it).
_Options = TypeVar("_Options", bound=DifferenceOptions)


class DifferenceMode(Mode, Generic[_Options]):
    """Base of modes whose terms are each a full MI minus a reduced MI (see the module).

    A subclass names its terms (:meth:`terms`: ``{term: (full role, reduced role)}``),
    the key part of each role (:meth:`role_parts`) and the data of each role
    (:meth:`~neural_mi.modes.base.Mode.task_data`).
    """

    Options = DifferenceOptions
    aggregation_options = FIT_SETTINGS
    sweep_grid = "optional"
    #: Name of the summary's dimension over terms (e.g. ``direction``).
    term_dim: str = "term"

    def terms(self, options: _Options) -> dict[str, tuple[str, str]]:
        """``{term: (role of the full fit, role of the reduced fit)}``."""
        raise NotImplementedError

    def role_parts(self, options: _Options) -> dict[str, str]:
        """``{role: file-name-safe key part}`` of every role of :meth:`terms`."""
        raise NotImplementedError

    def options(self, values: Mapping[str, Any] | ModeOptions | None = None) -> ModeOptions:
        """Validated options; the gamma range and fit settings are refused without
        ``rigorous=True`` (they would be ignored)."""
        options = super().options(values)
        assert isinstance(options, DifferenceOptions)
        given = [name for name in RIGOROUS_ONLY if getattr(options, name) is not None]
        if given and not options.rigorous:
            raise ParameterError(
                f"{', '.join(given)} only apply to a bias-corrected analysis; pass "
                f"rigorous=True in mode {self.name!r} (or leave them out)."
            )
        return options

    def tasks(self, combination: Combination, options: _Options) -> list[TaskSpec]:
        parts = self.role_parts(options)
        return [
            combination.task(
                f"{parts[role]}-g{g:02d}-s{s:02d}-r{r:02d}", gamma=g, subset=s, repeat=r, role=role
            )
            for role in parts
            for g in options.gammas()
            for s in range(g)
            for r in range(options.n_repeats)
        ]

    def data_key(self, spec: TaskSpec) -> tuple[Any, ...]:
        """Tasks of one role and gamma share their data (and chunk sizes)."""
        return (spec.combo, spec.role, spec.gamma)

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: _Options) -> xr.Dataset:
        return aggregate_differences(
            tasks,
            mi_var,
            self.terms(options),
            term_dim=self.term_dim,
            rigorous=options.rigorous,
            fit=options.fit_settings(),
            mode=self.name,
        )
