"""The one execution loop (neural_mi.engine.execution), task grouping and preflight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neural_mi.engine.execution as execution
from neural_mi.engine.inputs import SessionData, TaskContext
from neural_mi.engine.pool import single_thread
from neural_mi.engine.task import group_tasks, run_task
from neural_mi.errors import InsufficientDataError
from neural_mi.modes import load_plugins
from neural_mi.plan import plan_tasks


@pytest.fixture
def session(gauss_small) -> SessionData:
    x, y = gauss_small
    return SessionData(x, y)


def _rigorous(fast_params, gammas=(1, 2, 3)):
    return plan_tasks(
        "rigorous",
        base_params=fast_params,
        split_mode="random",
        gamma_range=list(gammas),
        random_seed=4,
    )


def test_every_task_once_and_stored_as_it_finishes(session, fast_params, tmp_path):
    specs = _rigorous(fast_params)
    results = list(execution.run_tasks(specs, session, TaskContext(), store=tmp_path))
    assert sorted(r.spec.key for r in results) == sorted(s.key for s in specs)
    assert sorted(p.stem for p in tmp_path.glob("*.zarr")) == sorted(s.key for s in specs)
    # Read back, not trained: the same results.
    again = {
        r.spec.key: r for r in execution.run_tasks(specs, session, TaskContext(), store=tmp_path)
    }
    assert all(again[r.spec.key].test_mi == r.test_mi for r in results)


def test_groups_train_the_numbers_each_task_gets_alone(session, fast_params):
    specs = _rigorous(fast_params, gammas=(3,))
    grouped = {r.spec.key: r.test_mi for r in execution.run_tasks(specs, session, TaskContext())}
    with single_thread():
        alone = {s.key: run_task(s, session, TaskContext()).test_mi for s in specs}
    assert grouped == alone


def test_grouping_follows_the_modes_data_key(fast_params):
    specs = _rigorous(fast_params)
    groups = group_tasks(specs)
    assert [[(s.gamma, s.subset) for s in g] for g in groups] == [
        [(1, 0)],
        [(2, 0), (2, 1)],
        [(3, 0), (3, 1), (3, 2)],
    ]
    assert [len(g) for g in group_tasks(specs, min_groups=5)] == [1, 1, 1, 2, 1]
    # A plug-in mode whose tasks each train on different data is never grouped.
    from pathlib import Path

    load_plugins([str(Path(__file__).resolve().parents[1] / "support" / "halves_mode.py")])
    halves = plan_tasks("halves", base_params=fast_params, n_halves=3)
    assert [len(g) for g in group_tasks(halves)] == [1, 1, 1]


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_preflight_names_the_task_that_cannot_be_split(fast_params):
    x = np.random.default_rng(0).normal(size=(2, 40)).astype(np.float32)
    specs = plan_tasks(
        "rigorous",
        base_params={**fast_params, "batch_size": 2},
        split_mode="random",
        gamma_range=[1, 15],
    )
    with pytest.raises(InsufficientDataError, match=r"task c.*-g15-s00: gamma=15 leaves 2 of 40"):
        execution.preflight(specs, SessionData(x, x.copy()), TaskContext())
