"""``transfer``: transfer entropy, whether X's past predicts Y's future beyond Y's own past.

TE(X→Y) = I([X_past, Y_past]; Y_future) - I(Y_past; Y_future), with the past the last
``history`` processed samples up to time t and the future the sample ``horizon`` steps
after t.  Each direction has two roles, each its own task per chunk and repeat
(``x_to_y/full``, ``x_to_y/reduced``, and the same for ``y_to_x``); each TE is their
paired difference, bias-corrected with ``rigorous=True`` (see
:mod:`neural_mi.modes.difference`).  With both directions, the directionality index
``(TE_xy - TE_yx) / (|TE_xy| + |TE_yx|)`` is 1 for flow from X to Y only, -1 for the
reverse.

Past and future are a deterministic transform of the processed recording (sample ``t`` of
a task holds the processed windows ``t .. t + history - 1`` and ``t + history - 1 +
horizon``), so the train/test split leaves a gap of ``history - 1 + horizon`` samples more
than the windows' own: no raw time point is in both a training and a held-out sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InsufficientDataError, ParameterError
from ..params import PositiveInt
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

#: The directions, and the summary's dimension over them.
DIRECTIONS, DIRECTION_DIM = ("x_to_y", "y_to_x"), "direction"
_LABELS = {"x_to_y": "TE(X→Y)", "y_to_x": "TE(Y→X)"}


class TransferOptions(DifferenceOptions):
    """Arguments of mode ``transfer``."""

    history: PositiveInt = 1
    """Processed samples (windows) in the past of each variable."""
    horizon: PositiveInt = 1
    """How many processed samples after the last past sample the future is."""
    both_directions: bool = True
    """Also estimate TE(Y→X), and the directionality index."""


def role(direction: str, part: str, options: TransferOptions) -> str:
    """The role of one fit, e.g. ``"x_to_y/full/h3k1"`` (history and horizon make part of
    the task's identity: a stored task of another history is never read back)."""
    return f"{direction}/{part}/h{options.history}k{options.horizon}"


@register_mode
class Transfer(DifferenceMode[TransferOptions]):
    """Transfer entropy per direction as a paired difference of two fits, and the
    directionality index."""

    name = "transfer"
    Options = TransferOptions
    summary = (
        "TE(X→Y) = I([X_past,Y_past];Y_future) - I(Y_past;Y_future), per direction: two fits "
        "per repeat (per gamma chunk with rigorous=True) and the directionality index"
    )
    term_dim = DIRECTION_DIM

    def terms(self, options: TransferOptions) -> dict[str, tuple[str, str]]:
        directions = DIRECTIONS if options.both_directions else DIRECTIONS[:1]
        return {d: (role(d, "full", options), role(d, "reduced", options)) for d in directions}

    def role_parts(self, options: TransferOptions) -> dict[str, str]:
        return {
            role(d, part, options): f"{'xy' if d == 'x_to_y' else 'yx'}-{part}"
            for d in self.terms(options)
            for part in ("full", "reduced")
        }

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        from ..engine.split import window_gap

        direction, _, history, horizon = parse_role(spec.role)
        check_horizon(spec.params, direction, horizon)
        return _checked_count(n_samples, history, horizon), _gap(
            window_gap(spec.params), history, horizon
        )

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``([source past, target past], target future)`` for a ``full`` role, ``(target
        past, target future)`` for a ``reduced`` one (source X and target Y for
        ``x_to_y``)."""
        from .conditional import side_by_side

        direction, part, history, horizon = parse_role(spec.role)
        check_horizon(spec.params, direction, horizon)
        x, y, gap = data.aligned_pair(spec.params)
        source, target = (x, y) if direction == "x_to_y" else (y, x)
        n = _checked_count(len(target), history, horizon)
        source_past, target_past = past(source, history, n), past(target, history, n)
        future = target[history - 1 + horizon : history - 1 + horizon + n]
        inputs = side_by_side(source_past, target_past) if part == "full" else target_past
        return inputs, future, _gap(gap, history, horizon)

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: TransferOptions) -> xr.Dataset:
        summary = super().aggregate(tasks, mi_var, options)
        summary = summary.rename({"value": "te", "value_error": "te_error"})
        if options.both_directions:
            te = summary["te"]
            forward, backward = te.sel(direction="x_to_y"), te.sel(direction="y_to_x")
            scale = abs(forward) + abs(backward)
            index = ((forward - backward) / scale).where(scale > 0)
            index.attrs = {}  # a ratio: no units, never converted
            summary["directionality"] = index
        summary.attrs.update(history=options.history, horizon=options.horizon)
        return summary

    def headline(self, summary: xr.Dataset, options: TransferOptions) -> dict[str, Any]:
        from ..aggregate import first_combination, plain_value

        renamed = summary.rename({"te": "value", "te_error": "value_error"})
        head = first_term_headline(renamed, DIRECTION_DIM, "x_to_y")
        head["te_x_to_y"] = head["mi_estimate"]
        if options.both_directions:
            backward = first_term_headline(renamed, DIRECTION_DIM, "y_to_x")
            head["te_y_to_x"] = backward["mi_estimate"]
            head["te_y_to_x_error"] = backward["mi_error"]
            head["te_y_to_x_reliable"] = backward["is_reliable"]
            head["directionality"] = plain_value(first_combination(summary)["directionality"])
        return head

    def details(self, results: Results) -> dict[str, Any]:
        """``te_x_to_y`` and, with both directions, ``te_y_to_x`` and ``directionality``
        (first combination)."""
        keys = ("te_x_to_y", "te_y_to_x", "directionality")
        return {key: results.headline[key] for key in keys if key in results.headline}

    def describe(self, results: Results) -> list[str]:
        head, fmt, units = results.headline, results.format_value, results.units
        lines = [f"  TE(X→Y) = {fmt(head['te_x_to_y'])} ± {fmt(head['mi_error'])} {units}"]
        if "te_y_to_x" in head:
            lines.append(
                f"  TE(Y→X) = {fmt(head['te_y_to_x'])} ± {fmt(head['te_y_to_x_error'])} {units}; "
                f"directionality index {fmt(head['directionality'])}"
            )
        return lines

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        summary = results.summary_dataset.rename({"te": "value", "te_error": "value_error"})
        fig = plot_differences(summary, DIRECTION_DIM, _LABELS, ax=ax)
        attrs = results.summary_dataset.attrs
        fig.axes[0].set_title(
            f"transfer entropy (history {attrs.get('history')}, horizon {attrs.get('horizon')})"
        )
        return fig


def parse_role(text: str) -> tuple[str, str, int, int]:
    """Direction, part (``full`` or ``reduced``), history and horizon of a role written by
    :func:`role`."""
    try:
        direction, part, window = text.split("/")
        history, horizon = window.removeprefix("h").split("k")
        if direction not in DIRECTIONS or part not in ("full", "reduced"):
            raise ValueError(text)
        return direction, part, int(history), int(horizon)
    except ValueError:
        raise ParameterError(f"{text!r} is not a role of mode 'transfer'.") from None


def past(values: torch.Tensor, history: int, n: int) -> torch.Tensor:
    """Sample ``t`` of the result: samples ``t .. t + history - 1`` of ``values`` side by
    side along the features (``(n, channels, history * features)``)."""
    import torch

    return torch.cat([values[lag : lag + n] for lag in range(history)], dim=-1)


def check_horizon(params: dict[str, Any], direction: str, horizon: int) -> None:
    """Refuse a future window that overlaps the target's last past window in time: the
    reduced MI would then include the overlap and the difference mean nothing."""
    from ..data.splits import overlap_gap

    target = "y" if direction == "x_to_y" else "x"
    if params[f"processor_type_{target}"] is None:
        return
    p = params[f"processor_params_{target}"]
    overlap = overlap_gap(p["window_size"], p["step_size"] or p["window_size"])
    if horizon <= overlap:
        raise ParameterError(
            f"horizon={horizon} puts the future window of {target.upper()} over its last past "
            f"window (window_size {p['window_size']}, step_size {p['step_size']}: windows "
            f"{overlap} step(s) apart overlap); use a horizon of at least {overlap + 1} or "
            "non-overlapping windows."
        )


def _checked_count(n_samples: int, history: int, horizon: int) -> int:
    n = n_samples - (history - 1) - horizon
    if n < 2:
        raise InsufficientDataError(
            f"history={history} and horizon={horizon} leave {max(n, 0)} past/future samples "
            f"out of {n_samples}; use a shorter history or horizon, or more data."
        )
    return n


def _gap(window_gap: int, history: int, horizon: int) -> int:
    """Samples ``t`` and ``t'`` share a processed window when ``|t - t'|`` is at most the
    span of a sample (``history - 1 + horizon``) plus the windows' own gap."""
    return window_gap + history - 1 + horizon
