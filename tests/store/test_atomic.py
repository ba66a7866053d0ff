"""Tests of neural_mi.store.atomic: stores appear and disappear whole."""

from __future__ import annotations

import pytest

from neural_mi.store import remove_store, write_atomically


def _fill(path, text="new"):
    path.mkdir()
    (path / "a").write_text(text)


def test_write_replaces_a_folder_or_a_file_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "s.zarr"
    assert write_atomically(target, lambda tmp: _fill(tmp, "one")) == target
    write_atomically(target, lambda tmp: _fill(tmp, "two"))
    assert (target / "a").read_text() == "two"
    in_place_of_a_file = tmp_path / "t.zarr"
    in_place_of_a_file.write_text("a file in the store's place")
    write_atomically(in_place_of_a_file, _fill)
    assert (in_place_of_a_file / "a").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr", "t.zarr"]


def test_failed_write_leaves_the_old_store_and_no_temporary(tmp_path):
    target = tmp_path / "s.zarr"
    write_atomically(target, lambda tmp: _fill(tmp, "old"))

    def failing(tmp):
        _fill(tmp)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, failing)
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_remove_store_removes_folders_files_and_links(tmp_path):
    folder, file, link = tmp_path / "f.zarr", tmp_path / "g.zarr", tmp_path / "l.zarr"
    _fill(folder)
    file.write_text("x")
    link.symlink_to(tmp_path / "elsewhere")
    assert remove_store(folder) and remove_store(file) and remove_store(link)
    assert not remove_store(tmp_path / "absent.zarr")
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_killed_writes_are_removed_and_nothing_else(tmp_path):
    from neural_mi.store import remove_leftovers

    keep = [tmp_path / "c1-g01-s00.zarr", tmp_path / ".hidden-but-mine"]
    leftovers = [tmp_path / f".c1-g01-s00.zarr.{kind}-{'a' * 32}" for kind in ("tmp", "old", "del")]
    for path in keep + leftovers:
        path.mkdir()
    assert remove_leftovers(tmp_path) == 3
    assert sorted(tmp_path.iterdir()) == sorted(keep)
    assert remove_leftovers(tmp_path / "missing") == 0
