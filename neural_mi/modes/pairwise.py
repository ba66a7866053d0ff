"""``pairwise`` and ``pairwise_xy``: an MI matrix over pairs of channels or channel groups.

- ``pairwise``: every pair of X's channels (or of groups of them, e.g. brain areas given
  as ``{"CA1": [0, 1, 2], "PFC": [3, 4]}``), or an explicit list of pairs;
- ``pairwise_xy``: every channel (group) of X against every channel (group) of Y, or an
  explicit list.

Each pair × repeat is one task (``role`` ``"x[0,1]|x[3]"``: the channels of each side, so
that a stored task is only read back for the same channels); its data is the two channel
sets of the processed variables (:meth:`~torch.Tensor.index_select` on the channel axis).
The summary is the matrix of mean MI (and std, count) with labelled rows and columns, dims
``channel_a``/``channel_b`` (``group_a``/``group_b`` for groups; ``_x``/``_y`` in
``pairwise_xy``); its headline is the largest pair MI and which pair it is.

Channels must be named when planning (a count, a list, or groups): a workflow plans before
any data is read, and the pairs are the tasks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import field_validator

from ..errors import DataShapeError, ParameterError
from ..params import NonNegativeInt, PositiveInt
from . import register_mode
from .base import Mode, ModeOptions
from .pair_matrix import aggregate_pairs, pairs_headline, plot_matrix

if TYPE_CHECKING:
    import torch
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..engine.inputs import SessionData
    from ..plan import Combination
    from ..results import Results
    from ..tasks import TaskSpec

#: ``{label: channel indices}`` of one variable.
Groups = dict[str, tuple[int, ...]]

#: What a channel selection can be: a count, a list of channel indices, or named groups.
ChannelSelection = PositiveInt | list[NonNegativeInt] | dict[str, list[NonNegativeInt]]


def groups_of(selection: int | list[int] | dict[str, list[int]], what: str) -> Groups:
    """A channel selection as ``{label: channels}``: a count ``n`` is channels
    ``0 .. n-1`` and a list its channels, each its own group labelled by its index.

    Raises
    ------
    ParameterError
        For an empty selection or group, or a channel repeated within a group (or a list).
    """
    if isinstance(selection, int):
        return {str(c): (c,) for c in range(selection)}
    if isinstance(selection, list):
        if len(set(selection)) != len(selection):
            raise ParameterError(f"{what} lists a channel twice: {selection}.")
        if not selection:
            raise ParameterError(f"{what} must not be empty.")
        return {str(c): (c,) for c in selection}
    if not selection:
        raise ParameterError(f"{what} must not be empty.")
    groups = {}
    for label, channels in selection.items():
        if not label or not channels or len(set(channels)) != len(channels):
            raise ParameterError(
                f"{what}[{label!r}] must be a non-empty label with a non-empty list of "
                f"distinct channels, got {channels}."
            )
        groups[label] = tuple(channels)
    return groups


class PairwiseOptions(ModeOptions):
    """Arguments of mode ``pairwise``."""

    channels: ChannelSelection
    """X's channels: a count n (channels 0..n-1), a list of channel indices, or named groups
    {label: [channels]} (e.g. brain areas); each is one row/column of the matrix."""
    pairs: list[tuple[str, str]] | None = None
    """Explicit pairs of labels (a channel's label is its index, e.g. ["0", "3"]); default:
    every pair."""
    n_repeats: PositiveInt = 1
    """Independent trainings (own seeds and splits) per pair."""

    @field_validator("pairs")
    @classmethod
    def _not_empty(cls, pairs: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        if pairs is not None and not pairs:
            raise ValueError("must not be empty (leave it out for every pair)")
        return pairs


class PairwiseXYOptions(PairwiseOptions):
    """Arguments of mode ``pairwise_xy``."""

    channels_y: ChannelSelection
    """Y's channels, as ``channels`` for X; pairs are (X label, Y label)."""


@register_mode
class Pairwise(Mode):
    """MI of every pair of X's channels (or channel groups): a labelled matrix."""

    name = "pairwise"
    Options: ClassVar[type[PairwiseOptions]] = PairwiseOptions
    summary = "one task per pair of X's channels (or channel groups) x n_repeats; the MI matrix"
    uses_y = False
    null_breaks = (
        "the pairing of the two channel sets of each pair: the second set is moved in time "
        "against the first"
    )
    #: Variable of the second member of each pair.
    second = "x"

    # -- planning ----------------------------------------------------------------------

    def sides(self, options: PairwiseOptions) -> tuple[Groups, Groups]:
        """The groups of the matrix' rows and of its columns."""
        groups = groups_of(options.channels, "channels")
        return groups, groups

    def pairs(self, options: PairwiseOptions) -> list[tuple[int, int]]:
        """Indices (row group, column group) of the planned pairs, checked."""
        rows, columns = self.sides(options)
        row_labels, column_labels = list(rows), list(columns)
        if options.pairs is None:
            if self.second == "x":
                return list(itertools.combinations(range(len(rows)), 2))
            return list(itertools.product(range(len(rows)), range(len(columns))))
        planned, seen = [], set()
        for a, b in options.pairs:
            for label, labels, side in ((a, row_labels, "X"), (b, column_labels, self.second)):
                if label not in labels:
                    raise ParameterError(
                        f"pairs names {label!r}, which is not a label of {side.upper()}'s "
                        f"channels ({', '.join(labels)})."
                    )
            pair = (row_labels.index(a), column_labels.index(b))
            key = tuple(sorted(pair)) if self.second == "x" else pair
            if key in seen or (self.second == "x" and a == b):
                raise ParameterError(f"pairs holds ({a!r}, {b!r}) twice, or a label with itself.")
            seen.add(key)
            planned.append(pair)
        return planned

    def roles(self, options: PairwiseOptions) -> dict[str, tuple[str, str]]:
        """``{role: (row label, column label)}`` of every planned pair, in plan order."""
        rows, columns = self.sides(options)
        row_labels, column_labels = list(rows), list(columns)
        out = {}
        for i, j in self.pairs(options):
            a, b = rows[row_labels[i]], columns[column_labels[j]]
            if self.second == "x" and set(a) & set(b):
                raise ParameterError(
                    f"The groups {row_labels[i]!r} and {column_labels[j]!r} share channel(s) "
                    f"{sorted(set(a) & set(b))}; the MI of a channel with itself is unbounded."
                )
            out[pair_role(a, b, self.second)] = (row_labels[i], column_labels[j])
        return out

    def options(self, values: Any = None) -> ModeOptions:
        """Validated options; the channel selections and pairs are checked too."""
        options = super().options(values)
        assert isinstance(options, PairwiseOptions)
        self.roles(options)
        return options

    def tasks(self, combination: Combination, options: PairwiseOptions) -> list[TaskSpec]:
        rows, columns = self.sides(options)
        row_labels, column_labels = list(rows), list(columns)
        specs = []
        for i, j in self.pairs(options):
            role = pair_role(rows[row_labels[i]], columns[column_labels[j]], self.second)
            for r in range(options.n_repeats):
                suffix = f"x{i:03d}-{self.second}{j:03d}-r{r:02d}"
                specs.append(combination.task(suffix, repeat=r, role=role))
        return specs

    def null_variable(self, spec: TaskSpec) -> str | None:
        """The variable of the pair's second channel set (``x``, or ``y`` in
        ``pairwise_xy``)."""
        return parse_role(spec.role)[1][0]

    # -- the engine's hooks --------------------------------------------------------------

    def null_channels(self, spec: TaskSpec, data: SessionData) -> list[int] | None:
        """The pair's second channel set."""
        return list(parse_role(spec.role)[1][1])

    def data_key(self, spec: TaskSpec) -> tuple[Any, ...]:
        """The repeats of one pair share their data."""
        return (spec.combo, spec.role)

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        if n_channels is not None:
            for variable, channels in parse_role(spec.role):
                if variable == "x":
                    _check_channels(channels, n_channels, "X")
        return super().task_extent(spec, n_samples, n_channels)

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The channels of each side of the pair (X's, or Y's for the second side of
        ``pairwise_xy``), processed and aligned."""
        import torch

        p = spec.params
        if self.second == "x":
            x = data.processed("x", p["processor_params_x"])
            variables, gap = {"x": x}, data.window_gap(p)
        else:
            x, y, gap = data.aligned_pair(p)
            variables = {"x": x, "y": y}
        (first, a), (second, b) = parse_role(spec.role)
        sides = []
        for variable, channels in ((first, a), (second, b)):
            values = variables[variable]
            _check_channels(channels, values.shape[1], variable.upper())
            sides.append(values.index_select(1, torch.as_tensor(channels)))
        return sides[0], sides[1], gap

    # -- aggregation and reporting --------------------------------------------------------

    def dims(self, options: PairwiseOptions) -> tuple[str, str]:
        """Names of the matrix' dimensions."""
        suffixes = ("a", "b") if self.second == "x" else ("x", "y")
        selections = (options.channels, getattr(options, "channels_y", options.channels))
        return tuple(  # type: ignore[return-value]
            f"{'group' if isinstance(s, dict) else 'channel'}_{suffix}"
            for s, suffix in zip(selections, suffixes)
        )

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: PairwiseOptions) -> xr.Dataset:
        rows, columns = self.sides(options)
        return aggregate_pairs(
            tasks,
            mi_var,
            self.roles(options),
            (list(rows), list(columns)),
            self.dims(options),
            symmetric=self.second == "x",
            mode=self.name,
        )

    def test_statistics(
        self, summary: xr.Dataset, options: PairwiseOptions
    ) -> dict[str, xr.DataArray]:
        """The largest pair MI (the headline; its null is the null's largest pair) and the
        MI of each pair."""
        from ..aggregate import nats

        return {
            "mi_max": nats(summary["mi_mean"].max(self.dims(options))),
            "mi_mean": summary["mi_mean"],
        }

    def headline(self, summary: xr.Dataset, options: PairwiseOptions) -> dict[str, Any]:
        return pairs_headline(summary, self.dims(options), symmetric=self.second == "x")

    def details(self, results: Results) -> dict[str, Any]:
        """``matrix`` (mean MI, rows by columns, output units, first combination),
        ``max_pair`` and ``mean_pair_mi``."""
        from ..aggregate import first_combination

        first = first_combination(results.summary_dataset, keep=_matrix_dims(results))
        return {
            "matrix": first["mi_mean"].to_pandas(),
            "max_pair": results.headline["max_pair"],
            "mean_pair_mi": results.headline["mean_pair_mi"],
        }

    def describe(self, results: Results) -> list[str]:
        head, fmt = results.headline, results.format_value
        return [
            f"  largest pair MI: {fmt(head['mi_estimate'])} {results.units} for "
            f"{head['max_pair']}; mean over {head['n_pairs']} pairs: "
            f"{fmt(head['mean_pair_mi'])} {results.units}"
        ]

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        return plot_matrix(results.summary_dataset, _matrix_dims(results), ax=ax)

    def plot_null(self, results: Results, ax: Axes) -> None:
        """A star on each pair whose MI is significant (first combination)."""
        from ..aggregate import first_combination

        dims = _matrix_dims(results)
        summary = results.summary_dataset
        first = first_combination(summary["mi_mean_is_significant"], keep=dims)
        rows, columns = np.nonzero(first.transpose(*dims).values)
        ax.scatter(
            columns + 0.3,
            rows - 0.3,
            marker="*",
            color="red",
            s=30,
            label=f"p <= {summary.attrs.get('alpha', 0.05)}",
        )
        ax.legend(loc="upper right", fontsize="small")


@register_mode
class PairwiseXY(Pairwise):
    """MI of every channel (group) of X with every channel (group) of Y: a labelled matrix."""

    name = "pairwise_xy"
    Options = PairwiseXYOptions
    summary = (
        "one task per (X channel or group, Y channel or group) x n_repeats; the X-by-Y MI matrix"
    )
    uses_y = True
    second = "y"

    def sides(self, options: PairwiseOptions) -> tuple[Groups, Groups]:
        assert isinstance(options, PairwiseXYOptions)
        return groups_of(options.channels, "channels"), groups_of(options.channels_y, "channels_y")


def pair_role(a: Sequence[int], b: Sequence[int], second: str) -> str:
    """The role of a pair: ``"x[0,1]|y[3]"`` (the channels of each side)."""
    return f"x[{','.join(map(str, a))}]|{second}[{','.join(map(str, b))}]"


def parse_role(role: str) -> list[tuple[str, tuple[int, ...]]]:
    """``[(variable, channels), (variable, channels)]`` of a role of :func:`pair_role`."""
    try:
        sides = []
        for side in role.split("|"):
            variable, channels = side.removesuffix("]").split("[")
            if variable not in ("x", "y"):
                raise ValueError(variable)
            sides.append((variable, tuple(int(c) for c in channels.split(","))))
        if len(sides) != 2:
            raise ValueError(role)
        return sides
    except ValueError:
        raise ParameterError(f"{role!r} is not a role of a pairwise mode.") from None


def _check_channels(channels: Sequence[int], n_channels: int, variable: str) -> None:
    beyond = [c for c in channels if c >= n_channels]
    if beyond:
        raise DataShapeError(
            f"Channel(s) {beyond} of a pair are beyond {variable}'s {n_channels} channel(s) "
            f"(indices start at 0)."
        )


def _matrix_dims(results: Results) -> tuple[str, str]:
    dims = [str(d) for d in results.summary_dataset["mi_mean"].dims if d != "combo"]
    return dims[0], dims[1]
