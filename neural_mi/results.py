"""The :class:`Results` object returned by ``nmi.run``: numbers, tables, figure, save/load.

Nothing here knows a particular mode: what differs between modes (details, summary lines,
the figure) comes from the analysis' mode (:mod:`neural_mi.modes`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .errors import ParameterError
from .modes import get_mode
from .params import OUTPUT_UNITS, UNIT_FACTORS
from .result_notes import (
    format_value,
    notes_lines,
    reliability_details,
    significance_details,
    significance_lines,
)
from .store import load_dataset, save_dataset

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Summary dimensions that are *not* one row each in :attr:`Results.dataframe` (the
#: ``permutation`` dim holds a permutation test's null distributions).
_INNER_DIMS = ("gamma", "strictness", "permutation")

#: Keys every headline has (see :func:`neural_mi.aggregate.summarize`).
_HEADLINE_KEYS = ("mode", "units", "mi_var", "n_tasks", "mi_estimate", "mi_error", "is_reliable")


class Results:
    """Outcome of one analysis.

    Attributes
    ----------
    mode
        The analysis mode.
    params
        The run's parameters (mode, seed, units, the resolved task parameters...).
    headline
        The headline numbers (JSON-friendly): ``mi_estimate``, ``mi_error``,
        ``is_reliable`` and the mode's own keys.
    mi_estimate
        The headline MI in the output units: the estimate (estimate mode), the
        bias-corrected MI (rigorous), the mean MI of the first combination (sweep), the MI
        at the peak lag (lag), the peak MI (dimensionality).
    units
        ``'bits'`` or ``'nats'``.
    dataframe
        One row per aggregate point (combination, lag or embedding size).
    details
        ``tasks`` (one row per task, MI in output units; ``raw_results``, NeuralMI 1.1's
        name, is the same table), ``dataset`` (the xarray task dataset, MI in nats),
        ``p_value``, ``is_significant`` (``None`` without a permutation test) and, with
        one, ``null_distribution`` (the headline number's null values, output units) and
        the mode's own entries (e.g. ``history`` for estimate,
        ``mi_corrected``/``gammas_used`` for rigorous, ``peak_lag`` for lag).
    summary_dataset
        The aggregated xarray dataset, in the output units.
    tasks
        The task dataset (MI in nats), failed tasks and a permutation test's null tasks
        included (``status``, ``permutation``: 0 for the observed tasks).
    partial
        Whether the summary leaves out planned tasks (failed trainings, with
        ``allow_partial``); ``headline['left_out']`` names them and why.  A partial result
        says so in :meth:`summary`, :attr:`dataframe` (column ``partial``) and the figure.
    """

    def __init__(
        self,
        mode: str,
        params: dict[str, Any],
        headline: dict[str, Any],
        summary_dataset: xr.Dataset,
        tasks: xr.Dataset,
    ) -> None:
        self.mode = mode
        self._mode = get_mode(mode)
        self.params = params
        self.headline = headline
        self.summary_dataset = summary_dataset
        self.tasks = tasks
        self.units = headline["units"]
        self.mi_estimate = headline["mi_estimate"]
        self.partial = bool(headline.get("partial", False))
        self.dataframe = _frame(summary_dataset)
        if self.partial:
            self.dataframe["partial"] = True
        table = _task_table(tasks, self.factor)
        self.details: dict[str, Any] = {"tasks": table, "raw_results": table, "dataset": tasks}
        self.details.update(reliability_details(headline, tasks))
        self.details.update(significance_details(headline, summary_dataset))
        self.details.update(self._mode.details(self))

    @classmethod
    def from_tasks(
        cls,
        tasks: xr.Dataset,
        mode: str,
        options: Any = None,
        *,
        output_units: str = "bits",
        mi_source: str = "test_mi",
        params: dict[str, Any] | None = None,
    ) -> Results:
        """Finish an analysis: summarise its task dataset for its mode and wrap it.

        ``nmi.run`` and the workflow's aggregate step both end here, so the same tasks give
        the same ``Results`` from either front door.

        Parameters
        ----------
        tasks
            Task dataset (:func:`neural_mi.store.results_to_dataset`; MI in nats).
        mode, options
            The analysis' mode and its arguments (e.g. the rigorous fit settings,
            ``allow_partial``).
        output_units, mi_source
            Units of the summary; which per-task MI is aggregated.
        params
            What to record in :attr:`params` (the run's parameters); the tasks' input
            transform is added as ``input_transform``.

        Raises
        ------
        FailedTasksError
            When tasks failed and ``options`` does not set ``allow_partial``.
        """
        from .aggregate import summarize

        summary, headline = summarize(
            tasks, mode, mi_var=mi_source, output_units=output_units, options=options
        )
        params = dict(params or {})
        params.setdefault("input_transform", tasks.attrs.get("input_transform", "none"))
        return cls(
            mode=mode,
            params=params,
            headline=headline,
            summary_dataset=summary,
            tasks=tasks,
        )

    @property
    def factor(self) -> float:
        """Multiply nats by this to get the output units."""
        return UNIT_FACTORS[self.units]

    @property
    def swept_names(self) -> list[str]:
        """Names of the swept parameters (coordinates along ``combo``) of the summary."""
        return [
            str(name)
            for name, coord in self.summary_dataset.coords.items()
            if coord.dims == ("combo",) and name != "combo"
        ]

    def history(self, task: int = 0, units: str | None = None) -> dict[str, np.ndarray]:
        """Per-epoch curves of one task (by position): MI curves in ``units`` (default: the
        output units; ``'nats'`` as trained), ``loss`` as trained."""
        factor = UNIT_FACTORS[units or self.units]
        row = self.tasks.isel(task=task)
        curves = {}
        for name in row.data_vars:
            if str(name).startswith("history_"):
                values = row[name].values
                key = str(name)[len("history_") :]
                values = values[~np.isnan(values)]
                curves[key] = values if key == "loss" else values * factor
        return curves

    @staticmethod
    def format_value(value: float | None) -> str:
        """A number with three decimals, or ``n/a``."""
        return format_value(value)

    def __repr__(self) -> str:
        return (
            f"<Results mode={self.mode!r} mi_estimate={self.format_value(self.mi_estimate)}"
            f" {self.units}{' (partial)' if self.partial else ''}>"
        )

    def summary(self) -> str:
        """A short human-readable summary of the analysis."""
        lines = [
            f"neural_mi {self.mode} analysis ({self.headline['n_tasks']} task(s), "
            f"MI from {self.headline['mi_var']}, units: {self.units})",
            *(f"  {note}" for note in self.notes(detailed=True)),
            f"  MI estimate: {self.format_value(self.mi_estimate)} {self.units}",
            *significance_lines(self.headline, self.summary_dataset, self.units),
            *self._mode.describe(self),
            self.dataframe.to_string(index=False),
        ]
        return "\n".join(lines)

    def notes(self, detailed: bool = False) -> list[str]:
        """What a reader must know before trusting the numbers: that the result is partial
        (with ``detailed``: each task left out and why) and that an estimate is at its
        estimator's ceiling (with the remedy)."""
        return notes_lines(self.headline, detailed)

    def plot(
        self,
        ax: Axes | None = None,
        show: bool = True,
        figsize: tuple[float, float] | None = None,
    ) -> Axes:
        """Draw the figure of this analysis' mode and return its Axes (as NeuralMI 1.1).

        estimate: training curves; rigorous: MI vs gamma with the fit and the extrapolated
        point; sweep: MI vs the first swept parameter; lag: MI vs lag (one curve per
        combination); dimensionality: MI and participation ratio vs embedding size.  A
        partial result or an estimate at the estimator's ceiling is said in the title
        (:meth:`notes`).  With a permutation test the null's chance level is drawn too
        (dashed: its ``1 - alpha`` quantile; per lag in lag mode; significant pairs
        starred in a pairwise matrix).

        Parameters
        ----------
        ax
            Axes to draw into; by default a new pyplot figure, which a notebook displays.
        show
            Call ``plt.show()`` when done; ``show=False`` returns the axes to draw more on
            (``ax.axvline(true_lag)``), then ``plt.show()``.
        figsize
            Size (inches) of the new figure; only without ``ax``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from .plot import pyplot_axes, show_pyplot

        if ax is not None and figsize is not None:
            raise ParameterError("figsize sizes a new figure; it cannot apply to a given ax.")
        ax = pyplot_axes(ax, figsize)
        self._mode.plot(self, ax=ax)
        if "null_upper" in self.summary_dataset.data_vars:
            self._mode.plot_null(self, ax)
        notes = self.notes()
        if notes:  # a partial result, an estimate at its estimator's ceiling
            title = ax.get_title()
            ax.set_title("\n".join([title, *notes] if title else notes), fontsize="small")
        show_pyplot(show)
        return ax

    def save(self, path: str | Path) -> Path:
        """Save to a directory (``tasks.nc``, ``summary.nc``, ``results.json``)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_dataset(self.tasks, path / "tasks.nc")
        save_dataset(self.summary_dataset, path / "summary.nc")
        meta = {"mode": self.mode, "params": self.params, "headline": self.headline}
        (path / "results.json").write_text(json.dumps(meta, indent=2, default=_json_default))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Load a directory written by :meth:`save`.

        Raises
        ------
        ParameterError
            When the folder is not a saved analysis (a file is missing, ``results.json``
            is not valid JSON or lacks a key, its mode is unknown, its units are not
            bits or nats); the message names the folder and the problem.
        """
        path = Path(path)
        meta = _read_meta(path)
        try:
            summary, tasks = load_dataset(path / "summary.nc"), load_dataset(path / "tasks.nc")
        except (OSError, ValueError) as exc:
            raise ParameterError(f"Cannot read the datasets of {str(path)!r}: {exc}") from exc
        return cls(
            mode=meta["mode"],
            params=meta["params"],
            headline=meta["headline"],
            summary_dataset=summary,
            tasks=tasks,
        )


def _read_meta(path: Path) -> dict[str, Any]:
    """``results.json`` of a saved analysis, checked."""
    where = f"{str(path)!r}"
    missing = [
        name for name in ("results.json", "summary.nc", "tasks.nc") if not (path / name).is_file()
    ]
    if missing:
        raise ParameterError(f"{where} is not a saved analysis: {', '.join(missing)} missing.")
    try:
        meta = json.loads((path / "results.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{where}: results.json is not readable JSON ({exc}).") from exc
    if not isinstance(meta, dict) or not all(
        isinstance(meta.get(key), kind)
        for key, kind in (("mode", str), ("params", dict), ("headline", dict))
    ):
        raise ParameterError(
            f"{where}: results.json must hold 'mode' (a string), 'params' "
            "and 'headline' (mappings)."
        )
    get_mode(meta["mode"])  # an unknown mode is refused, naming the known ones
    lacking = [key for key in _HEADLINE_KEYS if key not in meta["headline"]]
    if lacking:
        raise ParameterError(f"{where}: the headline in results.json lacks {lacking}.")
    if meta["headline"]["units"] not in OUTPUT_UNITS or meta["headline"]["mode"] != meta["mode"]:
        raise ParameterError(
            f"{where}: results.json has units "
            f"{meta['headline']['units']!r} and mode {meta['mode']!r}; the "
            "units must be bits or nats and the headline's mode the same."
        )
    return meta


def _frame(summary: xr.Dataset) -> pd.DataFrame:
    """One row per aggregate point: the summary variables without an inner dimension."""
    names = [
        name for name, var in summary.data_vars.items() if not set(var.dims) & set(_INNER_DIMS)
    ]
    if not names:
        names = list(summary.data_vars)
    return summary[names].to_dataframe().reset_index()


def _task_table(tasks: xr.Dataset, factor: float) -> pd.DataFrame:
    names = [n for n in tasks.data_vars if tasks[n].dims == ("task",)]
    table = tasks[names].to_dataframe().reset_index()
    for column in ("train_mi", "test_mi"):
        table[column] = table[column] * factor
    return table


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
