"""Directory stores that appear and disappear whole: write under a temporary name, then rename.

A reader never sees a half-written or half-deleted store under its final name: a store is
filled under a hidden sibling name and renamed into place, and removed by renaming it to a
hidden name first.  Used for task stores (:mod:`neural_mi.store.task_store`) and for a
session's prepared data (:mod:`neural_mi.prepared`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a directory store under a temporary sibling name, then rename it into place.

    ``write(tmp)`` fills a hidden sibling (``.<name>.tmp-<uuid>``), which is renamed to
    ``target`` only when ``write`` returned; an existing ``target`` (folder or file) is moved
    aside first and deleted after the rename.  On any error (or interruption) the temporary
    copy is removed and ``target`` is untouched.

    Parameters
    ----------
    target
        Final path of the store; parent directories are created.
    write
        Fills the store at the path it is given.

    Returns
    -------
    Path
        ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _hidden_sibling(target, "tmp")
    try:
        write(tmp)
        _move_into_place(tmp, target)
    except BaseException:
        _delete(tmp)
        raise
    return target


def remove_store(path: str | os.PathLike[str]) -> bool:
    """Remove a store (folder, file or link) so that its task is computed again.

    The store is first renamed to a hidden sibling name, so no reader sees it half deleted;
    then the renamed copy is deleted.

    Parameters
    ----------
    path
        The store, e.g. ``.../tasks/p000/<key>.zarr`` (or a whole pack folder).

    Returns
    -------
    bool
        Whether there was something to remove.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return False
    aside = _hidden_sibling(path, "del")
    os.rename(path, aside)
    _delete(aside)
    return True


#: Names of the hidden siblings a write, a replacement or a removal works under.
_LEFTOVER = re.compile(r"^\..+\.(tmp|old|del)-[0-9a-f]{32}$")


def remove_leftovers(directory: str | os.PathLike[str]) -> int:
    """Delete the hidden siblings that writes or removals killed half-way left in
    ``directory``; call it only where no other process writes there (e.g. a train job in
    its own pack folder).

    Returns
    -------
    int
        How many were deleted.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    leftovers = [p for p in directory.iterdir() if _LEFTOVER.match(p.name)]
    for path in leftovers:
        _delete(path)
    return len(leftovers)


def _hidden_sibling(path: Path, purpose: str) -> Path:
    return path.with_name(f".{path.name}.{purpose}-{uuid.uuid4().hex}")


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is replaced, never half-seen."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    aside = _hidden_sibling(target, "old")
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(aside, target)
        raise
    _delete(aside)


def _delete(path: Path) -> None:
    """Delete a folder tree, a file or a link; nothing if it does not exist."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()
