"""The ``neural-mi`` command: run the workflow, inspect plans and results, and the rule steps.

User commands:

- ``neural-mi run CONFIG [--cores N] [--no-preload] [snakemake args...]``: run the
  Snakemake workflow on CONFIG with ``profiles/local`` (its steps forked from a preload
  server, :mod:`neural_mi.preload`), then print the cross-session table;
- ``neural-mi plan CONFIG``: tasks and train jobs per session × analysis (no torch);
- ``neural-mi show RESULTS_DIR``: print ``RESULTS_DIR/summary.csv``.

Rule steps (what the workflow's thin rules call): ``prepare``, ``train-tasks``,
``aggregate``, ``collect``.

Test hook: when the environment variable ``NEURAL_MI_FAIL_ONCE`` names a file that does not
exist, ``train-tasks`` creates that file and fails (exit status 1) before training; once
the file exists, ``train-tasks`` runs normally.  The workflow tests use it to check that
a failed train job is resubmitted (``tests/test_slurm_workflow.py``).  It has no other use.

``run`` is carried out by :mod:`neural_mi.launch` (workflow, profile, preload server, run
ownership); this module only parses its arguments.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, NeuralMIError, TrainingError
from .preload import run_step

logger = logging.getLogger(__name__)

#: Test hook of ``train-tasks`` (see the module docstring): names a marker file.
FAIL_ONCE_ENV = "NEURAL_MI_FAIL_ONCE"

#: Columns of the cross-session table ``<results_dir>/summary.csv``.
SUMMARY_COLUMNS = ("session", "analysis", "mode", "mi", "mi_error", "is_reliable", "units")


# --------------------------------------------------------------------------------------
# User commands
# --------------------------------------------------------------------------------------


def describe_plan(config: str | Path) -> str:
    """Tasks and train jobs per session × analysis, and totals (torch-free)."""
    import pandas as pd

    from .config import load_config, pack_tasks, plan_config

    cfg = load_config(config)
    rows = []
    for (session, analysis), specs in plan_config(cfg).items():
        rows.append(
            (
                session,
                analysis,
                cfg.analysis(analysis).mode,
                len({spec.combo for spec in specs}),
                len(specs),
                len(pack_tasks(specs, cfg.tasks_per_job)),
            )
        )
    rows.append(("total", "", "", "", sum(r[4] for r in rows), sum(r[5] for r in rows)))
    table = pd.DataFrame(
        rows, columns=["session", "analysis", "mode", "combinations", "tasks", "train_jobs"]
    )
    return table.to_string(index=False)


def format_summary(path: str | Path) -> str:
    """The cross-session table at ``path`` (``summary.csv``) as aligned text."""
    import pandas as pd

    return pd.read_csv(path).to_string(index=False)


# --------------------------------------------------------------------------------------
# Rule steps
# --------------------------------------------------------------------------------------


def prepare_session(config: str | Path, session: str, out: str | Path) -> Path:
    """Read or generate a session's raw data, validate it, write ``data.zarr``."""
    from .config import load_config, load_session_arrays
    from .data import validate_data
    from .prepared import write_prepared

    cfg = load_config(config)
    s = cfg.session(session)
    x, y = load_session_arrays(s, cfg)
    validate_data(x, s.x.type, name=f"session {session!r} x")
    if y is not None:
        validate_data(y, s.y.type, name=f"session {session!r} y")
    return write_prepared(out, x, y, s.x.type, None if s.y is None else s.y.type, session=session)


def fail_once_hook() -> None:
    """Test hook of ``train-tasks``: fail once while ``NEURAL_MI_FAIL_ONCE`` is set.

    When the environment variable :data:`FAIL_ONCE_ENV` names a file that does not exist,
    the file is created (atomically: of several concurrent calls exactly one creates it)
    and :class:`~neural_mi.errors.TrainingError` is raised; ``neural-mi train-tasks`` then
    exits with status 1.  Otherwise nothing happens.  Used only by the tests, to make one
    train job fail once and check that it is resubmitted.

    Raises
    ------
    TrainingError
        This call created the marker file.
    """
    marker = os.environ.get(FAIL_ONCE_ENV)
    if not marker:
        return
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return
    raise TrainingError(
        f"test hook {FAIL_ONCE_ENV}: created {marker!r} and failed this "
        "attempt on purpose; the next attempt trains."
    )


def train_pack(
    config: str | Path,
    session: str,
    analysis: str,
    pack: str,
    data: str | Path,
    out: str | Path,
    digest: str | None = None,
    device: str = "auto",
    workers: int = 1,
) -> list[Path]:
    """Train every task of one pack and write each result to ``out/<key>.zarr``.

    Parameters
    ----------
    config
        Workflow config file; the pack's tasks are planned again from it.
    session, analysis, pack
        Which tasks.
    data
        The session's ``data.zarr``.
    out
        Folder of the pack's task stores.
    digest
        :func:`neural_mi.config.specs_digest` of the tasks the workflow planned; a
        different plan (the config file changed, or settings given outside it) is refused.
    device
        ``'auto'``, ``'cpu'``, ``'cuda'``...
    workers
        1: train the tasks in this process, group by group; more: in a pool of that many
        processes (:func:`neural_mi.pool.train_in_pool`), which balances the load as
        ``nmi.run`` does.  Either way a task's store is written as soon as the group holding
        it is done.

    Returns
    -------
    list of Path
        The written stores.
    """
    from . import store
    from .config import load_config, pack_tasks, plan_analysis, specs_digest
    from .execute import SessionData, TaskContext, run_tasks
    from .pool import single_thread, train_in_pool
    from .prepared import load_prepared

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}.")
    cfg = load_config(config)
    packs = pack_tasks(plan_analysis(cfg, session, analysis), cfg.tasks_per_job)
    if pack not in packs:
        raise ConfigError(
            f"session {session!r}, analysis {analysis!r}: no train pack {pack!r} "
            f"in the plan of {str(config)!r}."
        )
    specs = packs[pack]
    if digest is not None and specs_digest(specs) != digest:
        raise ConfigError(
            f"The tasks of pack {pack!r} planned from {str(config)!r} differ from those the "
            "workflow planned (digest mismatch): the config file changed during the run, or "
            "settings were given outside it (snakemake --config). Rerun the workflow."
        )
    inputs = load_prepared(data)
    if cfg.analysis(analysis).mode == "dimensionality":
        inputs.update(y=None, processor_type_y=None)
    session_data, context = SessionData(**inputs), TaskContext(device=device)
    workers = min(workers, len(specs))
    logger.info(
        "Training %d task(s) of pack %s with %d worker process(es).", len(specs), pack, workers
    )
    paths = []
    with single_thread():
        results = (
            run_tasks(specs, session_data, context)
            if workers == 1
            else train_in_pool(specs, session_data, context, workers)
        )
        for result in results:
            paths.append(store.write_task(result, out))
            logger.info(
                "Task %s: test MI %.4f nats (%.1f s)",
                result.spec.key,
                result.test_mi,
                result.wall_time,
            )
    return paths


def aggregate_analysis(
    pack_dirs: Sequence[str | Path],
    session: str,
    analysis: str,
    mode: str,
    out_dir: str | Path,
    output_units: str = "bits",
    mi_source: str = "test_mi",
    **fit: Any,
) -> Path:
    """Collect the task stores of one session × analysis and summarise them.

    Writes, in ``out_dir``: ``tasks.nc``, ``summary.nc`` and ``results.json`` (so that
    :meth:`neural_mi.Results.load` opens the folder), ``summary.json`` (the headline
    numbers: MI, its error and ``is_reliable`` for rigorous analyses, peak lag,
    saturation dimension...), ``summary.csv`` (one row per aggregate point) and
    ``figure.png`` (the mode's figure).

    Parameters
    ----------
    pack_dirs
        Train pack folders; every complete ``*.zarr`` store in them is read.
    session, analysis, mode
        What was run.
    out_dir
        Output folder.
    output_units, mi_source, **fit
        As for :func:`neural_mi.aggregate.summarize` (``mi_source`` is its ``mi_var``;
        ``fit``: rigorous fit settings).

    Returns
    -------
    Path
        ``out_dir``.
    """
    from . import store
    from .aggregate import summarize
    from .results import Results

    # Incomplete stores (a write cut short) are skipped with a warning naming them.
    tasks = store.read_results(
        [path for directory in pack_dirs for path in store.task_store_paths(directory)]
    )
    summary, headline = summarize(tasks, mode, mi_var=mi_source, output_units=output_units, **fit)
    params = {
        "session": session,
        "analysis": analysis,
        "mode": mode,
        "output_units": output_units,
        "mi_source": mi_source,
        "fit": fit,
        "n_tasks": int(tasks.sizes["task"]),
    }
    results = Results(
        mode=mode, params=params, headline=headline, summary_dataset=summary, tasks=tasks
    )
    out_dir = results.save(out_dir)
    (out_dir / "summary.json").write_text(
        json.dumps(
            {"session": session, "analysis": analysis, **_headline_details(results)}, indent=2
        )
    )
    results.dataframe.to_csv(out_dir / "summary.csv", index=False)
    results.plot().savefig(out_dir / "figure.png", dpi=120)
    return out_dir


def _headline_details(results: Any) -> dict[str, Any]:
    """The headline plus, for rigorous analyses, the fit of the first combination."""
    summary = dict(results.headline)
    if results.mode == "rigorous":
        d = results.details
        summary.update(
            mi_corrected=d["mi_corrected"], slope=d["slope"], gammas_used=d["gammas_used"]
        )
    return summary


def collect_results(
    results_files: Sequence[str | Path], out_csv: str | Path, out_png: str | Path
) -> None:
    """One table row and one figure point per session × analysis.

    Parameters
    ----------
    results_files
        ``results.json`` files written by :func:`aggregate_analysis`.
    out_csv
        Table with columns :data:`SUMMARY_COLUMNS`.
    out_png
        Headline MI (with its error bar where there is one) per session × analysis.
    """
    import pandas as pd

    rows = []
    for path in results_files:
        meta = json.loads(Path(path).read_text())
        params, headline = meta["params"], meta["headline"]
        rows.append(
            {
                "session": params["session"],
                "analysis": params["analysis"],
                "mode": meta["mode"],
                "mi": headline["mi_estimate"],
                "mi_error": headline["mi_error"],
                "is_reliable": headline["is_reliable"],
                "units": headline["units"],
            }
        )
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    table.to_csv(out_csv, index=False)
    overview_figure(table).savefig(out_png, dpi=120)


def overview_figure(table: Any) -> Any:
    """Headline MI per session, one panel per analysis (error bars where known).

    Parameters
    ----------
    table
        ``pandas.DataFrame`` with columns :data:`SUMMARY_COLUMNS`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    analyses = list(dict.fromkeys(table["analysis"]))
    n_sessions = table["session"].nunique()
    fig = Figure(
        figsize=(6.4, 0.6 + 0.3 * n_sessions * len(analyses) + 0.8 * len(analyses)),
        layout="constrained",
    )
    axes = fig.subplots(len(analyses), 1, squeeze=False)[:, 0]
    for ax, analysis in zip(axes, analyses):
        rows = table[table["analysis"] == analysis]
        mi = rows["mi"].astype(float).to_numpy()
        error = rows["mi_error"].astype(float).fillna(0.0).to_numpy()
        ax.errorbar(mi, range(len(rows)), xerr=error, fmt="o", capsize=3)
        ax.set_yticks(range(len(rows)), rows["session"].tolist())
        ax.invert_yaxis()
        ax.set_title(f"{analysis} ({rows['mode'].iloc[0]})", loc="left", fontsize="medium")
        ax.set_xlabel(f"MI ({rows['units'].iloc[0]})")
    return fig


# --------------------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``neural-mi`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="neural-mi",
        allow_abbrev=False,
        description="Bias-corrected mutual-information estimation: "
        "run the Snakemake workflow, inspect plans and results.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, allow_abbrev=False)

    run = command(
        "run",
        "Run the workflow on CONFIG (profiles/local), then print the "
        "cross-session table; further arguments go to snakemake.",
    )
    run.add_argument("config", help="workflow config YAML")
    run.add_argument("--cores", default="all", help="cores for snakemake (default: all)")
    run.add_argument(
        "--no-preload",
        dest="preload",
        action="store_false",
        help="start every rule step in a fresh interpreter instead of forking it "
        "from a preload server",
    )

    plan = command("plan", "Print the tasks and train jobs of every session x analysis.")
    plan.add_argument("config", help="workflow config YAML")

    show = command("show", "Print RESULTS_DIR/summary.csv as a table.")
    show.add_argument("results_dir", help="the workflow's results_dir")

    prepare = command("prepare", "Workflow step: write a session's raw data to data.zarr.")
    prepare.add_argument("--config", required=True, help="workflow config YAML")
    prepare.add_argument("--session", required=True)
    prepare.add_argument("--out", required=True, help="data.zarr to write")

    train = command("train-tasks", "Workflow step: train the tasks of one pack.")
    train.add_argument("--config", required=True, help="workflow config YAML")
    train.add_argument("--session", required=True)
    train.add_argument("--analysis", required=True)
    train.add_argument("--pack", required=True, help="pack id (a task key, or pNNN)")
    train.add_argument("--data", required=True, help="the session's data.zarr")
    train.add_argument("--out", required=True, help="folder for the task stores")
    train.add_argument("--digest", help="expected digest of the pack's tasks")
    train.add_argument("--device", default="auto", help="torch device (default: auto)")
    train.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes training the pack's tasks (default: 1)",
    )

    aggregate = command(
        "aggregate", "Workflow step: summarise the task stores of one session x analysis."
    )
    aggregate.add_argument("pack_dirs", nargs="+", help="train pack folders")
    aggregate.add_argument("--session", required=True)
    aggregate.add_argument("--analysis", required=True)
    aggregate.add_argument("--mode", required=True)
    aggregate.add_argument("--out-dir", required=True)
    aggregate.add_argument("--output-units", default="bits")
    aggregate.add_argument("--mi-source", default="test_mi")
    aggregate.add_argument("--delta-threshold", type=float)
    aggregate.add_argument("--min-gamma-points", type=int)
    aggregate.add_argument("--confidence-level", type=float)

    collect = command(
        "collect", "Workflow step: one table and one figure over all sessions x analyses."
    )
    collect.add_argument("results_files", nargs="+", help="results.json of each analysis")
    collect.add_argument("--out-csv", required=True)
    collect.add_argument("--out-png", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``neural-mi``; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _dispatch(args, extra)
    except (NeuralMIError, FileNotFoundError) as exc:
        print(f"neural-mi {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, extra: Sequence[str]) -> int:
    if args.command == "run":
        from .launch import run_workflow

        status, table = run_workflow(args.config, args.cores, extra, preload=args.preload)
        if table is not None:
            print(format_summary(table))
        return status
    if args.command == "plan":
        print(describe_plan(args.config))
    elif args.command == "show":
        print(format_summary(Path(args.results_dir) / "summary.csv"))
    elif args.command == "prepare":
        prepare_session(args.config, args.session, args.out)
    elif args.command == "train-tasks":
        fail_once_hook()
        train_pack(
            args.config,
            args.session,
            args.analysis,
            args.pack,
            args.data,
            args.out,
            digest=args.digest,
            device=args.device,
            workers=args.workers,
        )
    elif args.command == "aggregate":
        fit = {
            name: getattr(args, name)
            for name in ("delta_threshold", "min_gamma_points", "confidence_level")
            if getattr(args, name) is not None
        }
        aggregate_analysis(
            args.pack_dirs,
            args.session,
            args.analysis,
            args.mode,
            args.out_dir,
            output_units=args.output_units,
            mi_source=args.mi_source,
            **fit,
        )
    else:
        collect_results(args.results_files, args.out_csv, args.out_png)
    return 0


def console_main() -> int:
    """Entry point of the ``neural-mi`` console script: :func:`main`, then a quick exit.

    A rule step (``prepare``, ``train-tasks``, ``aggregate``, ``collect``) started by
    ``neural-mi run`` is handed to its preload server (:func:`neural_mi.preload.run_step`),
    which runs it in a process that has its imports already.

    The process ends right after, and the interpreter's final garbage collection walks
    every object of every imported module: 0.4 s with torch imported, paid by each
    workflow step.  Freezing them first (:func:`gc.freeze`) leaves that collection nothing
    to walk.  Nothing is lost: files are closed and logs flushed by then.
    """
    status = run_step(sys.argv[1:])
    if status is not None:
        return status
    status = main()
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(console_main())
