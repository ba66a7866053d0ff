"""Registry and config models: format inference, validation messages, schema, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import BaseModel

from neural_mi.data.sources import (
    SOURCES,
    ArraySourceConfig,
    NwbSource,
    NwbSourceConfig,
    SourceConfig,
    UnitSelection,
    infer_format,
    open_source,
    parse_source_config,
)
from neural_mi.errors import DataSourceError, ParameterError


@pytest.mark.parametrize(
    "path, expected",
    [
        ("s1.nwb", "nwb"),
        ("data/S1.NWB", "nwb"),
        ("lfp.mat", "mat"),
        ("lfp.nc", "xarray"),
        ("a.npy", "array"),
        ("a.npz", "array"),
        ("store.zarr", "array"),
        ("sorting/kilosort4", "phy"),
    ],
)
def test_infer_format(path, expected):
    assert infer_format(path) == expected
    required = {"nwb": {"object": "units"}, "mat": {"variable": "x"}}.get(expected, {})
    assert parse_source_config({"path": path, **required}).format == expected


def test_explicit_format_wins():
    config = parse_source_config({"path": "store.zarr", "format": "xarray", "variable": "lfp"})
    assert config.format == "xarray" and config.variable == "lfp"


def test_validation_messages():
    uninferable = r"'notes.txt'.*cannot tell the format.*'.txt'; give format: one of array, mat,"
    with pytest.raises(DataSourceError, match=uninferable):
        parse_source_config({"path": "notes.txt"})
    with pytest.raises(
        DataSourceError, match=r"tag 'hdf5'.*'array', 'mat', 'nwb', 'phy', 'xarray'"
    ):
        parse_source_config({"path": "a.h5", "format": "hdf5"})
    with pytest.raises(DataSourceError, match=r"'sorting'.*object: Extra inputs are not permitted"):
        parse_source_config({"path": "sorting", "object": "units"})
    with pytest.raises(DataSourceError, match=r"units.where.quality"):
        parse_source_config(
            {"path": "s.nwb", "object": "units", "units": {"where": {"quality": {"a": 1}}}}
        )
    with pytest.raises(DataSourceError, match=r"object: Field required"):
        parse_source_config({"path": "s.nwb"})
    with pytest.raises(ParameterError):  # a DataSourceError is a ParameterError
        parse_source_config({"path": "s.nwb", "time_range": [3, 1], "object": "units"})


def test_open_source_takes_mappings_and_models():
    model = NwbSourceConfig(path="s.nwb", object="units")
    assert isinstance(open_source(model), NwbSource)
    assert open_source({"path": "s.nwb", "object": "units"}).config == model
    assert set(SOURCES) == {"array", "mat", "nwb", "phy", "xarray"}


def _models():
    models = {UnitSelection}
    for source in SOURCES.values():
        models.add(source.config_model)
    return sorted(models, key=lambda m: m.__name__)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_is_described_and_extra_keys_are_refused(model):
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
    assert model.model_config["extra"] == "forbid"


def test_embeds_in_a_workflow_model():
    class Variable(BaseModel):
        source: SourceConfig

    variable = Variable.model_validate({"source": {"path": "lfp.npy", "sampling_rate": 250}})
    assert isinstance(variable.source, ArraySourceConfig)
    schema = json.dumps(Variable.model_json_schema())
    for model in ("NwbSourceConfig", "PhySourceConfig", "MatSourceConfig", "XarraySourceConfig"):
        assert model in schema


def test_importing_sources_loads_no_reader_library():
    code = (
        "import sys, neural_mi.data.sources; "
        "print([m for m in ('torch', 'pynwb', 'hdmf', 'h5py', 'scipy', 'xarray') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
