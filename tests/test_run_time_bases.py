"""nmi.run with time bases: windows paired by time, lags in seconds, and the regressions of
#14 (spike lag 0 with step_size, (n_samples, features) arrays, unequal counts)."""

from __future__ import annotations

import numpy as np
import pytest

import neural_mi as nmi
from neural_mi.data.pairing import PairingError
from neural_mi.errors import DataShapeError, ParameterError

FAST = {"n_epochs": 1, "batch_size": 64, "embedding_dim": 4, "hidden_dim": 16}


def _spikes(seed: int, duration: float = 20.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.sort(rng.uniform(0, duration, 200)) for _ in range(3)]


def test_spike_lag_zero_with_a_step_size_runs():
    # Regression: lag 0 with step_size 0.025 divided by int(0.025) == 0.
    result = nmi.run(
        _spikes(0),
        _spikes(1),
        mode="lag",
        processor_type="spike",
        processor_params={"window_size": 0.1, "step_size": 0.025},
        lag_range=[-0.05, 0, 0.05],
        base_params=FAST,
        random_seed=0,
        verbose=False,
    )
    table = result.dataframe
    assert sorted(table["lag"].tolist()) == [-0.05, 0.0, 0.05]
    assert np.isfinite(table["mi_mean"]).all()


@pytest.mark.parametrize("shape", [(5000, 1), (5000, 5)])
def test_samples_by_features_array_gets_a_layout_error(shape):
    # Regression: (n_samples, features) arrays read as (channels, time) failed with errors
    # about lags or splits that never mentioned the layout.
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.raises(DataShapeError) as error:
        nmi.run(x, x.copy(), mode="estimate", base_params=FAST, verbose=False)
    message = str(error.value)
    assert f"x_data has shape {shape}, read as (channels, time)" in message
    assert "time_axis" in message and "processor_type=None" in message and ".T" in message


def test_samples_by_features_with_time_axis_0_runs():
    x = np.random.default_rng(0).standard_normal((2000, 2))
    result = nmi.run(
        x,
        x + 0.1,
        mode="estimate",
        processor_params={"window_size": 1, "time_axis": 0},
        base_params=FAST,
        random_seed=0,
        verbose=False,
    )
    assert np.isfinite(result.mi_estimate)


def test_unequal_counts_without_a_time_base_are_refused_unless_truncate():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 1000)), rng.standard_normal((2, 800))
    with pytest.raises(PairingError, match="X gives 1000 and Y gives 800 windows"):
        nmi.run(x, y, mode="estimate", base_params=FAST, verbose=False)
    result = nmi.run(
        x, y, mode="estimate", align="truncate", base_params=FAST, random_seed=0, verbose=False
    )
    assert np.isfinite(result.mi_estimate)


def test_sampling_rates_pair_by_time_and_non_overlapping_spans_are_refused():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 2500)), rng.standard_normal((1, 1000))  # 10 s each
    params = {
        "processor_params_x": {"window_size": "0.2 s", "step_size": "0.1 s"},
        "processor_params_y": {"window_size": "0.2 s", "step_size": "0.1 s"},
    }
    result = nmi.run(
        x,
        y,
        mode="estimate",
        sampling_rate={"x": 250.0, "y": 100.0},
        base_params=FAST,
        random_seed=0,
        verbose=False,
        **params,
    )
    assert np.isfinite(result.mi_estimate)
    with pytest.raises(PairingError, match=r"X spans 0.000-10.000 s.*Y spans 9.000-19.000 s"):
        nmi.run(
            x,
            y,
            mode="estimate",
            sampling_rate={"x": 250.0, "y": 100.0},
            start_time={"y": 9.0},
            base_params=FAST,
            verbose=False,
            **params,
        )


def test_durations_need_a_sampling_rate():
    x = np.random.default_rng(0).standard_normal((2, 2500))
    with pytest.raises(ParameterError, match="sampling_rate"):
        nmi.run(
            x,
            x.copy(),
            mode="estimate",
            processor_params={"window_size": "0.2 s"},
            base_params=FAST,
            verbose=False,
        )
