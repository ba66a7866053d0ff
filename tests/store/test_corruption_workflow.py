"""The corruption cases of ``test_corruption.py`` through the workflow: a damaged task store
of a finished run is found when the workflow is run again (named, with its reason), removed
with its pack's completion marker, trained again, and the results are bit-identical to the
undamaged run's.  One plain rerun, no manual step.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers import run_snakemake
from test_corruption import CASES

from neural_mi.store import load_dataset

REPO = Path(__file__).resolve().parents[2]

#: Cases also run in the default suite (the others are marked slow: a workflow run each).
QUICK = ("edited value", "deleted store", "missing chunk")


def _numbers(workdir: Path) -> dict[str, str]:
    """Every task's test MI (as hex: bit for bit) and the cross-session table."""
    numbers = {"summary.csv": (workdir / "results" / "summary.csv").read_text()}
    for analysis in ("rigorous", "quick"):
        ds = load_dataset(workdir / "results" / "tiny" / analysis / "tasks.nc")
        numbers.update(
            {
                f"{analysis}/{k}": float(v).hex()
                for k, v in zip(ds["key"].values, ds["test_mi"].values)
            }
        )
    return numbers


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("finished")
    shutil.copy(REPO / "config" / "test_tiny.yaml", workdir / "config.yaml")
    out = run_snakemake(workdir, timeout=600)
    assert out.returncode == 0, out.output[-4000:]
    return workdir


@pytest.mark.parametrize(
    "case", [c if c in QUICK else pytest.param(c, marks=pytest.mark.slow) for c in CASES]
)
def test_one_plain_rerun_recomputes_the_damaged_store(case, finished, tmp_path):
    damage, status, reason = CASES[case]
    workdir = tmp_path / "run"
    shutil.copytree(finished, workdir, symlinks=True)
    pack = workdir / "results" / "tiny" / "rigorous" / "tasks" / "p001"
    keys = sorted(p.name.removesuffix(".zarr") for p in pack.glob("*.zarr"))
    damage(pack, keys[1], keys[0])
    out = run_snakemake(workdir, timeout=600)
    assert out.returncode == 0, out.output[-4000:]
    if status == "stray":  # a store that no task plans is left alone
        assert "Nothing to be done" in out.output
    else:
        assert f"{keys[1]}.zarr" in out.output and "p001.done was removed" in out.output
        assert "tiny/rigorous/tasks/p001.done" in out.output  # the pack's train job ran
        if status == "bad":  # the verification's reason is shown
            assert re.search(reason, out.output), out.output[-3000:]
    assert _numbers(workdir) == _numbers(finished)
