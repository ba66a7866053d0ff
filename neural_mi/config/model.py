"""The typed model of a workflow config: sessions, analyses and run settings.

The pydantic models here are the one source of truth for the workflow config: the JSON
schema ``workflow/schemas/config.schema.yaml`` is generated from them
(:func:`config_json_schema`, ``scripts/make_schema.py``).  Each registered mode
(:mod:`neural_mi.modes`) gets its own analysis model, built from the mode's typed options:
the options that planning needs are keys of the analysis, those that only aggregation
reads (fit settings, saturation levels) sit under ``fit`` with ``mi_source``, so that
changing them reruns only the aggregation.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    create_model,
    model_serializer,
    model_validator,
)

from ..modes import available_modes, builtin_modes, get_mode
from ..modes.base import COMMON_AGGREGATION_OPTIONS
from ..params import (
    DEFAULT_INPUT_TRANSFORM,
    DEFAULT_MIN_OVERLAP,
    Fraction,
    Integer,
    PositiveInt,
    PositiveNumber,
    TrainParams,
)
from .variables import SyntheticVariable, VariableConfig

__all__ = [
    "NAME_PATTERN",
    "AnalysisConfig",
    "Config",
    "SessionConfig",
    "SyntheticConfig",
    "SyntheticVariable",
    "VariableConfig",
    "analysis_model",
    "config_model",
]

#: Session and analysis names: they become directory names and Snakemake wildcards.
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


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


#: A value of a session's metadata (a sessions sheet's column).
MetadataValue = str | int | float | bool


class SessionConfig(_Strict):
    """One recording (or synthetic data set): X, optionally Y and Z, their processing, and
    how their windows are paired."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique name (letters, digits, _ and -); outputs go to <results_dir>/<name>/."""

    synthetic: SyntheticConfig | None = None
    """Generate the data instead of reading files."""

    x: VariableConfig = Field(default_factory=SyntheticVariable)
    """X: a data source with its processing (or, in synthetic sessions, the processing of
    the generated X)."""

    y: VariableConfig | None = None
    """Y, as x; omitted in sessions used only by analyses of X alone (dimensionality)."""

    z: VariableConfig | None = None
    """Z, as x: a third variable on the same time base (the condition of mode
    conditional); omitted in sessions without one."""

    align: Literal["auto", "truncate"] = "auto"
    """Pairing of variables that do not all have a time base: auto pairs window i with
    window i only when the window counts are equal; truncate also pairs unequal counts,
    dropping the last windows of the longer. Variables that all have a time base are
    paired by the start times of their windows."""

    min_overlap: Fraction = DEFAULT_MIN_OVERLAP
    """Least fraction of the longest variable's time span that the span common to all
    variables must cover (less is refused as a wrong rate, clock or unit)."""

    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    """Descriptions of the session (subject, area, condition...): columns of
    results/summary.csv and coordinates of results/summary.nc; they change no number."""

    @model_serializer(mode="wrap")
    def _as_before(self, handler: Any) -> dict[str, Any]:
        # A session serialises as before Z, the pairing settings and metadata existed when
        # it does not use them, so that what a workflow's prepare step depends on (and so
        # whether it reruns) does not change.
        data = handler(self)
        if self.z is None:
            data.pop("z", None)
        if self.align == "auto":
            data.pop("align", None)
        if self.min_overlap == DEFAULT_MIN_OVERLAP:
            data.pop("min_overlap", None)
        if not self.metadata:
            data.pop("metadata", None)
        return data

    @model_validator(mode="after")
    def _sources(self) -> SessionConfig:
        for variable, spec in (("x", self.x), ("y", self.y), ("z", self.z)):
            if spec is None:
                continue
            generated = isinstance(spec, SyntheticVariable)
            if self.synthetic is not None and not generated:
                raise ValueError(
                    f"{variable}.path is set, but the session is synthetic; "
                    "give either synthetic or x/y paths"
                )
            if self.synthetic is None and generated:
                raise ValueError(f"{variable}.path is missing (or give synthetic: ...)")
            if self.synthetic is not None and spec.type is None:
                raise ValueError(
                    f"{variable}.type is null (already processed), but synthetic "
                    "data is raw; choose continuous, categorical or spike"
                )
        return self

    def variables(self) -> dict[str, Any]:
        """``{name: variable}`` of the variables the session has."""
        return {name: spec for name, spec in (("x", self.x), ("y", self.y), ("z", self.z)) if spec}


class AnalysisConfig(_Strict):
    """One analysis: a mode and its parameters, as for ``nmi.run``; only the mode's own
    arguments may be given (each mode has its own model, built by :func:`analysis_model`)."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique name (letters, digits, _ and -); outputs go to <results_dir>/<session>/<name>/."""

    mode: str
    """What the analysis does (a registered mode)."""

    sessions: list[str] | None = None
    """Sessions it runs on (default: all)."""

    base_params: TrainParams = Field(default_factory=TrainParams)
    """Training and model parameters (n_epochs, batch_size, embedding_dim, ...)."""

    estimator: Literal["infonce", "smile", "nwj", "tuba", "js"] | None = None
    """MI bound (default: the mode's)."""

    estimator_params: dict[str, Any] = Field(default_factory=dict)
    """Parameters of the estimator, e.g. {clip: 5.0} for smile."""

    split_mode: Literal["blocked", "random"] = "blocked"
    """Train/test split: blocked (temporal data) or random (IID data)."""

    sweep_grid: dict[str, list[Any]] | None = None
    """{parameter: [values]} over base, processor or estimator parameters."""

    output_units: Literal["bits", "nats"] = "bits"
    """Units of the summaries."""

    input_transform: Literal["none", "standardize", "robust", "rank_gauss"] = (
        DEFAULT_INPUT_TRANSFORM
    )
    """Per-channel transform of continuous and already-processed inputs, fitted on each
    task's training samples: rank_gauss, standardize, robust, or none (as given).  Above
    five channels, a transformed variable is scaled to a summed variance of 5."""

    def mode_options(self) -> dict[str, Any]:
        """The mode's arguments: its keys here and its aggregation settings under ``fit``."""
        options = self.model_dump(include=set(get_mode(self.mode).Options.model_fields))
        fit = getattr(self, "fit", None)
        if fit is not None:
            options.update(fit.model_dump(exclude={"mi_source"}))
        return options

    @property
    def mi_source(self) -> str:
        """Which per-task MI is aggregated (``fit.mi_source``)."""
        return self.fit.mi_source  # type: ignore[attr-defined]  # every mode's model has fit

    def train_params(self) -> dict[str, Any]:
        """The user-given training parameters (defaults left to the planner)."""
        return self.base_params.model_dump(exclude_unset=True)


class _FitBase(_Strict):
    """How task results are aggregated; changing these reruns only the aggregation."""

    mi_source: Literal["test_mi", "train_mi"] = "test_mi"
    """Which per-task MI is aggregated."""


def analysis_model(mode_name: str) -> type[AnalysisConfig]:
    """The config model of an analysis in mode ``mode_name``."""
    mode_class: type = type(get_mode(mode_name))
    return _analysis_model(mode_class)


@cache
def _analysis_model(mode_class: type) -> type[AnalysisConfig]:
    mode = mode_class()
    mode_name = mode.name
    options = mode.Options.model_fields
    aggregation_names = {*mode.aggregation_options, *COMMON_AGGREGATION_OPTIONS}
    # Field definitions of create_model: name -> (annotation, FieldInfo).
    aggregation: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in options.items()
        if name in aggregation_names
    }
    planning: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in options.items()
        if name not in aggregation_names
    }
    title = type(mode).__name__
    fit_model = create_model(
        f"{title}Fit", __base__=_FitBase, __doc__=_FitBase.__doc__, **aggregation
    )
    # The mode's name as a Literal type built at run time: a value to mypy.
    mode_field: Any = (Literal[mode_name], Field(description=f"{mode_name}: {mode.summary}."))
    return create_model(
        f"{title}Analysis",
        __base__=AnalysisConfig,
        __doc__=f"An analysis in mode {mode_name!r}: {mode.summary}.",
        mode=mode_field,
        fit=(fit_model, Field(default_factory=fit_model, description=_FitBase.__doc__)),
        **planning,
    )


class Config(_Strict):
    """A neural_mi workflow configuration: sessions, analyses and run settings."""

    seed: Integer = 42
    """Run seed of every analysis (task seeds derive from it and each task key) and, through
    derive_seed(seed, session name), the default seed of synthetic sessions."""

    results_dir: str = "results"
    """Output directory (relative paths: from the working directory)."""

    tasks_per_job: PositiveInt | Literal["auto"] = "auto"
    """Training tasks per train job: auto packs the tasks of each session x analysis into jobs
    of about target_job_minutes each, by their estimated cost; 1 gives one job per task; k > 1
    packs them into ceil(n_tasks / k) jobs of about equal cost."""

    target_job_minutes: PositiveNumber = 10
    """With tasks_per_job auto: the estimated minutes a train job (and, on a cluster, a
    submitted job) is sized for."""

    threads_per_job: PositiveInt = 1
    """Cores of each train job: 1 trains a pack's tasks one group after another; n > 1
    trains them in a pool of n worker processes that takes the next group as soon as a
    worker is free (on SLURM: --cpus-per-task).  One pack per session x analysis with
    threads_per_job equal to the cores runs like nmi.run with that many workers."""

    plugins: list[str] = Field(default_factory=list)
    """Modules (names, or .py files relative to the working directory) that register
    further analysis modes; imported before the analyses are read."""

    sessions: list[SessionConfig] = Field(min_length=1)
    """The recordings or synthetic data sets (with those of sessions_table and
    sessions_glob added after these)."""

    sessions_table: str | None = None
    """A .tsv (or .csv) sheet of sessions, one row each: name, path (or x.path, y.path...),
    keys of the variables as x.<key> columns, and metadata columns (subject, area,
    condition, date...) that go to results/summary.csv and summary.nc. Relative paths in
    the sheet are relative to its folder."""

    sessions_glob: str | None = None
    """A file pattern (e.g. data/*.nwb): one session per match, named after the file, its
    variables read from it as session_defaults say."""

    session_defaults: dict[str, Any] | None = None
    """What the sessions of sessions_table and sessions_glob share: variables x, y, z
    (data source keys, type, params) and align, min_overlap; a sheet's cells win."""

    analyses: list[AnalysisConfig] = Field(min_length=1)
    """The analyses, each run on every session it names (default: all)."""

    @model_validator(mode="after")
    def _names(self) -> Config:
        for what, items in (("session", self.sessions), ("analysis", self.analyses)):
            counts = Counter(item.name for item in items)
            repeated = sorted(name for name, count in counts.items() if count > 1)
            if repeated:
                raise ValueError(f"{what} names must be unique; repeated: {', '.join(repeated)}")
        known = {s.name: None for s in self.sessions}
        for i, analysis in enumerate(self.analyses):
            for name in analysis.sessions or []:
                if name not in known:
                    from .messages import did_you_mean_paren

                    raise ValueError(
                        f"analyses[{i}] ({analysis.name}): sessions names unknown session "
                        f"{name!r}{did_you_mean_paren(name, list(known))}; sessions: "
                        f"{', '.join(known)}"
                    )
        return self

    #: ``{"session" | "analysis": {name: item}}``, built at the first look-up (a workflow of
    #: thousands of sessions looks names up for every job).
    _index: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    def session(self, name: str) -> SessionConfig:
        """The session called ``name``."""
        return _by_name(self.sessions, name, "session", self._index)

    def analysis(self, name: str) -> AnalysisConfig:
        """The analysis called ``name``."""
        return _by_name(self.analyses, name, "analysis", self._index)

    def pairs(self) -> list[tuple[str, str]]:
        """Every ``(session, analysis)`` pair that runs, in config order."""
        chosen = [None if a.sessions is None else set(a.sessions) for a in self.analyses]
        return [
            (session.name, analysis.name)
            for analysis, names in zip(self.analyses, chosen)
            for session in self.sessions
            if names is None or session.name in names
        ]


def _by_name(items: Any, name: str, what: str, index: dict[str, dict[str, Any]]) -> Any:
    from ..errors import ConfigError
    from .messages import did_you_mean_paren

    by_name = index.get(what)
    if by_name is None or len(by_name) != len(items):
        by_name = index[what] = {item.name: item for item in items}
    if name in by_name:
        return by_name[name]
    names = [item.name for item in items]
    raise ConfigError(
        f"No {what} named {name!r}{did_you_mean_paren(name, names)}; {what}s: {', '.join(names)}."
    )


@cache
def _config_model(modes: tuple[type, ...]) -> type[Config]:
    models = tuple(_analysis_model(mode) for mode in modes)
    # A union of the registered modes' models, built at run time (a value, not a static type).
    entry: Any = Annotated[Union[models], Field(discriminator="mode")]  # noqa: UP007
    return create_model(
        "Config",
        __base__=Config,
        __doc__=Config.__doc__,
        analyses=(
            list[entry],
            Field(
                min_length=1,
                description=("The analyses, each run on every session it names (default: all)."),
            ),
        ),
    )


def config_model(builtin_only: bool = False) -> type[Config]:
    """The config model for the modes registered now (built-in ones and plugins), or for
    the built-in modes only (what the committed JSON schema documents)."""
    names = builtin_modes() if builtin_only else available_modes()
    return _config_model(tuple(type(get_mode(name)) for name in names))
