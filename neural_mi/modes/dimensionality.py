"""``dimensionality``: how many dimensions the shared information of X's channels needs.

X's channels are split at random into two halves (``n_splits`` times); for each embedding
size of ``sweep_grid['embedding_dim']`` a critic estimates the MI between the halves.  The
MI grows with the embedding size until the embedding holds every shared dimension; the
smallest size reaching a fraction (``strictness``) of the peak is the saturation dimension.
Critics get a scalar term per variable, so ``embedding_dim`` counts the dimensions of the
interaction only (without it a separable critic on k Gaussian factors levels off at k + 1
with InfoNCE, k + 2 with SMILE).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, field_validator

from ..errors import DataShapeError
from ..params import Fraction, PositiveInt
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

#: Embedding sizes tried when ``sweep_grid`` does not name ``embedding_dim``.
DEFAULT_EMBEDDING_DIMS: tuple[int, ...] = (1, 2, 4, 6, 8, 12, 16)

#: Default fractions of the peak MI used to define the saturation dimension.
DEFAULT_STRICTNESS: tuple[float, ...] = (0.8, 0.9, 0.95)

_SATURATION_STYLES = (":", "--", "-.")


class DimensionalityOptions(ModeOptions):
    """Arguments of mode ``dimensionality``."""

    n_splits: PositiveInt = 5
    """Random splits of X's channels into two halves."""
    strictness: list[Fraction] = Field(default_factory=lambda: list(DEFAULT_STRICTNESS))
    """Fractions of the peak MI defining the saturation dimension (one each)."""

    @field_validator("strictness")
    @classmethod
    def _not_empty(cls, levels: list[float]) -> list[float]:
        if not levels:
            raise ValueError("must not be empty")
        return levels


@register_mode
class Dimensionality(Mode):
    """MI between random channel halves of X per embedding size, and where it saturates."""

    name = "dimensionality"
    Options = DimensionalityOptions
    aggregation_options = ("strictness",)
    summary = (
        "n_splits random channel halves of X x each embedding_dim; MI per size and "
        "the saturation dimension"
    )
    uses_y = False
    default_estimator = ("smile", {"clip": 5.0})
    marginal_terms = True

    def grid(
        self, sweep_grid: Mapping[str, Sequence[Any]] | None
    ) -> dict[str, Sequence[Any]] | None:
        grid = dict(sweep_grid or {})
        grid.setdefault("embedding_dim", list(DEFAULT_EMBEDDING_DIMS))
        return grid

    def tasks(self, combination: Combination, options: DimensionalityOptions) -> list[TaskSpec]:
        return [combination.task(f"d{k:02d}", split=k) for k in range(options.n_splits)]

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        if n_channels is not None:
            _check_channels(n_channels)
        return super().task_extent(spec, n_samples, n_channels)

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The two channel halves of X for the task's split (seeded by the run seed and
        the split index, so every embedding size sees the same halves)."""
        import torch

        from ..plan import derive_seed

        p = spec.params
        x = data.processed("x", p["processor_params_x"])
        n_channels = x.shape[1]
        _check_channels(n_channels)
        rng = np.random.default_rng(derive_seed(p["run_seed"], "channels", spec.split))
        order = rng.permutation(n_channels)
        half = n_channels // 2
        first = torch.as_tensor(np.sort(order[:half]))
        second = torch.as_tensor(np.sort(order[half:]))
        return x.index_select(1, first), x.index_select(1, second), data.window_gap(p)

    def task_extras(
        self,
        spec: TaskSpec,
        critic: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        test_idx: Any,
        device: torch.device,
    ) -> dict[str, float]:
        return {"participation_ratio": participation_ratio(critic, x, y, test_idx, device)}

    def aggregate(
        self, tasks: xr.Dataset, mi_var: str, options: DimensionalityOptions
    ) -> xr.Dataset:
        return aggregate_dimensionality(tasks, mi_var, options.strictness)

    def headline(self, summary: xr.Dataset, options: DimensionalityOptions) -> dict[str, Any]:
        from ..aggregate import first_combination, plain_value

        first = first_combination(summary, keep=("embedding_dim", "strictness"))
        saturation = {}
        for level in first["strictness"].values:
            dim = plain_value(first["saturation_dim"].sel(strictness=level))
            saturation[str(float(level))] = None if dim is None else int(dim)
        return {
            "mi_estimate": plain_value(first["mi_mean"].max("embedding_dim")),
            "saturation_dim": saturation,
        }

    def details(self, results: Results) -> dict[str, Any]:
        """``saturation_dim``: strictness (as a string) -> dimension, first combination;
        ``estimated_dims``: the same keyed by the strictness as a number (NeuralMI 1.1's
        name; its strictness meant something else, see the migration guide)."""
        saturation = results.headline["saturation_dim"]
        return {
            "saturation_dim": saturation,
            "estimated_dims": {float(level): dim for level, dim in saturation.items()},
        }

    def describe(self, results: Results) -> list[str]:
        return [f"  saturation dimension: {results.details['saturation_dim']}"]

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        return plot_dimensionality(results.summary_dataset, ax=ax)


def _check_channels(n_channels: int) -> None:
    if n_channels < 2:
        raise DataShapeError(
            "Dimensionality analysis splits the channels of X in two halves; X has "
            f"{n_channels} channel(s)."
        )


def participation_ratio(
    critic: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    indices: np.ndarray,
    device: torch.device,
) -> float:
    """Participation ratio of the spectrum of the embeddings' cross-covariance.

    With singular values ``s`` of ``cov(z_x, z_y)`` on the held-out samples,
    ``PR = (sum s)^2 / sum s^2``: about the number of embedding directions that carry the
    shared signal. ``NaN`` for critics without separate embeddings (``concat``).
    """
    import torch

    embed = getattr(critic, "embed", None)
    if not callable(embed):
        return float("nan")
    rows = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    critic.eval()
    with torch.no_grad():
        zx, zy = embed(x[rows].to(device), y[rows].to(device))
    zx = zx - zx.mean(0)
    zy = zy - zy.mean(0)
    s = torch.linalg.svdvals(zx.T @ zy / max(len(rows) - 1, 1))
    denominator = float((s**2).sum())
    return float(s.sum() ** 2 / denominator) if denominator > 0 else float("nan")


def aggregate_dimensionality(
    ds: xr.Dataset,
    mi_var: str = "test_mi",
    strictness: Sequence[float] = DEFAULT_STRICTNESS,
) -> xr.Dataset:
    """MI against embedding dimension over random channel splits, and where it saturates.

    Parameters
    ----------
    ds
        Task dataset of a dimensionality analysis, with ``embedding_dim`` among the swept
        coordinates (``spec.coords``).
    mi_var
        Variable holding each task's MI (nats).
    strictness
        Fractions ``s`` in ``(0, 1]`` of the peak mean MI.

    Returns
    -------
    xarray.Dataset
        Dim ``embedding_dim`` (plus one dim per other swept parameter): ``mi_mean``,
        ``mi_std`` (nats) and ``n`` over splits; ``participation_ratio_mean`` /
        ``_std`` when the tasks recorded it; ``saturation_dim`` of dim ``strictness``
        (plus other swept dims): the smallest embedding dim whose mean MI is at least
        ``s`` times the largest mean MI (NaN when that peak is not positive).
    """
    import xarray as xr

    from ..aggregate import mi_variable, str_dims, summary_stats
    from ..store import swept_coords

    options = Dimensionality().options({"strictness": list(strictness)})
    assert isinstance(options, DimensionalityOptions)
    levels_given = options.strictness
    mi = mi_variable(ds, mi_var, ("embedding_dim",))
    keys = [name for name in swept_coords(ds) if name != "embedding_dim"] + ["embedding_dim"]
    out = summary_stats(mi.groupby(keys))
    if "participation_ratio" in ds.data_vars:
        pr = ds["participation_ratio"].groupby(keys)
        out["participation_ratio_mean"] = pr.mean()
        out["participation_ratio_std"] = pr.std(ddof=1)
    values = np.asarray(levels_given, dtype=float)
    levels = xr.DataArray(values, dims="strictness", coords={"strictness": values})
    peak = out["mi_mean"].max("embedding_dim")
    reached = (out["mi_mean"] >= levels * peak) & (peak > 0)
    out["saturation_dim"] = out["embedding_dim"].where(reached).min("embedding_dim")
    out.attrs = {"mode": "dimensionality", "units": "nats", "mi_var": mi_var}
    return str_dims(out)


def plot_dimensionality(summary: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """MI against embedding dimension, participation ratio on a twin axis, saturation marked.

    Parameters
    ----------
    summary
        Output of :func:`aggregate_dimensionality` (or ``summarize``).  With other swept
        dimensions, one set of curves is drawn per combination of their values.
    ax
        Axes to draw into; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..plot import color, figure_and_axes, require

    units = require(summary, ("mi_mean", "mi_std", "saturation_dim"), "plot_dimensionality")
    has_pr = "participation_ratio_mean" in summary
    fig, ax = figure_and_axes(ax)
    twin = ax.twinx() if has_pr else None
    dims = summary["embedding_dim"].values
    others = [d for d in summary["mi_mean"].dims if d != "embedding_dim"]
    for index, values in enumerate(itertools.product(*(summary[d].values for d in others))):
        where = dict(zip(others, values))
        sub = summary.sel(where)
        suffix = "".join(f", {name}={value}" for name, value in where.items())
        colour = color(index)
        ax.errorbar(
            dims,
            sub["mi_mean"].values,
            yerr=sub["mi_std"].fillna(0.0).values,
            fmt="o-",
            capsize=3,
            color=colour,
            label=f"MI{suffix}",
        )
        if twin is not None:
            twin.errorbar(
                dims,
                sub["participation_ratio_mean"].values,
                yerr=sub["participation_ratio_std"].fillna(0.0).values,
                fmt="s--",
                capsize=3,
                color=colour,
                alpha=0.6,
                markerfacecolor="none",
                label=f"participation ratio{suffix}",
            )
        for level, style in zip(sub["strictness"].values, itertools.cycle(_SATURATION_STYLES)):
            dim = float(sub["saturation_dim"].sel(strictness=level))
            if math.isfinite(dim):
                ax.axvline(
                    dim,
                    color=colour,
                    linestyle=style,
                    alpha=0.7,
                    label=f"saturation ({level:g} of peak): {dim:g}{suffix}",
                )
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, labels=[str(d) for d in dims])
    ax.set_xlabel("embedding dimension")
    ax.set_ylabel(f"MI ({units})")
    handles, labels = ax.get_legend_handles_labels()
    if twin is not None:
        twin.set_ylabel("participation ratio")
        twin_handles, twin_labels = twin.get_legend_handles_labels()
        handles, labels = handles + twin_handles, labels + twin_labels
    ax.legend(handles, labels, fontsize="small")
    return fig
