"""Start Snakemake for ``neural-mi run``: profile, preload server, run ownership.

``neural-mi run CONFIG`` uses the workflow of the checkout this package is installed from (an
editable install, ``pip install -e .``): ``<repo>/workflow/Snakefile`` and
``<repo>/profiles/local``, where ``<repo>`` is the parent of the ``neural_mi`` package
directory.  It runs Snakemake in the current directory, so ``results_dir`` and relative data
paths resolve against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigError, NeuralMIError
from .preload import preload_server

#: The repository checkout holding the workflow (editable install: the package's parent).
REPO_DIR = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO_DIR / "workflow" / "Snakefile"
LOCAL_PROFILE = REPO_DIR / "profiles" / "local"


def snakemake_command(config: str | Path, cores: str, extra: Sequence[str]) -> list[str]:
    """The Snakemake command line ``neural-mi run`` executes.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of ``--cores`` (a number or ``all``).
    extra
        Further Snakemake arguments, passed through unchanged.
    """
    if not SNAKEFILE.is_file():
        raise ConfigError(
            f"neural-mi run needs the workflow at {str(SNAKEFILE)!r}; install neural_mi from a "
            "checkout of its repository with `pip install -e .`."
        )
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--configfile",
        str(config),
        "--profile",
        str(LOCAL_PROFILE),
        "--cores",
        str(cores),
        *extra,
    ]


def run_workflow(
    config: str | Path, cores: str = "all", extra: Sequence[str] = (), preload: bool = True
) -> tuple[int, Path | None]:
    """Run the workflow in the current directory.

    The preload server and Snakemake start first; while Snakemake parses the config and
    builds the DAG, this process reads the config too (for the results folder) and imports
    pandas (for the table), so neither adds to the run's wall time.  Errors in the config are
    Snakemake's to report.
    A Ctrl-C reaches Snakemake too; this process then waits for it to stop its jobs.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of Snakemake's ``--cores``.
    extra
        Further Snakemake arguments, passed through unchanged.
    preload
        Start the rules' steps from a preload server (:mod:`neural_mi.preload`; Linux,
        not for dry runs) instead of a fresh interpreter each.

    Returns
    -------
    status : int
        Snakemake's exit status.
    table : Path or None
        ``<results_dir>/summary.csv`` when the run succeeded and was not a dry run.
    """
    if not Path(config).is_file():
        raise ConfigError(f"config file {str(config)!r} not found.")
    # The rules call `neural-mi`: make this environment's scripts directory come first.
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    dry_run = any(arg in ("-n", "--dry-run", "--dryrun") for arg in extra)
    with preload_server(enabled=preload and not dry_run) as preload_env:
        process = subprocess.Popen(
            snakemake_command(config, cores, extra), env={**env, **preload_env}
        )
        table = None
        try:
            table = _summary_path(config)
        finally:
            status = _wait(process)
    ok = status == 0 and not dry_run and table is not None and table.is_file()
    return status, table if ok else None


def _summary_path(config: str | Path) -> Path | None:
    """``<results_dir>/summary.csv`` of ``config``; None if the config is invalid."""
    import pandas  # noqa: F401  (for format_summary, imported while Snakemake works)
    import yaml

    from .config import load_config

    try:
        return Path(load_config(config).results_dir) / "summary.csv"
    except (NeuralMIError, OSError, yaml.YAMLError):
        return None


def _wait(process: subprocess.Popen) -> int:
    """Snakemake's exit status; a Ctrl-C reaches Snakemake too, so keep waiting for it."""
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue
