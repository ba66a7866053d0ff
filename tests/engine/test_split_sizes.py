"""task_split_sizes (what ``neural-mi plan`` checks) agrees with task_split (what a task
trains on): the same sizes, and the same refusals, for every task of a rigorous plan."""

from __future__ import annotations

import re

import pytest

from neural_mi.engine.split import task_split, task_split_sizes
from neural_mi.errors import NeuralMIError
from neural_mi.plan import plan_tasks

PLANS = {
    "rigorous, gammas 1-7": {"mode": "rigorous", "gamma_range": range(1, 8)},
    "sweep, 40 samples per task": {
        "mode": "sweep",
        "sweep_grid": {"run_id": [0, 1, 2]},
        "max_samples_per_task": 40,
    },
}


@pytest.mark.parametrize("split_mode", ["random", "blocked"])
@pytest.mark.parametrize("plan", list(PLANS))
@pytest.mark.parametrize("train_fraction", [0.9, 0.55])
def test_sizes_and_refusals_are_those_of_the_split(split_mode, plan, train_fraction):
    specs = plan_tasks(
        split_mode=split_mode,
        base_params={"train_fraction": train_fraction, "n_test_blocks": 3},
        **PLANS[plan],
    )
    compared = refused = 0
    for n in (3, 9, 20, 61, 500):
        for gap in (0, 2):
            for spec in specs:
                try:
                    train, test = task_split(spec, n, gap)
                except NeuralMIError as exc:
                    refusal = exc
                else:
                    refusal = None
                if refusal is not None:
                    with pytest.raises(type(refusal), match=re.escape(str(refusal))):
                        task_split_sizes(spec, n, gap)
                    refused += 1
                    continue
                assert task_split_sizes(spec, n, gap) == (len(train), len(test)), (spec.key, n)
                compared += 1
    # Both branches were exercised: small n is refused, large n splits.
    assert compared >= 10 and refused >= 3, (compared, refused)
