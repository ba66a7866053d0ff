"""NeuralMI 1.1 tutorial 3 (temporal relationships): its calls, and what its text claims.

Smaller than the tutorial (2000 samples, lags and windows scaled down, 10 epochs) so that
the default run stays fast; the generators and calls are the tutorial's.  Our lag ×
window grid is one ``mode='lag'`` call with a ``sweep_grid``; the tutorial's loop over
``nmi.utils._shift_data`` still works and pairs the same samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import neural_mi as nmi
from neural_mi.datasets.generators import (
    generate_full_data,
    generate_history_data,
    generate_linear_data,
    generate_nonlinear_data,
)
from neural_mi.engine.inputs import SessionData
from neural_mi.modes import get_mode
from neural_mi.plan import plan_tasks
from neural_mi.visualize.plot import analyze_mi_heatmap, plot_cross_correlation

BASE_PARAMS = {
    "embedding_dim": 16,
    "hidden_dim": 32,
    "n_layers": 2,
    "learning_rate": 1e-3,
    "batch_size": 128,
    "n_epochs": 10,
    "patience": 15,
}
TRUE_LAG = 20


def _correlation_curve(ax):
    lags, corr = ax.lines[0].get_xydata().T
    return lags.astype(int), corr


def test_cross_correlation_finds_a_linear_lag_and_misses_a_nonlinear_one():
    x, y = generate_linear_data(true_lag=50)
    ax = plot_cross_correlation(x, y, 50)
    lags, corr = _correlation_curve(ax)
    assert lags[np.argmax(np.abs(corr))] == 50
    assert "strongest at lag 50" in [line.get_label() for line in ax.lines]
    # y = x^2 - 1 is uncorrelated with x at every lag (seed 42, 5000 samples: sd of a
    # correlation ~0.014; tol 0.06)
    x, y = generate_nonlinear_data(true_lag=50)
    _, corr = _correlation_curve(plot_cross_correlation(x, y, 50, show=False))
    assert np.max(np.abs(corr)) < 0.06


@pytest.mark.parametrize("generator", [generate_linear_data, generate_nonlinear_data])
def test_lag_analysis_peaks_at_the_true_lag(generator):
    # Seed 42, 2000 samples, lags 0..40 step 5: the MI peaks at the true lag (20) and is
    # about 0 elsewhere (white-noise X: no other lag carries information; tol 0.1 bit).
    x, y = generator(n_samples=2000, true_lag=TRUE_LAG)
    results = nmi.run(
        x_data=x,
        y_data=y,
        mode="lag",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=BASE_PARAMS,
        lag_range=range(0, 41, 5),
        verbose=False,
    )
    assert results.details["peak_lag"] == TRUE_LAG
    off_peak = results.dataframe.query("lag != @TRUE_LAG")["mi_mean"]
    assert off_peak.abs().max() < 0.1
    ax = results.plot(show=False)
    ax.axvline(TRUE_LAG, color="r", linestyle="--", label=f"True Lag ({TRUE_LAG})")
    ax.legend()
    assert ax.get_xlabel().startswith("lag")


def test_window_sweep_rises_where_the_history_is():
    # Seed 42: y depends on x 10 samples back, so equal windows share information only
    # beyond 10 samples: MI < 0.1 bit for windows 4 and 8, > 1 bit for 12 and 16.
    history = 10
    x, y = generate_history_data(n_samples=2000, history_duration=history)
    results = nmi.run(
        x_data=x,
        y_data=y,
        mode="sweep",
        processor_type="continuous",
        processor_params={},
        base_params=BASE_PARAMS,
        sweep_grid={"window_size": range(4, 17, 4)},
        verbose=False,
    )
    mi = dict(zip(results.dataframe["window_size"], results.dataframe["mi_mean"]))
    assert max(mi[4], mi[8]) < 0.1 and min(mi[12], mi[16]) > 1.0, mi
    ax = results.plot(show=False)
    ax.axvline(history, color="r", linestyle="--")
    ax.set_xlabel("Window Size (Timepoints)")
    assert ax.get_xlabel() == "Window Size (Timepoints)"


LAGS = [0, 5, 10, 15]
WINDOWS = [3, 6, 9, 12, 15]


def _full_data():
    return generate_full_data(n_samples=2000, true_lag=10, history_duration=5)


def test_lag_by_window_grid_in_one_call():
    # Seed 42; y[t] depends on x[t-14 .. t-10] (true_lag 10, history 5).  At lag 0 the
    # windows share information only once they are longer than the lag (12 and 15 here,
    # 1.1's generator delayed y by a further history_duration); at the true lag every
    # window does.  Tolerances: < 0.1 bit where there is none, > 0.5 bit where there is.
    x, y = _full_data()
    results = nmi.run(
        x_data=x,
        y_data=y,
        mode="lag",
        processor_type="continuous",
        processor_params={},
        base_params=BASE_PARAMS,
        lag_range=LAGS,
        sweep_grid={"window_size": WINDOWS},
        verbose=False,
    )
    table = results.dataframe
    assert len(table) == len(LAGS) * len(WINDOWS)
    grid = table.pivot(index="window_size", columns="lag", values="mi_mean")
    assert grid.loc[[3, 6, 9], 0].max() < 0.1 and grid.loc[[12, 15], 0].min() > 0.5, grid
    assert grid[10].min() > 0.5, grid
    # The tutorial's reading of the grid: the MI at lag 0 rises past the lag.
    found = analyze_mi_heatmap(
        table.rename(columns={"mi_mean": "mi"}),
        absolute_mi_threshold=1.0,
        contour_rise_fraction=0.05,
        radius_multiplier=2,
        true_lag=10,
        history_duration=5,
    )
    assert found.causal_contour == 12
    assert found.center is not None and found.radius > 0
    assert found.ax.get_xlabel() == "lag (samples)"
    # Each window size has its own curve and peak lag.
    assert set(table["peak_lag"]) <= {5, 10, 15}
    assert results.plot(show=False).get_legend() is not None


def test_shift_data_pairs_the_samples_that_lag_mode_pairs():
    # The tutorial's hand-made grid (nmi.utils._shift_data, then a window sweep) and
    # mode='lag' with a sweep_grid train on the same (x, y) windows.
    x, y = _full_data()
    data = SessionData(x, y)
    for spec in plan_tasks(
        "lag",
        lag_range=[0, 10],
        sweep_grid={"window_size": [6]},
        processor_params_x={},
        processor_params_y={},
    ):
        x_lag, y_lag, _ = get_mode("lag").task_data(spec, data)
        x_shift, y_shift = nmi.utils._shift_data(x, y, int(spec.lag), "continuous")
        processor = nmi.data.ContinuousProcessor(window_size=6)
        assert np.array_equal(x_lag.numpy(), processor.process(x_shift).numpy())
        assert np.array_equal(y_lag.numpy(), processor.process(y_shift).numpy())


def test_hand_made_grid_of_the_tutorial_runs():
    x, y = _full_data()
    rows = []
    for lag in (0, 10):
        x_aligned, y_aligned = nmi.utils._shift_data(x, y, lag, "continuous")
        results = nmi.run(
            x_data=x_aligned,
            y_data=y_aligned,
            mode="sweep",
            processor_type="continuous",
            processor_params={},
            base_params={**BASE_PARAMS, "n_epochs": 3},
            sweep_grid={"window_size": [6, 12]},
            verbose=False,
        )
        for _, row in results.dataframe.iterrows():
            rows.append({"lag": lag, "window_size": row["window_size"], "mi": row["mi_mean"]})
    table = pd.DataFrame(rows).pivot(index="window_size", columns="lag", values="mi")
    assert table.shape == (2, 2)
    # Seed 42; only 3 epochs, so only the clear contrast is asserted: no information at
    # lag 0 with 6-sample windows, some at the true lag (tol 0.1 bit).
    assert table.loc[6, 0] < 0.1 < table.loc[6, 10]


def test_generators_take_the_1_1_argument_names():
    x, y = generate_linear_data(true_lag=5, noise_level=0.0, n_samples=100)
    np.testing.assert_array_equal(y[0, 5:], x[0, :-5])
    with pytest.raises(nmi.errors.ParameterError, match="not both"):
        generate_linear_data(noise=0.1, noise_level=0.2)
