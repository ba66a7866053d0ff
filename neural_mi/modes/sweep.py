"""``sweep``: one task per combination of ``sweep_grid`` values × ``n_repeats``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..params import PositiveInt
from . import register_mode
from .base import Mode, ModeOptions

if TYPE_CHECKING:
    from ..plan import Combination
    from ..tasks import TaskSpec


class SweepOptions(ModeOptions):
    """Arguments of mode ``sweep``."""

    n_repeats: PositiveInt = 1
    """Independent trainings (own seeds) per combination."""


@register_mode
class Sweep(Mode):
    """MI for every combination of the swept parameters, mean ± std over repeats."""

    name = "sweep"
    Options = SweepOptions
    summary = "one task per sweep_grid combination x n_repeats; mean ± std per combination"
    sweep_grid = "required"

    def tasks(self, combination: Combination, options: SweepOptions) -> list[TaskSpec]:
        return [combination.task(f"r{r:02d}", repeat=r) for r in range(options.n_repeats)]
