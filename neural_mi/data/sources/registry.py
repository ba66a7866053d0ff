"""Format names to sources, the config union a workflow embeds, and format inference.

A config names its format (``format: nwb``) or lets the path's suffix tell:
``.nwb`` → ``nwb``; ``.mat`` → ``mat``; ``.nc``/``.nc4``/``.cdf``/``.netcdf`` →
``xarray``; ``.npy``/``.npz``/``.zarr`` → ``array`` (an xarray zarr store needs
``format: xarray``); a path without a suffix (a folder) → ``phy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError

from ...errors import DataSourceError
from .arrays import ArraySource, ArraySourceConfig
from .base import Signal, SignalInfo, Source, SpikesInfo, SpikeTrains
from .matlab import MatSource, MatSourceConfig
from .nwb import NwbSource, NwbSourceConfig
from .phy import PhySource, PhySourceConfig
from .xarray_files import XarraySource, XarraySourceConfig

__all__ = [
    "SOURCES",
    "SourceConfig",
    "describe_source",
    "infer_format",
    "load_source",
    "open_source",
    "parse_source_config",
]

#: Every format: its name in configs and the class that reads it.
SOURCES: dict[str, type[Source]] = {
    source.format: source for source in (ArraySource, MatSource, NwbSource, PhySource, XarraySource)
}

_SUFFIX_FORMATS = {
    ".nwb": "nwb",
    ".mat": "mat",
    ".nc": "xarray",
    ".nc4": "xarray",
    ".cdf": "xarray",
    ".netcdf": "xarray",
    ".npy": "array",
    ".npz": "array",
    ".zarr": "array",
}


def infer_format(path: str) -> str:
    """The format a path's suffix implies (see the module docstring).

    Raises
    ------
    ValueError
        For a suffix no format claims; the message lists the formats.
    """
    suffix = PurePath(path).suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    if suffix == "":
        return "phy"
    raise ValueError(
        f"cannot tell the format of {path!r} from its suffix {suffix!r}; give format: one "
        f"of {', '.join(sorted(SOURCES))} (suffixes: {', '.join(_SUFFIX_FORMATS)}; a folder "
        "without a suffix is read as phy)"
    )


def _with_format(value: Any) -> Any:
    """Fill in ``format`` from the path's suffix when a config mapping omits it."""
    if isinstance(value, Mapping) and "format" not in value and isinstance(value.get("path"), str):
        return {**value, "format": infer_format(value["path"])}
    return value


#: Any format's config, told apart by ``format`` (inferred from ``path`` when omitted):
#: the type a workflow's variable config embeds.
SourceConfig = Annotated[
    ArraySourceConfig | MatSourceConfig | NwbSourceConfig | PhySourceConfig | XarraySourceConfig,
    Field(discriminator="format"),
    BeforeValidator(_with_format),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(SourceConfig)


def parse_source_config(value: Mapping[str, Any] | Any) -> Any:
    """Validate a source config (a mapping, e.g. from YAML, or a config model).

    Returns
    -------
    ArraySourceConfig, MatSourceConfig, NwbSourceConfig, PhySourceConfig or XarraySourceConfig

    Raises
    ------
    DataSourceError
        Unknown or uninferable format, unknown key, wrong type; the message says which.
    """
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:]) or 'source'}: "
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        )
        where = value.get("path") if isinstance(value, Mapping) else getattr(value, "path", "")
        raise DataSourceError(f"source {where!r}: {problems}") from None


def open_source(config: Mapping[str, Any] | Any) -> Source:
    """The source that reads ``config`` (a mapping or a config model); reads nothing yet."""
    model: Any = config
    if not isinstance(model, tuple(source.config_model for source in SOURCES.values())):
        model = parse_source_config(config)
    return SOURCES[model.format](model)


def describe_source(config: Mapping[str, Any] | Any) -> SignalInfo | SpikesInfo:
    """What ``open_source(config).load()`` would return, from headers (see
    :meth:`Source.describe`)."""
    return open_source(config).describe()


def load_source(config: Mapping[str, Any] | Any) -> Signal | SpikeTrains:
    """Read the selection ``config`` names (see :meth:`Source.load`)."""
    return open_source(config).load()
