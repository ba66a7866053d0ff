"""A task store damaged in any way is detected, named with its reason, and retrained.

Each case damages one store of a folder of task stores, as a disk, a killed process or a
hand edit would.  (a) Reading and verifying it raises/reports the store's path and what is
wrong; (b) ``nmi.run(store=...)`` retrains exactly that task (a stray store is ignored) and
gives per-task numbers and a headline bit-identical to the undamaged run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from store_helpers import make_result

import neural_mi as nmi
import neural_mi.engine.task
from neural_mi import store
from neural_mi.errors import CorruptStoreError, IncompleteResultsError, ParameterError

#: Key of the stray store (a task that is not planned).
STRAY = "zz-unplanned-g01-s00"


def _store(directory: Path, key: str) -> Path:
    return directory / f"{key}.zarr"


def _edit_attributes(path: Path, edit: Callable[[dict], None]) -> None:
    meta = json.loads((path / "zarr.json").read_text())
    edit(meta["attributes"])
    (path / "zarr.json").write_text(json.dumps(meta))


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _replace_with_other(directory: Path, key: str, other: str) -> None:
    shutil.rmtree(_store(directory, key))
    shutil.copytree(_store(directory, other), _store(directory, key))


def _add_stray(directory: Path, key: str, other: str) -> None:
    result = store.read_task(_store(directory, other))
    store.write_task(
        dataclasses.replace(result, spec=dataclasses.replace(result.spec, key=STRAY)), directory
    )


def _emptied(path: Path) -> None:
    shutil.rmtree(path)
    path.mkdir()


def _to_file(path: Path) -> None:
    shutil.rmtree(path)
    path.write_text("not a store")


def _first_format(path: Path) -> None:
    def edit(attrs: dict) -> None:
        for name in ("status", "message", "diagnostics"):
            del attrs[name]
        attrs["complete"] = True

    _edit_attributes(path, edit)


#: name -> (damage(directory, key, other_key), status, reason pattern).  The first eleven are
#: the cases of issue #12; the last three are further ways a store goes bad.
CASES: dict[str, tuple[Callable[[Path, str, str], None], str, str]] = {
    "missing chunk": (
        lambda d, k, o: (_store(d, k) / "history" / "test_mi" / "c" / "0").unlink(),
        "bad",
        r"chunk files of 'history/test_mi' are missing",
    ),
    "truncated zarr.json": (
        lambda d, k, o: _truncate(_store(d, k) / "zarr.json"),
        "bad",
        r"its zarr.json is not valid JSON \(truncated or overwritten",
    ),
    "garbage zarr.json": (
        lambda d, k, o: (_store(d, k) / "zarr.json").write_bytes(b"\x89\xfe\x00garbage\xff"),
        "bad",
        r"its zarr.json is not valid JSON \(truncated or overwritten: UnicodeDecodeError",
    ),
    "garbage chunk": (
        lambda d, k, o: (_store(d, k) / "history" / "test_mi" / "c" / "0").write_bytes(
            b"\x28\xb5\x2f\xfd garbage"
        ),
        "bad",
        r"its array 'history/test_mi' cannot be decoded \(RuntimeError: Zstd",
    ),
    "missing completion flag": (
        lambda d, k, o: _edit_attributes(_store(d, k), lambda a: a.pop("complete")),
        "bad",
        r"it has no completion record",
    ),
    "emptied store": (lambda d, k, o: _emptied(_store(d, k)), "bad", r"it is an empty folder"),
    "deleted store": (
        lambda d, k, o: shutil.rmtree(_store(d, k)),
        "missing",
        r"no store for this planned task",
    ),
    "deleted history group": (
        lambda d, k, o: shutil.rmtree(_store(d, k) / "history"),
        "bad",
        r"its 'history' group is missing",
    ),
    "edited value": (
        lambda d, k, o: _edit_attributes(_store(d, k), lambda a: a.update(test_mi=5.0)),
        "bad",
        r"its content does not match the checksum of its completion record",
    ),
    "stray store": (_add_stray, "stray", r"not a planned task: ignored"),
    "key does not match the name": (
        _replace_with_other,
        "bad",
        r"it holds task '.*' \(completion record: '.*'\), not the task its name '.*' says",
    ),
    "garbage array metadata": (
        lambda d, k, o: (_store(d, k) / "history" / "test_mi" / "zarr.json").write_bytes(b"\xff"),
        "bad",
        r"its history/test_mi/zarr.json is not valid JSON",
    ),
    "store of the first format": (
        lambda d, k, o: _first_format(_store(d, k)),
        "bad",
        r"written by an older neural_mi .* cannot be verified",
    ),
    "file in the store's place": (lambda d, k, o: _to_file(_store(d, k)), "bad", r"not a folder"),
}


# --------------------------------------------------------------------------------------
# (a) detected by read and verify, naming the store and the reason
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_damage_is_detected_with_the_store_named(case, tmp_path, caplog):
    damage, status, reason = CASES[case]
    keys = ["c1-g01-s00", "c1-g02-s00", "c1-g02-s01"]
    for i, key in enumerate(keys):
        store.write_task(make_result(key, gamma=1 + (i > 0), subset=i // 2), tmp_path)
    damaged = keys[1]
    damage(tmp_path, damaged, keys[0])
    path = _store(tmp_path, STRAY if status == "stray" else damaged)

    checks = {check.key: check for check in store.verify_stores(tmp_path, expected_keys=keys)}
    check = checks[path.stem]
    assert check.status == status
    assert check.path == (None if status == "missing" else path)
    assert re.search(reason, check.reason), check.reason
    assert all(c.status == "ok" for k, c in checks.items() if k != path.stem)

    if status == "stray":
        with caplog.at_level(logging.INFO, logger="neural_mi.store"):
            ds = store.read_results(tmp_path, expected_keys=keys)
        assert ds["key"].values.tolist() == keys
        assert any(str(path) in r.getMessage() for r in caplog.records)
        store.read_task(path)  # a stray is a good store of another task
        return
    with pytest.raises(IncompleteResultsError) as info:
        store.read_results(tmp_path, expected_keys=keys)
    assert len(info.value.problems) == 1
    where, why = info.value.problems[0]
    assert where == (f"task {damaged!r}" if status == "missing" else str(path))
    assert re.search(reason, why)
    assert where in str(info.value) and why in str(info.value)
    with pytest.raises(CorruptStoreError) as info:
        store.read_task(path)
    assert info.value.path == path and str(path) in str(info.value)
    if status == "bad":
        assert re.search(reason, info.value.reason), info.value.reason
        unplanned = {c.key: c.status for c in store.verify_stores(tmp_path)}
        assert unplanned == {**dict.fromkeys(keys, "ok"), damaged: "bad"}


# --------------------------------------------------------------------------------------
# (b) nmi.run(store=...) retrains the damaged task: the same numbers as undamaged
# --------------------------------------------------------------------------------------

FAST = {
    "n_epochs": 4,
    "batch_size": 64,
    "hidden_dim": 16,
    "embedding_dim": 4,
    "n_layers": 1,
    "patience": 2,
    "learning_rate": 1e-3,
}


def _run(store_dir: Path) -> nmi.Results:
    x, y = nmi.datasets.generate_correlated_gaussians(600, 2, 1.0, use_torch=False, seed=3)
    return nmi.run(
        x.T.copy(),
        y.T.copy(),
        mode="rigorous",
        processor_type="continuous",
        processor_params={"window_size": 1},
        base_params=FAST,
        gamma_range=[1, 2],
        split_mode="random",
        random_seed=5,
        verbose=False,
        min_gamma_points=2,
        store=store_dir,
    )


def _numbers(results: nmi.Results) -> dict:
    """Per-task MI (as exact hex) and the headline (floats by repr, which is exact)."""
    tasks = results.tasks
    per_task = {
        key: (train.hex(), test.hex())
        for key, train, test in zip(
            tasks["key"].values.tolist(),
            tasks["train_mi"].values.tolist(),
            tasks["test_mi"].values.tolist(),
        )
    }
    return {"tasks": per_task, "headline": json.dumps(results.headline, sort_keys=True)}


@pytest.fixture(scope="module")
def undamaged(tmp_path_factory) -> tuple[Path, dict]:
    directory = tmp_path_factory.mktemp("undamaged") / "stores"
    return directory, _numbers(_run(directory))


@pytest.mark.parametrize("case", CASES)
def test_run_retrains_the_damaged_task_to_the_same_numbers(
    case, undamaged, tmp_path, monkeypatch, caplog
):
    damage, status, reason = CASES[case]
    source, expected = undamaged
    directory = tmp_path / "stores"
    shutil.copytree(source, directory)
    keys = sorted(expected["tasks"])
    damaged = keys[1]
    damage(directory, damaged, keys[0])
    trained = []
    real = neural_mi.engine.task.train_critic
    monkeypatch.setattr(
        neural_mi.engine.task, "train_critic", lambda *a, **k: trained.append(1) or real(*a, **k)
    )
    with caplog.at_level(logging.WARNING, logger="neural_mi"):
        resumed = _run(directory)
    assert _numbers(resumed) == expected
    assert len(trained) == (0 if status == "stray" else 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if status == "bad":
        path = str(_store(directory, damaged))
        assert any(path in w and re.search(reason, w) for w in warnings), warnings
    else:
        assert warnings == []
    after = store.verify_stores(directory, expected_keys=keys)
    assert {c.key: c.status for c in after} == {
        **dict.fromkeys(keys, "ok"),
        **({STRAY: "stray"} if status == "stray" else {}),
    }


def test_run_refuses_a_store_path_that_is_a_file_before_training(tmp_path, monkeypatch):
    (tmp_path / "results").write_text("not a folder")
    monkeypatch.setattr(
        neural_mi.engine.task, "train_critic", lambda *a, **k: pytest.fail("training started")
    )
    with pytest.raises(ParameterError, match="store=.*results.* is a file"):
        _run(tmp_path / "results")
