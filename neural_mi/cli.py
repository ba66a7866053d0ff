"""The ``neural-mi`` command: run the workflow, inspect plans and results, and the rule steps.

User commands:

- ``neural-mi run CONFIG [--profile local|slurm|DIR] [--cores N] [--no-preload]
  [snakemake args...]``: run the Snakemake workflow on CONFIG with a profile (default
  ``local``: this machine, its steps forked from a preload server,
  :mod:`neural_mi.preload`; ``slurm``: submitted from a login node), then print the
  cross-session table;
- ``neural-mi plan CONFIG``: tasks and train jobs per session × analysis (no torch);
- ``neural-mi show RESULTS_DIR``: print ``RESULTS_DIR/summary.csv``;
- ``neural-mi verify RESULTS_DIR``: verify every task store of the results folder, print a
  report, exit with status 1 if any fails (:func:`neural_mi.store.verify_results`).

Rule steps (what the workflow's thin rules call; their bodies are in
:mod:`neural_mi.workflow.steps`): ``prepare``, ``train-tasks``, ``aggregate``, ``collect``.

``run`` is carried out by :mod:`neural_mi.launch` (workflow, profile, preload server, run
ownership); this module only parses its arguments.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import NeuralMIError
from .preload import run_step

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# User commands
# --------------------------------------------------------------------------------------


def describe_plan(config: str | Path) -> str:
    """Check everything a run would refuse (data included), then tasks and train jobs per
    session × analysis, and totals (torch-free)."""
    from .config.checks import check_config
    from .workflow.plan import workflow_plan

    return workflow_plan(check_config(config)).describe()


def format_summary(path: str | Path) -> str:
    """The cross-session table at ``path`` (``summary.csv``) as aligned text."""
    import pandas as pd

    return pd.read_csv(path).to_string(index=False)


def verify_results_dir(results_dir: str | Path) -> int:
    """Print the verification report of every task store under ``results_dir``.

    Returns
    -------
    int
        Exit status: 0 when every store verifies, 1 when one fails or none is found.
    """
    from . import store

    checks = store.verify_results(results_dir)
    print(store.describe_checks(checks))
    return 0 if checks and all(check.ok for check in checks) else 1


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
        "Run the workflow on CONFIG (on this machine, or with --profile slurm on a "
        "cluster), then print the cross-session table; further arguments go to snakemake.",
    )
    _add_run_arguments(run)

    plan = command("plan", "Print the tasks and train jobs of every session x analysis.")
    plan.add_argument("config", help="workflow config YAML")

    show = command("show", "Print RESULTS_DIR/summary.csv as a table.")
    show.add_argument("results_dir", help="the workflow's results_dir")

    verify = command(
        "verify",
        "Verify every task store under RESULTS_DIR; exit with status 1 if any is bad.",
    )
    verify.add_argument("results_dir", help="the workflow's results_dir")

    prepare = command(
        "prepare",
        "Workflow step: write a session's raw data to data.zarr "
        "(how to read or generate it: the session.json beside it).",
    )
    prepare.add_argument("--out", required=True, help="data.zarr to write")

    train = command("train-tasks", "Workflow step: train the tasks of one pack.")
    train.add_argument(
        "marker",
        help="the pack's completion marker, <results>/<session>/<analysis>/tasks/<pack>.done",
    )
    train.add_argument("--data", required=True, help="the session's data.zarr")
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
    aggregate.add_argument(
        "--out-dir", required=True, help="the analysis' folder (holding plan.json and tasks/)"
    )

    collect = command(
        "collect", "Workflow step: one table and one figure over all sessions x analyses."
    )
    collect.add_argument("results_files", nargs="+", help="results.json of each analysis")
    collect.add_argument("--out-csv", required=True)
    collect.add_argument("--out-png", required=True)
    return parser


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The arguments of ``neural-mi run`` (any others go to Snakemake)."""
    run.add_argument("config", help="workflow config YAML")
    run.add_argument(
        "--profile",
        default="local",
        help="Snakemake profile: local (default), slurm, or a folder holding a config.yaml",
    )
    run.add_argument(
        "--cores",
        default=None,
        help="cores for snakemake (default: all with a local profile, the profile's otherwise)",
    )
    run.add_argument(
        "--no-preload",
        dest="preload",
        action="store_false",
        help="start every rule step in a fresh interpreter instead of forking it "
        "from a preload server",
    )


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
    from .workflow import steps

    if args.command == "run":
        from .launch import run_workflow

        status, table = run_workflow(
            args.config, args.cores, extra, preload=args.preload, profile=args.profile
        )
        if table is not None:
            print(format_summary(table))
        return status
    if args.command == "plan":
        print(describe_plan(args.config))
    elif args.command == "show":
        print(format_summary(Path(args.results_dir) / "summary.csv"))
    elif args.command == "verify":
        return verify_results_dir(args.results_dir)
    elif args.command == "prepare":
        steps.prepare(args.out)
    elif args.command == "train-tasks":
        steps.train_pack(args.marker, args.data, device=args.device, workers=args.workers)
    elif args.command == "aggregate":
        steps.aggregate(args.out_dir)
    else:
        steps.collect(args.results_files, args.out_csv, args.out_png)
    return 0


def console_main() -> int:
    """Entry point of the ``neural-mi`` console script: :func:`main`, then a quick exit.

    A rule step (``prepare``, ``train-tasks``, ``aggregate``, ``collect``) started by
    ``neural-mi run`` is handed to its preload server (:func:`neural_mi.preload.run_step`),
    which runs it in a process that has its imports already.

    The process ends right after, and the interpreter's final garbage collection walks
    every object of every imported module (torch's included), which each workflow step
    would pay.  Freezing them first (:func:`gc.freeze`) leaves that collection nothing to
    walk.  Nothing is lost: files are closed and logs flushed by then.
    """
    status = run_step(sys.argv[1:])
    if status is not None:
        return status
    status = main()
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(console_main())
