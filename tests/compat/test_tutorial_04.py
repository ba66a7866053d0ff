"""NeuralMI 1.1 tutorial 4 (bias correction): its calls, and what its text claims.

The fast tests make the tutorial's calls on small data; the slow ones make its rigorous
call as written on its own data (100 channels a side, so the input transform scales them
to a summed variance of 5: ``neural_mi.data.transforms.TOTAL_VARIANCE``) and check that
the correction moves towards the truth and that its interval holds it.
``mi_error`` combines the intercept's standard error with the variance of one per-gamma
mean (the gammas re-cut the same data): the numbers of 1.1's prediction interval
(docs/migrating_from_neuralmi.md, section 5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import stdtrit

import neural_mi as nmi
from neural_mi.errors import ParameterError
from neural_mi.visualize.plot import plot_bias_correction_fit

SMALL = {
    "n_epochs": 15,
    "learning_rate": 1e-3,
    "batch_size": 64,
    "patience": 5,
    "embedding_dim": 8,
    "hidden_dim": 32,
    "n_layers": 2,
}
X_ONLY = {"processor_type_x": "continuous", "processor_params_x": {"window_size": 1}}


@pytest.fixture(scope="module")
def small_data():
    x, y = nmi.datasets.generate_nonlinear_from_latent(
        n_samples=1500, latent_dim=2, observed_dim=10, mi=1.0
    )
    return x.T, y.T


def test_estimates_vary_with_the_seed_and_verbose_false_is_silent(small_data, capfd):
    x, y = small_data
    kw = dict(mode="estimate", split_mode="random", base_params=SMALL, verbose=False, **X_ONLY)
    first = nmi.run(x_data=x, y_data=y, random_seed=42, **kw)
    second = nmi.run(x_data=x, y_data=y, random_seed=123, **kw)
    again = nmi.run(x_data=x, y_data=y, random_seed=42, **kw)
    # "running the same estimation twice will give slightly different answers" when the
    # seed changes; the same seed gives the same number (1.1 did not promise that).
    assert first.mi_estimate != second.mi_estimate
    assert abs(first.mi_estimate - second.mi_estimate) < 0.2
    assert again.mi_estimate == first.mi_estimate
    # verbose=False prints nothing (1.1 still printed progress bars and log lines)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.fixture(scope="module")
def rigorous(small_data):
    x, y = small_data
    return nmi.run(
        x_data=x,
        y_data=y,
        mode="rigorous",
        base_params=SMALL,
        split_mode="random",
        gamma_range=range(1, 6),
        random_seed=42,
        verbose=False,
        **X_ONLY,
    )


def test_rigorous_results_and_figure(rigorous):
    details = rigorous.details
    mi_est = rigorous.mi_estimate
    mi_err = details.get("mi_error", 0.0)
    assert mi_est == details["mi_corrected"] and math.isfinite(mi_err) and mi_err > 0
    assert isinstance(details["is_reliable"], bool)
    assert details["gammas_used"][0] == 1
    # Seed 42; truth 1 bit; 15 epochs on 1500 samples: within 0.25 bit.
    assert mi_est == pytest.approx(1.0, abs=0.25)
    ax = rigorous.plot(show=False)
    ax.axhline(y=1.0, color="green", linestyle="-", label="True MI (1.00 bits)")
    ax.legend()
    ax.set_ylim(bottom=0)
    assert "True MI (1.00 bits)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_bias_correction_figure_from_the_tables(rigorous):
    ax = plot_bias_correction_fit(rigorous.details["raw_results"], rigorous.details)
    # The corrected MI is drawn at gamma = 0 with its error bar.
    corrected = [
        line for line in ax.lines if np.allclose(line.get_xdata(), [0.0]) and line.get_marker()
    ]
    assert any(np.isclose(line.get_ydata()[0], rigorous.mi_estimate) for line in corrected)
    # 1.1 passed results.dataframe (its raw table); ours is one row per combination, and
    # the message says which table to pass.
    with pytest.raises(ParameterError, match=r"details\['raw_results'\]"):
        plot_bias_correction_fit(rigorous.dataframe, rigorous.details)


def test_mi_error_adds_the_variance_of_one_per_gamma_mean(rigorous):
    # Recomputed from the per-task table: weighted least squares (weight 1/n per gamma),
    # t quantile of the 0.68 level on n - 2 degrees of freedom times
    # sqrt(SE(intercept)^2 + s^2), s^2 the weighted residual variance (that of one
    # per-gamma mean): the intercept's own standard error misses the sampling error that
    # every gamma shares.  These are the numbers of 1.1's prediction interval at gamma = 0.
    raw = rigorous.details["raw_results"]
    gamma, mi = raw["gamma"].to_numpy(float), raw["test_mi"].to_numpy(float)
    weight = 1.0 / raw.groupby("gamma")["gamma"].transform("count").to_numpy(float)
    design = np.column_stack([np.ones_like(gamma), gamma])
    normal = design.T @ (weight[:, None] * design)
    coef = np.linalg.solve(normal, design.T @ (weight * mi))
    dof = gamma.size - 2
    scale = float(weight @ (mi - design @ coef) ** 2) / dof
    se_intercept = math.sqrt(scale * np.linalg.inv(normal)[0, 0])
    t = stdtrit(dof, 0.5 + 0.68 / 2)
    assert rigorous.mi_estimate == pytest.approx(coef[0], rel=1e-6)
    assert rigorous.details["mi_error"] == pytest.approx(
        t * math.sqrt(se_intercept**2 + scale), rel=1e-6
    )
    assert rigorous.details["mi_error"] > t * se_intercept


def test_fit_settings_of_the_tutorial(rigorous):
    # delta_threshold, min_gamma_points and confidence_level only change the fit; a wider
    # confidence level widens the interval of the same tasks.
    wider = nmi.Results.from_tasks(
        rigorous.tasks,
        "rigorous",
        {"confidence_level": 0.95, "min_gamma_points": 3, "delta_threshold": 0.1},
    )
    assert wider.details["mi_error"] > rigorous.details["mi_error"]
    assert len(wider.details["gammas_used"]) >= 3


@pytest.fixture(scope="module")
def tutorial_rigorous():
    """The tutorial's data and parameters, seed 42 (55 tasks; a minute or two on 2 cores)."""
    x_raw, y_raw = nmi.datasets.generate_nonlinear_from_latent(
        n_samples=2500, latent_dim=10, observed_dim=100, mi=3.0
    )
    base_params = {
        "n_epochs": 100,
        "learning_rate": 5e-4,
        "batch_size": 128,
        "patience": 20,
        "embedding_dim": 20,
        "hidden_dim": 256,
        "n_layers": 3,
    }
    return nmi.run(
        x_data=x_raw.T,
        y_data=y_raw.T,
        mode="rigorous",
        base_params=base_params,
        split_mode="random",
        n_workers=2,
        random_seed=42,
        verbose=False,
        **X_ONLY,
    )


@pytest.mark.slow
def test_rigorous_estimate_corrects_towards_the_truth_on_the_tutorials_data(tutorial_rigorous):
    # Measured (seed 42, the tutorial's call as written): 2.898 ± 0.133 bits (68 %),
    # reliable, every gamma used; the full-data task gives 2.72.  Truth 3 bits;
    # tolerance 0.2 bit.
    details = tutorial_rigorous.details
    mi_est = tutorial_rigorous.mi_estimate
    assert details["is_reliable"]
    assert abs(mi_est - 3.0) < 0.2
    per_gamma = details["per_gamma"]
    full_data = float(per_gamma.loc[per_gamma["gamma"] == 1, "mi_mean"].iloc[0])
    assert abs(mi_est - 3.0) < abs(full_data - 3.0)


@pytest.mark.slow
def test_rigorous_interval_holds_the_truth_on_the_tutorials_data(tutorial_rigorous):
    # Seed 42: 2.898 ± 0.133 bits holds 3 bits by 0.031.  Not a property of every seed:
    # seed 123 gives 2.792 ± 0.127, which misses at 68 % and holds at 95 % (a critic
    # bias of 0.1-0.2 bit remains on this 100-d data; migration guide, section 5).
    mi_est = tutorial_rigorous.mi_estimate
    mi_err = tutorial_rigorous.details.get("mi_error", 0.0)
    assert abs(mi_est - 3.0) <= mi_err, (mi_est, mi_err)


@pytest.mark.slow
def test_rigorous_95_percent_interval_holds_the_truth_on_the_tutorials_data(tutorial_rigorous):
    # Seed 42, the same tasks refitted at the 95 % level: measured 2.898 ± 0.265 bits.
    wider = nmi.Results.from_tasks(tutorial_rigorous.tasks, "rigorous", {"confidence_level": 0.95})
    mi_est, mi_err = wider.mi_estimate, wider.details["mi_error"]
    assert mi_est == tutorial_rigorous.mi_estimate
    assert abs(mi_est - 3.0) <= mi_err, (mi_est, mi_err)
