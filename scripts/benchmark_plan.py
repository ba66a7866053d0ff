"""Scale of the workflow's planning: many sessions x one rigorous analysis, SLURM profile.

Usage: ``python scripts/benchmark_plan.py [--sessions 1000 10000] [--tasks-per-job auto]
[--formats yaml json]``.

For each number of sessions, writes the config of ``scripts/make_many_sessions_config.py``
(55 rigorous tasks per session) in a temporary folder, as YAML or JSON (Snakemake reads
a JSON config with the standard library's parser, a YAML one with pure-Python YAML and YTE,
which for 10,000 sessions is a tenth of the dry run), and prints:

- ``neural-mi plan CONFIG``: wall time, CPU time and peak memory;
- the dry run of ``neural-mi run CONFIG --profile slurm -n`` (the Snakemake command it
  runs, timed alone): wall time, CPU time and peak memory;
- the jobs of the DAG (total and train jobs) and the SLURM jobs they would be submitted as
  (the groups of the dry run: every job but the collection, which runs locally, is in one);
- whether the parse imported torch (it must not).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from neural_mi.launch import snakemake_command

SCRIPTS = Path(__file__).resolve().parent


def _load_config_maker():
    spec = importlib.util.spec_from_file_location(
        "make_many_sessions_config", SCRIPTS / "make_many_sessions_config.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.many_sessions_config


def timed(command: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Run ``command``; its wall time (s), CPU time (s), peak memory (MB; of it and the
    children it waited for) and its output.  On a shared machine the CPU time varies less
    than the wall time."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{text[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1000])
    parser.add_argument(
        "--tasks-per-job",
        default="auto",
        type=lambda text: text if text == "auto" else int(text),
        help="the config's tasks_per_job (default: auto)",
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=["yaml", "json"],
        default=["yaml"],
        help="config file formats to measure (default: yaml)",
    )
    args = parser.parse_args()
    many_sessions_config = _load_config_maker()
    neural_mi = str(Path(sys.executable).parent / "neural-mi")
    print(
        f"{'sessions':>8} {'config':>6} {'tasks':>7} {'jobs':>6} {'train':>6} {'slurm':>6} "
        f"{'plan s':>7} {'cpu s':>6} {'MB':>5} {'dry-run s':>9} {'cpu s':>6} {'MB':>5} torch"
    )
    runs = [(n, fmt) for n in args.sessions for fmt in args.formats]
    for n_sessions, fmt in runs:
        with tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            config = workdir / f"config.{fmt}"
            content = many_sessions_config(n_sessions, args.tasks_per_job)
            if fmt == "json":
                config.write_text(json.dumps(content, indent=1))
            else:
                config.write_text(yaml.safe_dump(content, sort_keys=False))
            plan_s, plan_cpu, plan_mb, plan_out = timed([neural_mi, "plan", str(config)], workdir)
            tasks = int(plan_out.strip().splitlines()[-1].split()[1])
            command = [
                *snakemake_command(config, None, ["--dry-run"], profile="slurm"),
                "--directory",
                str(workdir),
            ]
            dry_s, dry_cpu, dry_mb, dry_out = timed(command, workdir)
            stats = dict(re.findall(r"^(\w+)\s+(\d+)$", dry_out, re.MULTILINE))
            groups = len(re.findall(r"Group job nmi\d+", dry_out))
            probe = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from neural_mi.workflow.plan import workflow_plan; "
                    f"workflow_plan({str(config)!r}); print('torch' in sys.modules)",
                ],
                cwd=workdir,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        print(
            f"{n_sessions:>8} {fmt:>6} {tasks:>7} {stats['total']:>6} {stats['train']:>6} "
            f"{groups:>6} "
            f"{plan_s:>7.1f} {plan_cpu:>6.1f} {plan_mb:>5.0f} {dry_s:>9.1f} {dry_cpu:>6.1f} "
            f"{dry_mb:>5.0f} {probe}"
        )


if __name__ == "__main__":
    main()
