"""Write a workflow config with many synthetic sessions (scale test of the workflow).

Each session is a pair of correlated Gaussians (n_samples x dim, MI cycling through
0.5..3 bits; seeds derive from the config seed and the session name); one rigorous analysis
with gamma 1..10 runs on all of them: 55 training tasks per session, packed into train jobs
as ``tasks_per_job`` says (default ``auto``: one job per session here).

    python scripts/make_many_sessions_config.py --sessions 100 --out /tmp/many.yaml
    snakemake -n --snakefile workflow/Snakefile --configfile /tmp/many.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml


def many_sessions_config(
    n_sessions: int, tasks_per_job: int | str = "auto", n_samples: int = 5000, dim: int = 5
) -> dict[str, Any]:
    """A config with ``n_sessions`` synthetic sessions and one rigorous analysis."""
    mi_values = (0.5, 1.0, 2.0, 3.0)
    sessions = [
        {
            "name": f"session_{i:04d}",
            "synthetic": {
                "generator": "correlated_gaussians",
                "n_samples": n_samples,
                "dim": dim,
                "mi": mi_values[i % len(mi_values)],
            },
            "x": {"type": "continuous", "params": {"window_size": 1}},
            "y": {"type": "continuous", "params": {"window_size": 1}},
        }
        for i in range(n_sessions)
    ]
    analysis = {
        "name": "rigorous",
        "mode": "rigorous",
        "base_params": {"n_epochs": 50, "batch_size": 128},
        "gamma_range": list(range(1, 11)),
        "split_mode": "random",
    }
    return {
        "seed": 42,
        "results_dir": "results",
        "tasks_per_job": tasks_per_job,
        "sessions": sessions,
        "analyses": [analysis],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100, help="number of sessions")
    parser.add_argument(
        "--tasks-per-job",
        type=lambda text: text if text == "auto" else int(text),
        default="auto",
        help="'auto' (default) or a number",
    )
    parser.add_argument("--out", required=True, help="config file to write")
    args = parser.parse_args(argv)
    config = many_sessions_config(args.sessions, args.tasks_per_job)
    Path(args.out).write_text(yaml.safe_dump(config, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
