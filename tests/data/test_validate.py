"""validate_data: each bad input raises the right error with a message naming the problem."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from neural_mi.data import validate_data
from neural_mi.errors import DataShapeError, DataValueError, InsufficientDataError, ParameterError


def test_good_inputs_pass():
    validate_data(np.zeros((2, 100)), "continuous")
    validate_data(torch.zeros(100), "continuous")
    validate_data(np.zeros((10, 2, 3)), None)
    validate_data(np.array([[0, 1, 2]]), "categorical")
    validate_data([np.array([0.1, 0.5]), np.array([])], "spike")


def test_nan_names_variable_count_and_first_index():
    data = np.zeros((2, 10))
    data[1, 3] = np.nan
    data[1, 7] = np.nan
    with pytest.raises(DataValueError, match=r"y_data holds 2 non-finite.*\(1, 3\)"):
        validate_data(data, "continuous", name="y_data")


def test_inf_in_torch_tensor():
    data = torch.zeros(5, 4)
    data[2, 0] = float("inf")
    with pytest.raises(DataValueError, match=r"x_data holds 1 non-finite.*\(2, 0\)"):
        validate_data(data, None)


@pytest.mark.parametrize(
    "shape, processor", [((2, 3, 4), "continuous"), ((5,), None), ((1, 2, 3, 4), "categorical")]
)
def test_wrong_ndim(shape, processor):
    with pytest.raises(DataShapeError, match=re.escape(f"shape {shape}")):
        validate_data(np.zeros(shape), processor)


def test_non_numeric():
    with pytest.raises(DataValueError, match="numeric"):
        validate_data(np.array([["a", "b"]]), "continuous")


def test_empty_inputs():
    with pytest.raises(InsufficientDataError, match="empty"):
        validate_data(np.zeros((1, 0)), "continuous")
    with pytest.raises(InsufficientDataError, match="no channels"):
        validate_data([], "spike")
    with pytest.raises(InsufficientDataError, match="no spikes in any of its 2 channels"):
        validate_data([np.array([]), np.array([])], "spike")


def test_negative_spike_times_name_channel():
    with pytest.raises(DataValueError, match=r"channel 1 holds 1 negative.*index 2"):
        validate_data([np.array([0.1]), np.array([0.1, 0.2, -0.3])], "spike")


def test_spike_structure_errors():
    with pytest.raises(DataShapeError, match="list or tuple"):
        validate_data(np.zeros((2, 5)), "spike")
    with pytest.raises(DataShapeError, match=r"channel 0 must be a 1-D.*\(2, 2\)"):
        validate_data([np.zeros((2, 2))], "spike")
    with pytest.raises(DataValueError, match="channel 0 holds 1 non-finite"):
        validate_data([np.array([0.1, np.nan])], "spike")


def test_unknown_processor():
    with pytest.raises(ParameterError, match="processor_type"):
        validate_data(np.zeros((2, 5)), "wavelet")
