"""``lag``: MI between X and Y shifted by each lag of ``lag_range``; where it peaks.

With a ``sweep_grid`` (e.g. ``{'window_size': [5, 10, 20]}``) every combination gets its
own MI-per-lag curve: a lag × window grid answers "how long after, and over how long" in
one call (NeuralMI 1.1's tutorial 3 built it by hand).

Lags are seconds when X and Y are paired by time (both have a time base, or both are
spike trains): Y's clock moves back by the lag before the windows are paired
(:mod:`neural_mi.data.pairing`), whatever the kinds of X and Y; a plain number between
sampled signals is a number of X's samples.  Sampled signals paired by index take lags in
samples, a whole number of ``step_size``: the windows move by index.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import field_validator

from ..data.pairing import lag_in_seconds, lag_windows, task_lag
from ..errors import InsufficientDataError, ParameterError
from ..params import Duration
from . import register_mode
from .base import Mode, ModeOptions

if TYPE_CHECKING:
    import torch
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..engine.inputs import SessionData
    from ..plan import Combination
    from ..results import Results
    from ..tasks import TaskSpec


class LagOptions(ModeOptions):
    """Arguments of mode ``lag``."""

    lag_range: list[Duration]
    """Lags of Y after X; positive means Y follows X. Durations ('0.2 s', '-50 ms') when X
    and Y have time bases; plain numbers are seconds for spike trains and samples of X for
    sampled signals (a multiple of step_size when they are paired by index)."""

    @field_validator("lag_range")
    @classmethod
    def _not_empty(cls, lags: list[float]) -> list[float]:
        if not lags:
            raise ValueError("must not be empty")
        return lags


def format_lag(lag: float) -> str:
    """A lag as a file-name-safe key part (``-2.5`` -> ``m2p5``)."""
    return f"{lag:g}".replace("-", "m").replace(".", "p").replace("+", "")


@register_mode
class Lag(Mode):
    """One task per lag and combination; the lag of largest MI per combination."""

    name = "lag"
    Options = LagOptions
    summary = (
        "one task per lag in lag_range (x sweep_grid combination); MI per lag and the peak lag"
    )

    def tasks(self, combination: Combination, options: LagOptions) -> list[TaskSpec]:
        lags = [task_lag(value, combination.params) for value in options.lag_range]
        if len(set(lags)) != len(lags):
            raise ParameterError(f"lag_range repeats a lag: {options.lag_range} are {lags}.")
        return [combination.task(f"L{format_lag(lag)}", lag=lag) for lag in lags]

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        from ..engine.split import window_gap

        if _seconds(spec.params):
            shift = lag_windows(spec.params, spec.lag)
            if shift >= n_samples - 1:
                raise InsufficientDataError(
                    f"Lag {spec.lag:g} s moves the pairs by {shift} windows, which leaves no "
                    f"samples out of {n_samples}; use smaller lags or longer recordings."
                )
            return n_samples - shift, window_gap(spec.params) + shift
        shift = _checked_shift(spec, n_samples)
        return n_samples - abs(shift), window_gap(spec.params) + abs(shift)

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """X and Y with Y moved back by the lag: by time (Y's clock moves by ``lag``
        seconds before the windows are paired; the gap against leakage grows by the pairs
        it moves), or for sampled signals paired by index, ``lag / step_size`` windows
        dropped at opposite ends (the gap grows by the shift)."""
        p = spec.params
        if _seconds(p):
            return data.aligned_pair(p, lag=spec.lag)
        x, y, gap = data.aligned_pair(p)
        shift = _checked_shift(spec, len(x))
        if shift > 0:
            x, y = x[:-shift], y[shift:]
        elif shift < 0:
            x, y = x[-shift:], y[:shift]
        return x, y, gap + abs(shift)

    def task_windows(self, spec: TaskSpec, samples: Any) -> tuple[np.ndarray, np.ndarray]:
        """Undo :meth:`task_data`'s shift: sample ``i`` of a task whose Y follows X by ``s``
        windows is pair ``i`` of X and ``i + s`` of Y (``i - s`` and ``i`` when ``s`` is
        negative).  Lags in seconds are in the pairing itself, not in the indices."""
        samples = np.asarray(samples, dtype=np.int64)
        if _seconds(spec.params):
            return samples, samples
        shift = lag_in_windows(spec.lag, spec.params["processor_params_x"])
        return samples + max(0, -shift), samples + max(0, shift)

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: LagOptions) -> xr.Dataset:
        return aggregate_lag(tasks, mi_var)

    def test_statistics(self, summary: xr.Dataset, options: LagOptions) -> dict[str, xr.DataArray]:
        """The peak MI per combination (its null is the null's peak over lags: the test of
        the largest of the curve) and the MI at each lag (whose null's upper quantile is
        the curve's chance level)."""
        return {"mi_peak": summary["mi_peak"], "mi_mean": summary["mi_mean"]}

    def headline(self, summary: xr.Dataset, options: LagOptions) -> dict[str, Any]:
        from ..aggregate import first_combination, plain_value

        first = first_combination(summary, keep=("lag",))
        return {
            "mi_estimate": plain_value(first["mi_peak"]),
            "peak_lag": plain_value(first["peak_lag"]),
        }

    def details(self, results: Results) -> dict[str, Any]:
        """``peak_lag`` of the first combination (``dataframe`` has each combination's)."""
        return {"peak_lag": results.headline["peak_lag"]}

    def describe(self, results: Results) -> list[str]:
        return [f"  peak lag: {results.details['peak_lag']}"]

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        return plot_lag(results.summary_dataset, ax=ax)

    def plot_null(self, results: Results, ax: Axes) -> None:
        """The chance curve: the null's ``1 - alpha`` quantile of the MI at each lag, per
        combination (dashed, in the combination's colour)."""
        from ..plot import color

        summary = results.summary_dataset
        level = 1 - float(summary.attrs.get("alpha", 0.05))
        for index, combo in enumerate(summary["combo"].values):
            ax.plot(
                summary["lag"].values,
                summary["mi_mean_null_upper"].sel(combo=combo).values,
                linestyle="--",
                color=color(index),
                label=f"chance: {level:.0%} of null" if index == 0 else None,
            )
        ax.legend()


def _seconds(params: dict[str, Any]) -> bool:
    """Whether the lag is in seconds (X and Y paired by time); refuses spikes against a
    signal without a time base."""
    if lag_in_seconds(params):
        return True
    if "spike" in (params["processor_type_x"], params["processor_type_y"]):
        raise ParameterError(
            "Lags between spike trains and a sampled signal need the signal's time base: "
            "give its sampling_rate (and start_time), so that X and Y are paired by time."
        )
    return False


def _checked_shift(spec: TaskSpec, n_samples: int) -> int:
    """The lag in windows, refused when it leaves fewer than 2 samples."""
    shift = lag_in_windows(spec.lag, spec.params["processor_params_x"])
    if abs(shift) >= n_samples - 1:
        raise InsufficientDataError(
            f"Lag {spec.lag:g} shifts by {abs(shift)} windows, which leaves no samples out "
            f"of {n_samples}; use smaller lags or longer recordings."
        )
    return shift


def lag_in_windows(lag: float, params: dict[str, Any]) -> int:
    """A lag in raw samples as a shift in window indices (a multiple of ``step_size``)."""
    step = int(params.get("step_size", 1) or 1)
    if not math.isfinite(lag) or float(lag) != int(lag) or int(lag) % step:
        raise ParameterError(f"Lag {lag} must be an integer multiple of step_size {step}.")
    return int(lag) // step


def aggregate_lag(ds: xr.Dataset, mi_var: str = "test_mi") -> xr.Dataset:
    """MI as a function of lag, per parameter combination.

    Returns
    -------
    xarray.Dataset
        Dims ``combo`` and ``lag``: ``mi_mean``, ``mi_std`` (nats) and ``n``; per combo
        ``peak_lag`` (lag of the largest mean MI, in the lag's own units) and ``mi_peak``
        (that MI, nats).
    """
    from ..aggregate import mi_variable, nats, str_dims, summary_stats, with_combo_coords

    mi = mi_variable(ds, mi_var, ("combo", "lag"))
    out = summary_stats(mi.groupby(["combo", "lag"]))
    peak_lag = out["mi_mean"].idxmax("lag")
    if not peak_lag.isnull().any():
        peak_lag = peak_lag.astype(out["lag"].dtype)
    peak_lag.attrs = {}
    out["peak_lag"] = peak_lag
    out["mi_peak"] = nats(out["mi_mean"].max("lag"))
    out = with_combo_coords(out, ds)
    out.attrs = {"mode": "lag", "units": "nats", "mi_var": mi_var}
    return str_dims(out)


def plot_lag(summary: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """MI against lag (mean ± std band) with the peak lag marked, per combination.

    Parameters
    ----------
    summary
        Output of :func:`aggregate_lag` (or ``summarize``).
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..plot import color, combo_label, figure_and_axes, require

    units = require(summary, ("mi_mean", "mi_std", "peak_lag", "mi_peak"), "plot_lag")
    fig, ax = figure_and_axes(ax)
    lags = summary["lag"].values
    for index, combo in enumerate(summary["combo"].values):
        colour = color(index)
        row = summary.sel(combo=combo)
        mean = row["mi_mean"].values
        spread = row["mi_std"].fillna(0.0).values
        ax.plot(
            lags,
            mean,
            "-o",
            markersize=3,
            color=colour,
            label=combo_label(summary, combo) or "mean ± std",
        )
        ax.fill_between(lags, mean - spread, mean + spread, color=colour, alpha=0.25)
        peak = row["peak_lag"].item()
        ax.plot(
            [peak],
            [float(row["mi_peak"])],
            marker="*",
            markersize=14,
            linestyle="none",
            color=colour,
            label=f"peak at lag {peak:g}",
        )
    ax.set_xlabel("lag of Y after X (seconds; samples for signals paired by index)")
    ax.set_ylabel(f"MI ({units})")
    ax.legend()
    return fig
