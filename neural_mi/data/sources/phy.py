"""Kilosort / phy output folders: spike trains of sorted units.

A folder holds ``spike_times.npy`` (spike times in samples), ``spike_clusters.npy`` (the
unit of each spike, after curation in phy), ``params.py`` (``sample_rate``) and unit labels
in ``cluster_<column>.tsv`` tables: ``cluster_group.tsv`` (curated ``group``: good, mua,
noise), ``cluster_KSLabel.tsv`` (Kilosort's ``KSLabel``), ``cluster_info.tsv`` (phy's
table of every column).  A column in its own ``cluster_<column>.tsv`` takes precedence
over the same column in ``cluster_info.tsv``.  ``units: {where: {group: good}}`` keeps the
units curated as good; a unit without a label matches no ``where``.

The units are the clusters that own at least one spike.  Spike times are
``samples / sample_rate`` seconds from the start of the recording; the span is
``(0, last spike)``, or ``time_range`` as given (the raw recording, whose length would
tell where the recording ends, is not read: it is often not where the sorting is).

``params.py`` is parsed (``ast.literal_eval`` of its assignments), never executed.  The
spike arrays are memory-mapped and scanned in blocks, so memory stays near the size of
the selected units' spikes.
"""

from __future__ import annotations

import ast
import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .base import Source, SourceConfigBase, SpikesInfo, SpikeTrains, UnitSelection
from .selection import check_spikes_found, recording_span, select_units, spikes_in_range

__all__ = ["PhySource", "PhySourceConfig", "read_params"]

#: Spikes scanned at once when looking for units in the memory-mapped arrays.
_SCAN_SPIKES = 2**22


class PhySourceConfig(SourceConfigBase):
    """Sorted units of a Kilosort/phy output folder."""

    format: Literal["phy"] = "phy"
    """Kilosort/phy folder (inferred for a path without a suffix)."""

    units: UnitSelection | None = None
    """Which units (clusters) to read, e.g. {where: {group: good}}. Default: all."""

    sampling_rate: float | None = Field(default=None, gt=0)
    """Samples per second that spike_times.npy counts in; needed only when params.py has
    no sample_rate (if both are given they must agree)."""


def read_params(path: Path) -> dict[str, Any]:
    """The literal assignments of a phy ``params.py`` (``name = <literal>``), unexecuted.

    Raises
    ------
    SyntaxError
        If the file is not Python.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    params: dict[str, Any] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # not a literal (a call, a name): phy's own settings, unused here
    return params


def _label(value: str) -> int | float | str | None:
    """A tsv cell as the value a ``where`` compares with (numbers as numbers)."""
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


class PhySource(Source):
    """Reads a :class:`PhySourceConfig`."""

    format = "phy"
    config_model = PhySourceConfig
    config: PhySourceConfig

    def describe(self) -> SpikesInfo:
        spike_times, spike_clusters, rate = self._open()
        ids, rows = self._units(spike_clusters)
        span = self._span(spike_times, rate)
        return SpikesInfo(unit_ids=tuple(ids[r] for r in rows), span=span)

    def load(self) -> SpikeTrains:
        spike_times, spike_clusters, rate = self._open()
        ids, rows = self._units(spike_clusters)
        span = self._span(spike_times, rate)
        wanted = np.asarray([ids[r] for r in rows], dtype=np.int64)
        clusters, samples = [], []
        for block in self._blocks(spike_clusters.shape[0]):
            owners = np.asarray(spike_clusters[block])
            keep = np.isin(owners, wanted)
            if keep.any():
                clusters.append(owners[keep])
                samples.append(np.asarray(spike_times[block])[keep])
        owners = np.concatenate(clusters) if clusters else np.zeros(0, dtype=np.int64)
        seconds = np.concatenate(samples).astype(np.float64) / rate if samples else np.zeros(0)
        order = np.argsort(owners, kind="stable")
        owners, seconds = owners[order], seconds[order]
        trains = []
        for unit in wanted:
            lo, hi = np.searchsorted(owners, [unit, unit + 1])
            trains.append(spikes_in_range(np.sort(seconds[lo:hi]), self.config.time_range))
        check_spikes_found(trains, self, self.config.time_range)
        return SpikeTrains(trains, tuple(int(u) for u in wanted), span)

    def _open(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Memory-mapped spike times and clusters (1-D, same length) and the rate."""
        folder = self.require_path(directory=True)
        arrays = []
        for name in ("spike_times.npy", "spike_clusters.npy"):
            path = folder / name
            if not path.exists():
                hint = ""
                if name == "spike_clusters.npy" and (folder / "spike_templates.npy").exists():
                    hint = (
                        " It has spike_templates.npy: opening the folder in phy once writes "
                        "spike_clusters.npy (the curated clusters)."
                    )
                raise self.error(f"has no {name}; is it a Kilosort/phy output folder?{hint}")
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise self.error(f"cannot read {name}: {exc}") from exc
            if array.ndim == 2 and array.shape[1] == 1:
                array = array[:, 0]
            if array.ndim != 1 or array.dtype.kind not in "iuf":
                raise self.error(
                    f"{name} must be a 1-D numeric array, got shape {array.shape} ({array.dtype})."
                )
            arrays.append(array)
        spike_times, spike_clusters = arrays
        if spike_times.shape != spike_clusters.shape:
            raise self.error(
                f"spike_times.npy has {spike_times.shape[0]} spikes but spike_clusters.npy "
                f"{spike_clusters.shape[0]}."
            )
        return spike_times, spike_clusters, self._rate(folder)

    def _rate(self, folder: Path) -> float:
        params_path = folder / "params.py"
        stated: Any = None
        if params_path.exists():
            try:
                stated = read_params(params_path).get("sample_rate")
            except SyntaxError as exc:
                raise self.error(f"params.py cannot be parsed: {exc}") from exc
            if stated is not None and not (
                isinstance(stated, (int, float)) and math.isfinite(stated) and stated > 0
            ):
                raise self.error(f"params.py gives sample_rate = {stated!r}, not a rate in Hz.")
        given = self.config.sampling_rate
        if stated is None and given is None:
            raise self.error(
                "no sampling rate: params.py is missing or has no sample_rate; give "
                "sampling_rate: <Hz> in the source config (the rate spike_times.npy counts "
                "samples at)."
            )
        if stated is not None and given is not None and not math.isclose(stated, given):
            raise self.error(
                f"sampling_rate {given:g} Hz disagrees with params.py's sample_rate "
                f"{stated:g} Hz; remove sampling_rate or correct it."
            )
        return float(given) if given is not None else float(stated)

    def _blocks(self, n_spikes: int) -> Iterator[slice]:
        for start in range(0, n_spikes, _SCAN_SPIKES):
            yield slice(start, min(start + _SCAN_SPIKES, n_spikes))

    def _units(self, spike_clusters: np.ndarray) -> tuple[list[int], list[int]]:
        """Every unit id (clusters with spikes, ascending) and the selected positions."""
        found: set[int] = set()
        for block in self._blocks(spike_clusters.shape[0]):
            found.update(np.unique(np.asarray(spike_clusters[block])).tolist())
        ids = sorted(int(i) for i in found)
        if not ids:
            raise self.error("spike_clusters.npy holds no spikes.")
        labels = self._labels()
        rows = select_units(
            ids,
            self.config.units,
            self,
            sorted(labels),
            lambda name: [labels[name].get(i) for i in ids],
        )
        return ids, rows

    def _labels(self) -> dict[str, dict[int, Any]]:
        """``{column: {cluster id: value}}`` from the folder's cluster_*.tsv tables."""
        tables = sorted(self.path.glob("cluster_*.tsv"), key=lambda p: p.name != "cluster_info.tsv")
        labels: dict[str, dict[int, Any]] = {}
        for table in tables:
            with table.open(newline="") as handle:
                rows = list(csv.reader(handle, delimiter="\t"))
            if not rows:
                continue
            header = rows[0]
            id_column = next((c for c in ("cluster_id", "id") if c in header), None)
            if id_column is None:
                raise self.error(f"{table.name} has no cluster_id column (header: {header}).")
            at = header.index(id_column)
            for column, name in enumerate(header):
                if column == at:
                    continue
                values = labels.setdefault(name, {})
                for row in rows[1:]:
                    if len(row) != len(header):
                        continue
                    try:
                        values[int(row[at])] = _label(row[column])
                    except ValueError as exc:
                        raise self.error(
                            f"{table.name}: cluster id {row[at]!r} is not an integer."
                        ) from exc
        return labels

    def _span(self, spike_times: np.ndarray, rate: float) -> tuple[float, float]:
        def extent() -> tuple[float, float]:
            last = max(
                (float(np.max(spike_times[b])) for b in self._blocks(spike_times.shape[0])),
                default=0.0,
            )
            if last <= 0:
                raise self.error("spike_times.npy holds no spike after sample 0.")
            return 0.0, last / rate

        return recording_span(None, self.config.time_range, extent, self)
