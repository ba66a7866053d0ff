"""The MI matrix of the pairwise modes (:mod:`neural_mi.modes.pairwise`): the summary of
the pair tasks, its headline (the largest pair MI) and its figure."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataShapeError

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def aggregate_pairs(
    ds: xr.Dataset,
    mi_var: str,
    roles: dict[str, tuple[str, str]],
    labels: tuple[list[str], list[str]],
    dims: tuple[str, str],
    *,
    symmetric: bool,
    mode: str = "pairwise",
) -> xr.Dataset:
    """The MI matrix of a pairwise analysis: mean, std and count over repeats per pair.

    Parameters
    ----------
    ds
        Task dataset with coordinates ``combo`` and ``role`` (MI in nats).
    mi_var
        Variable holding each task's MI.
    roles
        ``{role: (row label, column label)}`` of the planned pairs.
    labels
        Row and column labels, in matrix order.
    dims
        Names of the row and column dimensions.
    symmetric
        Fill both ``(a, b)`` and ``(b, a)`` (pairs within one variable).
    mode
        Recorded in the attributes.

    Returns
    -------
    xarray.Dataset
        Dims ``combo`` and ``dims``: ``mi_mean``, ``mi_std`` (nats; NaN where no pair was
        planned, e.g. the diagonal) and ``n``.

    Raises
    ------
    DataShapeError
        When a task's role is not a planned pair (the options differ from the plan's).
    """
    import pandas as pd
    import xarray as xr

    from ..aggregate import mi_variable, nats, str_dims, with_combo_coords

    mi = mi_variable(ds, mi_var, ("combo", "role"))
    table = pd.DataFrame({"combo": ds["combo"].values, "role": ds["role"].values})
    table["mi"] = mi.values
    unknown = sorted(set(table["role"]) - set(roles))
    if unknown:
        raise DataShapeError(
            f"Task role(s) {unknown[:3]} are not pairs of this analysis' channels; aggregate "
            "with the options the tasks were planned with."
        )
    stats = table.groupby(["combo", "role"])["mi"].agg(["mean", "std", "count"])
    combos = sorted(table["combo"].unique().tolist())
    rows, columns = labels
    shape = (len(combos), len(rows), len(columns))
    mean, std, count = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape, np.int64)
    for (combo, role), m, s, n in zip(stats.index, stats["mean"], stats["std"], stats["count"]):
        a, b = roles[role]
        cells = [(rows.index(a), columns.index(b))]
        if symmetric:
            cells.append((rows.index(b), columns.index(a)))
        for i, j in cells:
            c = combos.index(combo)
            mean[c, i, j], std[c, i, j], count[c, i, j] = m, s, n
    matrix_dims = ("combo", *dims)
    summary = xr.Dataset(
        {
            "mi_mean": nats(xr.DataArray(mean, dims=matrix_dims)),
            "mi_std": nats(xr.DataArray(std, dims=matrix_dims)),
            "n": xr.DataArray(count, dims=matrix_dims),
        },
        coords={"combo": np.array(combos, dtype=str), dims[0]: rows, dims[1]: columns},
    )
    summary = with_combo_coords(summary, ds)
    summary.attrs = {"mode": mode, "units": "nats", "mi_var": mi_var, "symmetric": int(symmetric)}
    return str_dims(summary)


def pairs_headline(
    summary: xr.Dataset, dims: tuple[str, str], *, symmetric: bool
) -> dict[str, Any]:
    """Headline of an MI matrix (first combination): ``mi_estimate`` is the largest pair
    MI, ``mi_error`` its standard error over repeats (None for one repeat); ``max_pair``
    names it; ``mean_pair_mi`` is the mean over the pairs (each once), ``n_pairs`` their
    number."""
    from ..aggregate import first_combination, plain_value

    first = first_combination(summary, keep=dims)
    mean = first["mi_mean"].transpose(*dims).values
    planned = first["n"].transpose(*dims).values > 0
    if symmetric:
        planned &= np.triu(np.ones_like(planned, dtype=bool), k=1)
    values = np.where(planned, mean, np.nan)
    if not np.isfinite(values).any():
        return {"mi_estimate": None, "max_pair": None, "mean_pair_mi": None, "n_pairs": 0}
    i, j = np.unravel_index(np.nanargmax(values), values.shape)
    cell = first.isel({dims[0]: i, dims[1]: j})
    n = int(cell["n"])
    error = float(cell["mi_std"]) / math.sqrt(n) if n > 1 else math.nan
    return {
        "mi_estimate": plain_value(cell["mi_mean"]),
        "mi_error": plain_value(error),
        "max_pair": [str(cell[dims[0]].item()), str(cell[dims[1]].item())],
        "mean_pair_mi": plain_value(float(np.nanmean(values))),
        "n_pairs": int(planned.sum()),
    }


def plot_matrix(summary: xr.Dataset, dims: tuple[str, str], *, ax: Axes | None = None) -> Figure:
    """Heatmap of the mean MI of each pair (first combination), labelled rows and columns;
    cells without a pair are blank, values are written in the cells of matrices up to
    12 × 12.

    Parameters
    ----------
    summary
        Output of :func:`aggregate_pairs` (or ``summarize``), in output units.
    dims
        Row and column dimensions.
    ax
        Axes to draw into; a new figure otherwise.
    """
    from ..aggregate import first_combination
    from ..plot import figure_and_axes, require

    units = require(summary, ("mi_mean", "n"), "plot_matrix")
    first = first_combination(summary, keep=dims)
    values = first["mi_mean"].transpose(*dims).values
    fig, ax = figure_and_axes(ax)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, label=f"MI ({units})")
    rows, columns = (list(map(str, first[d].values)) for d in dims)
    ax.set_xticks(range(len(columns)), labels=columns, rotation=90 if len(columns) > 8 else 0)
    ax.set_yticks(range(len(rows)), labels=rows)
    ax.set_xlabel(dims[1])
    ax.set_ylabel(dims[0])
    if max(values.shape) <= 12:
        finite = values[np.isfinite(values)]
        middle = float(finite.mean()) if finite.size else 0.0
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="black" if value > middle else "white",
                )
    ax.set_title("pairwise MI")
    return fig
