"""Windows of X and Y paired by time (neural_mi.data.pairing), and refused when they cannot be."""

from __future__ import annotations

import numpy as np
import pytest

from neural_mi.data.pairing import PairingError, SpikeSpan, VariableTime, pair_variables
from neural_mi.data.sources import TimeBase


def _lfp(n_times: int, rate: float = 250.0, start: float = 0.0, **params) -> VariableTime:
    params = {"window_size": 50, "step_size": 25, **params}
    return VariableTime("X", "continuous", params, TimeBase(rate=rate, start=start), n_times)


def _spikes(last: float, start: float = 0.0, window: float = 0.2, step: float = 0.1):
    params = {"window_size": window, "step_size": step}
    return VariableTime("Y", "spike", params, SpikeSpan(start=start), last_spike=last)


def _starts(variable: VariableTime, pairing, position: int) -> np.ndarray:
    """Start times (s) of the windows of ``variable`` that the pairs take."""
    windows = pairing.windows(position, np.arange(pairing.n))
    if variable.processor_type == "spike":
        return pairing.origins[position] + windows * variable.params["step_size"]
    timing = variable.timing
    return timing.start + windows * variable.params["step_size"] / timing.rate


def test_lfp_at_250_hz_and_spikes_in_seconds_pair_windows_that_start_together():
    # 40 s of LFP at 250 Hz against spikes up to 32 s: the count pairing of NeuralMI 1.1
    # would pair 399 LFP windows with 319 spike windows by index; by time only the 32 s
    # both cover are used, each LFP window with the spike window starting at its instant.
    x, y = _lfp(10_000), _spikes(last=32.0)
    pairing = pair_variables([x, y])
    assert pairing.by_time
    np.testing.assert_allclose(_starts(x, pairing, 0), _starts(y, pairing, 1), atol=1e-9)
    last = _starts(x, pairing, 0)[-1]
    assert 31.5 <= last + 0.2 <= 32.0 + 1e-9, last


def test_different_rates_with_a_start_offset_are_paired_by_time():
    # X at 250 Hz from 2 s; Y at 100 Hz from 0 s, 0.2 s windows every 0.1 s in both.
    x = _lfp(5000, start=2.0)
    y = VariableTime(
        "Y", "continuous", {"window_size": 20, "step_size": 10}, TimeBase(rate=100.0), 2500
    )
    pairing = pair_variables([x, y])
    starts_x, starts_y = _starts(x, pairing, 0), _starts(y, pairing, 1)
    np.testing.assert_allclose(starts_x, starts_y, atol=1e-9)
    assert starts_x[0] == pytest.approx(2.0)
    assert starts_x[-1] + 0.2 <= 22.0 + 1e-9


def test_spans_overlapping_too_little_are_refused_naming_both_spans():
    x, y = _lfp(2500, start=0.0), _spikes(last=100.0, start=8.0)  # X 0-10 s, Y 8-100 s
    with pytest.raises(PairingError) as error:
        pair_variables([x, y])
    message = str(error.value)
    assert "X spans 0.000-10.000 s" in message and "Y spans 8.000-100.000 s" in message
    with pytest.raises(PairingError, match="X spans 0.000-10.000 s"):
        pair_variables([_lfp(2500), _spikes(last=30.0, start=20.0)])  # disjoint


def test_grids_that_cannot_be_matched_are_refused_naming_both_grids():
    # LFP windows every 0.1 s from 0 s; a 100 Hz Y stepping 0.1 s from 0.05 s: every
    # nearest start is half a step away.
    x = _lfp(2500)
    y = VariableTime(
        "Y", "continuous", {"window_size": 10, "step_size": 10}, TimeBase(100.0, 0.05), 1000
    )
    with pytest.raises(PairingError) as error:
        pair_variables([x, y])
    assert "X spans" in str(error.value) and "Y spans" in str(error.value)


def test_without_a_time_base_unequal_counts_are_refused_unless_truncate():
    x = VariableTime("X", "continuous", {"window_size": 1, "step_size": 1}, None, 1000)
    y = VariableTime("Y", "continuous", {"window_size": 1, "step_size": 1}, None, 800)
    with pytest.raises(PairingError, match=r"X gives 1000 and Y gives 800 windows.*sampling_rate"):
        pair_variables([x, y])
    pairing = pair_variables([x, y], align="truncate")
    assert pairing.n == 800 and not pairing.by_time
    equal = pair_variables(
        [x, VariableTime("Y", "continuous", {"window_size": 1, "step_size": 1}, None, 1000)]
    )
    assert equal.n == 1000
