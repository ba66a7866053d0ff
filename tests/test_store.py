"""Tests of neural_mi.store: atomic zarr task stores, the task dataset, netCDF round trips."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import zarr

from neural_mi import store
from neural_mi.errors import IncompleteStoreError, InsufficientDataError, ParameterError
from neural_mi.tasks import TaskResult, TaskSpec


def make_result(
    key: str = "c1-g01-s00",
    *,
    combo: str = "c1",
    mode: str = "rigorous",
    test_mi: float = 1.0,
    coords: dict | None = None,
    extras: dict | None = None,
    history_len: int = 3,
    **spec_fields,
) -> TaskResult:
    """A hand-built TaskResult; the history curves are deterministic functions of test_mi."""
    spec = TaskSpec(
        key=key,
        combo=combo,
        params={"mode": mode, "run_seed": 7, "base": {"n_epochs": 5}},
        coords=coords or {},
        **spec_fields,
    )
    epochs = np.arange(history_len, dtype=float)
    return TaskResult(
        spec=spec,
        train_mi=test_mi + 0.5,
        test_mi=test_mi,
        best_epoch=max(history_len - 1, 0),
        n_epochs_run=history_len,
        history={"train_mi": test_mi * epochs / 3.0, "test_mi": test_mi * epochs / 7.0},
        n_train=900,
        n_test=100,
        wall_time=1.25,
        versions={"neural_mi": "0.1.0"},
        extras=extras or {},
    )


def test_round_trip_preserves_every_field_exactly(tmp_path):
    spec = TaskSpec(
        key="abc-g03-s01",
        combo="abc",
        params={
            "mode": "rigorous",
            "run_seed": 11,
            "base": {"learning_rate": 5e-4, "hidden_dim": 64},
            "processor_params_x": {"window_size": None},
            "lags": [1, 2],
        },
        coords={"embedding_dim": 8, "critic_type": "bilinear"},
        gamma=3,
        subset=1,
        lag=0.25,
        split=2,
        repeat=4,
        seed=123456789,
    )
    result = TaskResult(
        spec=spec,
        train_mi=0.1 + 0.2,
        test_mi=1.0 / 3.0,
        best_epoch=4,
        n_epochs_run=9,
        history={
            "train_mi": np.array([0.1, 1 / 3, np.nextafter(1.0, 2.0)]),
            "loss": np.array([-0.5, -0.7, -0.9], dtype=np.float32),
        },
        n_train=1234,
        n_test=56,
        wall_time=math.pi,
        versions={"torch": "2.13.0"},
        extras={"participation_ratio": 2.0 / 3.0},
    )
    path = store.write_task(result, tmp_path / "deep" / "dir")
    assert path == tmp_path / "deep" / "dir" / "abc-g03-s01.zarr"
    back = store.read_task(path)
    assert back.spec == spec
    for name in ("train_mi", "test_mi", "wall_time"):
        assert getattr(back, name).hex() == getattr(result, name).hex()
    for name in ("best_epoch", "n_epochs_run", "n_train", "n_test"):
        assert getattr(back, name) == getattr(result, name)
    assert back.versions == result.versions
    assert back.extras["participation_ratio"].hex() == (2.0 / 3.0).hex()
    assert sorted(back.history) == ["loss", "train_mi"]
    for name, curve in result.history.items():
        assert back.history[name].dtype == curve.dtype
        np.testing.assert_array_equal(back.history[name], curve)


def test_rewrite_replaces_the_store_and_leaves_nothing_behind(tmp_path):
    store.write_task(make_result(test_mi=1.0), tmp_path)
    store.write_task(make_result(test_mi=2.0), tmp_path)
    assert store.read_task(tmp_path / "c1-g01-s00.zarr").test_mi == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["c1-g01-s00.zarr"]


def test_unsafe_key_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="key"):
        store.write_task(make_result(key="../escape"), tmp_path)


def _write_incomplete(path):
    group = zarr.open_group(path, mode="w")
    group.attrs.update({"spec": {"key": "half", "combo": "c1", "params": {}}, "test_mi": 1.0})


def test_half_written_store_is_refused_and_skipped(tmp_path, caplog):
    store.write_task(make_result(), tmp_path)
    half = tmp_path / "half.zarr"
    _write_incomplete(half)
    assert not store.is_complete(half)
    with pytest.raises(IncompleteStoreError, match="half.zarr"):
        store.read_task(half)
    assert store.find_task_stores(tmp_path) == [tmp_path / "c1-g01-s00.zarr"]
    with caplog.at_level(logging.WARNING, logger="neural_mi.store"):
        ds = store.read_results(tmp_path)
    assert ds["key"].values.tolist() == ["c1-g01-s00"]
    assert any(
        "half.zarr" in rec.getMessage() and rec.levelno == logging.WARNING for rec in caplog.records
    )


def test_unopenable_store_raises_incomplete(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(IncompleteStoreError, match="empty.zarr"):
        store.read_task(tmp_path / "empty.zarr")
    with pytest.raises(InsufficientDataError, match=str(tmp_path)):
        store.read_results(tmp_path)


def test_write_goes_through_a_temporary_name(tmp_path, monkeypatch):
    written_to = []
    original = store._write_group

    def recording(result, path):
        written_to.append(path)
        original(result, path)

    monkeypatch.setattr(store, "_write_group", recording)
    store.write_task(make_result(), tmp_path)
    assert len(written_to) == 1
    assert written_to[0].parent == tmp_path
    assert written_to[0].name.startswith(".c1-g01-s00.zarr.tmp-")
    assert not written_to[0].exists()


def test_failure_mid_write_leaves_no_store(tmp_path, monkeypatch):
    def broken(self, name, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zarr.Group, "create_array", broken)
    with pytest.raises(OSError, match="disk full"):
        store.write_task(make_result(), tmp_path)
    assert not (tmp_path / "c1-g01-s00.zarr").exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_rewrite_keeps_the_old_store(tmp_path, monkeypatch):
    store.write_task(make_result(test_mi=1.0), tmp_path)

    def broken(self, name, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zarr.Group, "create_array", broken)
    with pytest.raises(OSError):
        store.write_task(make_result(test_mi=2.0), tmp_path)
    assert store.read_task(tmp_path / "c1-g01-s00.zarr").test_mi == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["c1-g01-s00.zarr"]


def _mixed_results() -> list[TaskResult]:
    return [
        make_result(
            "c1-g01-s00",
            combo="c1",
            test_mi=1.0,
            gamma=1,
            coords={"embedding_dim": 4, "model": "mlp"},
            history_len=2,
        ),
        make_result(
            "c1-g02-s00",
            combo="c1",
            test_mi=0.9,
            gamma=2,
            subset=0,
            coords={"embedding_dim": 4, "model": "mlp"},
            extras={"participation_ratio": 3.5},
        ),
        make_result(
            "c1-g02-s01",
            combo="c1",
            test_mi=0.8,
            gamma=2,
            subset=1,
            coords={"embedding_dim": 4, "model": "mlp"},
            history_len=4,
        ),
        make_result(
            "c2-g01-s00",
            combo="c2",
            test_mi=2.0,
            gamma=1,
            coords={"embedding_dim": 8, "model": "gru", "window_size": 3},
        ),
    ]


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


def test_read_results_skips_each_bad_store_with_a_warning_in_path_order(tmp_path, caplog):
    paths = [store.write_task(r, tmp_path) for r in _mixed_results()]
    _write_incomplete(tmp_path / "c1-g01-s01.zarr")
    (tmp_path / "c1-g02-s02.zarr").mkdir()
    bad = ("c1-g01-s01.zarr", "c1-g02-s02.zarr")
    with caplog.at_level(logging.WARNING, logger="neural_mi.store"):
        ds = store.read_results(tmp_path)
    xr.testing.assert_identical(ds, store.read_results(paths))
    skipped = [
        name
        for rec in caplog.records
        if rec.levelno == logging.WARNING
        for name in bad
        if name in rec.getMessage()
    ]
    assert skipped == list(bad)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="neural_mi.store"):
        store.read_results(sorted(tmp_path.glob("*.zarr"), reverse=True))
    skipped = [
        name
        for rec in caplog.records
        if rec.levelno == logging.WARNING
        for name in bad
        if name in rec.getMessage()
    ]
    assert skipped == list(bad[::-1])


def test_read_results_reads_concurrently_up_to_the_cap(tmp_path, monkeypatch):
    paths = [store.write_task(make_result(f"c1-g{i:02d}-s00", gamma=i), tmp_path) for i in range(6)]
    read_one = store._read_task_async
    running, most = 0, 0

    async def counting(path):
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.01)
            return await read_one(path)
        finally:
            running -= 1

    monkeypatch.setattr(store, "_MAX_CONCURRENT_READS", 2)
    monkeypatch.setattr(store, "_read_task_async", counting)
    ds = store.read_results(paths[::-1])
    assert ds["key"].values.tolist() == [p.stem for p in paths]
    assert most == 2


def test_read_task_works_inside_a_running_event_loop(tmp_path):
    path = store.write_task(make_result(), tmp_path)

    async def read():
        return store.read_task(path)

    assert asyncio.run(read()).test_mi == 1.0


def test_netcdf_round_trip_keeps_strings_bools_and_dict_attrs(tmp_path):
    results = [
        make_result("a", coords={"use_variational": True, "model": "mlp"}),
        make_result("b", coords={"use_variational": False, "model": "gru"}),
    ]
    ds = store.results_to_dataset(results)
    assert ds["use_variational"].dtype == bool
    ds.attrs["settings"] = {"clip": 5.0}
    path = store.save_dataset(ds, tmp_path / "out" / "tasks.nc")
    back = store.load_dataset(path)
    assert ds.attrs["settings"] == {"clip": 5.0}  # the caller's dataset is left alone
    assert json.loads(back.attrs.pop("settings")) == {"clip": 5.0}
    del ds.attrs["settings"]
    xr.testing.assert_identical(back, ds)
    assert back["model"].dtype.kind == "U"
    assert back["use_variational"].dtype == bool


def test_modules_import_without_torch_or_matplotlib():
    code = (
        "import sys, neural_mi.store, neural_mi.aggregate, neural_mi.plot; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
