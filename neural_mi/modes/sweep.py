"""``sweep``: one task per combination of ``sweep_grid`` values × ``n_repeats``; the
headline is the best combination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..params import PositiveInt
from . import register_mode
from .base import Mode, ModeOptions

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes

    from ..plan import Combination
    from ..results import Results
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
    summary = (
        "one task per sweep_grid combination x n_repeats; mean ± std per combination, the "
        "best combination as headline"
    )
    sweep_grid = "required"

    def tasks(self, combination: Combination, options: SweepOptions) -> list[TaskSpec]:
        return [combination.task(f"r{r:02d}", repeat=r) for r in range(options.n_repeats)]

    def headline(self, summary: xr.Dataset, options: SweepOptions) -> dict[str, Any]:
        """The best combination: the largest mean MI (``mi_error``: its standard deviation
        over repeats; ``best``: its swept values).  The mean of the best of several
        combinations is biased upwards; ``Results.dataframe`` has every combination."""
        from ..aggregate import plain_value

        means = summary["mi_mean"].fillna(-np.inf).values
        best = summary.isel(combo=int(np.argmax(means)))
        swept = [name for name, coord in summary.coords.items() if coord.dims == ("combo",)]
        return {
            "mi_estimate": plain_value(best["mi_mean"]),
            "mi_error": plain_value(best["mi_std"]),
            "best": {name: plain_value(best[name]) for name in swept if name != "combo"},
        }

    def describe(self, results: Results) -> list[str]:
        best = results.headline.get("best")
        return [f"  best combination: {best}"] if best else []

    def test_statistics(
        self, summary: xr.Dataset, options: SweepOptions
    ) -> dict[str, xr.DataArray]:
        """The best combination's mean MI, the headline (its null is the null's best over
        combinations: the test of the largest, chosen after seeing the data), and the mean
        MI of each combination (``mi_mean_p_value``...: each combination on its own)."""
        return {"mi_best": summary["mi_mean"].max("combo"), "mi_mean": summary["mi_mean"]}

    def plot_null(self, results: Results, ax: Axes) -> None:
        """The chance level of each combination: the null's ``1 - alpha`` quantile against
        the swept parameter (dashed)."""
        from ..plot import plot_sweep

        summary = results.summary_dataset
        level = 1 - float(summary.attrs.get("alpha", 0.05))
        upper = summary["mi_mean_null_upper"]
        chance = summary.assign(mi_mean=upper, mi_std=0.0 * upper)
        x = results.swept_names[0] if results.swept_names else "combo"
        plot_sweep(chance, x, ax=ax, style="--", label=f"chance: {level:.0%} of null")
