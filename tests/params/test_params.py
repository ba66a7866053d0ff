"""The typed parameter models and the one integer/number validator (neural_mi.params)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neural_mi.errors import ParameterError
from neural_mi.params import (
    BASE_PARAM_DEFAULTS,
    PROCESSOR_PARAM_DEFAULTS,
    TrainParams,
    check_int,
    check_number,
    resolve_base_params,
    resolve_estimator,
    resolve_processor_params,
)


def test_check_int_accepts_integers_only():
    assert check_int(3, "n", 1) == 3
    assert check_int(np.int64(3), "n", 1) == 3 and type(check_int(np.int64(3), "n")) is int
    for bad in (True, 2.0, 1.5, "3", None):
        with pytest.raises(ParameterError, match=rf"n must be an integer >= 1, got {bad!r}"):
            check_int(bad, "n", 1)
    with pytest.raises(ParameterError, match=r"n must be an integer >= 1, got 0"):
        check_int(0, "n", 1)
    assert check_int(-5, "n") == -5  # no minimum


def test_check_number_bounds_and_finiteness():
    assert check_number(0.5, "p", gt=0, lt=1) == 0.5
    assert check_number(np.float32(2), "x", ge=2) == 2.0
    for bad in (0, 1, float("nan"), "0.5", True):
        message = rf"p must be a finite number > 0 and < 1, got {bad!r}"
        with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
            check_number(bad, "p", gt=0, lt=1)
    with pytest.raises(ParameterError, match=r"must be a finite number, got inf"):
        check_number(float("inf"), "x")


def test_train_params_defaults_ranges_and_schema():
    assert resolve_base_params(None) == BASE_PARAM_DEFAULTS == TrainParams().model_dump()
    schema = TrainParams.model_json_schema()["properties"]
    assert schema["n_epochs"]["minimum"] == 1 and schema["batch_size"]["minimum"] == 2
    assert schema["train_fraction"]["exclusiveMinimum"] == 0
    assert schema["train_fraction"]["exclusiveMaximum"] == 1
    assert all(field.get("description") for field in schema.values())


def test_values_keep_their_type_so_task_keys_do_not_change():
    # A learning rate given as an int stays an int: the resolved parameters hash as given.
    params = resolve_base_params({"learning_rate": 1, "n_epochs": np.int64(3)})
    assert params["learning_rate"] == 1 and type(params["learning_rate"]) is int
    assert type(params["n_epochs"]) is int
    assert json.dumps(params, sort_keys=True)


@pytest.mark.parametrize(
    "given, pattern",
    [
        ({"use_variational": "yes"}, r"use_variational'\] must be True or False, got 'yes'"),
        ({"use_variational": 1}, r"must be True or False, got 1"),
        ({"n_epochs": 0}, r"base_params\['n_epochs'\] must be an integer >= 1, got 0"),
        ({"learning_rate": "1e-3"}, r"learning_rate'\] must be a finite number > 0"),
        ({"critic_type": "bilinar"}, r"Unknown critic_type 'bilinar'; choose one of 'separable'"),
        ({"n_epoch": 3}, r"Unknown key 'n_epoch' in base_params. Did you mean 'n_epochs'\?"),
    ],
)
def test_base_params_errors_name_the_key(given, pattern):
    with pytest.raises(ParameterError, match=pattern):
        resolve_base_params(given)


def test_base_params_must_be_a_mapping():
    with pytest.raises(ParameterError, match=r"base_params must be a mapping"):
        resolve_base_params([1, 2])


def test_processor_params_per_type():
    assert resolve_processor_params("continuous", {"window_size": 4}) == {
        "window_size": 4,
        "step_size": 1,
        "time_axis": -1,
    }
    assert resolve_processor_params(None, None) == {} == PROCESSOR_PARAM_DEFAULTS[None]
    spike = resolve_processor_params("spike", {"window_size": 0.05}, "y")
    assert spike == {
        "window_size": 0.05,
        "step_size": None,
        "max_spikes_per_window": None,
        "n_seconds": None,
    }
    with pytest.raises(ParameterError, match=r"processor_params_y\['window_size'\] \(seconds\) is"):
        resolve_processor_params("spike", {}, "y")
    with pytest.raises(
        ParameterError,
        match=r"Unknown key 'window' in processor_params_x "
        r"\(processor 'continuous'\). Did you mean",
    ):
        resolve_processor_params("continuous", {"window": 3})
    with pytest.raises(ParameterError, match=r"Unknown key 'a' in processor_params_x .*\(none\)"):
        resolve_processor_params(None, {"a": 1})


def test_estimator_params():
    assert resolve_estimator("smile", None) == {"clip": 5.0}
    assert resolve_estimator("smile", {"clip": None}) == {"clip": None}
    assert resolve_estimator("infonce", {}) == {}
    with pytest.raises(ParameterError, match=r"estimator_params for 'smile'\['clip'\] must be"):
        resolve_estimator("smile", {"clip": -1})
    with pytest.raises(ParameterError, match=r"Unknown estimator 'infonse'"):
        resolve_estimator("infonse", {})
