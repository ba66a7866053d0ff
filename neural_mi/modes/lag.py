"""``lag``: MI between X and Y shifted by each lag of ``lag_range``; where it peaks.

With a ``sweep_grid`` (e.g. ``{'window_size': [5, 10, 20]}``) every combination gets its
own MI-per-lag curve: a lag × window grid answers "how long after, and over how long" in
one call (NeuralMI 1.1's tutorial 3 built it by hand).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import field_validator

from ..errors import InsufficientDataError, ParameterError
from ..params import Number
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

    lag_range: list[Number]
    """Lags of Y after X: samples for sampled signals (multiples of step_size), seconds
    for spike trains; positive means Y follows X."""

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
        return [combination.task(f"L{format_lag(lag)}", lag=lag) for lag in options.lag_range]

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        from ..engine.split import window_gap

        if _spike_lag(spec.params):
            return n_samples, window_gap(spec.params)
        shift = _checked_shift(spec, n_samples)
        return n_samples - abs(shift), window_gap(spec.params) + abs(shift)

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """X and Y with Y shifted back by the lag: spike times move by ``lag`` seconds
        before windowing; sampled signals drop ``lag / step_size`` windows at opposite
        ends (the gap against leakage grows by the shift)."""
        from ..data import align_samples

        p = spec.params
        if _spike_lag(p):
            x = data.processed("x", p["processor_params_x"])
            y = data.processed("y", p["processor_params_y"], shift_seconds=spec.lag)
            x, y = align_samples(x, y)
            return x, y, data.window_gap(p)
        x, y, gap = data.aligned_pair(p)
        shift = _checked_shift(spec, len(x))
        if shift > 0:
            x, y = x[:-shift], y[shift:]
        elif shift < 0:
            x, y = x[-shift:], y[:shift]
        return x, y, gap + abs(shift)

    def task_windows(self, spec: TaskSpec, samples: Any) -> tuple[np.ndarray, np.ndarray]:
        """Undo :meth:`task_data`'s shift: sample ``i`` of a task whose Y follows X by ``s``
        windows is window ``i`` of X and ``i + s`` of Y (``i - s`` and ``i`` when ``s`` is
        negative).  Spike lags move spike times, not windows."""
        samples = np.asarray(samples, dtype=np.int64)
        if _spike_lag(spec.params):
            return samples, samples
        shift = lag_in_windows(spec.lag, spec.params["processor_params_x"])
        return samples + max(0, -shift), samples + max(0, shift)

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: LagOptions) -> xr.Dataset:
        return aggregate_lag(tasks, mi_var)

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


def _spike_lag(params: dict[str, Any]) -> bool:
    """Whether the lag is in seconds (spike trains); refuses spikes against a signal."""
    types = (params["processor_type_x"], params["processor_type_y"])
    if "spike" not in types:
        return False
    if types[0] != types[1]:
        raise ParameterError(
            "Lags are supported when X and Y are both spike trains (lag in seconds) "
            "or both sampled signals (lag in samples)."
        )
    return True


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
    ax.set_xlabel("lag of Y after X (samples; seconds for spike data)")
    ax.set_ylabel(f"MI ({units})")
    ax.legend()
    return fig
