"""What the workflow's rules run: prepare a session, train a pack, aggregate, collect.

Each rule is a thin shell command (``neural-mi <step> ...``) that calls one function here.
Training goes through the same loop as ``nmi.run``
(:func:`neural_mi.engine.execution.run_tasks`) and aggregation ends in the same
:meth:`neural_mi.results.Results.from_tasks`, so the same data and seed give the same
numbers from either front door.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, IncompleteResultsError
from .markers import write_marker
from .plan import (
    MARKER_SUFFIX,
    PLAN_FILE,
    AnalysisPlan,
    pack_paths,
    read_plan,
    read_session,
    session_file,
)

__all__ = ["SUMMARY_COLUMNS", "aggregate", "collect", "prepare", "train_pack"]

logger = logging.getLogger(__name__)

#: Columns of the cross-session table ``<results_dir>/summary.csv`` (``partial``: some
#: tasks failed and were left out, see ``allow_partial``; ``p_value`` and ``is_significant``
#: of the headline number are empty without a permutation test).
SUMMARY_COLUMNS = (
    "session",
    "analysis",
    "mode",
    "mi",
    "mi_error",
    "is_reliable",
    "partial",
    "units",
    "p_value",
    "is_significant",
)


def prepare(out: str | Path) -> Path:
    """Read (only the selection of each data source) or generate a session's raw data,
    validate it, and write ``out`` (its ``data.zarr``) with the variables' time bases; how
    is in the ``session.json`` beside it."""
    from ..config.sessions import load_session
    from ..data import validate_data
    from ..prepared import write_prepared

    seed, session = read_session(session_file(out))
    data = load_session(session, seed)
    for variable in ("x", "y", "z"):
        if data[variable] is not None:
            validate_data(
                data[variable],
                data[f"processor_type_{variable}"],
                name=f"session {session.name!r} {variable}",
            )
    return write_prepared(out, session=session.name, **data)


def train_pack(
    marker: str | Path, data: str | Path, device: str = "auto", workers: int = 1
) -> list[Path]:
    """Train every task of one pack, writing each result to the pack's store folder.

    Tasks whose store already holds their result (an earlier, interrupted attempt) are
    not trained again.  ``marker`` is written last, listing the pack's task keys.

    Parameters
    ----------
    marker
        The job's completion marker, ``<analysis>/tasks/<pack>.done``: the pack is its
        name, the stores go to ``<analysis>/tasks/<pack>/`` and the plan is
        ``<analysis>/plan.json``.
    data
        The session's ``data.zarr``.
    device
        ``'auto'``, ``'cpu'``, ``'cuda'``...
    workers
        1: train the tasks in this process, group by group; more: in a pool of that many
        processes, which balances the load as ``nmi.run`` does.

    Returns
    -------
    list of Path
        The pack's stores.
    """
    from .. import store
    from ..engine.execution import run_tasks
    from ..engine.inputs import SessionData, TaskContext
    from ..modes import get_mode
    from ..params import check_int
    from ..prepared import load_prepared

    workers = check_int(workers, "workers", 1)
    plan_file, pack, out = pack_paths(marker)
    plan = read_plan(plan_file)
    if pack not in plan.packs:
        raise ConfigError(
            f"session {plan.session!r}, analysis {plan.analysis!r}: no train pack "
            f"{pack!r} in {str(plan_file)!r}."
        )
    specs = plan.packs[pack]
    removed = store.remove_leftovers(out)
    if removed:
        logger.info("Removed %d half-written store(s) an earlier attempt left in %s.", removed, out)
    inputs = load_prepared(data)
    if not get_mode(plan.mode).uses_y:
        inputs.update(y=None, processor_type_y=None, time_y=None)
    session_data, context = SessionData(**inputs), TaskContext(device=device)
    workers = min(workers, len(specs))
    logger.info(
        "Training %d task(s) of pack %s with %d worker process(es).", len(specs), pack, workers
    )
    for result in run_tasks(specs, session_data, context, n_workers=workers, store=out):
        logger.info(
            "Task %s: test MI %.4f nats (%.1f s)", result.spec.key, result.test_mi, result.wall_time
        )
    stores = {spec.key: store.store_path(out, spec.key) for spec in specs}
    write_marker(marker, pack, stores)
    return list(stores.values())


def aggregate(out_dir: str | Path) -> Path:
    """Collect the task stores of one session × analysis and summarise them.

    ``out_dir`` is the analysis' folder; its ``plan.json`` names the planned tasks.
    Writes, in ``out_dir``: ``tasks.nc``, ``summary.nc`` and ``results.json`` (so that
    :meth:`neural_mi.Results.load` opens the folder), ``summary.json`` (the headline),
    ``summary.csv`` (one row per aggregate point) and ``figure.png`` (the mode's figure).

    Raises
    ------
    IncompleteResultsError
        When a planned store is missing or fails verification: every such store is named,
        removed together with its pack's completion marker, and the next run of the
        workflow trains exactly those tasks again.  Nothing is summarised from fewer tasks
        than planned.
    """
    from ..plot import figure_and_axes
    from ..results import Results
    from ..store import results_to_dataset

    plan = read_plan(Path(out_dir) / PLAN_FILE)
    results = _read_planned_stores(plan, Path(out_dir) / "tasks")
    params = {
        "session": plan.session,
        "analysis": plan.analysis,
        **plan.settings(),
        "n_tasks": len(results),
    }
    analysis = Results.from_tasks(
        results_to_dataset(results, plan.mode),
        plan.mode,
        plan.options,
        output_units=plan.output_units,
        mi_source=plan.mi_source,
        params=params,
    )
    out_dir = analysis.save(out_dir)
    headline = {"session": plan.session, "analysis": plan.analysis, **analysis.headline}
    (out_dir / "summary.json").write_text(json.dumps(headline, indent=2))
    analysis.dataframe.to_csv(out_dir / "summary.csv", index=False)
    figure, axes = figure_and_axes(None)  # not pyplot's: a batch job has no display
    analysis.plot(ax=axes, show=False)
    figure.savefig(out_dir / "figure.png", dpi=120)
    return out_dir


def _read_planned_stores(plan: AnalysisPlan, tasks_dir: Path) -> list[Any]:
    """The result of every planned task, each store verified.

    A store is bad when it fails verification or its result cannot stand for its planned
    task (:func:`~neural_mi.store.verify.reuse_refusal`).

    Raises
    ------
    IncompleteResultsError
        Naming every missing or bad store; those stores are removed, with their packs'
        completion markers, so that the next run trains exactly those tasks again.
    """
    from .. import store

    results, bad = [], []
    for pack, specs in plan.packs.items():
        folder = tasks_dir / pack
        paths = [store.store_path(folder, spec.key) for spec in specs]
        checks, found = store.check_and_read(
            [p for p in paths if os.path.lexists(p)], expected_keys=[spec.key for spec in specs]
        )
        bad += [
            (pack, check.path or folder / f"{check.key}.zarr", check.reason)
            for check in checks
            if not check.ok
        ]
        by_key = {result.spec.key: result for result in found}
        for spec in specs:
            result = by_key.get(spec.key)
            if result is None:
                continue
            if refusal := store.reuse_refusal(result, spec):
                bad.append((pack, store.store_path(folder, spec.key), refusal))
            else:
                results.append(result)
    if bad:
        for pack, path, _ in bad:
            store.remove_store(path)
            Path(f"{tasks_dir / pack}{MARKER_SUFFIX}").unlink(missing_ok=True)
        raise IncompleteResultsError(
            f"session {plan.session!r}, analysis {plan.analysis!r}: nothing was summarised; "
            "the stores below were removed with their packs' completion markers, so that the "
            "next run of the workflow (neural-mi run) trains exactly those tasks again",
            [(path, reason) for _, path, reason in bad],
        )
    return results


def collect(
    results_files: Sequence[str | Path],
    out_csv: str | Path,
    out_png: str | Path,
    out_nc: str | Path | None = None,
    sessions: str | Path | None = None,
) -> None:
    """One table row and one figure point per session × analysis.

    Parameters
    ----------
    results_files
        ``results.json`` files written by :func:`aggregate`.
    out_csv
        Table with columns :data:`SUMMARY_COLUMNS`, ``best`` for sweeps (the best
        combination's swept values, which its row reports), then the sessions'
        metadata columns.
    out_png
        The overview figure (:func:`neural_mi.overview.overview_figure`).
    out_nc
        The same as a dataset over ``session`` x ``analysis`` (``mi``, ``mi_error``,
        ``is_reliable``), each metadata column a coordinate along ``session`` (so that
        ``ds.groupby("subject")`` works), ``mode`` and ``units`` along ``analysis``.
    sessions
        ``sessions.json`` (:meth:`~neural_mi.workflow.plan.WorkflowPlan.write_files`):
        each session's metadata.
    """
    import pandas as pd

    from ..overview import overview_figure

    metadata = json.loads(Path(sessions).read_text()) if sessions else {}
    rows = []
    for path in results_files:
        meta = json.loads(Path(path).read_text())
        params, headline = meta["params"], meta["headline"]
        row = {
            "session": params["session"],
            "analysis": params["analysis"],
            "mode": meta["mode"],
            "mi": headline["mi_estimate"],
            "mi_error": headline["mi_error"],
            "is_reliable": headline["is_reliable"],
            "partial": bool(headline.get("partial", False)),
            "units": headline["units"],
            "p_value": headline.get("p_value"),
            "is_significant": headline.get("is_significant"),
        }
        if headline.get("best"):
            row["best"] = json.dumps(headline["best"], sort_keys=True)
        rows.append({**row, **metadata.get(params["session"], {})})
    extra = [c for c in dict.fromkeys(k for row in rows for k in row) if c not in SUMMARY_COLUMNS]
    extra.sort(key=lambda column: column != "best")  # best first, then the metadata
    table = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *extra])
    table.to_csv(out_csv, index=False)
    if out_nc is not None:
        from ..store import save_dataset

        save_dataset(summary_dataset(table, metadata), out_nc)
    overview_figure(table).savefig(out_png, dpi=120)


def summary_dataset(table: Any, metadata: dict[str, dict[str, Any]]) -> Any:
    """The cross-session table as an xarray dataset over ``session`` x ``analysis``.

    Parameters
    ----------
    table
        The rows :func:`collect` writes (a pandas DataFrame).
    metadata
        ``{session: {column: value}}``.

    Returns
    -------
    xarray.Dataset
        ``mi``, ``mi_error`` (NaN where unknown, or where an analysis did not run on a
        session), ``is_reliable`` (1, 0, NaN where the mode has no such test), ``partial``
        (1 where failed tasks were left out, see ``allow_partial``),
        ``p_value`` and ``is_significant`` (1, 0; NaN without a permutation test);
        coordinates ``mode`` and ``units`` along ``analysis``, and one per metadata column
        along ``session`` (numbers, or text with ``""`` where a session has none).
    """
    import numpy as np
    import xarray as xr

    sessions = list(dict.fromkeys(table["session"]))
    analyses = list(dict.fromkeys(table["analysis"]))
    shape = (len(sessions), len(analyses))
    names = ("mi", "mi_error", "is_reliable", "partial", "p_value", "is_significant")
    values = {name: np.full(shape, np.nan) for name in names}
    mode, units = {}, {}
    for row in table.itertuples(index=False):
        i, j = sessions.index(row.session), analyses.index(row.analysis)
        for name in values:
            value = getattr(row, name)
            values[name][i, j] = np.nan if value is None or value != value else float(value)
        mode[row.analysis], units[row.analysis] = row.mode, row.units
    ds = xr.Dataset(
        {name: (("session", "analysis"), array) for name, array in values.items()},
        coords={
            "session": sessions,
            "analysis": analyses,
            "mode": ("analysis", [mode[a] for a in analyses]),
            "units": ("analysis", [units[a] for a in analyses]),
        },
    )
    columns = list(dict.fromkeys(k for s in sessions for k in metadata.get(s, {})))
    for column in columns:
        found = [metadata.get(s, {}).get(column) for s in sessions]
        numeric = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in found if v is not None
        )
        coord = (
            [np.nan if v is None else float(v) for v in found]
            if numeric
            else ["" if v is None else str(v) for v in found]
        )
        ds = ds.assign_coords({column: ("session", coord)})
    ds["is_reliable"].attrs["description"] = "1: reliable, 0: not, NaN: the mode has no test"
    ds["is_significant"].attrs["description"] = (
        "1: significant, 0: not, NaN: no permutation test (n_permutations: 0)"
    )
    ds.attrs["description"] = "headline MI of every session x analysis (results/summary.csv)"
    return ds
