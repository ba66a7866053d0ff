"""Tests of neural_mi.store.verify and ``neural-mi verify``: which stores can be trusted."""

from __future__ import annotations

import json

import pytest
from store_helpers import make_result

from neural_mi import cli, store
from neural_mi.errors import ParameterError


def _results_dir(root):
    """A workflow results folder: two analyses of one session, stores in two packs each."""
    for analysis in ("rig", "est"):
        for i, key in enumerate(["c1-g01-s00", "c1-g02-s00", "c1-g02-s01"]):
            store.write_task(make_result(key), root / "s1" / analysis / "tasks" / f"p00{i % 2}")
    (root / "s1" / "data.zarr").mkdir()  # prepared data: not a task store
    return root


def test_verify_results_checks_every_task_store_of_the_layout(tmp_path):
    root = _results_dir(tmp_path)
    checks = store.verify_results(root)
    assert len(checks) == 6 and all(c.status == "ok" and c.ok for c in checks)
    assert [c.path for c in checks] == sorted(root.glob("*/*/tasks/*/*.zarr"), key=str)
    assert store.bad_stores(root) == []


def test_bad_stores_are_listed_and_can_be_removed_for_retraining(tmp_path):
    root = _results_dir(tmp_path)
    edited = root / "s1" / "rig" / "tasks" / "p001" / "c1-g02-s00.zarr"
    meta = json.loads((edited / "zarr.json").read_text())
    meta["attributes"]["train_mi"] = 0.0
    (edited / "zarr.json").write_text(json.dumps(meta))
    # The same key in two packs of one analysis: neither copy can be trusted.
    twice = root / "s1" / "est" / "tasks" / "p001" / "c1-g01-s00.zarr"
    store.write_task(make_result("c1-g01-s00"), twice.parent)
    bad = store.bad_stores(root)
    assert [(c.path, c.status) for c in bad] == [
        (root / "s1" / "est" / "tasks" / "p000" / "c1-g01-s00.zarr", "bad"),
        (twice, "bad"),
        (edited, "bad"),
    ]
    assert "stored 2 times" in bad[0].reason and "does not match the checksum" in bad[2].reason
    for check in bad:
        assert store.remove_store(check.path)
    assert store.bad_stores(root) == []
    assert not edited.exists() and len(store.verify_results(root)) == 4


def test_verify_results_needs_a_folder(tmp_path):
    with pytest.raises(ParameterError, match="absent"):
        store.verify_results(tmp_path / "absent")
    assert store.verify_results(tmp_path) == []


def test_describe_checks_gives_one_line_per_store_and_the_counts(tmp_path):
    store.write_task(make_result("a"), tmp_path)
    (tmp_path / "b.zarr").mkdir()
    store.write_task(make_result("z"), tmp_path)
    text = store.describe_checks(store.verify_stores(tmp_path, expected_keys=["a", "b", "c"]))
    lines = text.splitlines()
    assert lines[0] == f"ok      {tmp_path / 'a.zarr'}"
    assert lines[1] == f"BAD     {tmp_path / 'b.zarr'}: it is an empty folder"
    assert lines[2] == "MISSING task 'c': no store for this planned task"
    assert lines[3] == f"stray   {tmp_path / 'z.zarr'}: not a planned task: ignored"
    assert lines[4] == "4 task store(s): 1 ok, 1 bad, 1 missing, 1 stray"


def test_cli_verify_prints_the_report_and_fails_on_a_bad_store(tmp_path, capsys):
    root = _results_dir(tmp_path)
    assert cli.main(["verify", str(root)]) == 0
    assert capsys.readouterr().out.strip().endswith("6 task store(s): 6 ok")
    chunk = root / "s1" / "est" / "tasks" / "p000" / "c1-g01-s00.zarr" / "history" / "test_mi"
    (chunk / "c" / "0").unlink()
    assert cli.main(["verify", str(root)]) == 1
    out = capsys.readouterr().out
    assert "BAD     " in out and "c1-g01-s00.zarr: chunk files of 'history/test_mi'" in out
    assert out.strip().endswith("6 task store(s): 5 ok, 1 bad")
    assert cli.main(["verify", str(tmp_path / "absent")]) == 1
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["verify", str(tmp_path / "empty")]) == 1
    assert "none found" in capsys.readouterr().out
