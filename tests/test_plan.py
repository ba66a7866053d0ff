"""The planner: task lists, stable keys and seeds, validation, and no torch at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neural_mi.errors import ParameterError
from neural_mi.plan import derive_seed, plan_tasks


def test_rigorous_plan_has_55_tasks_per_combination():
    tasks = plan_tasks("rigorous", sweep_grid={"embedding_dim": [8, 16]})
    assert len(tasks) == 110
    for combo in {t.combo for t in tasks}:
        mine = [t for t in tasks if t.combo == combo]
        assert sorted((t.gamma, t.subset) for t in mine) == [
            (g, s) for g in range(1, 11) for s in range(g)
        ]
    assert len({t.key for t in tasks}) == 110


def test_keys_and_seeds_are_stable_and_order_free():
    a = plan_tasks("rigorous", random_seed=7, gamma_range=[1, 2, 3])
    b = plan_tasks("rigorous", random_seed=7, gamma_range=[3, 1, 2])
    assert [(t.key, t.seed) for t in a] == [(t.key, t.seed) for t in b]
    assert all(t.seed == derive_seed(7, t.key) for t in a)
    c = plan_tasks("rigorous", random_seed=8, gamma_range=[1, 2, 3])
    assert {t.seed for t in a}.isdisjoint({t.seed for t in c})


def test_changing_a_parameter_changes_only_that_combination():
    a = plan_tasks("sweep", sweep_grid={"embedding_dim": [4, 8]})
    b = plan_tasks("sweep", sweep_grid={"embedding_dim": [4, 16]})
    assert a[0].key == b[0].key and a[1].key != b[1].key


def test_sweep_grid_targets_processor_and_estimator_params():
    tasks = plan_tasks(
        "sweep", sweep_grid={"window_size": [1, 5], "clip": [2.0]}, estimator="smile"
    )
    assert [t.params["processor_params_x"]["window_size"] for t in tasks] == [1, 5]
    assert [t.params["processor_params_y"]["window_size"] for t in tasks] == [1, 5]
    assert all(t.params["estimator_params"]["clip"] == 2.0 for t in tasks)
    assert tasks[1].coords == {"window_size": 5, "clip": 2.0}


def test_dimensionality_defaults_to_smile_and_embedding_grid():
    tasks = plan_tasks("dimensionality", n_splits=3)
    assert {t.params["estimator"] for t in tasks} == {"smile"}
    assert tasks[0].params["estimator_params"] == {"clip": 5.0}
    assert len(tasks) == 3 * len({t.coords["embedding_dim"] for t in tasks})


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"mode": "sweep"}, "sweep_grid"),
        ({"mode": "lag"}, "lag_range"),
        ({"mode": "estimate", "gamma_range": [1, 2]}, "gamma_range"),
        ({"mode": "rigorous", "gamma_range": [0, 1]}, "gamma_range"),
        ({"mode": "sweep", "sweep_grid": {"hiden_dim": [2]}}, "'hiden_dim'"),
        ({"mode": "sweep", "sweep_grid": {"hidden_dim": 4}}, "list of values"),
    ],
)
def test_bad_plans_are_named(kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        plan_tasks(**kwargs)


def test_planning_5500_tasks_imports_no_torch():
    code = (
        "import sys, neural_mi.plan as p\n"
        "tasks = [t for s in range(100) for t in p.plan_tasks('rigorous', random_seed=s)]\n"
        "assert len(tasks) == 5500, len(tasks)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------
# Null tasks of a permutation test (#18)
# --------------------------------------------------------------------------------------


def test_null_tasks_follow_the_observed_ones_without_changing_them():
    observed = plan_tasks("lag", random_seed=3, lag_range=[0, 2])
    tested = plan_tasks("lag", random_seed=3, lag_range=[0, 2], n_permutations=3)
    assert tested[:2] == observed  # same keys, seeds and parameters: nothing reruns
    nulls = tested[2:]
    assert [(t.permutation, t.lag) for t in nulls] == [
        (k, lag) for k in (1, 2, 3) for lag in (0, 2)
    ]
    assert [t.key for t in nulls[:2]] == [f"{t.key}-n0001" for t in observed]
    assert all(t.seed == derive_seed(3, t.key) for t in nulls)
    assert len({t.seed for t in tested}) == len(tested)
    more = plan_tasks("lag", random_seed=3, lag_range=[0, 2], n_permutations=5)
    assert more[: len(tested)] == tested  # more permutations reuse the first ones


def test_a_null_method_other_than_the_default_is_a_parameter_of_every_task():
    plain = plan_tasks("estimate", n_permutations=2)
    block = plan_tasks("estimate", n_permutations=2, null_method="block", null_min_shift=50)
    assert "null_method" not in plain[0].params
    assert block[0].params["null_method"] == "block" and block[0].params["null_min_shift"] == 50
    assert block[0].key != plain[0].key


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"null_method": "circular"}, "only apply to a permutation test"),
        ({"null_min_shift": 10}, "only apply to a permutation test"),
        ({"n_permutations": -1}, "n_permutations"),
        ({"n_permutations": 2, "null_method": "shuffle"}, "null_method"),
        ({"n_permutations": 2, "alpha": 1.5}, "alpha"),
    ],
)
def test_bad_permutation_tests_are_named(kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        plan_tasks("estimate", **kwargs)
