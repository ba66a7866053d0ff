"""Never an absurd number: divergence is detected and recovered from, or the task fails.

- A critic whose loss or held-out estimate goes non-finite, or whose kept estimates lie
  outside what the estimator can give, is restarted from its initial weights at a lower
  learning rate; a restart ends exactly as training at that rate from the start would.
- Critics trained together: one diverging critic changes no other critic's numbers.
- What a task reports is NaN with ``status='failed'``, or a number in
  ``[-0.1 bit, log2 K + 0.1 bit]`` for InfoNCE (``K`` held-out samples per batch).
- The InfoNCE ceiling ``log K`` is recorded, and estimates near it are flagged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neural_mi as nmi
from neural_mi.engine.inputs import SessionData
from neural_mi.engine.task import run_task
from neural_mi.errors import FailedTasksError
from neural_mi.estimators import get_estimator
from neural_mi.models import build_critic
from neural_mi.params import DEFAULT_INPUT_TRANSFORM, resolve_base_params
from neural_mi.plan import plan_tasks
from neural_mi.train import (
    CEILING_MARGIN_NATS,
    MAX_RESTARTS,
    evaluation_ceiling,
    train_critic,
    train_critics,
)

CPU = torch.device("cpu")
LOG2 = math.log(2.0)


@pytest.fixture(autouse=True)
def one_thread():
    """Bit-identity between critics trained alone and together holds on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _params(**overrides):
    return resolve_base_params(
        {
            "n_epochs": 8,
            "batch_size": 64,
            "hidden_dim": 32,
            "embedding_dim": 8,
            "n_layers": 2,
            "patience": 3,
            "learning_rate": 2e-3,
            **overrides,
        }
    )


def _data(n=600, seed=0):
    x, y = nmi.datasets.generate_correlated_gaussians(n, 2, 1.0, use_torch=False, seed=seed)
    return torch.as_tensor(x)[:, None, :], torch.as_tensor(y)[:, None, :]


def _split(n, seed):
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: int(0.8 * n)]), np.sort(order[int(0.8 * n) :])


def _critic(params, seed):
    torch.manual_seed(seed)
    return build_critic(params, (1, 2), (1, 2))


def _same(a, b):
    """Bit-identical outcomes (NaN equal to NaN)."""
    assert (a.status, a.best_epoch, a.n_epochs_run) == (b.status, b.best_epoch, b.n_epochs_run)
    np.testing.assert_array_equal([a.train_mi, a.test_mi], [b.train_mi, b.test_mi])
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    assert a.state_dict.keys() == b.state_dict.keys()
    for name in a.state_dict:
        assert torch.equal(a.state_dict[name], b.state_dict[name]), name
    assert a.diagnostics == b.diagnostics and a.message == b.message


def _in_range_or_refused(test_mi_nats, n_eval):
    if math.isnan(test_mi_nats):
        return True
    return -0.1 <= test_mi_nats / LOG2 <= math.log2(n_eval) + 0.1


def test_a_restart_ends_as_training_at_the_lower_rate_from_the_start():
    # NWJ at learning rate 0.1: the kept held-out estimate is -3.8e20 nats; the restart at
    # 0.01 from the initial weights and seed trains normally.
    x, y = _data()
    train_idx, test_idx = _split(len(x), 0)
    estimator = get_estimator("nwj")
    params = _params(learning_rate=0.1)
    restarted = train_critic(
        _critic(params, 1), estimator, x, y, train_idx, test_idx, params, seed=1, device=CPU
    )
    assert restarted.status == "ok" and restarted.diagnostics["restarts"] == 1
    assert restarted.diagnostics["learning_rate"] == pytest.approx(0.01)
    assert "learning_rate=0.1)" in restarted.diagnostics["divergences"][0]
    assert "restarted from the initial weights at learning_rate=0.01" in restarted.message
    slow = _params(learning_rate=restarted.diagnostics["learning_rate"])
    fresh = train_critic(
        _critic(params, 1), estimator, x, y, train_idx, test_idx, slow, seed=1, device=CPU
    )
    for name in ("train_mi", "test_mi", "best_epoch", "n_epochs_run"):
        assert getattr(restarted, name) == getattr(fresh, name), name
    for name in restarted.state_dict:
        assert torch.equal(restarted.state_dict[name], fresh.state_dict[name])


@pytest.mark.parametrize(
    "estimator, scale, learning_rate",
    [
        ("infonce", 1.0, 1e6),  # the learning_rate=1e6: -1.1e24 bits before
        ("infonce", 1e3, 2e-3),  # the inputs x 1000: -456 bits before
        ("nwj", 1e3, 2e-3),  # non-finite loss in the first epoch
        ("smile", 1.0, 100.0),  # SMILE's scores run off: 4.7e14 nats before
    ],
)
def test_diverging_training_is_refused_never_returned(estimator, scale, learning_rate):
    x, y = _data()
    train_idx, test_idx = _split(len(x), 0)
    params = _params(learning_rate=learning_rate)
    outcome = train_critic(
        _critic(params, 1),
        get_estimator(estimator),
        x * scale,
        y * scale,
        train_idx,
        test_idx,
        params,
        seed=1,
        device=CPU,
    )
    assert outcome.status == "failed", outcome.message
    assert math.isnan(outcome.test_mi) and math.isnan(outcome.train_mi)
    assert outcome.state_dict == {} and outcome.best_epoch == -1
    assert outcome.diagnostics["restarts"] == MAX_RESTARTS
    assert len(outcome.diagnostics["divergences"]) == MAX_RESTARTS + 1
    assert "gave up after 2 restart(s)" in outcome.message
    assert f"learning_rate={learning_rate:g})" in outcome.message


@pytest.mark.parametrize("estimator", ["infonce", "nwj"])
def test_one_diverging_critic_leaves_the_others_bit_identical(estimator):
    # Critic 1 sees its inputs x 1000 (InfoNCE: an absurd kept estimate; NWJ: a NaN loss
    # in the first epoch, while the others keep training in the same kernels).
    params = _params()
    x, y = _data()
    seeds = [11, 12, 13]
    splits = [_split(len(x), s) for s in seeds]
    xs = [x, x * 1e3, x]
    ys = [y, y * 1e3, y]
    together = train_critics(
        [_critic(params, s) for s in seeds],
        get_estimator(estimator),
        xs,
        ys,
        splits,
        params,
        seeds=seeds,
        device=CPU,
    )
    assert together[1].diagnostics["divergences"]
    assert not together[0].diagnostics["divergences"]
    for k, seed in enumerate(seeds):
        alone = train_critic(
            _critic(params, seed),
            get_estimator(estimator),
            xs[k],
            ys[k],
            *splits[k],
            params,
            seed=seed,
            device=CPU,
        )
        _same(alone, together[k])


def test_a_group_with_a_failed_task_reports_the_others():
    x, y = nmi.datasets.generate_correlated_gaussians(1200, 2, 1.0, use_torch=False, seed=3)
    specs = plan_tasks(
        "sweep",
        random_seed=5,
        base_params={**_params(n_epochs=4), "learning_rate": 2e-3},
        processor_params_x={"window_size": 1},
        processor_params_y={"window_size": 1},
        split_mode="random",
        sweep_grid={"learning_rate": [2e-3, 1e6]},
    )
    data = SessionData(x.T.copy(), y.T.copy())
    results = {spec.coords["learning_rate"]: run_task(spec, data) for spec in specs}
    assert results[2e-3].status == "ok" and math.isfinite(results[2e-3].test_mi)
    failed = results[1e6]
    assert failed.status == "failed" and math.isnan(failed.test_mi)
    assert "gave up" in failed.message and failed.diagnostics["restarts"] == MAX_RESTARTS


def test_task_results_carry_status_message_and_diagnostics(gauss_small, fast_params):
    spec = plan_tasks(
        "estimate",
        base_params=fast_params,
        processor_params_x={"window_size": 1},
        processor_params_y={"window_size": 1},
        split_mode="random",
    )[0]
    result = run_task(spec, SessionData(*gauss_small))
    assert (result.status, result.message) == ("ok", "")
    n_eval = result.n_test
    transform = result.diagnostics.pop("input_transform")
    assert transform["kind"] == DEFAULT_INPUT_TRANSFORM == "rank_gauss"
    assert transform["x"]["n_points"] == transform["y"]["n_points"] == result.n_train
    assert result.diagnostics == {
        "restarts": 0,
        "learning_rate": fast_params["learning_rate"],
        "divergences": [],
        "ceiling_nats": pytest.approx(math.log(n_eval)),
        "at_ceiling": False,
    }
    assert _in_range_or_refused(result.test_mi, n_eval)


# --------------------------------------------------------------------------------------
# The InfoNCE ceiling
# --------------------------------------------------------------------------------------


def test_evaluation_ceiling_is_the_mean_log_batch_size_for_infonce_only():
    assert evaluation_ceiling(get_estimator("infonce"), 1000, 4096) == pytest.approx(math.log(1000))
    # 1000 samples in batches of at most 300: 4 batches of 250.
    assert evaluation_ceiling(get_estimator("infonce"), 1000, 300) == pytest.approx(math.log(250))
    # 10 samples in batches of at most 4: 4, 3, 3.
    assert evaluation_ceiling(get_estimator("infonce"), 10, 4) == pytest.approx(
        (math.log(4) + 2 * math.log(3)) / 3
    )
    assert evaluation_ceiling(get_estimator("smile"), 1000, 4096) is None


def test_an_estimate_at_the_ceiling_is_flagged():
    # Y = X + 1e-3 noise: ~10 nats per dimension, far above log(100) = 4.6 nats.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(500, 1, 2, generator=gen)
    y = x + 1e-3 * torch.randn(500, 1, 2, generator=gen)
    train_idx, test_idx = np.arange(400), np.arange(400, 500)
    params = _params(n_epochs=30, patience=30)
    outcome = train_critic(
        _critic(params, 2),
        get_estimator("infonce"),
        x,
        y,
        train_idx,
        test_idx,
        params,
        seed=2,
        device=CPU,
    )
    ceiling = outcome.diagnostics["ceiling_nats"]
    assert ceiling == pytest.approx(math.log(100))
    assert outcome.status == "ok" and outcome.test_mi >= ceiling - CEILING_MARGIN_NATS
    assert outcome.diagnostics["at_ceiling"] is True
    assert "ceiling log K = 4.605 nats" in outcome.message
    assert _in_range_or_refused(outcome.test_mi, 100)


@pytest.mark.parametrize("scale, learning_rate", [(1e3, 1e-3), (1e6, 1e-3), (1.0, 1e6)])
def test_nmi_run_never_returns_a_diverged_estimate(scale, learning_rate, gauss_small, fast_params):
    # Without a transform, inputs x 1000 gave -456 bits (the report), x 1e6 and a
    # learning rate of 1e6 worse: every attempt diverges, and the analysis is refused
    # naming the task.  With rank_gauss, the same inputs give a number in range.
    x, y = gauss_small
    common = dict(
        processor_params={"window_size": 1},
        base_params={**fast_params, "learning_rate": learning_rate},
        split_mode="random",
        verbose=False,
    )
    with pytest.raises(FailedTasksError) as info:
        nmi.run(x * scale, y * scale, input_transform="none", **common)
    (reason,) = info.value.failed.values()
    assert f"gave up after {MAX_RESTARTS} restart(s)" in reason
    if learning_rate < 1:
        result = nmi.run(x * scale, y * scale, input_transform="rank_gauss", **common)
        task = result.details["dataset"].isel(task=0)
        assert task["status"].item() == "ok"
        assert _in_range_or_refused(float(task["test_mi"]), int(task["n_test"]))
        assert -0.1 <= result.mi_estimate <= math.log2(int(task["n_test"])) + 0.1
