"""Time planning many sessions' rigorous analyses, and check that it never imports torch.

Usage: ``python scripts/benchmark_plan.py [--sessions 100] [--repeats 5]``. Prints the
number of tasks, the median planning time and whether torch was imported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    from neural_mi.plan import plan_tasks

    import_seconds = time.perf_counter() - start

    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        tasks = [
            task
            for session in range(args.sessions)
            for task in plan_tasks(
                "rigorous",
                random_seed=session,
                base_params={"n_epochs": 50, "batch_size": 128},
                split_mode="random",
            )
        ]
        timings.append(time.perf_counter() - start)
    print(f"import neural_mi.plan: {import_seconds * 1e3:.1f} ms")
    print(
        f"planned {len(tasks)} rigorous tasks for {args.sessions} sessions: "
        f"median {statistics.median(timings) * 1e3:.1f} ms over {args.repeats} repeats"
    )
    print(f"torch imported: {'torch' in sys.modules}")


if __name__ == "__main__":
    main()
