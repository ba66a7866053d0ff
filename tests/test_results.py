"""Results: one object for every mode, built by Results.from_tasks from a task dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from helpers import make_result

from neural_mi.aggregate import summarize
from neural_mi.results import Results
from neural_mi.store import results_to_dataset


def _sweep_tasks() -> xr.Dataset:
    return results_to_dataset(
        [
            make_result(f"c{d}-r{r}", f"c{d}", "sweep", mi, coords={"embedding_dim": d}, repeat=r)
            for d, values in ((4, (1.0, 1.2)), (8, (2.0, 2.4)))
            for r, mi in enumerate(values)
        ]
    )


def test_from_tasks_is_summarize_wrapped():
    tasks = _sweep_tasks()
    results = Results.from_tasks(tasks, "sweep", output_units="nats", params={"note": 1})
    summary, headline = summarize(tasks, "sweep", output_units="nats")
    xr.testing.assert_identical(results.summary_dataset, summary)
    assert results.headline == headline and results.params["note"] == 1
    assert results.mi_estimate == pytest.approx(1.1)
    assert results.dataframe["embedding_dim"].tolist() == [4, 8]
    assert results.dataframe["mi_mean"].tolist() == pytest.approx([1.1, 2.2])
    assert results.swept_names == ["embedding_dim"]


def test_units_convert_the_task_table_and_the_history():
    tasks = _sweep_tasks()
    bits = Results.from_tasks(tasks, "sweep", output_units="bits")
    assert bits.factor == 1 / math.log(2)
    assert bits.details["tasks"]["test_mi"].tolist() == pytest.approx(
        [v / math.log(2) for v in (1.0, 1.2, 2.0, 2.4)]
    )
    history = bits.history(0)
    assert history["test_mi"] == pytest.approx(np.array([1.0]) / math.log(2))
    assert bits.history(0, units="nats")["test_mi"] == pytest.approx([1.0])


def test_summary_text_and_repr_name_the_mode_and_units():
    results = Results.from_tasks(_sweep_tasks(), "sweep", output_units="nats")
    assert repr(results) == "<Results mode='sweep' mi_estimate=1.100 nats>"
    text = results.summary()
    assert text.startswith("neural_mi sweep analysis (4 task(s), MI from test_mi, units: nats)")
    assert "MI estimate: 1.100 nats" in text
    assert Results.format_value(None) == "n/a" and Results.format_value(float("nan")) == "n/a"


def test_save_and_load_give_the_same_results(tmp_path):
    results = Results.from_tasks(_sweep_tasks(), "sweep", params={"seed": 3})
    loaded = Results.load(results.save(tmp_path / "saved"))
    xr.testing.assert_identical(loaded.summary_dataset, results.summary_dataset)
    xr.testing.assert_identical(loaded.tasks, results.tasks)
    assert loaded.headline == results.headline and loaded.params == results.params
