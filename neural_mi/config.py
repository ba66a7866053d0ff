"""The workflow's configuration: a typed model, its validation, and the static task plan.

A workflow config (``config/config.yaml``) names *sessions* (where X and Y come from and
how they are processed) and *analyses* (a mode and its parameters, run on every session or
on those it names)::

    seed: 42                    # run seed: task seeds and synthetic data seeds derive from it
    results_dir: results        # where every output goes (relative to the working directory)
    tasks_per_job: 1            # training tasks per train job (1: one job per task)
    threads_per_job: 1          # cores per train job (n > 1: a pool of n worker processes)
    sessions:
      - name: demo_gauss
        synthetic: {generator: correlated_gaussians, n_samples: 5000, dim: 5, mi: 2.0}
        x: {type: continuous, params: {window_size: 1}}
        y: {type: continuous, params: {window_size: 1}}
      - name: m1_day3
        x: {path: data/m1_day3_lfp.npy, type: continuous, params: {window_size: 10}}
        y: {path: data/m1_day3_spikes.npz, type: spike, params: {window_size: 0.05}}
    analyses:
      - name: rigorous
        mode: rigorous
        base_params: {n_epochs: 50, batch_size: 128}
        sweep_grid: {embedding_dim: [8, 16]}
        gamma_range: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        split_mode: random
        fit: {confidence_level: 0.68}

The pydantic model below is the one source of truth: the JSON schema
``workflow/schemas/config.schema.yaml`` is generated from it (:func:`config_json_schema`,
``scripts/make_schema.py``).  :func:`load_config` checks the structure (unknown keys,
types, names, references); :func:`plan_config` plans every session × analysis with
:func:`neural_mi.plan.plan_tasks` and checks each plan against the session's data, reading
only file headers.  Every error is a :class:`~neural_mi.errors.ConfigError` naming the
session, analysis and key.

Relative data paths and ``results_dir`` are resolved against the working directory (the
directory Snakemake runs in).  This module imports no torch itself (the Snakefile imports it
at parse time); synthetic sessions import :mod:`neural_mi.datasets` for the generators'
signatures.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError, NeuralMIError
from .params import MIN_ALIGN_RATIO
from .plan import derive_seed, plan_tasks
from .tasks import TaskSpec

__all__ = [
    "AnalysisConfig",
    "Config",
    "DataExtent",
    "FitConfig",
    "SessionConfig",
    "SyntheticConfig",
    "VariableConfig",
    "config_file_in_use",
    "config_json_schema",
    "load_config",
    "load_session_arrays",
    "pack_tasks",
    "plan_analysis",
    "plan_config",
    "processed_samples",
    "specs_digest",
    "specs_json",
]

#: Session and analysis names: they become directory names and Snakemake wildcards.
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"

#: Synthetic generators that return ``(n_samples, dim)`` arrays; they are transposed to
#: ``(channels, time)`` when prepared.  Every other generator returns ``(channels, time)``
#: arrays or spike-time lists.
SAMPLES_FIRST_GENERATORS: frozenset[str] = frozenset(
    {"correlated_gaussians", "nonlinear_from_latent"}
)

#: Slack when counting spike windows, as in :mod:`neural_mi.data.processors`.
_WINDOW_COUNT_TOL = 1e-9


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class VariableConfig(_Strict):
    """Where one variable (X or Y) of a session comes from and how it is processed."""

    path: str | None = None
    """Data file: .npy/.npz/.zarr array (channels, time) for continuous or categorical data
    (params.time_axis 0 for (time, channels)), (n_samples, n_features) for type null; an .npz
    archive with one 1-D array of spike times (seconds) per channel for type spike. Omitted
    in synthetic sessions."""

    key: str | None = None
    """Array name inside an .npz archive or zarr group; may be omitted when it holds one."""

    type: Literal["continuous", "spike", "categorical"] | None = "continuous"
    """Processor: continuous, spike, categorical, or null (already processed)."""

    params: dict[str, Any] = Field(default_factory=dict)
    """Processor parameters, e.g. {window_size: 10} (samples) or {window_size: 0.05}
    (seconds, spikes)."""


class SyntheticConfig(BaseModel):
    """Data drawn from ``neural_mi.datasets.generate_<generator>``; every other key is one of
    its keyword arguments (checked against its signature). ``seed`` defaults to
    ``derive_seed(config seed, session name)``."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    generator: str = Field(pattern=r"^[a-z0-9_]+$")
    """Generator name without the generate_ prefix, e.g. correlated_gaussians."""

    @property
    def kwargs(self) -> dict[str, Any]:
        """The generator's keyword arguments, as written in the config."""
        return dict(self.model_extra or {})


class SessionConfig(_Strict):
    """One recording (or synthetic data set): X, optionally Y, and their processing."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique name (letters, digits, _ and -); outputs go to <results_dir>/<name>/."""

    synthetic: SyntheticConfig | None = None
    """Generate the data instead of reading files."""

    x: VariableConfig = Field(default_factory=VariableConfig)
    """X: a file (path), or for synthetic sessions the processing of the generated X."""

    y: VariableConfig | None = None
    """Y, as x; omitted in sessions used only by dimensionality analyses."""

    @model_validator(mode="after")
    def _sources(self) -> SessionConfig:
        for variable, spec in (("x", self.x), ("y", self.y)):
            if spec is None:
                continue
            if self.synthetic is not None and spec.path is not None:
                raise ValueError(
                    f"{variable}.path is set, but the session is synthetic; "
                    "give either synthetic or x/y paths"
                )
            if self.synthetic is None and spec.path is None:
                raise ValueError(f"{variable}.path is missing (or give synthetic: ...)")
            if self.synthetic is not None and spec.type is None:
                raise ValueError(
                    f"{variable}.type is null (already processed), but synthetic "
                    "data is raw; choose continuous, categorical or spike"
                )
        return self


class FitConfig(_Strict):
    """How task results are aggregated; changing these reruns only the aggregation."""

    delta_threshold: float | None = Field(default=None, gt=0)
    """Rigorous fit: curvature threshold for pruning large gammas (null: library default)."""

    min_gamma_points: int | None = Field(default=None, ge=2)
    """Rigorous fit: fewest gamma values kept by the pruning (null: library default)."""

    confidence_level: float | None = Field(default=None, gt=0, lt=1)
    """Rigorous fit: level of the confidence interval of the corrected MI (null: library
    default)."""

    mi_source: Literal["test_mi", "train_mi"] = "test_mi"
    """Which per-task MI is aggregated."""

    def rigorous_options(self) -> dict[str, Any]:
        """The rigorous fit settings that were set (for ``aggregate.summarize``)."""
        return {
            name: value
            for name, value in self.model_dump().items()
            if name != "mi_source" and value is not None
        }


class AnalysisConfig(_Strict):
    """One analysis: a mode and its parameters, as for ``nmi.run`` (see
    :func:`neural_mi.plan.plan_tasks`); only the mode's own arguments may be given."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique name (letters, digits, _ and -); outputs go to <results_dir>/<session>/<name>/."""

    mode: Literal["estimate", "sweep", "rigorous", "dimensionality", "lag"]
    """What the analysis does (one task, a grid, bias correction, channel splits, lags)."""

    sessions: list[str] | None = None
    """Sessions it runs on (default: all)."""

    base_params: dict[str, Any] = Field(default_factory=dict)
    """Training and model parameters (n_epochs, batch_size, embedding_dim, ...)."""

    estimator: str | None = None
    """MI bound: infonce, smile, nwj, tuba or js (default: the mode's)."""

    estimator_params: dict[str, Any] = Field(default_factory=dict)
    """Parameters of the estimator, e.g. {clip: 5.0} for smile."""

    split_mode: Literal["blocked", "random"] = "blocked"
    """Train/test split: blocked (temporal data) or random (IID data)."""

    sweep_grid: dict[str, list[Any]] | None = None
    """{parameter: [values]} over base, processor or estimator parameters."""

    gamma_range: list[int] | None = None
    """Rigorous mode: subsampling factors (default 1..10)."""

    lag_range: list[int | float] | None = None
    """Lag mode: lags of Y after X (samples, or seconds for spike trains)."""

    n_splits: int = 5
    """Dimensionality mode: random channel splits."""

    n_repeats: int = 1
    """Sweep mode: repeats per combination."""

    output_units: Literal["bits", "nats"] = "bits"
    """Units of the summaries."""

    fit: FitConfig = Field(default_factory=FitConfig)
    """Aggregation settings."""


class Config(_Strict):
    """A neural_mi workflow configuration: sessions, analyses and run settings."""

    seed: int = 42
    """Run seed of every analysis (task seeds derive from it and each task key) and, through
    derive_seed(seed, session name), the default seed of synthetic sessions."""

    results_dir: str = "results"
    """Output directory (relative paths: from the working directory)."""

    tasks_per_job: int = Field(default=1, ge=1)
    """Training tasks per train job: 1 gives one job per task; k > 1 packs the tasks of each
    session x analysis into ceil(n_tasks / k) jobs of about equal cost."""

    threads_per_job: int = Field(default=1, ge=1)
    """Cores of each train job: 1 trains a pack's tasks one group after another; n > 1
    trains them in a pool of n worker processes that takes the next group as soon as a
    worker is free (on SLURM: --cpus-per-task).  One pack per session x analysis with
    threads_per_job equal to the cores runs like nmi.run with that many workers."""

    sessions: list[SessionConfig] = Field(min_length=1)
    """The recordings or synthetic data sets."""

    analyses: list[AnalysisConfig] = Field(min_length=1)
    """The analyses, each run on every session it names (default: all)."""

    @model_validator(mode="after")
    def _names(self) -> Config:
        for what, items in (("session", self.sessions), ("analysis", self.analyses)):
            names = [item.name for item in items]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} names must be unique; repeated: {', '.join(repeated)}")
        known = [s.name for s in self.sessions]
        for i, analysis in enumerate(self.analyses):
            for name in analysis.sessions or []:
                if name not in known:
                    raise ValueError(
                        f"analyses[{i}] ({analysis.name}): sessions names unknown session "
                        f"{name!r}{_did_you_mean(name, known)}; sessions: {', '.join(known)}"
                    )
        return self

    def session(self, name: str) -> SessionConfig:
        """The session called ``name``."""
        return _by_name(self.sessions, name, "session")

    def analysis(self, name: str) -> AnalysisConfig:
        """The analysis called ``name``."""
        return _by_name(self.analyses, name, "analysis")

    def pairs(self) -> list[tuple[str, str]]:
        """Every ``(session, analysis)`` pair that runs, in config order."""
        return [
            (session.name, analysis.name)
            for analysis in self.analyses
            for session in self.sessions
            if analysis.sessions is None or session.name in analysis.sessions
        ]


def _by_name(items: Sequence[Any], name: str, what: str) -> Any:
    for item in items:
        if item.name == name:
            return item
    names = [item.name for item in items]
    raise ConfigError(
        f"No {what} named {name!r}{_did_you_mean(name, names)}; {what}s: {', '.join(names)}."
    )


def _did_you_mean(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def config_json_schema() -> dict[str, Any]:
    """JSON schema of :class:`Config` (what ``workflow/schemas/config.schema.yaml`` holds)."""
    schema = Config.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


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
        Unknown key, wrong type, repeated or unknown names, unknown synthetic generator or
        argument; the message names the session/analysis and key.
    """
    raw = _read_yaml(source) if isinstance(source, (str, Path)) else dict(source)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, raw)) from None
    for index, session in enumerate(config.sessions):
        if session.synthetic is not None:
            _check_generator(session, f"sessions[{index}] ({session.name})")
    return config


def config_file_in_use(configfiles: Sequence[str | Path], config: Mapping[str, Any]) -> str:
    """The one config file a workflow run reads (train jobs plan their tasks from it again).

    Parameters
    ----------
    configfiles
        Config files Snakemake loaded (``workflow.configfiles``).
    config
        The config Snakemake ended up with.

    Returns
    -------
    str
        Its absolute path.

    Raises
    ------
    ConfigError
        If there is not exactly one file, or ``config`` differs from its content (settings
        given with ``snakemake --config``).
    """
    files = list(dict.fromkeys(str(f) for f in configfiles))
    if len(files) != 1:
        raise ConfigError(
            f"The workflow reads exactly one config file, got {len(files)}: "
            f"{', '.join(files) or '(none)'}; pass one with --configfile."
        )
    if _read_yaml(files[0]) != dict(config):
        raise ConfigError(
            f"The workflow's settings differ from the content of {files[0]!r}: "
            "put them in the config file instead of snakemake --config "
            "(train jobs read the file)."
        )
    return str(Path(files[0]).resolve())


def _read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} not found.")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {str(path)!r} must hold a mapping (seed, sessions, "
            f"analyses...), got {type(data).__name__}."
        )
    return data


def _describe_validation_error(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = [_describe_one(error, raw) for error in exc.errors()]
    return "Invalid config:\n  " + "\n  ".join(lines)


def _describe_one(error: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """One pydantic error as ``analyses[0] (rigorous): unknown key 'gama_range' ...``."""
    loc = list(error["loc"])
    where, key_path = _where(loc, raw)
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        hint = _did_you_mean(key, _fields_at(loc[:-1]))
        inside = f" in {'.'.join(key_path[:-1])}" if len(key_path) > 1 else ""
        return f"{where}: unknown key {key!r}{inside}{hint}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {'.'.join(key_path) + ': ' if key_path else ''}{message}"


def _where(loc: list[Any], raw: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Split a pydantic location into a readable place and the key path inside it."""
    if len(loc) >= 2 and loc[0] in ("sessions", "analyses") and isinstance(loc[1], int):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        name = item.get("name") if isinstance(item, Mapping) else None
        place = f"{loc[0]}[{loc[1]}]" + (f" ({name})" if name else "")
        return place, [str(part) for part in loc[2:]]
    return "config", [str(part) for part in loc]


def _fields_at(loc: Sequence[Any]) -> list[str]:
    """Field names of the model found at ``loc`` inside :class:`Config`."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = next(
            (
                arg
                for arg in _flat_args(field.annotation)
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
        if model is None:
            return []
    return list(model.model_fields)


def _flat_args(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [a for arg in args for a in _flat_args(arg)]


@cache
def _generator_signature(generator: str) -> inspect.Signature | None:
    datasets = importlib.import_module("neural_mi.datasets")
    function = getattr(datasets, f"generate_{generator}", None)
    return None if function is None else inspect.signature(function)


def _check_generator(session: SessionConfig, where: str) -> None:
    synthetic = session.synthetic
    signature = _generator_signature(synthetic.generator)
    if signature is None:
        datasets = importlib.import_module("neural_mi.datasets")
        known = sorted(
            name.removeprefix("generate_") for name in dir(datasets) if name.startswith("generate_")
        )
        raise ConfigError(
            f"{where}: unknown synthetic generator "
            f"{synthetic.generator!r}{_did_you_mean(synthetic.generator, known)}; "
            f"generators: {', '.join(known)}."
        )
    allowed = [name for name in signature.parameters if name != "use_torch"]
    for key in synthetic.kwargs:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r} in synthetic "
                f"(generator {synthetic.generator!r}){_did_you_mean(key, allowed)}; "
                f"its arguments: {', '.join(allowed)}."
            )
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and name not in synthetic.kwargs
    ]
    if missing:
        raise ConfigError(
            f"{where}: synthetic generator {synthetic.generator!r} needs {', '.join(missing)}."
        )


# --------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------


def plan_analysis(config: Config, session: str, analysis: str) -> list[TaskSpec]:
    """Plan the tasks of one analysis on one session (no data checks).

    Parameters
    ----------
    config
        The workflow configuration.
    session, analysis
        Names of the session and the analysis.

    Returns
    -------
    list of TaskSpec
        As :func:`neural_mi.plan.plan_tasks` returns them.

    Raises
    ------
    ConfigError
        If a parameter is invalid (wrapping the planner's ``ParameterError``) or the
        analysis needs a Y the session does not have; the message names both.
    """
    s, a = config.session(session), config.analysis(analysis)
    where = f"session {s.name!r}, analysis {a.name!r}"
    if a.mode != "dimensionality" and s.y is None:
        raise ConfigError(
            f"{where}: mode {a.mode!r} needs Y, but the session has no 'y'; add "
            "y: {...} to the session, or list the analysis' sessions."
        )
    if a.mode != "rigorous" and a.fit.rigorous_options():
        raise ConfigError(
            f"{where}: fit settings {sorted(a.fit.rigorous_options())} apply to "
            f"mode 'rigorous' only, not {a.mode!r}."
        )
    y = s.y if a.mode != "dimensionality" else None
    try:
        return plan_tasks(
            a.mode,
            random_seed=config.seed,
            base_params=a.base_params,
            processor_type_x=s.x.type,
            processor_params_x=s.x.params,
            processor_type_y=None if y is None else y.type,
            processor_params_y=None if y is None else y.params,
            estimator=a.estimator,
            estimator_params=a.estimator_params or None,
            split_mode=a.split_mode,
            sweep_grid=a.sweep_grid,
            gamma_range=a.gamma_range,
            lag_range=a.lag_range,
            n_splits=a.n_splits,
            n_repeats=a.n_repeats,
        )
    except NeuralMIError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def plan_config(config: Config) -> dict[tuple[str, str], list[TaskSpec]]:
    """Plan every session × analysis and check each plan against the session's data.

    The data checks read file headers only (``np.load(mmap_mode='r')``, npz/zarr
    metadata; spike files are read to find the last spike): every data file exists, X
    and Y give sample counts that can be aligned, and in rigorous mode every
    ``gamma`` leaves at least one batch per chunk (``n_samples // gamma >= batch_size``).

    Returns
    -------
    dict
        ``{(session, analysis): [TaskSpec, ...]}`` in config order.

    Raises
    ------
    ConfigError
        Naming the session, analysis and what to change.
    """
    plan = {pair: plan_analysis(config, *pair) for pair in config.pairs()}
    extents: dict[str, dict[str, DataExtent]] = {}
    for (session, analysis), specs in plan.items():
        if session not in extents:
            extents[session] = _session_extents(config.session(session))
        _check_samples(session, analysis, specs, extents[session])
    return plan


def pack_tasks(specs: Sequence[TaskSpec], tasks_per_job: int) -> dict[str, list[TaskSpec]]:
    """Group tasks into train jobs.

    Parameters
    ----------
    specs
        The tasks of one session × analysis.
    tasks_per_job
        ``1``: one job per task, named by the task key.  ``k > 1``:
        ``ceil(len(specs) / k)`` packs ``p000, p001, ...``; tasks, most expensive first
        (cost ``1 / gamma``: a task trains on ``1/gamma`` of the data; ties by key), each
        go to the pack with the least cost so far (ties: lowest pack number).

    Returns
    -------
    dict
        ``{pack_id: [TaskSpec, ...]}``; within a pack, tasks keep their plan order.
        Deterministic: the same specs always give the same packs.
    """
    if isinstance(tasks_per_job, bool) or not isinstance(tasks_per_job, int) or tasks_per_job < 1:
        raise ConfigError(f"tasks_per_job must be an integer >= 1, got {tasks_per_job!r}.")
    if tasks_per_job == 1:
        return {spec.key: [spec] for spec in specs}
    n_packs = math.ceil(len(specs) / tasks_per_job)
    loads = [0.0] * n_packs
    members: list[list[int]] = [[] for _ in range(n_packs)]
    order = sorted(range(len(specs)), key=lambda i: (-1.0 / specs[i].gamma, specs[i].key))
    for i in order:
        pack = min(range(n_packs), key=lambda p: (loads[p], p))
        loads[pack] += 1.0 / specs[i].gamma
        members[pack].append(i)
    return {f"p{p:03d}": [specs[i] for i in sorted(members[p])] for p in range(n_packs)}


def specs_json(specs: Sequence[TaskSpec]) -> str:
    """The tasks as one JSON string (every training parameter; stable)."""
    return "[" + ", ".join(spec.to_json() for spec in specs) + "]"


def specs_digest(specs: Sequence[TaskSpec]) -> str:
    """Short hash of :func:`specs_json`: lets a train job check it runs the planned tasks."""
    return hashlib.sha256(specs_json(specs).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# Data checks from headers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataExtent:
    """What a variable's sample count depends on, read without loading the data.

    ``shape``: shape of an array (a synthetic array is ``(n_time,)``); ``last_spike``:
    latest spike time in seconds (for synthetic spikes, the duration).
    """

    shape: tuple[int, ...] | None = None
    last_spike: float | None = None


def _session_extents(session: SessionConfig) -> dict[str, DataExtent]:
    variables = {"x": session.x, "y": session.y}
    return {
        name: _extent(session, name, spec) for name, spec in variables.items() if spec is not None
    }


def _extent(session: SessionConfig, variable: str, spec: VariableConfig) -> DataExtent:
    where = f"session {session.name!r}, {variable}"
    if session.synthetic is not None:
        return _synthetic_extent(session.synthetic, spec, where)
    path = Path(spec.path)
    if not path.exists():
        raise ConfigError(
            f"{where}: data file {spec.path!r} not found (looked in "
            f"{str(path.absolute().parent)!r})."
        )
    try:
        if spec.type == "spike":
            return DataExtent(last_spike=_last_spike(path))
        return DataExtent(shape=_array_shape(path, spec.key))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{where}: cannot read {spec.path!r}: {exc}") from exc


def _synthetic_extent(synthetic: SyntheticConfig, spec: VariableConfig, where: str) -> DataExtent:
    """Extent from the generator's length argument (``duration`` for spikes, else
    ``n_samples``), as given or as its default."""
    bound = _generator_signature(synthetic.generator).bind_partial(**synthetic.kwargs)
    bound.apply_defaults()
    name = "duration" if spec.type == "spike" else "n_samples"
    if name not in bound.arguments:
        raise ConfigError(
            f"{where}: generator {synthetic.generator!r} has no {name!r} "
            f"argument, so it does not make {spec.type} data; check the type."
        )
    value = bound.arguments[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{where}: synthetic {name} must be a positive number, got {value!r}.")
    if spec.type == "spike":
        return DataExtent(last_spike=float(value))
    return DataExtent(shape=(int(value),))


def _array_shape(path: Path, key: str | None) -> tuple[int, ...]:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if key is not None:
            raise ValueError(f"key {key!r} was given, but a .npy file holds a single array")
        return tuple(np.load(path, mmap_mode="r").shape)
    if suffix == ".npz":
        with np.load(path) as archive:
            name = _one_key(list(archive.files), key, path)
            with archive.zip.open(f"{name}.npy") as member:
                version = np.lib.format.read_magic(member)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                return tuple(read_header(member)[0])
    if suffix == ".zarr":
        import zarr

        node = zarr.open(str(path), mode="r")
        if isinstance(node, zarr.Group):
            node = node[_one_key(sorted(name for name, _ in node.arrays()), key, path)]
        return tuple(node.shape)
    raise ValueError(f"unsupported file type {suffix!r}; use .npy, .npz or .zarr")


def _one_key(keys: list[str], key: str | None, path: Path) -> str:
    if key is None and len(keys) == 1:
        return keys[0]
    if key is None or key not in keys:
        wanted = "needs key: one" if key is None else f"has no array {key!r}; choose one"
        raise ValueError(f"{path.name} {wanted} of {', '.join(keys) or '(none)'}")
    return key


def _last_spike(path: Path) -> float:
    if path.suffix.lower() != ".npz":
        raise ValueError("spike times must be an .npz archive with one array per channel")
    with np.load(path) as archive:
        latest = [float(np.max(archive[name])) for name in archive.files if archive[name].size]
    if not latest:
        raise ValueError("the spike archive holds no spikes")
    return max(latest)


def processed_samples(
    extent: DataExtent, processor_type: str | None, params: Mapping[str, Any]
) -> int:
    """Number of samples a processor makes from data of this extent (0 if none fit).

    Mirrors :mod:`neural_mi.data.processors`: ``(T - window) // step + 1`` windows of a
    ``T``-point signal; ``floor((n_seconds - window) / step) + 1`` spike windows, with
    ``n_seconds`` defaulting to the last spike time; ``shape[0]`` for processed data.
    """
    if processor_type is None:
        return int(extent.shape[0])
    if processor_type == "spike":
        window = float(params["window_size"])
        step = float(params["step_size"] or window)
        n_seconds = float(params["n_seconds"] or extent.last_spike)
        return max(0, int(np.floor((n_seconds - window) / step + _WINDOW_COUNT_TOL)) + 1)
    shape = extent.shape
    n_time = shape[0] if len(shape) == 1 or params["time_axis"] == 0 else shape[-1]
    return max(0, (n_time - params["window_size"]) // params["step_size"] + 1)


def _sample_counts(spec: TaskSpec, extents: Mapping[str, DataExtent]) -> tuple[int, int | None]:
    """Processed sample counts ``(n_x, n_y)`` of a task (``n_y`` None without Y)."""
    p = spec.params
    n_x = processed_samples(extents["x"], p["processor_type_x"], p["processor_params_x"])
    if p["mode"] == "dimensionality":
        return n_x, None
    return n_x, processed_samples(extents["y"], p["processor_type_y"], p["processor_params_y"])


def _check_samples(
    session: str, analysis: str, specs: Sequence[TaskSpec], extents: Mapping[str, DataExtent]
) -> None:
    where = f"session {session!r}, analysis {analysis!r}"
    for spec in specs:
        n_x, n_y = _sample_counts(spec, extents)
        coords = f" (sweep values {spec.coords})" if spec.coords else ""
        if n_y is not None and min(n_x, n_y) < MIN_ALIGN_RATIO * max(n_x, n_y):
            raise ConfigError(
                f"{where}{coords}: X gives {n_x} samples and Y gives {n_y}; they cannot be "
                f"aligned (the smaller must be at least {MIN_ALIGN_RATIO:g} of the larger). "
                "Check window/step sizes, time axes and, for spikes, n_seconds and units."
            )
        n = n_x if n_y is None else min(n_x, n_y)
        if n < 2:
            raise ConfigError(
                f"{where}{coords}: processing leaves {n} sample(s); the window "
                "is longer than the recording."
            )
        batch = spec.params["base"]["batch_size"]
        if n // spec.gamma < batch:
            largest = max(1, n // batch)
            raise ConfigError(
                f"{where}{coords}: gamma={spec.gamma} cuts {n} samples into chunks of "
                f"{n // spec.gamma}, fewer than one batch (batch_size={batch}). Use gammas up "
                f"to {largest} or a batch_size of at most {n // spec.gamma}."
            )


# --------------------------------------------------------------------------------------
# Raw data of a session
# --------------------------------------------------------------------------------------


def load_session_arrays(session: SessionConfig, config: Config) -> tuple[Any, Any | None]:
    """Read or generate the raw X and Y of a session.

    Parameters
    ----------
    session
        The session.
    config
        The whole configuration (its ``seed`` seeds synthetic sessions without a seed).

    Returns
    -------
    x, y
        numpy arrays ``(channels, time)`` (or as the file holds them, see
        :class:`VariableConfig`), or lists of 1-D spike-time arrays (seconds); ``y`` is
        ``None`` when the session has no ``y``.

    Raises
    ------
    ConfigError
        If a single-output generator is asked for Y.
    """
    if session.synthetic is None:
        from .data.loaders import load_array, load_spike_times

        def read(spec: VariableConfig) -> Any:
            if spec.type == "spike":
                return load_spike_times(spec.path)
            return load_array(spec.path, spec.key)

        return read(session.x), None if session.y is None else read(session.y)
    return _generate(session, config.seed)


def _generate(session: SessionConfig, run_seed: int) -> tuple[Any, Any | None]:
    synthetic = session.synthetic
    datasets = importlib.import_module("neural_mi.datasets")
    generator = getattr(datasets, f"generate_{synthetic.generator}")
    kwargs = synthetic.kwargs
    kwargs.setdefault("seed", derive_seed(run_seed, session.name))
    if "use_torch" in _generator_signature(synthetic.generator).parameters:
        kwargs["use_torch"] = False
    out = generator(**kwargs)
    x, y = out if isinstance(out, tuple) else (out, None)
    if session.y is not None and y is None:
        raise ConfigError(
            f"session {session.name!r}: generator {synthetic.generator!r} makes "
            "X only; remove 'y' from the session (dimensionality analyses only)."
        )
    if synthetic.generator in SAMPLES_FIRST_GENERATORS:
        x, y = np.asarray(x).T, None if y is None else np.asarray(y).T
    return x, y if session.y is not None else None
