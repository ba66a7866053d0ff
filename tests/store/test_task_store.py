"""Tests of neural_mi.store.task_store: one TaskResult <-> one zarr group, written whole, read
verified."""

from __future__ import annotations

import asyncio
import json
import math
import pickle

import numpy as np
import pytest
import zarr
from store_helpers import make_result

from neural_mi import store
from neural_mi.errors import CorruptStoreError, IncompleteStoreError, ParameterError
from neural_mi.store import task_store
from neural_mi.tasks import TaskResult, TaskSpec


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
        status="ok",
        message="restarted once after the loss diverged",
        diagnostics={"restarts": 1, "learning_rate": 2.5e-4, "ceiling_nats": np.float64(4.1)},
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
    assert (back.status, back.message) == ("ok", "restarted once after the loss diverged")
    assert back.diagnostics == {"restarts": 1, "learning_rate": 2.5e-4, "ceiling_nats": 4.1}
    assert sorted(back.history) == ["loss", "train_mi"]
    for name, curve in result.history.items():
        assert back.history[name].dtype == curve.dtype
        np.testing.assert_array_equal(back.history[name], curve)


def test_failed_task_with_nan_mi_and_no_history_round_trips(tmp_path):
    result = make_result(test_mi=float("nan"), history_len=0)
    result.status, result.message = "failed", "the loss was NaN at every learning rate"
    result.diagnostics = {"restarts": 3, "last_loss": float("inf")}
    back = store.read_task(store.write_task(result, tmp_path))
    assert math.isnan(back.test_mi) and math.isnan(back.train_mi)
    assert (back.status, back.message) == (result.status, result.message)
    assert back.diagnostics == {"restarts": 3, "last_loss": float("inf")}
    assert {name: curve.shape for name, curve in back.history.items()} == {
        "test_mi": (0,),
        "train_mi": (0,),
    }


def test_completion_record_carries_key_format_and_checksum(tmp_path):
    path = store.write_task(make_result(), tmp_path)
    attrs = json.loads((path / "zarr.json").read_text())["attributes"]
    record = attrs.pop("complete")
    assert record["key"] == "c1-g01-s00" and record["format"] == store.STORE_FORMAT == 2
    curves = {n: zarr.open_array(path / "history" / n)[...] for n in ("train_mi", "test_mi")}
    assert record["sha256"] == store.content_sha256("c1-g01-s00", attrs, curves)
    assert attrs["status"] == "ok" and attrs["message"] == "" and attrs["diagnostics"] == {}


def test_rewrite_replaces_the_store_and_leaves_nothing_behind(tmp_path):
    store.write_task(make_result(test_mi=1.0), tmp_path)
    store.write_task(make_result(test_mi=2.0), tmp_path)
    assert store.read_task(tmp_path / "c1-g01-s00.zarr").test_mi == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["c1-g01-s00.zarr"]


def test_rewrite_replaces_a_file_in_the_stores_place(tmp_path):
    (tmp_path / "c1-g01-s00.zarr").write_text("not a store")
    store.write_task(make_result(test_mi=2.0), tmp_path)
    assert store.read_task(tmp_path / "c1-g01-s00.zarr").test_mi == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["c1-g01-s00.zarr"]


def test_unsafe_key_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="key"):
        store.write_task(make_result(key="../escape"), tmp_path)
    with pytest.raises(ParameterError, match="key"):
        store.store_path(tmp_path, ".hidden")


def _write_incomplete(path):
    group = zarr.open_group(path, mode="w")
    group.attrs.update({"spec": {"key": "half", "combo": "c1", "params": {}}, "test_mi": 1.0})


def test_half_written_store_is_refused(tmp_path):
    store.write_task(make_result(), tmp_path)
    half = tmp_path / "half.zarr"
    _write_incomplete(half)
    assert not store.is_complete(half)
    with pytest.raises(CorruptStoreError, match="half.zarr.*no completion record") as info:
        store.read_task(half)
    assert isinstance(info.value, IncompleteStoreError)
    assert info.value.path == half
    assert store.find_task_stores(tmp_path) == [tmp_path / "c1-g01-s00.zarr"]


def test_unopenable_store_raises_corrupt(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(CorruptStoreError, match="empty.zarr.*empty folder"):
        store.read_task(tmp_path / "empty.zarr")
    with pytest.raises(CorruptStoreError, match="nothere.zarr.*no store at this path"):
        store.read_task(tmp_path / "nothere.zarr")


def test_store_of_the_first_format_is_refused_as_unverifiable(tmp_path):
    # What the first format wrote: a bare completion flag, no checksum, no status fields.
    path = store.write_task(make_result(), tmp_path)
    meta = json.loads((path / "zarr.json").read_text())
    for name in ("status", "message", "diagnostics"):
        del meta["attributes"][name]
    meta["attributes"]["complete"] = True
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptStoreError, match="older neural_mi.*cannot be verified"):
        store.read_task(path)


def test_store_of_another_format_is_refused(tmp_path):
    path = store.write_task(make_result(), tmp_path)
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"]["complete"]["format"] = 3
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptStoreError, match="format is 3; this neural_mi reads format 2"):
        store.read_task(path)


def test_corrupt_store_error_pickles_with_its_path_and_reason(tmp_path):
    err = CorruptStoreError(tmp_path / "a.zarr", "it is an empty folder")
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.reason, str(back)) == (err.path, err.reason, str(err))


def test_write_goes_through_a_temporary_name(tmp_path, monkeypatch):
    written_to = []
    original = task_store._write_group

    def recording(result, path):
        written_to.append(path)
        original(result, path)

    monkeypatch.setattr(task_store, "_write_group", recording)
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


def test_read_tasks_reads_concurrently_up_to_the_cap(tmp_path, monkeypatch):
    paths = [store.write_task(make_result(f"c1-g{i:02d}-s00", gamma=i), tmp_path) for i in range(6)]
    (tmp_path / "bad.zarr").mkdir()
    read_one = task_store._read_task_async
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

    monkeypatch.setattr(task_store, "_MAX_CONCURRENT_READS", 2)
    monkeypatch.setattr(task_store, "_read_task_async", counting)
    outcomes = store.read_tasks([tmp_path / "bad.zarr", *paths[::-1]])
    assert isinstance(outcomes[0], CorruptStoreError)
    assert [r.spec.key for r in outcomes[1:]] == [p.stem for p in paths[::-1]]
    assert most == 2


def test_read_task_works_inside_a_running_event_loop(tmp_path):
    path = store.write_task(make_result(), tmp_path)

    async def read():
        return store.read_task(path)

    assert asyncio.run(read()).test_mi == 1.0


def test_task_store_paths_lists_visible_entries_of_any_kind(tmp_path):
    store.write_task(make_result(), tmp_path)
    (tmp_path / "file.zarr").write_text("x")
    (tmp_path / ".c1-g02-s00.zarr.tmp-0123").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in store.task_store_paths(tmp_path)] == ["c1-g01-s00.zarr", "file.zarr"]
    assert store.task_store_paths(tmp_path / "absent") == []


def test_store_directory_must_not_be_a_file(tmp_path):
    assert store.check_store_directory(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="'.*file' is a file"):
        store.check_store_directory(tmp_path / "file")
    with pytest.raises(ParameterError, match="is a file"):
        store.check_store_directory(tmp_path / "file" / "below")
