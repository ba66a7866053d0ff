"""Pack completion markers (neural_mi.workflow.markers): fingerprints, and what a check does."""

from __future__ import annotations

import json
import os

from helpers import make_result

from neural_mi import store
from neural_mi.workflow.markers import check_marker, store_fingerprint, write_marker


def _pack(tmp_path):
    folder = tmp_path / "tasks" / "p000"
    stores = {
        key: store.write_task(make_result(key, "c", "rigorous", 0.5), folder)
        for key in ("c-g01-s00", "c-g02-s00")
    }
    marker = tmp_path / "tasks" / "p000.done"
    write_marker(marker, "p000", stores)
    return folder, stores, marker


def test_an_intact_pack_keeps_its_marker_and_reads_nothing(tmp_path, monkeypatch):
    folder, stores, marker = _pack(tmp_path)
    assert json.loads(marker.read_text())["tasks"] == list(stores)
    monkeypatch.setattr(
        store,
        "read_task",
        lambda path: (_ for _ in ()).throw(AssertionError("an unchanged store was read")),
    )
    assert check_marker(marker, folder) == []
    assert marker.exists()


def test_a_touched_but_intact_store_is_verified_and_kept(tmp_path):
    folder, stores, marker = _pack(tmp_path)
    path = stores["c-g01-s00"]
    before = store_fingerprint(path)
    os.utime(path / "zarr.json", ns=(1, 1))
    assert store_fingerprint(path) != before
    assert check_marker(marker, folder) == []
    assert marker.exists() and path.exists()


def test_an_edited_store_is_removed_with_the_marker(tmp_path):
    folder, stores, marker = _pack(tmp_path)
    path = stores["c-g02-s00"]
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"]["test_mi"] = 5.0
    (path / "zarr.json").write_text(json.dumps(meta))
    bad = check_marker(marker, folder)
    assert [p for p, _ in bad] == [path]
    assert "checksum" in bad[0][1]
    assert not path.exists() and not marker.exists()
    assert stores["c-g01-s00"].exists()  # the intact store stays


def test_a_missing_store_and_an_unreadable_marker(tmp_path):
    folder, stores, marker = _pack(tmp_path)
    store.remove_store(stores["c-g01-s00"])
    assert check_marker(marker, folder) == [(stores["c-g01-s00"], "missing")]
    assert not marker.exists()
    assert check_marker(marker, folder) == []  # no marker: nothing to check
    marker.write_text("{not json")
    assert check_marker(marker, folder)[0][0] == marker
    assert not marker.exists()
