"""The config fields every data source shares (:mod:`neural_mi.data.sources.base`): the
file and time range, and the selection of channels or units."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ChannelSelection", "Ident", "Scalar", "SourceConfigBase", "UnitSelection"]

#: A unit or channel identifier as a file stores it (an integer id, or a name).
Ident = int | str

#: A value of a unit-table column that ``where`` compares against.
Scalar = bool | int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class UnitSelection(_Strict):
    """Which units (sorted neurons) to read; both filters together keep the units that
    pass both. Without either, every unit is read."""

    where: dict[str, Scalar | list[Scalar]] | None = None
    """Keep units whose column equals the value (or one of the values), for every column
    given, e.g. {quality: good} (NWB Units column) or {group: good} / {KSLabel: good} (phy
    cluster_*.tsv column)."""

    ids: list[Ident] | None = Field(default=None, min_length=1)
    """Keep these unit ids, in this order (NWB Units ids, phy cluster ids, spike-archive
    entry names, positions in a MATLAB cell array)."""

    @field_validator("ids")
    @classmethod
    def _unique_ids(cls, ids: list[Ident] | None) -> list[Ident] | None:
        if ids is not None and len(set(ids)) != len(ids):
            raise ValueError(f"ids repeats a unit: {ids}")
        return ids


class SourceConfigBase(_Strict):
    """Fields every source config has."""

    path: str = Field(min_length=1)
    """The file (or phy folder) to read; relative paths are resolved against the working
    directory."""

    time_range: tuple[float, float] | None = None
    """[start, stop) in seconds on the file's clock: only samples or spikes at times t with
    start <= t < stop are read. Default: the whole recording."""

    @field_validator("time_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None:
            start, stop = value
            if not (math.isfinite(start) and math.isfinite(stop)):
                raise ValueError(f"time_range must be finite, got {list(value)}")
            if not start < stop:
                raise ValueError(f"time_range [{start}, {stop}) is empty: start must be < stop")
        return value


class ChannelSelection(_Strict):
    """Mixin: the ``channels`` field of signal sources."""

    channels: list[int] | None = Field(default=None, min_length=1)
    """Positions along the file's channel axis to read, in this order (0-based; not
    electrode ids). Default: every channel."""

    @field_validator("channels")
    @classmethod
    def _valid_channels(cls, channels: list[int] | None) -> list[int] | None:
        if channels is not None:
            if any(c < 0 for c in channels):
                raise ValueError(f"channel positions must be >= 0, got {channels}")
            if len(set(channels)) != len(channels):
                raise ValueError(f"channels repeats a channel: {channels}")
        return channels
