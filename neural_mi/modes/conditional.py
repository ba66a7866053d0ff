"""``conditional``: I(X;Y|Z) = I([X,Z];Y) - I(Z;Y), the information X gives about Y beyond Z.

Z (``z_data``; ``z:`` in a workflow session) is a third variable on the time base of X and
Y, processed by its own processor (by default X's).  Each combination has two roles, each
its own task per chunk and repeat: ``xz_y`` (X and Z side by side against Y) and ``z_y``
(Z alone against Y); the answer is their paired difference, bias-corrected with
``rigorous=True`` (see :mod:`neural_mi.modes.difference`).  A value near zero says that Y
depends on X only through Z; differences of estimates can come out slightly negative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import register_mode
from .difference import (
    DifferenceMode,
    DifferenceOptions,
    first_term_headline,
    plot_differences,
)

if TYPE_CHECKING:
    import torch
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..engine.inputs import SessionData
    from ..results import Results
    from ..tasks import TaskSpec

#: Role of the full fit I([X,Z];Y) and of the reduced fit I(Z;Y).
FULL, REDUCED = "xz_y", "z_y"
#: The one term, and the name of its dimension in the summary.
TERM, TERM_DIM = "x_y_given_z", "term"


class ConditionalOptions(DifferenceOptions):
    """Arguments of mode ``conditional``."""


@register_mode
class Conditional(DifferenceMode[DifferenceOptions]):
    """Conditional MI I(X;Y|Z) as a paired difference of two fits, optionally bias-corrected."""

    name = "conditional"
    Options = ConditionalOptions
    summary = (
        "I(X;Y|Z) = I([X,Z];Y) - I(Z;Y): two fits per repeat (per gamma chunk with "
        "rigorous=True), their paired difference"
    )
    uses_z = True
    term_dim = TERM_DIM

    def terms(self, options: DifferenceOptions) -> dict[str, tuple[str, str]]:
        return {TERM: (FULL, REDUCED)}

    def role_parts(self, options: DifferenceOptions) -> dict[str, str]:
        return {FULL: FULL, REDUCED: REDUCED}

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        return n_samples, three_variable_gap(spec.params)

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``([X, Z], Y)`` for role ``xz_y``, ``(Z, Y)`` for ``z_y``: the three variables
        processed, aligned to the shortest, X and Z side by side (see :func:`side_by_side`)."""
        x, y, z = aligned_triple(spec.params, data)
        source = side_by_side(x, z) if spec.role == FULL else z
        return source, y, three_variable_gap(spec.params)

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: DifferenceOptions) -> xr.Dataset:
        summary = super().aggregate(tasks, mi_var, options)
        return summary.rename({"value": "cmi", "value_error": "cmi_error"})

    def headline(self, summary: xr.Dataset, options: DifferenceOptions) -> dict[str, Any]:
        renamed = summary.rename({"cmi": "value", "cmi_error": "value_error"})
        head = first_term_headline(renamed, TERM_DIM, TERM)
        return {**head, "cmi": head["mi_estimate"]}

    def details(self, results: Results) -> dict[str, Any]:
        """``cmi`` (I(X;Y|Z)), ``mi_full`` (I([X,Z];Y)), ``mi_reduced`` (I(Z;Y)) of the
        first combination, and for a rigorous analysis ``gammas_used``."""
        head = results.headline
        keys = ("cmi", "mi_full", "mi_reduced", "gammas_used")
        return {key: head[key] for key in keys if key in head}

    def describe(self, results: Results) -> list[str]:
        d, head, fmt = results.details, results.headline, results.format_value
        line = (
            f"  I(X;Y|Z) = {fmt(d['cmi'])} ± {fmt(head['mi_error'])} {results.units} "
            f"(I([X,Z];Y) {fmt(d['mi_full'])} - I(Z;Y) {fmt(d['mi_reduced'])})"
        )
        if "gammas_used" in d:
            line += f"; reliable: {head['is_reliable']}; gammas used: {d['gammas_used']}"
        return [line]

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        summary = results.summary_dataset.rename({"cmi": "value", "cmi_error": "value_error"})
        fig = plot_differences(summary, TERM_DIM, {TERM: "I(X;Y|Z)"}, ax=ax)
        fig.axes[0].set_title("conditional MI: I([X,Z];Y) - I(Z;Y)")
        return fig


def three_variable_gap(params: dict[str, Any]) -> int:
    """The leakage gap of X, Y and Z's windows (the largest of the three)."""
    from ..data.splits import overlap_gap
    from ..engine.split import window_gap

    gap = window_gap(params)
    if params.get("processor_type_z") is not None:
        p = params["processor_params_z"]
        gap = max(gap, overlap_gap(p["window_size"], p["step_size"] or p["window_size"]))
    return gap


def aligned_triple(
    params: dict[str, Any], data: SessionData
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X, Y and Z processed with a task's parameters and cut to the shortest (windows of
    all three start at time 0; counts that differ by more than windowing edges are refused,
    as for X and Y)."""
    from ..errors import DataShapeError
    from ..params import MIN_ALIGN_RATIO

    if data.z is None:
        raise DataShapeError("This analysis needs z_data (a third variable), which is missing.")
    x, y, _ = data.aligned_pair(params)
    z = data.processed("z", params["processor_params_z"])
    n = min(len(x), len(z))
    if n < MIN_ALIGN_RATIO * max(len(x), len(z)):
        raise DataShapeError(
            f"X and Y give {len(x)} samples, Z gives {len(z)}: cannot be aligned; check Z's "
            "window/step sizes (and, for spike data, n_seconds and the time units) so that "
            "the three variables cover the same recording."
        )
    return x[:n], y[:n], z[:n]


def side_by_side(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Two processed variables as one: ``(n, channels, features)`` tensors joined along
    the channels when their features match, else each flattened to one channel and
    joined along the features."""
    import torch

    if a.shape[2:] == b.shape[2:]:
        return torch.cat([a, b], dim=1)
    return torch.cat([a.flatten(1), b.flatten(1)], dim=1).unsqueeze(1)
