"""The fast training path against a plain reference loop, and its invariances.

- Statistics: the fast path (stacked MLP critics, fused Adam, batched estimators) and a
  plain one-model-at-a-time loop written here (nn.Module forward, torch.optim.Adam,
  logsumexp InfoNCE) give the same distribution of held-out MI over seeds.
- Invariance: a critic trained together with others gives bit-identical numbers to the
  same critic trained alone, so grouping (pool, workflow packs) never changes a result.
- Pieces: FusedAdam is torch's Adam; stacked critics score like their modules; batched
  estimators equal the per-matrix ones; the gathered (large data) path equals the
  materialised one; group_tasks groups what it should.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neural_mi as nmi
import neural_mi.train as train_module
from neural_mi.engine.task import group_tasks
from neural_mi.estimators import ESTIMATORS
from neural_mi.models import build_critic
from neural_mi.models.stacked import StackedMLPCritics, stackable
from neural_mi.optim import FusedAdam
from neural_mi.params import resolve_base_params
from neural_mi.plan import plan_tasks
from neural_mi.train import train_critic, train_critics

CPU = torch.device("cpu")


def _params(**overrides):
    return resolve_base_params(
        {
            "n_epochs": 20,
            "batch_size": 64,
            "hidden_dim": 32,
            "embedding_dim": 8,
            "n_layers": 2,
            "patience": 5,
            "learning_rate": 2e-3,
            **overrides,
        }
    )


def _data(n=1000, dim=2, mi_bits=1.0, seed=0):
    x, y = nmi.datasets.generate_correlated_gaussians(n, dim, mi_bits, use_torch=False, seed=seed)
    return torch.as_tensor(x)[:, None, :], torch.as_tensor(y)[:, None, :]


def _split(n, seed, fraction=0.8):
    order = np.random.default_rng(seed).permutation(n)
    cut = int(fraction * n)
    return np.sort(order[:cut]), np.sort(order[cut:])


def _critic(params, x, y, seed):
    torch.manual_seed(seed)
    return build_critic(params, tuple(x.shape[1:]), tuple(y.shape[1:]))


# --------------------------------------------------------------------------------------
# Reference: the plain loop
# --------------------------------------------------------------------------------------


def reference_infonce(scores):
    batch = scores.shape[0]
    return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(batch)


def reference_train(critic, x, y, train_idx, test_idx, params, seed):
    """One critic, nn.Module forward, torch.optim.Adam: held-out MI of the kept state."""
    generator = torch.Generator().manual_seed(seed)
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    n_train, n_test = len(train_idx), len(test_idx)
    limit = params["max_eval_samples"]
    test_eval = (
        torch.arange(n_test)
        if n_test <= limit
        else torch.randperm(n_test, generator=generator)[:limit].sort().values
    )
    if n_train > len(test_eval):  # draw the training-evaluation subset as the fast path does
        torch.randperm(n_train, generator=generator)  # (keeps the batch order in step)
    optimizer = torch.optim.Adam(critic.parameters(), lr=params["learning_rate"])
    n_batches = math.ceil(n_train / min(params["batch_size"], n_train))
    curve, best, best_epoch = [], -math.inf, -1
    kept = None
    for epoch in range(params["n_epochs"]):
        for positions in torch.tensor_split(
            torch.randperm(n_train, generator=generator), n_batches
        ):
            rows = train_idx[positions]
            loss = -reference_infonce(critic(x[rows], y[rows])[0])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            rows = test_idx[test_eval]
            test_mi = float(reference_infonce(critic(x[rows], y[rows])[0]))
        curve.append(test_mi)
        smoothed = float(np.mean(curve[-params["smoothing_window"] :]))
        if smoothed > best:
            best, best_epoch, kept = smoothed, epoch, test_mi
        if epoch - best_epoch > params["patience"]:
            break
    return kept


def test_fast_path_matches_the_reference_loop_in_distribution():
    """Seeds 0-7, 2-d Gaussians with 1 bit (0.693 nats), 1000 samples, 20 epochs.

    The two means over 8 seeds must agree within 0.08 nats (the per-seed spread is
    ~0.05 nats, so the standard error of the difference is ~0.025) and both must sit
    within 0.2 nats of the truth.
    """
    params = _params()
    x, y = _data()
    fast, reference = [], []
    for seed in range(8):
        train_idx, test_idx = _split(len(x), seed)
        fast.append(
            train_critic(
                _critic(params, x, y, seed),
                ESTIMATORS["infonce"],
                x,
                y,
                train_idx,
                test_idx,
                params,
                seed=seed,
                device=CPU,
            ).test_mi
        )
        reference.append(
            reference_train(_critic(params, x, y, seed), x, y, train_idx, test_idx, params, seed)
        )
    truth = math.log(2.0)
    assert abs(np.mean(fast) - np.mean(reference)) < 0.08, (fast, reference)
    assert abs(np.mean(fast) - truth) < 0.2 and abs(np.mean(reference) - truth) < 0.2
    assert np.std(fast) < 0.15 and np.std(reference) < 0.15


# --------------------------------------------------------------------------------------
# Invariance: alone == together
# --------------------------------------------------------------------------------------


@pytest.fixture
def one_thread():
    """nmi.run and the workflow train on one torch thread; invariance is promised there."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _assert_same(a, b):
    assert (a.train_mi, a.test_mi, a.best_epoch, a.n_epochs_run) == (
        b.train_mi,
        b.test_mi,
        b.best_epoch,
        b.n_epochs_run,
    )
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    for name in a.state_dict:
        assert torch.equal(a.state_dict[name], b.state_dict[name]), name


@pytest.mark.parametrize(
    "case",
    [
        # 37 x 20 activations per slot (not a multiple of 32: activation slot by slot); patience 0
        # stops critics at different epochs (critics are dropped from the stack mid-training).
        dict(
            params=dict(hidden_dim=20, batch_size=37, patience=0, smoothing_window=1), dims=(3, 3)
        ),
        dict(params=dict(critic_type="bilinear", n_layers=1), dims=(2, 2)),
        dict(params=dict(n_layers=3, embedding_dim=5), dims=(4, 2)),  # X, Y in separate stacks
    ],
)
def test_critics_trained_together_equal_critics_trained_alone(case, one_thread):
    params = _params(n_epochs=12, **case["params"])
    dx, dy = case["dims"]
    x = torch.randn(600, 1, dx, generator=torch.Generator().manual_seed(1))
    y = x[:, :, :1].repeat(1, 1, dy) + torch.randn(
        600, 1, dy, generator=torch.Generator().manual_seed(2)
    )
    seeds = [11, 12, 13]
    splits = [_split(len(x), seed) for seed in seeds]
    together = train_critics(
        [_critic(params, x, y, s) for s in seeds],
        ESTIMATORS["infonce"],
        x,
        y,
        splits,
        params,
        seeds=seeds,
        device=CPU,
    )
    for seed, split, joint in zip(seeds, splits, together):
        alone = train_critic(
            _critic(params, x, y, seed),
            ESTIMATORS["infonce"],
            x,
            y,
            *split,
            params,
            seed=seed,
            device=CPU,
        )
        _assert_same(alone, joint)
    if case["params"].get("patience") == 0:
        assert len({o.n_epochs_run for o in together}) > 1, "no critic stopped early"


def test_gathered_batches_equal_materialised_ones(monkeypatch, one_thread):
    params = _params(n_epochs=3)
    x, y = _data(n=400)
    seeds = [3, 4]
    splits = [_split(len(x), seed) for seed in seeds]

    def run():
        return train_critics(
            [_critic(params, x, y, s) for s in seeds],
            ESTIMATORS["infonce"],
            x,
            y,
            splits,
            params,
            seeds=seeds,
            device=CPU,
        )

    materialised = run()
    monkeypatch.setattr(train_module, "GATHER_LIMIT_BYTES", 0)
    for a, b in zip(materialised, run()):
        _assert_same(a, b)


def test_pooled_rigorous_run_equals_the_serial_one(gauss_small, fast_params):
    """The pool trains groups of tasks, the serial path one task at a time."""
    kw = dict(
        mode="rigorous",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=fast_params,
        gamma_range=[2, 3],
        split_mode="random",
        random_seed=9,
        verbose=False,
        min_gamma_points=2,
    )
    x, y = gauss_small
    serial = nmi.run(x, y, n_workers=1, **kw).tasks
    pooled = nmi.run(x, y, n_workers=2, **kw).tasks
    np.testing.assert_array_equal(serial["test_mi"].values, pooled["test_mi"].values)
    np.testing.assert_array_equal(serial["n_epochs_run"].values, pooled["n_epochs_run"].values)


# --------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------


def test_fused_adam_is_torch_adam():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.SiLU(), torch.nn.Linear(6, 1))
    unused = torch.nn.Parameter(torch.ones(3))
    twin = [p.detach().clone().requires_grad_() for p in [*model.parameters(), unused]]
    ours = FusedAdam([*model.parameters(), unused], lr=1e-2)
    theirs = torch.optim.Adam(twin, lr=1e-2, fused=True)
    for step in range(5):
        data = torch.randn(8, 4, generator=torch.Generator().manual_seed(step))
        for params, optimiser in (([*model.parameters(), unused], ours), (twin, theirs)):
            optimiser.zero_grad()
            out = torch.func.functional_call(
                model, dict(zip([n for n, _ in model.named_parameters()], params[:4])), (data,)
            )
            loss = out.pow(2).mean() + (params[4].sum() if step >= 3 else 0.0)
            loss.backward()
            optimiser.step()
    for mine, reference in zip([*model.parameters(), unused], twin):
        assert torch.equal(mine, reference)
    assert not torch.equal(unused, torch.ones(3))


@pytest.mark.parametrize("critic_type", ["separable", "bilinear"])
def test_stacked_critics_score_like_their_modules_and_write_back(critic_type):
    params = _params(critic_type=critic_type, hidden_dim=20, n_layers=2)
    x = torch.randn(16, 2, 3)
    y = torch.randn(16, 2, 3)
    critics = [_critic(params, x, y, seed) for seed in (1, 2)]
    if critic_type == "bilinear":  # move away from the identity start of W
        for critic in critics:
            critic.weight.data.normal_()
    stack = StackedMLPCritics(critics, CPU)
    assert stack.joint and stack.params[0].shape == (4, 6, 20)
    xy = torch.cat([x.flatten(1).expand(2, -1, -1), y.flatten(1).expand(2, -1, -1)])
    with torch.no_grad():
        scores = stack.scores([xy])
        for k, critic in enumerate(critics):
            torch.testing.assert_close(scores[k], critic(x, y)[0], rtol=1e-5, atol=1e-5)
    fresh = _critic(params, x, y, 99)
    stack.copy_into(fresh, stack.params, 1, 2)
    for name, value in critics[1].state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name


def test_only_plain_mlp_separable_and_bilinear_critics_are_stacked():
    assert stackable(build_critic(_params(), (1, 3), (1, 3)))
    assert stackable(build_critic(_params(critic_type="bilinear"), (1, 3), (2, 5)))
    assert not stackable(build_critic(_params(critic_type="concat"), (1, 3), (1, 3)))
    assert not stackable(build_critic(_params(use_variational=True), (1, 3), (1, 3)))
    assert not stackable(build_critic(_params(embedding_model="cnn"), (1, 3), (1, 3)))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimators_on_a_stack_equal_estimators_per_matrix(name):
    scores = torch.randn(3, 7, 7, generator=torch.Generator().manual_seed(5)) * 3
    stacked = ESTIMATORS[name](scores)
    assert stacked.shape == (3,)
    for k in range(3):
        torch.testing.assert_close(stacked[k], ESTIMATORS[name](scores[k]), rtol=0, atol=1e-6)


def test_infonce_value():
    # Hand-worked: scores diag(2, 2) with zeros elsewhere: each row gives
    # 2 - log(e^2 + 1), plus log(2).
    scores = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    expected = 2.0 - math.log(math.exp(2.0) + 1.0) + math.log(2.0)
    assert float(ESTIMATORS["infonce"](scores)) == pytest.approx(expected, abs=1e-6)


def test_group_tasks():
    base = {"n_epochs": 1}
    specs = plan_tasks(
        "rigorous", random_seed=1, base_params=base, gamma_range=[1, 2, 5], split_mode="random"
    )
    groups = group_tasks(specs)
    assert [[s.key[-7:] for s in g] for g in groups] == [
        ["g01-s00"],
        ["g02-s00", "g02-s01"],
        [f"g05-s{i:02d}" for i in range(5)],
    ]
    assert [len(g) for g in group_tasks(specs, max_size=2)] == [1, 2, 2, 2, 1]
    halved = group_tasks(specs[3:], min_groups=3)  # the five gamma-5 tasks
    assert sorted(len(g) for g in halved) == [1, 2, 2]
    assert sorted(s.key for g in halved for s in g) == sorted(s.key for s in specs[3:])
    sweep = plan_tasks(
        "sweep", random_seed=1, base_params=base, sweep_grid={"embedding_dim": [2, 4]}, n_repeats=3
    )
    assert sorted(len(g) for g in group_tasks(sweep)) == [3, 3]
    # parts=2 halves every group of two or more tasks, keeping plan order inside each.
    assert [[s.key[-7:] for s in g] for g in group_tasks(specs, parts=2)] == [
        ["g01-s00"],
        ["g02-s00"],
        ["g02-s01"],
        [f"g05-s{i:02d}" for i in range(3)],
        ["g05-s03", "g05-s04"],
    ]
