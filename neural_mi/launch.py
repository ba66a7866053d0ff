"""Start Snakemake for ``neural-mi run``: workflow, profile, progress, preload server, ownership.

Workflow and profiles.  An installed wheel carries the workflow (Snakefile, rules, schemas,
report templates) in ``neural_mi/_workflow`` and the profiles in ``neural_mi/_profiles``; a
checkout (an editable install, ``pip install -e .``) uses its top-level ``workflow/`` and
``profiles/`` (:func:`resource_dir`).  ``neural-mi run CONFIG`` runs with the ``local``
profile and ``--cores all``; ``--profile slurm`` (or any packaged name) or ``--profile DIR``
(a folder holding a Snakemake ``config.yaml``) runs with that profile alone, nothing of the
local one added (:func:`snakemake_command`).  Snakemake runs in the current directory (or
its ``--directory``), so ``results_dir`` and relative data paths resolve against it.

Progress.  Snakemake's own output goes to ``logs/neural-mi-run-<time>.log`` in the working
directory; the console shows one line of progress (:class:`neural_mi.progress.Progress`).
Dry runs and ``--unlock`` print Snakemake's output as it is.

Run ownership.  The working directory is claimed for the run
(:func:`neural_mi.ownership.claim_workdir`): a live run is refused, the lock of a run
that was killed is removed, a lock that cannot be told stale is refused.  Every process
of the run carries the run's id (:data:`neural_mi.ownership.RUN_ID_ENV`).

Temporary files: each run has a temporary folder of its own
(:func:`neural_mi.processes.owned_temp_dir`), Snakemake's ``TMPDIR`` and runtime source
cache, deleted at the end; every start deletes those of runs that were killed, and the
preload servers' socket folders likewise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import ConfigError, NeuralMIError
from .ownership import RUN_ID_ENV, claim_workdir
from .preload import preload_server
from .processes import owned_temp_dir, remove_orphaned_temp_dirs
from .progress import Progress

#: The installed package, and the checkout it may be installed from (editable install).
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

#: Profiles shipped with the package (``--profile NAME``).
PACKAGED_PROFILES = ("local", "slurm")

#: Sessions whose data passed the checks at the start of a run (see
#: :func:`neural_mi.config.checks.check_config`), in Snakemake's folder.
CHECKED_NAME = "neural-mi-checked.json"

#: Snakemake arguments that make it a dry run (no lock, no jobs).
DRY_RUN_FLAGS = frozenset({"-n", "--dry-run", "--dryrun"})


def resource_dir(name: str) -> Path:
    """Where the package's ``workflow`` or ``profiles`` folder is.

    A wheel carries them as ``neural_mi/_<name>``; a checkout (editable install) has them at
    its top level.

    Raises
    ------
    ConfigError
        If neither exists (a broken installation).
    """
    for candidate in (PACKAGE_DIR / f"_{name}", REPO_DIR / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"neural-mi run cannot find its {name} folder (looked for {PACKAGE_DIR / f'_{name}'} "
        f"and {REPO_DIR / name}); reinstall neural_mi."
    )


def snakefile() -> Path:
    """The workflow's Snakefile."""
    return resource_dir("workflow") / "Snakefile"


def profile_dir(profile: str | os.PathLike[str]) -> Path:
    """The profile folder ``profile`` names: a packaged profile (``local``, ``slurm``) or a
    folder holding a Snakemake ``config.yaml``.

    Raises
    ------
    ConfigError
        If ``profile`` is neither.
    """
    text = str(profile)
    if text in PACKAGED_PROFILES:
        return resource_dir("profiles") / text
    folder = Path(text).expanduser()
    if (folder / "config.yaml").is_file():
        return folder.resolve()
    raise ConfigError(
        f"profile {text!r} is neither a packaged profile ({', '.join(PACKAGED_PROFILES)}) nor "
        "a folder holding a Snakemake config.yaml."
    )


def profile_is_local(profile: str | os.PathLike[str]) -> bool:
    """Whether a profile runs the jobs on this machine (no ``executor``, or ``local``)."""
    import yaml

    try:
        settings = yaml.safe_load((profile_dir(profile) / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the profile {str(profile)!r}: {exc}") from exc
    return settings.get("executor", "local") in (None, "local")


def snakemake_command(
    config: str | Path,
    cores: str | None,
    extra: Sequence[str],
    profile: str | os.PathLike[str] = "local",
) -> list[str]:
    """The Snakemake command line ``neural-mi run`` executes.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of ``--cores`` (a number or ``all``).  None: ``all`` with a local profile;
        with a cluster profile, none (the profile's ``cores`` sizes the job groups).
    extra
        Further Snakemake arguments, passed through unchanged.
    profile
        A packaged profile name or a profile folder (:func:`profile_dir`).
    """
    if cores is None and profile_is_local(profile):
        cores = "all"
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile()),
        "--configfile",
        str(config),
        "--profile",
        str(profile_dir(profile)),
        *(["--cores", str(cores)] if cores is not None else []),
        *extra,
    ]


def snakemake_directory(extra: Sequence[str]) -> Path:
    """The working directory Snakemake runs in: the ``--directory`` (``-d``) of ``extra``,
    else the current one (absolute)."""
    directory = "."
    args = list(extra)
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        # Snakemake takes any unambiguous prefix of a long option: --dir, --direc...
        if len(name) >= 4 and "--directory".startswith(name):
            directory = value if value else args[i + 1] if i + 1 < len(args) else directory
        elif arg == "-d" and i + 1 < len(args):
            directory = args[i + 1]
        elif arg.startswith("-d") and not arg.startswith("--") and len(arg) > 2:
            directory = arg[2:]
    return Path(directory).resolve()


def run_workflow(
    config: str | Path,
    cores: str | None = None,
    extra: Sequence[str] = (),
    preload: bool = True,
    profile: str | os.PathLike[str] = "local",
) -> tuple[int, Path | None]:
    """Run the workflow in Snakemake's working directory (the current one by default).

    Everything a job would refuse is checked first (the config, the plan against the data's
    headers, and the data of every session that changed since it last passed:
    :func:`neural_mi.config.checks.check_config`), so a bad input stops the run before any
    job.  The working directory is then claimed
    (:func:`~neural_mi.ownership.claim_workdir`; not for dry runs).  Then the preload server
    and Snakemake start; while Snakemake parses the config and builds the DAG, this process
    reads the config too (for the results folder), imports pandas (for the table) and
    deletes the temporary folders of killed runs, so none of it adds to the run's wall time.
    A Ctrl-C reaches Snakemake too; this process then waits for it to stop its jobs.
    SIGTERM is passed on to Snakemake (which lets its running jobs finish, then stops) and
    waited for likewise.

    Parameters
    ----------
    config
        Workflow config file.
    cores
        Value of Snakemake's ``--cores``; None: see :func:`snakemake_command`.
    extra
        Further Snakemake arguments, passed through unchanged.
    preload
        Start the rules' steps from a preload server (:mod:`neural_mi.preload`; Linux,
        local profiles, not for dry runs) instead of a fresh interpreter each.
    profile
        A packaged profile name (``local``, ``slurm``) or a profile folder.

    Returns
    -------
    status : int
        Snakemake's exit status.
    table : Path or None
        ``<results_dir>/summary.csv`` when the run succeeded, ran the workflow and was not a
        dry run.

    Raises
    ------
    ConfigError
        ``config`` or the profile does not exist.
    WorkdirLockedError
        Another run holds the working directory (see :func:`~neural_mi.ownership.claim_workdir`).
    """
    if not Path(config).is_file():
        raise ConfigError(f"config file {str(config)!r} not found.")
    local = profile_is_local(profile)
    dry_run = any(arg in DRY_RUN_FLAGS for arg in extra)
    unlock = "--unlock" in extra
    if not unlock:  # everything a job would refuse, refused now, before any job
        from .config.checks import check_config

        workdir = snakemake_directory(extra)
        check_config(config, checked=workdir / ".snakemake" / CHECKED_NAME)
    temp = owned_temp_dir("run")
    try:
        # The rules call `neural-mi`: make this environment's scripts directory come first.
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        if local:
            # Snakemake's temporary files (and its jobs') go to the run's folder; cluster
            # jobs inherit the environment, and this folder is not on their machines.
            env["TMPDIR"] = str(temp)
        # (An option Snakemake otherwise sets for its own subprocesses: without it, it keeps
        # the cache in a temporary folder of the user's cache directory.)
        command = snakemake_command(
            config,
            cores,
            ["--runtime-source-cache-path", str(temp / "source-cache"), *extra],
            profile,
        )
        workdir = snakemake_directory(extra)
        with contextlib.ExitStack() as stack:
            if not dry_run:
                record = stack.enter_context(
                    claim_workdir(workdir, config, unlock_stale=not unlock)
                )
                env[RUN_ID_ENV] = record.run_id
            enabled = preload and local and not dry_run and not unlock
            preload_env = stack.enter_context(preload_server(enabled=enabled, env=env))
            progress = None if dry_run or unlock else Progress(workdir / "logs")
            output = stack.enter_context(progress.log_file()) if progress else None
            process = subprocess.Popen(
                command,
                env={**env, **preload_env},
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
            if progress is not None:
                stack.enter_context(progress.following(process))
            with _sigterm_passed_to(process):
                table = None
                try:
                    table = _summary_path(config)
                    remove_orphaned_temp_dirs()
                finally:
                    status = _wait(process)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    if progress is not None:
        progress.finish(status)
    ok = status == 0 and not (dry_run or unlock) and table is not None and table.is_file()
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


@contextlib.contextmanager
def _sigterm_passed_to(process: subprocess.Popen) -> Iterator[None]:
    """While the block runs, a SIGTERM to this process goes to ``process`` instead (from
    the main thread only, where Python handles signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: process.send_signal(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait(process: subprocess.Popen) -> int:
    """Snakemake's exit status; a Ctrl-C reaches Snakemake too, so keep waiting for it."""
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue
