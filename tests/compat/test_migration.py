"""The differences from NeuralMI 1.1 that docs/migrating_from_neuralmi.md lists as fixed or
changed on purpose, one test each (the tutorial modules test the rest)."""

from __future__ import annotations

import copy
import inspect
import multiprocessing
import subprocess
import sys

import numpy as np
import pytest
import torch

import neural_mi as nmi
from neural_mi.errors import ParameterError

FAST = {
    "n_epochs": 4,
    "batch_size": 64,
    "hidden_dim": 16,
    "embedding_dim": 4,
    "n_layers": 1,
    "patience": 2,
    "learning_rate": 1e-3,
}


@pytest.fixture(scope="module")
def gauss():
    x, y = nmi.datasets.generate_correlated_gaussians(900, 2, 1.0, use_torch=False, seed=3)
    return x.T.copy(), y.T.copy()


def test_importing_sets_no_start_method():
    # 1.1 forced the 'spawn' start method on the whole interpreter when imported.
    code = (
        "import multiprocessing, neural_mi, neural_mi.runner, neural_mi.visualize; "
        "print(multiprocessing.get_start_method(allow_none=True))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def test_run_leaves_base_params_and_the_start_method_alone(gauss):
    # 1.1 wrote a dozen keys into the caller's base_params.  A pool of workers uses its
    # own context; the interpreter keeps its start method (at most tqdm's lock fixes the
    # platform's default).
    x, y = gauss
    base_params = dict(FAST)
    before = copy.deepcopy(base_params)
    start_method = multiprocessing.get_start_method(allow_none=True)
    nmi.run(x, y, mode="sweep", sweep_grid={"embedding_dim": [2, 4]}, base_params=base_params,
            n_workers=2, verbose=False)  # fmt: skip
    assert base_params == before
    platform_default = multiprocessing.get_all_start_methods()[0]
    assert multiprocessing.get_start_method(allow_none=True) in (start_method, platform_default)


def test_unknown_arguments_are_refused(gauss):
    # 1.1 passed unknown keywords on to the analysis, which ignored most of them.
    x, y = gauss
    with pytest.raises(ParameterError, match="Did you mean 'n_workers'"):
        nmi.run(x, y, base_params=FAST, n_wokers=2, verbose=False)


def test_js_estimator_is_available(gauss):
    # 1.1 documented estimator='js' but did not register it (KeyError).
    x, y = gauss
    res = nmi.run(x, y, estimator="js", base_params=FAST, split_mode="random", verbose=False)
    assert np.isfinite(res.mi_estimate)


def test_every_layer_of_a_cnn_embedding_trains(gauss):
    # 1.1's CNN created its last layers on the first forward pass, after the optimizer
    # had been given the parameters, so they never trained.  Ours are built up front:
    # every parameter tensor moves in training.
    x, y = gauss
    params = nmi.params.resolve_base_params({**FAST, "embedding_model": "cnn"})
    critic = nmi.models.build_critic(params, (2, 1), (2, 1))
    before = {name: p.detach().clone() for name, p in critic.named_parameters()}
    nmi.run(x, y, base_params=FAST, custom_critic=critic, split_mode="random", verbose=False)
    unchanged = [n for n, p in critic.named_parameters() if torch.equal(p, before[n])]
    assert not unchanged


def test_max_samples_per_task(gauss):
    x, y = gauss
    res = nmi.run(x, y, mode="sweep", sweep_grid={"embedding_dim": [2, 4]}, base_params=FAST,
                  max_samples_per_task=300, split_mode="random", verbose=False)  # fmt: skip
    tasks = res.details["raw_results"]
    assert ((tasks["n_train"] + tasks["n_test"]) == 300).all()
    # The same task subsamples the same way every time (seeded by the run seed and key).
    again = nmi.run(x, y, mode="sweep", sweep_grid={"embedding_dim": [2, 4]}, base_params=FAST,
                    max_samples_per_task=300, split_mode="random", verbose=False)  # fmt: skip
    assert again.dataframe["mi_mean"].tolist() == res.dataframe["mi_mean"].tolist()
    # The bias correction extrapolates over the sample count: a cap would void it.
    with pytest.raises(ParameterError, match="not supported in mode 'rigorous'"):
        nmi.run(x, y, mode="rigorous", max_samples_per_task=300, verbose=False)
    with pytest.raises(ParameterError, match="cannot be combined with train_indices"):
        nmi.run(x, y, max_samples_per_task=300, train_indices=np.arange(600),
                test_indices=np.arange(600, 900), verbose=False)  # fmt: skip


def test_y_takes_x_parameters_only_for_the_same_processor():
    # 1.1 copied X's parameters to a Y of another type (a continuous window of 4 samples
    # became a spike window of 4 seconds).  Ours: Y of another type needs its own.
    x = np.random.default_rng(0).standard_normal((1, 400))
    spikes = [np.sort(np.random.default_rng(1).uniform(0, 4, 40))]
    with pytest.raises(ParameterError, match="window_size'\\] \\(seconds\\) is required"):
        nmi.run(x, spikes, processor_type_x="continuous", processor_params_x={"window_size": 4},
                processor_type_y="spike", verbose=False)  # fmt: skip


def test_plot_figsize_and_axes(gauss):
    x, y = gauss
    res = nmi.run(x, y, base_params=FAST, verbose=False)
    ax = res.plot(show=False, figsize=(3, 2))
    assert tuple(ax.get_figure().get_size_inches()) == (3, 2)
    with pytest.raises(ParameterError, match="figsize"):
        res.plot(ax=ax, figsize=(3, 2), show=False)


@pytest.mark.parametrize(
    "generator, defaults",
    [
        ("generate_linear_data", {"n_samples": 5000, "true_lag": 50, "noise": 0.5}),
        ("generate_nonlinear_data", {"n_samples": 5000, "true_lag": 50, "noise": 0.2}),
        ("generate_history_data", {"n_samples": 5000, "history_duration": 20, "noise": 0.1}),
        (
            "generate_full_data",
            {"n_samples": 5000, "true_lag": 30, "history_duration": 20, "noise": 0.3},
        ),
        (
            "generate_correlated_spike_trains",
            {"n_neurons": 10, "duration": 100.0, "firing_rate": 5.0, "lag": 0.02, "jitter": 0.005},
        ),
        (
            "generate_correlated_categorical_series",
            {"n_channels": 1, "n_categories": 3, "p_copy": 0.9, "use_torch": True},
        ),
    ],
)
def test_generators_have_the_1_1_defaults(generator, defaults):
    parameters = inspect.signature(getattr(nmi.datasets, generator)).parameters
    assert {name: parameters[name].default for name in defaults} == defaults
    assert parameters["seed"].default == 42  # ours: reproducible by default


def test_generators_take_the_1_1_keyword_names():
    x, y = nmi.datasets.generate_correlated_spike_trains(
        n_neurons=1, duration=10.0, delay=0.5, jitter=0.0, background_rate=0.0
    )
    np.testing.assert_allclose(y[0], x[0][x[0] + 0.5 < 10.0] + 0.5)
    with pytest.raises(ParameterError, match="not both"):
        nmi.datasets.generate_correlated_spike_trains(lag=0.1, delay=0.2)
    x, y = nmi.datasets.generate_history_data(n_samples=200, noise_level=0.0)
    np.testing.assert_array_equal(y[0, 20:], x[0, :-20])


def test_repeats_from_run_id_are_seeded_apart(gauss):
    x, y = gauss
    res = nmi.run(x, y, mode="sweep", sweep_grid={"embedding_dim": [2], "run_id": range(3)},
                  base_params=FAST, split_mode="random", verbose=False)  # fmt: skip
    tasks = res.details["raw_results"]
    assert sorted(tasks["repeat"]) == [0, 1, 2] and tasks["seed"].nunique() == 3
    assert tasks["test_mi"].nunique() == 3
    assert res.dataframe["mi_mean"].item() == pytest.approx(tasks["test_mi"].mean())
    with pytest.raises(ParameterError, match="'run_id'\\] is empty"):
        nmi.run(x, y, mode="sweep", sweep_grid={"run_id": []}, verbose=False)
    # In a lag analysis too (1.1's docs: sweep_grid={'run_id': range(5)}).
    lag = nmi.run(x, y, mode="lag", lag_range=[0, 1], sweep_grid={"run_id": range(2)},
                  base_params=FAST, verbose=False)  # fmt: skip
    assert lag.dataframe["n"].tolist() == [2, 2] and len(lag.details["raw_results"]) == 4


def test_single_task_options_and_lags_are_checked(gauss, tmp_path):
    x, y = gauss
    # 1.1 let every task of a sweep write the same model file and applied explicit indices
    # to rigorous subsets; here they belong to the one task of estimate mode.
    with pytest.raises(ParameterError, match="only supported in mode 'estimate'"):
        nmi.run(x, y, mode="sweep", sweep_grid={"embedding_dim": [2]},
                save_best_model_path=tmp_path / "m.pt", verbose=False)  # fmt: skip
    with pytest.raises(ParameterError, match="only supported in mode 'estimate'"):
        nmi.run(x, y, mode="rigorous", train_indices=np.arange(600),
                test_indices=np.arange(600, 900), verbose=False)  # fmt: skip
    # A lag shifts whole windows: 3 samples with windows every 2 cannot be honoured.
    with pytest.raises(ParameterError, match="multiple of step_size 2"):
        nmi.run(x, y, mode="lag", lag_range=[3], base_params=FAST,
                processor_params={"window_size": 2, "step_size": 2}, verbose=False)  # fmt: skip
    # 1.1 ignored 'lag' in the grid of a lag analysis with a warning; it is not a parameter.
    with pytest.raises(ParameterError, match="sweep_grid key 'lag'"):
        nmi.run(x, y, mode="lag", lag_range=[0], sweep_grid={"lag": [1]}, verbose=False)
