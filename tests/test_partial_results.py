"""Failed tasks are never averaged in silently; partial results say so everywhere.

A task whose training diverged in every attempt has ``status='failed'`` and NaN MI.  Its
analysis is refused, naming it, unless the caller opts in to a partial result
(``allow_partial``), which then leaves it out and is labelled partial in the headline,
``summary()``, the dataframe, the saved files and the figure.  Estimates at the
estimator's ceiling are flagged the same way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import neural_mi as nmi
from neural_mi.errors import FailedTasksError
from neural_mi.params import DEFAULT_INPUT_TRANSFORM
from neural_mi.plan import plan_tasks
from neural_mi.results import Results
from neural_mi.store import read_task, results_to_dataset, write_task
from neural_mi.tasks import TaskResult
from neural_mi.workflow import steps
from neural_mi.workflow.plan import workflow_plan

REPO = Path(__file__).resolve().parent.parent


def _result(spec, test_mi: float, *, failed: bool = False, at_ceiling: bool = False):
    """A task result with MI = ``test_mi`` nats, or a failed one (NaN MI)."""
    value = math.nan if failed else test_mi
    curve = np.array([value / 2, value])
    return TaskResult(
        spec=spec,
        train_mi=value,
        test_mi=value,
        best_epoch=-1 if failed else 1,
        n_epochs_run=2,
        history={"test_mi": curve, "test_mi_smoothed": curve, "loss": -curve},
        n_train=100,
        n_test=25,
        wall_time=0.1,
        versions={"neural_mi": "0"},
        status="failed" if failed else "ok",
        message="at epoch 0 the loss became nan; gave up after 2 restart(s)" if failed else "",
        diagnostics={"restarts": 2 if failed else 0, "at_ceiling": at_ceiling},
    )


def _rigorous_specs():
    return plan_tasks(
        "rigorous",
        random_seed=1,
        processor_params_x={"window_size": 1},
        processor_params_y={"window_size": 1},
        gamma_range=[1, 2, 3, 4],
    )


def _linear(specs, failed_keys=(), ceiling_keys=()):
    """MI = 1 - 0.1 gamma nats: the rigorous fit of the usable tasks gives 1 nat."""
    return [
        _result(
            spec,
            1.0 - 0.1 * spec.gamma,
            failed=spec.key in failed_keys,
            at_ceiling=spec.key in ceiling_keys,
        )
        for spec in specs
    ]


def test_the_task_dataset_carries_status_message_restarts_and_ceiling():
    specs = _rigorous_specs()
    failed, ceiling = specs[3].key, specs[0].key
    ds = results_to_dataset(_linear(specs, [failed], [ceiling]))
    row = ds.swap_dims(task="key")
    assert row["status"].sel(key=failed).item() == "failed"
    assert "gave up after 2 restart(s)" in row["message"].sel(key=failed).item()
    assert int(row["restarts"].sel(key=failed)) == 2
    assert bool(row["at_ceiling"].sel(key=ceiling)) and not bool(row["at_ceiling"].sel(key=failed))
    assert (ds["status"] == "ok").sum() == len(specs) - 1
    assert ds.attrs["input_transform"] == DEFAULT_INPUT_TRANSFORM


def test_a_failed_task_store_round_trips(tmp_path):
    spec = _rigorous_specs()[0]
    result = _result(spec, 0.0, failed=True)
    back = read_task(write_task(result, tmp_path))
    assert (back.status, back.message, back.diagnostics) == (
        "failed",
        result.message,
        result.diagnostics,
    )
    assert math.isnan(back.test_mi) and math.isnan(back.train_mi)


def test_an_analysis_with_a_failed_task_is_refused_naming_it():
    specs = _rigorous_specs()
    failed = [specs[4].key, specs[7].key]
    ds = results_to_dataset(_linear(specs, failed))
    with pytest.raises(FailedTasksError) as info:
        Results.from_tasks(ds, "rigorous")
    assert info.value.failed.keys() == set(failed)
    message = str(info.value)
    assert "2 task(s) failed" in message and "allow_partial=True" in message
    assert all(f"{key}: training failed: at epoch 0" in message for key in failed)


def test_a_partial_rigorous_fit_leaves_failed_tasks_out_and_says_so(tmp_path):
    specs = _rigorous_specs()
    failed = [specs[4].key, specs[7].key]  # one chunk of gamma 3, one of gamma 4
    partial = Results.from_tasks(
        results_to_dataset(_linear(specs, failed)), "rigorous", {"allow_partial": True}
    )
    # The usable tasks lie on the line exactly: the failed ones (NaN) were not fitted.
    assert partial.mi_estimate == pytest.approx(1 / math.log(2), rel=1e-9)
    per_gamma = partial.summary_dataset["n"].sel(combo=specs[0].combo)
    assert per_gamma.sel(gamma=3).item() == 2 and per_gamma.sel(gamma=4).item() == 3
    head = partial.headline
    assert head["partial"] is True and sorted(head["left_out"]) == sorted(failed)
    assert head["n_tasks"] == len(specs)
    assert partial.partial and partial.dataframe["partial"].all()
    assert partial.details["left_out"] == head["left_out"]
    text = partial.summary()
    assert f"PARTIAL: 2 of {len(specs)} planned task(s) left out" in text
    assert all(key in text for key in failed)
    assert "(partial)" in repr(partial)
    title = partial.plot(show=False).get_title()
    assert "PARTIAL" in title
    loaded = Results.load(partial.save(tmp_path / "saved"))
    assert loaded.partial and loaded.headline["left_out"] == head["left_out"]
    assert "PARTIAL" in loaded.summary()


def test_a_complete_result_has_no_partial_label():
    specs = _rigorous_specs()
    complete = Results.from_tasks(results_to_dataset(_linear(specs)), "rigorous")
    assert complete.headline["partial"] is False and complete.headline["left_out"] == {}
    assert "partial" not in complete.dataframe.columns and not complete.notes()
    assert complete.details["left_out"] == {} and complete.details["at_ceiling"] == []


def test_partial_results_need_a_usable_task():
    specs = _rigorous_specs()
    with pytest.raises(FailedTasksError, match="No task of the analysis gave a number"):
        Results.from_tasks(
            results_to_dataset(_linear(specs, [s.key for s in specs])),
            "rigorous",
            {"allow_partial": True},
        )


def test_estimates_at_the_ceiling_are_named():
    specs = _rigorous_specs()
    at = [specs[0].key, specs[2].key]
    res = Results.from_tasks(results_to_dataset(_linear(specs, ceiling_keys=at)), "rigorous")
    assert res.headline["n_at_ceiling"] == 2 and res.details["at_ceiling"] == sorted(at)
    assert "AT CEILING: 2 task(s)" in res.summary() and "lower bound" in res.summary()
    assert "AT CEILING" in res.plot(show=False).get_title()


def test_nmi_run_refuses_failed_tasks_and_labels_a_partial_sweep(gauss_small, fast_params):
    # learning_rate=1e6 diverges in every attempt (restarts at 1e5 and 1e4).
    x, y = gauss_small
    common = dict(
        mode="sweep",
        processor_params={"window_size": 1},
        base_params=fast_params,
        sweep_grid={"learning_rate": [1e-3, 1e6]},
        split_mode="random",
        verbose=False,
        input_transform="none",
    )
    with pytest.raises(FailedTasksError) as info:
        nmi.run(x, y, **common)
    (key,) = info.value.failed
    assert "gave up after 2 restart(s)" in info.value.failed[key]
    partial = nmi.run(x, y, allow_partial=True, **common)
    assert list(partial.headline["left_out"]) == [key]
    assert partial.summary_dataset.sizes["combo"] == 1
    assert partial.summary_dataset["learning_rate"].item() == 1e-3
    assert math.isfinite(partial.mi_estimate)
    assert partial.params["options"]["allow_partial"] is True


def test_the_workflow_aggregate_refuses_failed_tasks_or_writes_a_labelled_partial(tmp_path):
    raw = yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text())
    raw["results_dir"] = str(tmp_path / "results")
    out = tmp_path / "results" / "tiny" / "rigorous"

    def aggregate_with(fit):
        raw["analyses"][0]["fit"] = fit
        plan = workflow_plan(raw)
        plan.write_files()
        analysis = plan.analyses[("tiny", "rigorous")]
        failed_key = analysis.tasks[-1].key
        for pack, specs in analysis.packs.items():
            for spec in specs:
                write_task(
                    _result(spec, 1.0 - 0.1 * spec.gamma, failed=spec.key == failed_key),
                    plan.pack_dir("tiny", "rigorous", pack),
                )
        return failed_key

    failed_key = aggregate_with({})
    with pytest.raises(FailedTasksError, match=failed_key):
        steps.aggregate(out)
    assert not (out / "summary.json").exists()

    aggregate_with({"allow_partial": True})
    steps.aggregate(out)
    headline = json.loads((out / "summary.json").read_text())
    assert headline["partial"] is True and list(headline["left_out"]) == [failed_key]
    assert (out / "summary.csv").read_text().splitlines()[0].endswith(",partial")
    loaded = Results.load(out)
    assert loaded.partial and "PARTIAL" in loaded.summary()
