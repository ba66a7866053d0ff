"""Benchmark task stores: writing, reading with verification, and the checksum's share.

Usage::

    python scripts/benchmark_store.py                  # 55 stores, 5 repeats
    python scripts/benchmark_store.py --tasks 300 --epochs 200 --repeats 3

The workload is the stores of one rigorous analysis (gamma 1..10: 55 tasks), each with the
four training curves of ``--epochs`` epochs (float64) and a spec planned by
:func:`neural_mi.plan.plan_tasks`.  Each repeat writes every store into a fresh temporary
folder (one after another, as a train job does), then reads them back.  Per repeat:

- ``write``: :func:`neural_mi.store.write_task` over all stores;
- ``read``: :func:`neural_mi.store.read_tasks` (concurrent, every store verified);
- ``read_results``: :func:`neural_mi.store.read_results` with the planned keys (reading
  and verifying, plus building the task dataset);
- ``checksum``: :func:`neural_mi.store.content_sha256` over the same content (the part of
  a write, and of a read, that proves the content).

The table shows the median over repeats, in ms for all stores and in µs per store, and the
checksum as a share of a write and of a read.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from neural_mi import store
from neural_mi.plan import plan_tasks
from neural_mi.store._json import jsonable
from neural_mi.store.task_store import SCALARS
from neural_mi.tasks import TaskResult


def _results(n_tasks: int, n_epochs: int) -> list[TaskResult]:
    gammas = []
    while sum(gammas) < n_tasks:
        gammas.append(len(gammas) + 1)
    specs = plan_tasks("rigorous", random_seed=0, gamma_range=gammas)[:n_tasks]
    rng = np.random.default_rng(0)
    return [
        TaskResult(
            spec=spec,
            train_mi=float(rng.random()),
            test_mi=float(rng.random()),
            best_epoch=n_epochs - 1,
            n_epochs_run=n_epochs,
            history={
                name: rng.random(n_epochs)
                for name in ("train_mi", "test_mi", "test_mi_smoothed", "loss")
            },
            n_train=4000,
            n_test=1000,
            wall_time=1.0,
            versions={"neural_mi": "0.1.0", "torch": "2.13.0", "numpy": "2.0"},
            diagnostics={"restarts": 0, "learning_rate": 1e-3, "ceiling_nats": 6.9},
        )
        for spec in specs
    ]


def _checksum_all(results: list[TaskResult]) -> None:
    """What a write (and a read) spends on the checksum: attributes to builtins + digest."""
    for r in results:
        attrs = {"spec": jsonable(asdict(r.spec)), "diagnostics": jsonable(r.diagnostics)}
        attrs.update({name: kind(getattr(r, name)) for name, kind in SCALARS.items()})
        store.content_sha256(r.spec.key, attrs, r.history)


def _one_repeat(results: list[TaskResult]) -> dict[str, float]:
    """Seconds of each step, over all stores, in a fresh temporary folder."""
    keys = [r.spec.key for r in results]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        paths = [directory / f"{key}.zarr" for key in keys]
        steps = {
            "write": lambda: [store.write_task(r, directory) for r in results],
            "read": lambda: store.read_tasks(paths),
            "read_results": lambda: store.read_results(directory, expected_keys=keys),
            "checksum": lambda: _checksum_all(results),
        }
        seconds = {}
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            seconds[name] = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=55)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = _results(args.tasks, args.epochs)
    _one_repeat(results)  # warm-up (imports xarray): not counted
    repeats = [_one_repeat(results) for _ in range(args.repeats)]
    median = {name: statistics.median(r[name] for r in repeats) for name in repeats[0]}
    print(f"{args.tasks} task stores, {args.epochs} epochs, median of {args.repeats} repeats")
    print(f"{'step':<14}{'ms (all)':>10}{'µs/store':>10}")
    for name, seconds in median.items():
        print(f"{name:<14}{seconds * 1e3:>10.1f}{seconds * 1e6 / args.tasks:>10.0f}")
    print(
        f"checksum share: {median['checksum'] / median['write']:.1%} of a write, "
        f"{median['checksum'] / median['read']:.1%} of a read"
    )


if __name__ == "__main__":
    main()
