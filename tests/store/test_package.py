"""neural_mi.store as a package: what it imports, and the names the rest of the code uses."""

from __future__ import annotations

import json
import subprocess
import sys

import neural_mi.store


def _imported_after(code: str) -> list[str]:
    heavy = "('torch', 'matplotlib', 'xarray')"
    check = f"; print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", f"import json, sys; {code}{check}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_modules_import_without_torch_or_matplotlib():
    imported = _imported_after("import neural_mi.store, neural_mi.aggregate, neural_mi.plot")
    assert "torch" not in imported and "matplotlib" not in imported


def test_writing_and_reading_task_stores_never_imports_xarray(tmp_path):
    code = (
        "import numpy as np; from neural_mi import store; "
        "from neural_mi.tasks import TaskResult, TaskSpec; "
        "spec = TaskSpec(key='k', combo='c', params={'mode': 'estimate'}); "
        "r = TaskResult(spec, 0.1, 0.2, 0, 1, {'loss': np.zeros(1)}, 2, 2, 0.0, {}); "
        f"p = store.write_task(r, {str(tmp_path)!r}); store.read_task(p); "
        f"store.verify_results({str(tmp_path)!r})"
    )
    assert _imported_after(code) == []


def test_every_public_name_is_exported():
    for name in neural_mi.store.__all__:
        assert getattr(neural_mi.store, name) is not None
    for name in (  # used elsewhere in the package, its scripts and tests
        "write_task",
        "read_task",
        "read_results",
        "results_to_dataset",
        "swept_coords",
        "save_dataset",
        "load_dataset",
        "find_task_stores",
        "task_store_paths",
        "is_complete",
        "write_atomically",
        "TASK_COORDS",
    ):
        assert name in neural_mi.store.__all__
