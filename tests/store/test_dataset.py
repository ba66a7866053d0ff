"""Tests of neural_mi.store.dataset: the task dataset, and reading it from verified stores."""

from __future__ import annotations

import json
import logging
import random
import shutil

import numpy as np
import pytest
import xarray as xr
import zarr
from store_helpers import make_result
from store_helpers import mixed_results as _mixed_results

from neural_mi import store
from neural_mi.errors import IncompleteResultsError, InsufficientDataError, ParameterError


def test_dataset_fields_coords_and_padding():
    ds = store.results_to_dataset(_mixed_results())
    assert ds.sizes == {"task": 4, "epoch": 4}
    assert ds["key"].values.tolist() == ["c1-g01-s00", "c1-g02-s00", "c1-g02-s01", "c2-g01-s00"]
    assert ds["gamma"].values.tolist() == [1, 2, 2, 1]
    assert ds["subset"].values.tolist() == [0, 0, 1, 0]
    assert ds["combo"].values.tolist() == ["c1", "c1", "c1", "c2"]
    # swept parameters become coordinates; missing numbers are NaN, missing strings ""
    assert ds["embedding_dim"].values.tolist() == [4, 4, 4, 8]
    assert ds["model"].values.tolist() == ["mlp", "mlp", "mlp", "gru"]
    np.testing.assert_array_equal(ds["window_size"].values, [np.nan, np.nan, np.nan, 3.0])
    assert store.swept_coords(ds) == ["embedding_dim", "model", "window_size"]
    np.testing.assert_array_equal(ds["participation_ratio"].values, [np.nan, 3.5, np.nan, np.nan])
    assert ds["test_mi"].values.tolist() == [1.0, 0.9, 0.8, 2.0]
    assert ds["n_epochs_run"].dtype == np.int64
    # histories NaN-padded after each task's last epoch
    np.testing.assert_array_equal(ds["history_train_mi"].values[0], [0.0, 1 / 3, np.nan, np.nan])
    np.testing.assert_array_equal(ds["history_test_mi"].values[2], 0.8 * np.arange(4) / 7.0)
    assert ds.attrs["mode"] == "rigorous"
    assert ds.attrs["units"] == "nats"
    assert ds.attrs["run_seed"] == 7
    assert json.loads(ds.attrs["versions"]) == {"neural_mi": "0.1.0"}


def test_dataset_is_independent_of_input_order():
    results = _mixed_results()
    expected = store.results_to_dataset(results)
    shuffled = results[:]
    random.Random(3).shuffle(shuffled)
    assert [r.spec.key for r in shuffled] != [r.spec.key for r in results]
    xr.testing.assert_identical(store.results_to_dataset(shuffled), expected)
    xr.testing.assert_identical(store.results_to_dataset(results[::-1]), expected)


def test_dataset_refuses_inconsistent_results():
    with pytest.raises(InsufficientDataError):
        store.results_to_dataset([])
    with pytest.raises(ParameterError, match="c1-g01-s00"):
        store.results_to_dataset([make_result(), make_result()])
    with pytest.raises(ParameterError, match="mode"):
        store.results_to_dataset([make_result("a", mode="sweep"), make_result("b", mode="lag")])
    with pytest.raises(ParameterError, match="gamma"):
        store.results_to_dataset([make_result(gamma=2, coords={"gamma": 3})])
    with pytest.raises(ParameterError, match="mode"):
        store.results_to_dataset([make_result()], mode="bogus")


def test_read_results_from_paths_equals_from_directory(tmp_path):
    paths = [store.write_task(r, tmp_path) for r in _mixed_results()]
    from_dir = store.read_results(tmp_path)
    xr.testing.assert_identical(store.read_results(paths[::-1]), from_dir)
    xr.testing.assert_identical(from_dir, store.results_to_dataset(_mixed_results()))


def _write_incomplete(path):
    zarr.open_group(path, mode="w").attrs.update({"spec": {"key": "half"}, "test_mi": 1.0})


def test_read_results_lists_every_bad_store_in_one_error(tmp_path):
    for result in _mixed_results():
        store.write_task(result, tmp_path)
    _write_incomplete(tmp_path / "c1-g01-s01.zarr")
    (tmp_path / "c1-g02-s02.zarr").mkdir()
    with pytest.raises(IncompleteResultsError) as info:
        store.read_results(tmp_path)
    message = str(info.value)
    assert "2 task store(s) missing or bad" in message
    assert "c1-g01-s01.zarr': it has no completion record" in message
    assert "c1-g02-s02.zarr': it is an empty folder" in message
    assert [str(where).rsplit("/", 1)[-1] for where, _ in info.value.problems] == [
        "c1-g01-s01.zarr",
        "c1-g02-s02.zarr",
    ]


def test_read_results_reads_exactly_the_planned_tasks(tmp_path, caplog):
    results = _mixed_results()
    for result in results:
        store.write_task(result, tmp_path)
    store.write_task(make_result("old-g01-s00"), tmp_path)  # a task no longer planned
    planned = [r.spec.key for r in results]
    with caplog.at_level(logging.INFO, logger="neural_mi.store"):
        ds = store.read_results(tmp_path, expected_keys=planned)
    xr.testing.assert_identical(ds, store.results_to_dataset(results))
    assert any("old-g01-s00.zarr" in r.getMessage() for r in caplog.records)
    with pytest.raises(IncompleteResultsError) as info:
        store.read_results(tmp_path, expected_keys=[*planned, "c3-g01-s00"])
    assert info.value.problems == [("task 'c3-g01-s00'", "no store for this planned task")]


def test_read_results_refuses_a_task_stored_twice(tmp_path):
    store.write_task(make_result(), tmp_path / "p000")
    store.write_task(make_result(), tmp_path / "p001")
    paths = [*store.task_store_paths(tmp_path / "p000"), *store.task_store_paths(tmp_path / "p001")]
    with pytest.raises(IncompleteResultsError, match="stored 2 times"):
        store.read_results(paths, expected_keys=["c1-g01-s00"])


def test_partial_results_are_labelled(tmp_path, caplog):
    results = _mixed_results()
    for result in results:
        store.write_task(result, tmp_path)
    shutil.rmtree(tmp_path / "c1-g02-s01.zarr" / "history")
    planned = [r.spec.key for r in results] + ["c3-g01-s00"]
    with caplog.at_level(logging.WARNING, logger="neural_mi.store"):
        ds = store.read_results(tmp_path, expected_keys=planned, allow_partial=True)
    assert ds["key"].values.tolist() == ["c1-g01-s00", "c1-g02-s00", "c2-g01-s00"]
    assert ds.attrs["partial"] is True
    assert ds.attrs["missing_keys"] == ["c1-g02-s01", "c3-g01-s00"]
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "c1-g02-s01.zarr: its 'history' group is missing" in warned
    assert "task 'c3-g01-s00': no store for this planned task" in warned
    complete = store.read_results(tmp_path, expected_keys=planned[:2], allow_partial=True)
    assert "partial" not in complete.attrs and "missing_keys" not in complete.attrs


def test_partial_results_need_at_least_one_good_store(tmp_path):
    (tmp_path / "a.zarr").mkdir()
    with pytest.raises(IncompleteResultsError, match="a.zarr': it is an empty folder"):
        store.read_results(tmp_path, allow_partial=True)
    with pytest.raises(InsufficientDataError, match="No task store found"):
        store.read_results(tmp_path / "absent")
