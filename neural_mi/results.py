"""The :class:`Results` object returned by ``nmi.run``: numbers, tables, figure, save/load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .params import UNIT_FACTORS
from .store import load_dataset, save_dataset
from .tasks import TaskResult

#: Summary dimensions that are *not* one row each in :attr:`Results.dataframe`.
_INNER_DIMS = ("gamma", "strictness")


class Results:
    """Outcome of one analysis.

    Attributes
    ----------
    mode
        The analysis mode.
    params
        The run's parameters (mode, seed, units, the resolved task parameters...).
    mi_estimate
        The headline MI in ``params['output_units']``: the estimate (estimate mode), the
        bias-corrected MI (rigorous), the mean MI of the first combination (sweep), the MI
        at the peak lag (lag), the peak MI (dimensionality).
    dataframe
        One row per aggregate point (combination, lag or embedding size).
    details
        Mode-specific numbers: ``train_mi``/``test_mi``/``best_epoch``/``history``
        (estimate); ``mi_corrected``, ``mi_error``, ``slope``, ``is_reliable``,
        ``gammas_used``, ``per_gamma`` (rigorous); ``peak_lag`` (lag);
        ``saturation_dim`` (dimensionality); always ``tasks`` (one row per task) and
        ``dataset`` (the xarray task dataset, MI in nats).
    summary_dataset
        The aggregated xarray dataset, in the output units.
    """

    def __init__(
        self,
        mode: str,
        params: dict[str, Any],
        headline: dict[str, Any],
        summary_dataset: xr.Dataset,
        tasks: xr.Dataset,
        results: Sequence[TaskResult] | None = None,
    ) -> None:
        self.mode = mode
        self.params = params
        self.headline = headline
        self.summary_dataset = summary_dataset
        self.tasks = tasks
        self.units = headline["units"]
        self.mi_estimate = headline["mi_estimate"]
        self.dataframe = _frame(summary_dataset)
        self.details = self._details()

    def _details(self) -> dict[str, Any]:
        factor = UNIT_FACTORS[self.units]
        task_table = _task_table(self.tasks, factor)
        details: dict[str, Any] = {"tasks": task_table, "dataset": self.tasks}
        if self.mode == "estimate":
            row = self.tasks.isel(task=0)
            details.update(
                train_mi=float(row["train_mi"]) * factor,
                test_mi=float(row["test_mi"]) * factor,
                best_epoch=int(row["best_epoch"]),
                n_train=int(row["n_train"]),
                n_test=int(row["n_test"]),
                history=_history(row, factor),
            )
        elif self.mode == "rigorous":
            first = self.summary_dataset.isel(combo=0)
            details.update(
                mi_corrected=self.headline["mi_estimate"],
                mi_error=self.headline["mi_error"],
                slope=float(first["slope"]),
                is_reliable=bool(first["is_reliable"]),
                gammas_used=[
                    int(float(g)) for g in str(first["gammas_used"].values).split(",") if g
                ],
                per_gamma=self.summary_dataset[["mi_mean", "mi_std", "n"]]
                .to_dataframe()
                .reset_index(),
            )
        elif self.mode == "lag":
            details["peak_lag"] = self.headline["peak_lag"]
        elif self.mode == "dimensionality":
            details["saturation_dim"] = self.headline["saturation_dim"]
        return details

    def __repr__(self) -> str:
        return (
            f"<Results mode={self.mode!r} mi_estimate={self._fmt(self.mi_estimate)} {self.units}>"
        )

    @staticmethod
    def _fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    def summary(self) -> str:
        """A short human-readable summary of the analysis."""
        lines = [
            f"neural_mi {self.mode} analysis ({self.headline['n_tasks']} task(s), "
            f"MI from {self.headline['mi_var']}, units: {self.units})",
            f"  MI estimate: {self._fmt(self.mi_estimate)} {self.units}",
        ]
        if self.mode == "rigorous":
            d = self.details
            lines.append(
                f"  corrected MI = {self._fmt(d['mi_corrected'])} ± "
                f"{self._fmt(d['mi_error'])} {self.units} "
                f"({self.summary_dataset.attrs.get('confidence_level')} CI); "
                f"reliable: {d['is_reliable']}; gammas used: {d['gammas_used']}"
            )
        elif self.mode == "estimate":
            d = self.details
            lines.append(
                f"  train MI {d['train_mi']:.3f}, test MI {d['test_mi']:.3f} "
                f"{self.units} at epoch {d['best_epoch']}"
            )
        elif self.mode == "lag":
            lines.append(f"  peak lag: {self.details['peak_lag']}")
        elif self.mode == "dimensionality":
            lines.append(f"  saturation dimension: {self.details['saturation_dim']}")
        lines.append(self.dataframe.to_string(index=False))
        return "\n".join(lines)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the figure of this mode and return the matplotlib Figure.

        estimate: training curves; rigorous: MI vs gamma with the fit and the extrapolated
        point; sweep: MI vs the first swept parameter; lag: MI vs lag; dimensionality: MI
        and participation ratio vs embedding size.
        """
        from . import plot

        if self.mode == "estimate":
            return plot.plot_training(
                self.details["history"], self.details["best_epoch"], self.units, ax=ax, **kwargs
            )
        if self.mode == "rigorous":
            return plot.plot_rigorous(self.summary_dataset, self.tasks, ax=ax, **kwargs)
        if self.mode == "sweep":
            names = [
                n
                for n in self.summary_dataset.coords
                if n not in ("combo",) and self.summary_dataset[n].dims == ("combo",)
            ]
            return plot.plot_sweep(
                self.summary_dataset, names[0] if names else "combo", ax=ax, **kwargs
            )
        if self.mode == "lag":
            return plot.plot_lag(self.summary_dataset, ax=ax, **kwargs)
        return plot.plot_dimensionality(self.summary_dataset, ax=ax, **kwargs)

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
        """Load a directory written by :meth:`save`."""
        path = Path(path)
        meta = json.loads((path / "results.json").read_text())
        return cls(
            mode=meta["mode"],
            params=meta["params"],
            headline=meta["headline"],
            summary_dataset=load_dataset(path / "summary.nc"),
            tasks=load_dataset(path / "tasks.nc"),
        )


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


def _history(row: xr.Dataset, factor: float) -> dict[str, np.ndarray]:
    history = {}
    for name in row.data_vars:
        if str(name).startswith("history_"):
            values = row[name].values
            values = values[~np.isnan(values)]
            key = str(name)[len("history_") :]
            history[key] = values * factor if key != "loss" else values
    return history


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
