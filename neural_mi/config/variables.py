"""The config model of one variable (X, Y or Z): where its data comes from, and its processing.

A file variable is a data source (:mod:`neural_mi.data.sources`: ``array`` for
.npy/.npz/.zarr, ``nwb``, ``phy``, ``mat``, ``xarray``; ``format`` inferred from the
path's suffix) with two more keys, ``type`` (the processor) and ``params`` (its
parameters)::

    x: {path: s1.nwb, object: processing/ecephys/LFP/LFP, channels: [0, 2],
        params: {window_size: 0.2 s, step_size: 0.1 s}}
    y: {path: s1.nwb, object: units, units: {where: {quality: good}},
        params: {window_size: 0.2, step_size: 0.1}}
    x: {path: lfp.npy, sampling_rate: 250, params: {window_size: 50}}

A synthetic session's variables have ``type``, ``params`` and, optionally, a time base
(``sampling_rate``, ``start_time``).  ``type`` defaults to ``spike`` where the source
holds spike trains (a phy folder, a ``units`` selection, ``kind: spikes``, an NWB object
named ``units``) and to ``continuous`` elsewhere; an array file with ``type: spike`` is
read as a spike archive.  A variable serialises with the keys it always had (``path``,
``key``, ``type``, ``params``) and only the others that differ from what would be
inferred, so that the workflow's record of a session does not change for configs written
before sources existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_serializer,
    model_validator,
)

from ..data.sources import SOURCES, infer_format
from ..params import Number, PositiveNumber

__all__ = [
    "LEGACY_KEYS",
    "FileVariable",
    "ProcessorType",
    "SyntheticVariable",
    "VariableConfig",
    "file_variable_models",
    "source_holds_spikes",
]

#: Processor types of a variable (``None``: already processed).
ProcessorType = Literal["continuous", "spike", "categorical"] | None

#: Keys every variable serialised with before data sources existed (kept as they were).
LEGACY_KEYS = ("path", "key", "type", "params")


class _Processing(BaseModel):
    """Keys of every variable: its processor and the processor's parameters."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    type: ProcessorType = "continuous"
    """Processor: continuous, spike, categorical, or null (already processed). Default:
    spike for sources of spike trains, else continuous."""

    params: dict[str, Any] = Field(default_factory=dict)
    """Processor parameters, e.g. {window_size: 10} (samples), {window_size: 0.5 s} (a
    duration, converted at the sampling rate) or {window_size: 0.05} (seconds, spikes)."""


class SyntheticVariable(_Processing):
    """A variable of a synthetic session: its processing and, optionally, a time base."""

    path: None = None
    """Synthetic variables are generated, not read (must be null)."""

    key: None = None
    """Synthetic variables are generated, not read (must be null)."""

    sampling_rate: PositiveNumber | None = None
    """Samples per second of the generated signal (gives it a time base)."""

    start_time: Number | None = None
    """Time of the first sample in seconds (with sampling_rate; default 0)."""

    @model_validator(mode="after")
    def _start_needs_rate(self) -> SyntheticVariable:
        if self.start_time is not None and self.sampling_rate is None:
            raise ValueError("start_time needs sampling_rate (the time of the other samples)")
        return self

    @model_serializer(mode="wrap")
    def _as_before(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if k in LEGACY_KEYS or v is not None}


class FileVariable(_Processing):
    """Marks the variable models of the file formats (built by :func:`file_variable_models`)."""


def source_holds_spikes(value: Mapping[str, Any], fmt: str) -> bool:
    """Whether a source config (as a mapping) reads spike trains, from its keys alone."""
    if fmt == "phy" or value.get("kind") == "spikes" or value.get("units") is not None:
        return True
    obj = value.get("object")
    return fmt == "nwb" and isinstance(obj, str) and PurePath(obj).name.lower() == "units"


def _defaults(fmt: str) -> Any:
    """Before validation: the processor type a source implies, and an array file with
    ``type: spike`` read as a spike archive."""

    def fill(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        value = dict(value)
        if "type" not in value and source_holds_spikes(value, fmt):
            value["type"] = "spike"
        if fmt == "array" and value.get("type") == "spike" and "kind" not in value:
            value["kind"] = "spikes"
        return value

    return fill


def _serializer(fmt: str) -> Any:
    def serialise(self: BaseModel, handler: Any) -> dict[str, Any]:
        data = handler(self)
        inferred = {"format": _inferred_format(data.get("path"))}
        if fmt == "array" and data.get("type") == "spike":
            inferred["kind"] = "spikes"
        defaults = {name: field.get_default() for name, field in type(self).model_fields.items()}
        return {
            key: value
            for key, value in data.items()
            if key in LEGACY_KEYS
            or (key not in inferred and value != _plain(defaults.get(key)))
            or (key in inferred and value != inferred[key])
        }

    return serialise


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def _inferred_format(path: Any) -> str | None:
    try:
        return infer_format(path) if isinstance(path, str) else None
    except ValueError:
        return None


def _spike_type(fmt: str) -> Any:
    def check(self: Any) -> Any:
        if fmt == "phy" and self.type != "spike":
            raise ValueError("a phy folder holds spike trains: type must be spike")
        if self.type is None and fmt != "array":
            raise ValueError(
                "type null (already processed data) is read from .npy/.npz/.zarr arrays only"
            )
        if fmt == "array" and self.type != "spike" and getattr(self, "kind", None) == "spikes":
            raise ValueError("kind spikes (a spike archive) needs type spike")
        return self

    return check


@cache
def file_variable_models() -> dict[str, type[FileVariable]]:
    """``{format: model}``: each source's config with ``type`` and ``params``."""
    from pydantic import create_model

    models: dict[str, type[FileVariable]] = {}
    for fmt, source in SOURCES.items():
        config = source.config_model
        validators: dict[str, Any] = {
            "_fill": model_validator(mode="before")(_defaults(fmt)),
            "_check": model_validator(mode="after")(_spike_type(fmt)),
            "_serialise": model_serializer(mode="wrap")(_serializer(fmt)),
        }
        model = create_model(
            f"{config.__name__.removesuffix('SourceConfig')}Variable",
            __base__=(config, FileVariable),
            __doc__=f"A variable read from {fmt} data: {config.__doc__}",
            __validators__=validators,
        )
        assert issubclass(model, FileVariable)  # its __base__; create_model's type hides it
        models[fmt] = model
    return models


def _with_format(value: Any) -> Any:
    """Fill in ``format`` from the path's suffix when a file variable omits it."""
    if isinstance(value, Mapping) and "format" not in value and isinstance(value.get("path"), str):
        return {**value, "format": infer_format(value["path"])}
    return value


def _tag(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("format") or "synthetic")
    return str(getattr(value, "format", None) or "synthetic")


def _variable_type() -> Any:
    members = [Annotated[SyntheticVariable, Tag("synthetic")]] + [
        Annotated[model, Tag(fmt)] for fmt, model in file_variable_models().items()
    ]
    return Annotated[
        Union[tuple(members)],  # noqa: UP007
        Discriminator(
            _tag,
            custom_error_type="unknown_format",
            custom_error_message=f"format must be one of {', '.join(sorted(SOURCES))}",
        ),
        BeforeValidator(_with_format),
    ]


#: A variable: a synthetic variable, or a file variable of one of the formats.
VariableConfig = _variable_type()
