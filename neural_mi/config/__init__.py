"""The workflow's configuration: a typed model, its validation, and the checked task plan.

A workflow config (``config/config.yaml``) names *sessions* (where X and Y come from and
how they are processed: in the config, in a sessions sheet or by a glob, see
:mod:`~neural_mi.config.sheets`) and *analyses* (a mode and its parameters, run on every
session or on those it names)::

    seed: 42                    # run seed: task seeds and synthetic data seeds derive from it
    results_dir: results        # where every output goes (relative to the working directory)
    tasks_per_job: 1            # training tasks per train job (1: one job per task)
    threads_per_job: 1          # cores per train job (n > 1: a pool of n worker processes)
    sessions:
      - name: demo_gauss
        synthetic: {generator: correlated_gaussians, n_samples: 5000, dim: 5, mi: 2.0}
        x: {type: continuous, params: {window_size: 1}}
        y: {type: continuous, params: {window_size: 1}}
    analyses:
      - name: rigorous
        mode: rigorous
        base_params: {n_epochs: 50, batch_size: 128}
        sweep_grid: {embedding_dim: [8, 16]}
        gamma_range: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        split_mode: random
        fit: {confidence_level: 0.68}

Modules: :mod:`~neural_mi.config.model` (the typed model, one analysis model per mode),
:mod:`~neural_mi.config.variables` (a variable: its data source and processing),
:mod:`~neural_mi.config.sheets` (sessions from a sheet or a glob),
:mod:`~neural_mi.config.messages` (error messages that name the place),
:mod:`~neural_mi.config.sessions` (reading or generating a session's data),
:mod:`~neural_mi.config.extents` (window counts and pairings from file headers) and
:mod:`~neural_mi.config.checks` (everything a run would refuse).  :func:`load_config`
checks the structure; :func:`plan_config` plans every session × analysis and checks each
plan against the session's data, reading only file headers.  Every error is a
:class:`~neural_mi.errors.ConfigError` naming the session, analysis and key.  Relative
data paths and ``results_dir`` are resolved against the working directory.  This package
imports no torch (the Snakefile imports it at parse time).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError, NeuralMIError
from ..modes import get_mode, load_plugins
from ..plan import plan_tasks
from ..tasks import TaskSpec
from .extents import DataExtent, processed_samples, session_extents, timing_labels
from .messages import describe_validation_error
from .model import AnalysisConfig, Config, SessionConfig, config_model
from .plan_checks import check_plan
from .sessions import check_generator, load_session, load_session_arrays
from .sheets import expand_sessions

__all__ = [
    "AnalysisConfig",
    "Config",
    "DataExtent",
    "SessionConfig",
    "config_json_schema",
    "load_config",
    "load_session",
    "load_session_arrays",
    "plan_analysis",
    "plan_and_problems",
    "plan_config",
    "plan_with_extents",
    "processed_samples",
    "read_yaml",
]


def config_json_schema() -> dict[str, Any]:
    """JSON schema of the config with the built-in modes (what
    ``workflow/schemas/config.schema.yaml`` holds; plug-in modes are checked by the model)."""
    schema = config_model(builtin_only=True).model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A config file's mapping.

    Raises
    ------
    ConfigError
        When the file is missing or unreadable, is not valid YAML (or uses tags such as
        ``!!python``, which are never executed), or does not hold a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} not found.")
    try:
        # libyaml's loader where PyYAML has it: the pure-Python one takes seconds for a
        # config of thousands of sessions.
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {str(path)!r} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"Config file {str(path)!r} is not valid YAML: {' '.join(str(exc).split())}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {str(path)!r} must hold a mapping (seed, sessions, "
            f"analyses...), got {type(data).__name__}."
        )
    return data


def load_config(source: str | Path | Mapping[str, Any]) -> Config:
    """Read and validate a workflow configuration.

    Parameters
    ----------
    source
        Path of a YAML file, or the already-parsed mapping (e.g. Snakemake's ``config``).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Unknown key, wrong type, repeated or unknown names, unknown mode, unknown synthetic
        generator or argument, a bad sessions sheet; the message names the
        session/analysis and key (for a sheet: its row and column).
    """
    raw = read_yaml(source) if isinstance(source, (str, Path)) else dict(source)
    raw = expand_sessions(raw)
    plugins = raw.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise ConfigError(
            f"config: plugins must be a list of module names or .py files, got {plugins!r}."
        )
    try:
        load_plugins(plugins)
    except NeuralMIError as exc:
        raise ConfigError(f"config: {exc}") from None
    model = config_model()
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, raw, model)) from None
    for index, session in enumerate(config.sessions):
        if session.synthetic is not None:
            check_generator(session, f"sessions[{index}] ({session.name})")
    return config


def plan_analysis(
    config: Config,
    session: str,
    analysis: str,
    extents: Mapping[str, DataExtent] | None = None,
) -> list[TaskSpec]:
    """Plan the tasks of one analysis on one session.

    Parameters
    ----------
    config, session, analysis
        The config and the names.
    extents
        The session's :func:`session_extents`; read from its headers when not given and
        a variable has a time base to plan with (window sizes in seconds, lags).

    Returns
    -------
    list of TaskSpec
        As :func:`neural_mi.plan.plan_tasks` returns them.

    Raises
    ------
    ConfigError
        If a parameter is invalid (wrapping the planner's error) or the analysis needs a
        Y the session does not have; the message names both.
    """
    s, a = config.session(session), config.analysis(analysis)
    where = f"session {s.name!r}, analysis {a.name!r}"
    mode = get_mode(a.mode)
    if mode.uses_y and s.y is None:
        raise ConfigError(
            f"{where}: mode {a.mode!r} needs Y, but the session has no 'y'; add "
            "y: {...} to the session, or list the analysis' sessions."
        )
    if mode.uses_z and s.z is None:
        raise ConfigError(
            f"{where}: mode {a.mode!r} needs Z (a third variable), but the session has no "
            "'z'; add z: {...} to the session, or list the analysis' sessions."
        )
    y = s.y if mode.uses_y else None
    z = s.z if mode.uses_z else None
    used = ["x"] + (["y"] if y is not None else []) + (["z"] if z is not None else [])
    if extents is None:
        extents = session_extents(s)
    try:
        return plan_tasks(
            a.mode,
            random_seed=config.seed,
            base_params=a.train_params(),
            processor_type_x=s.x.type,
            processor_params_x=s.x.params,
            processor_type_y=None if y is None else y.type,
            processor_params_y=None if y is None else y.params,
            estimator=a.estimator,
            estimator_params=a.estimator_params or None,
            split_mode=a.split_mode,
            sweep_grid=a.sweep_grid,
            input_transform=a.input_transform,
            options=a.mode_options(),
            processor_type_z=None if z is None else z.type,
            processor_params_z=None if z is None else z.params,
            timing=timing_labels(s, extents, used),
        )
    except NeuralMIError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def plan_config(config: Config) -> dict[tuple[str, str], list[TaskSpec]]:
    """Plan every session × analysis and check each plan against the session's data.

    The data checks read file headers only (each data source's ``describe()``: shapes,
    rates, start times, spans; spike archives are read to find the last spike): every
    data file exists, X and Y (and Z) can be paired (by time when they all have a time
    base), and in rigorous mode every ``gamma`` leaves at least one batch per chunk
    (``n_samples // gamma >= batch_size``).

    Returns
    -------
    dict
        ``{(session, analysis): [TaskSpec, ...]}`` in config order.

    Raises
    ------
    ConfigError
        Naming the session, analysis and what to change; one line per problem, every
        session × analysis checked.
    """
    return plan_with_extents(config)[0]


def plan_with_extents(
    config: Config,
) -> tuple[dict[tuple[str, str], list[TaskSpec]], dict[str, dict[str, DataExtent]]]:
    """:func:`plan_config`, and the extent of each session's data (headers read once)."""
    plan, extents, problems = plan_and_problems(config)
    if problems:
        raise ConfigError("\n".join(problems))
    return plan, extents


def plan_and_problems(
    config: Config,
) -> tuple[dict[tuple[str, str], list[TaskSpec]], dict[str, dict[str, DataExtent]], list[str]]:
    """What :func:`plan_with_extents` finds, without raising: the plans that passed, the
    extents of the sessions whose headers could be read, and every problem."""
    plan, problems = {}, []
    extents: dict[str, dict[str, DataExtent] | None] = {}
    for session, analysis in config.pairs():
        try:
            if session not in extents:
                extents[session] = None
                extents[session] = session_extents(config.session(session))
            known = extents[session]
            if known is None:  # its headers could not be read: reported once, above
                continue
            specs = plan_analysis(config, session, analysis, known)
            check_plan(
                config.session(session),
                analysis,
                specs,
                known,
                get_mode(specs[0].params["mode"]).uses_y,
            )
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        plan[(session, analysis)] = specs
    read = {name: found for name, found in extents.items() if found is not None}
    return plan, read, problems
