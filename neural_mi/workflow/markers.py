"""Completion markers of train jobs: which stores a pack wrote, and whether they are intact.

A train job's output is its pack's marker, ``tasks/<pack>.done``, written after every store
of the pack.  It lists the pack's tasks and a fingerprint of each store's files (their
names, sizes and modification times; no file is read).  Before Snakemake builds its DAG,
:func:`check_marker` compares the fingerprints with the stores on disk: a store whose files
changed in any way is verified in full (its checksum, see :mod:`neural_mi.store`), and a
store that is gone or fails verification is removed together with the marker, so that the
next run trains exactly the missing tasks again.  Torch-free.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from .. import store
from ..errors import CorruptStoreError

__all__ = ["check_marker", "store_fingerprint", "write_marker"]


def store_fingerprint(path: str | os.PathLike[str]) -> str | None:
    """Names, sizes and modification times of a store's files (``None`` if it is gone).

    Any write into the store (an edit, a truncation, a deleted or added file) changes it.
    """
    root = Path(path)
    if not os.path.lexists(root):
        return None
    if not root.is_dir():  # a file or a link where a store should be: never a match
        return f"not a folder:{root.lstat().st_mtime_ns}"
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            relative = os.path.relpath(os.path.join(folder, name), root)
            entries.append(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(entries)


def write_marker(marker: str | os.PathLike[str], pack: str, stores: Mapping[str, Path]) -> None:
    """Write a pack's marker atomically: its tasks and their stores' fingerprints."""
    target = Path(marker)
    content = {
        "pack": pack,
        "tasks": list(stores),
        "fingerprints": {key: store_fingerprint(path) for key, path in stores.items()},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, target)


def check_marker(
    marker: str | os.PathLike[str], folder: str | os.PathLike[str]
) -> list[tuple[Path, str]]:
    """The stores of a marked pack that are gone or fail verification (removed, with the
    marker, when there are any); ``[]`` when the pack is intact or has no marker.

    An unreadable marker is removed too (its pack is then run again).
    """
    marker, folder = Path(marker), Path(folder)
    try:
        content = json.loads(marker.read_text())
        keys = list(content["tasks"])
        recorded = dict(content.get("fingerprints") or {})
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        marker.unlink(missing_ok=True)
        return [(marker, f"unreadable marker ({exc})")]
    bad = []
    for key in keys:
        path = store.store_path(folder, key)
        now = store_fingerprint(path)
        if now is None:
            bad.append((path, "missing"))
        elif now != recorded.get(key):
            try:
                store.read_task(path)
            except CorruptStoreError as exc:
                bad.append((path, exc.reason))
    for path, _ in bad:
        store.remove_store(path)
    if bad:
        marker.unlink(missing_ok=True)
    return bad
