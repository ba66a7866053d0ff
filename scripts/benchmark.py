"""Benchmark neural_mi's training engine on fixed workloads and print one table.

Usage::

    python scripts/benchmark.py --all                  # every workload, 3 repeats each
    python scripts/benchmark.py seed_estimate rigorous_gauss --repeats 5
    python scripts/benchmark.py long_recording --repeats 1 --json out.json
    python scripts/benchmark.py null --repeats 1          # the cost of permutation tests

Every repeat of every workload runs in a fresh Python subprocess (``OMP_NUM_THREADS=1``,
as a user's script would) so that imports, thread pools and peak memory start from
scratch.  Per workload the table shows medians over the repeats of:

- ``wall s``: the timed section (the ``nmi.run`` call, or the ``neural-mi run`` command);
  imports of ``neural_mi`` before the call and data generation are not in it, lazy imports
  inside it are;
- ``proc s``: the whole subprocess (interpreter start, imports, data, the call);
- ``cpu s``: user + system CPU time of the subprocess and all its descendants;
- ``peak MB``: peak resident memory of the subprocess or of its largest descendant
  (``ru_maxrss`` of the ``rusage`` returned when the subprocess is reaped: the per-child
  form of ``getrusage(RUSAGE_CHILDREN)``);
- ``fits``, ``epochs``: training tasks and epochs trained over all of them;
- ``GFLOP/s``: training arithmetic counted analytically (matrix products of the MLP
  embeddings and of the score matrices, forward + backward = 3 x forward, plus the
  per-epoch held-out evaluation and the final training-subset evaluation, forward only)
  over ``wall s``;
- the estimate (bits), the truth and the error.

Repeats go round the chosen workloads, and each workflow workload that runs next to its
in-process twin gets a ratio line: the median over repeats of workflow wall time over the
twin's ``wall s`` (the ``nmi.run`` call alone) and over its ``proc s`` (the whole script:
interpreter, imports, data generation and the call, which the workflow also has to do).

Workloads (2 workers where tasks can run in parallel):

- ``seed_estimate``: 5-d correlated Gaussians, 5000 samples, 2 bits, one estimate;
- ``sweep_embed``: the same data, ``embedding_dim`` in 4, 8, 16, 32 (MI: mean over them);
- ``rigorous_gauss``: the same data, rigorous (gamma 1..10, 55 fits);
- ``rigorous_latent``: nonlinear observations (100-d) of 10-d latents with 3 bits, 2500
  samples, rigorous with wider and deeper MLPs;
- ``workflow_rigorous`` (``workflow_rigorous_latent`` and ``workflow_rigorous_gauss``):
  ``rigorous_latent`` and ``rigorous_gauss`` through the Snakemake workflow
  (``neural-mi run --cores 2``, local profile, one train job of 55 tasks with 2 worker
  processes) in a temporary directory, each in its own subprocess;
- ``long_recording``: a 64-channel, 1 kHz, 1-hour float32 recording X and Y (Y a noisy
  5-tap moving average of X), windows of 50 samples (step 1: 3.6 million overlapping
  windows), blocked split, two epochs of a small critic; its peak memory (X and Y are
  generated in the same process) is compared with the raw X + Y size (``raw MB``);
- the cost of a permutation test (``null``: ``null_estimate`` and ``null_lag``, and their
  twins without a test ``plain_estimate`` and ``plain_lag``; ``null_rigorous``): a
  2-d 0.5-bit Gaussian estimate (2000 samples, split 'random', 20 epochs of a small
  critic) and a lag analysis of ``generate_linear_data`` (2000 time points, lags 0..2,
  blocked split), with 100 permutations (``permute`` and ``circular`` nulls) against the
  same analysis without; a ratio line per pair.  ``null_rigorous`` is ``rigorous_gauss``
  with 20 permutations (each trains every gamma chunk again on its moved data, fitted and
  extrapolated the same way), against ``rigorous_gauss``: the cost of the null of the
  bias-corrected value.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

GAUSS_PARAMS = {
    "n_epochs": 50,
    "learning_rate": 5e-4,
    "batch_size": 128,
    "patience": 10,
    "embedding_dim": 16,
    "hidden_dim": 64,
    "n_layers": 2,
}
LATENT_PARAMS = {
    "n_epochs": 100,
    "learning_rate": 5e-4,
    "batch_size": 128,
    "patience": 20,
    "embedding_dim": 20,
    "hidden_dim": 256,
    "n_layers": 3,
}
LONG_PARAMS = {
    "n_epochs": 2,
    "learning_rate": 5e-4,
    "batch_size": 256,
    "patience": 2,
    "embedding_dim": 8,
    "hidden_dim": 16,
    "n_layers": 1,
}
N_WORKERS = 2
#: Packing of the workflow runs: the 55 tasks in one train job with a pool of
#: ``N_WORKERS`` processes, which balances the load as ``nmi.run``'s pool does.  Two
#: single-threaded packs of 28 and 27 tasks were 1-2 s slower: early stopping makes task
#: costs uneven, and a static split cannot follow them.
WORKFLOW_PACKING = {"tasks_per_job": 55, "threads_per_job": N_WORKERS}
WINDOW = {"window_size": 1}

#: Long recording: channels, sampling rate (Hz), duration (s), window (samples).
LONG_SHAPE = (64, 1000, 3600, 50)


# --------------------------------------------------------------------------------------
# Flop counting
# --------------------------------------------------------------------------------------


def mlp_macs(in_dim: int, base: Mapping[str, Any]) -> int:
    """Multiply-accumulates per sample of one MLP embedding."""
    widths = [in_dim] + [base["hidden_dim"]] * base["n_layers"] + [base["embedding_dim"]]
    return sum(a * b for a, b in itertools.pairwise(widths))


def task_flops(
    n_train: int, n_test: int, epochs: int, base: Mapping[str, Any], dim_x: int, dim_y: int
) -> float:
    """Flops of one task (separable MLP critic): training steps, the held-out evaluation
    of every epoch and the one evaluation of the training subset."""
    per_sample = mlp_macs(dim_x, base) + mlp_macs(dim_y, base)
    embed = base["embedding_dim"]
    batch = min(base["batch_size"], n_train)
    n_batches = math.ceil(n_train / batch)
    train = 3 * 2 * (n_train * per_sample + n_train**2 / n_batches * embed)
    n_eval = min(n_test, base.get("max_eval_samples", 4096))
    evaluate = 2 * (n_eval * per_sample + n_eval**2 * embed)
    return epochs * (train + evaluate) + evaluate


def dataset_flops(
    tasks: Any,
    base: Mapping[str, Any],
    dim_x: int,
    dim_y: int,
    bases: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[float, int]:
    """Total flops and epochs of a task dataset (``Results.tasks`` or a ``tasks.nc``)."""
    total, epochs = 0.0, 0
    combos = tasks["combo"].values if "combo" in tasks else [None] * tasks.sizes["task"]
    for i, combo in enumerate(combos):
        params = (bases or {}).get(combo, base)
        n_epochs = int(tasks["n_epochs_run"].values[i])
        epochs += n_epochs
        total += task_flops(
            int(tasks["n_train"].values[i]),
            int(tasks["n_test"].values[i]),
            n_epochs,
            params,
            dim_x,
            dim_y,
        )
    return total, epochs


# --------------------------------------------------------------------------------------
# Workloads (each runs inside a fresh subprocess and returns one or more rows)
# --------------------------------------------------------------------------------------


def _gauss() -> tuple[Any, Any]:
    import neural_mi as nmi

    x, y = nmi.datasets.generate_correlated_gaussians(5000, 5, 2.0)
    return x.T, y.T


def _latent() -> tuple[Any, Any]:
    import neural_mi as nmi

    x, y = nmi.datasets.generate_nonlinear_from_latent(2500, 10, 100, 3.0)
    return x.T, y.T


def _timed_run(x: Any, y: Any, **kwargs: Any) -> tuple[float, Any]:
    import neural_mi as nmi

    start = time.perf_counter()
    results = nmi.run(
        x,
        y,
        processor_type="continuous",
        verbose=False,
        random_seed=42,
        n_workers=N_WORKERS,
        **kwargs,
    )
    return time.perf_counter() - start, results


def _row(
    seconds: float,
    results: Any,
    base: Mapping[str, Any],
    dims: tuple[int, int],
    truth: float | None,
    estimate: float | None = None,
    bases: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    flops, epochs = dataset_flops(results.tasks, base, *dims, bases=bases)
    estimate = float(results.mi_estimate) if estimate is None else estimate
    return {
        "seconds": seconds,
        "fits": int(results.tasks.sizes["task"]),
        "epochs": epochs,
        "gflops": flops / 1e9,
        "estimate": estimate,
        "truth": truth,
    }


def _single_run(
    data: Callable[[], tuple[Any, Any]],
    mode: str,
    base: dict[str, Any],
    dims: tuple[int, int],
    truth: float,
) -> list[dict[str, Any]]:
    """One ``nmi.run`` of ``mode`` on ``data()`` (split 'random'), as one table row."""
    x, y = data()
    seconds, res = _timed_run(
        x, y, mode=mode, processor_params=WINDOW, base_params=base, split_mode="random"
    )
    return [_row(seconds, res, base, dims, truth)]


def seed_estimate() -> list[dict[str, Any]]:
    return _single_run(_gauss, "estimate", GAUSS_PARAMS, (5, 5), 2.0)


def sweep_embed() -> list[dict[str, Any]]:
    x, y = _gauss()
    dims = [4, 8, 16, 32]
    seconds, res = _timed_run(
        x,
        y,
        mode="sweep",
        processor_params=WINDOW,
        base_params=GAUSS_PARAMS,
        sweep_grid={"embedding_dim": dims},
        split_mode="random",
    )
    bases = {
        combo: {**GAUSS_PARAMS, "embedding_dim": int(dim)}
        for combo, dim in zip(res.tasks["combo"].values, res.tasks["embedding_dim"].values)
    }
    mean_bits = float(res.tasks["test_mi"].mean()) / math.log(2.0)
    return [_row(seconds, res, GAUSS_PARAMS, (5, 5), 2.0, estimate=mean_bits, bases=bases)]


def rigorous_gauss() -> list[dict[str, Any]]:
    return _single_run(_gauss, "rigorous", GAUSS_PARAMS, (5, 5), 2.0)


def rigorous_latent() -> list[dict[str, Any]]:
    return _single_run(_latent, "rigorous", LATENT_PARAMS, (100, 100), 3.0)


def _workflow_config(name: str, synthetic: dict[str, Any], base: dict[str, Any]) -> dict:
    variable = {"type": "continuous", "params": WINDOW}
    return {
        "seed": 42,
        "results_dir": "results",
        **WORKFLOW_PACKING,
        "sessions": [
            {"name": name, "synthetic": {**synthetic, "seed": 42}, "x": variable, "y": variable}
        ],
        "analyses": [
            {"name": "rigorous", "mode": "rigorous", "base_params": base, "split_mode": "random"}
        ],
    }


def _workflow_row(
    label: str, config: dict, base: dict[str, Any], dims: tuple[int, int], truth: float
) -> dict[str, Any]:
    import yaml

    from neural_mi.store import load_dataset

    with tempfile.TemporaryDirectory(prefix=f"nmi-bench-{label}-") as tmp:
        workdir = Path(tmp)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        command = [
            str(Path(sys.executable).parent / "neural-mi"),
            "run",
            "config.yaml",
            "--cores",
            "2",
            "--quiet",
        ]
        start = time.perf_counter()
        out = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            raise RuntimeError(f"neural-mi run failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        session = config["sessions"][0]["name"]
        analysis = workdir / "results" / session / "rigorous"
        tasks = load_dataset(analysis / "tasks.nc")
        summary = json.loads((analysis / "summary.json").read_text())
    flops, epochs = dataset_flops(tasks, base, *dims)
    return {
        "label": label,
        "seconds": seconds,
        "fits": int(tasks.sizes["task"]),
        "epochs": epochs,
        "gflops": flops / 1e9,
        "estimate": float(summary["mi_estimate"]),
        "truth": truth,
    }


def workflow_rigorous_latent() -> list[dict[str, Any]]:
    config = _workflow_config(
        "latent",
        {
            "generator": "nonlinear_from_latent",
            "n_samples": 2500,
            "latent_dim": 10,
            "observed_dim": 100,
            "mi": 3.0,
        },
        LATENT_PARAMS,
    )
    return [_workflow_row("workflow_rigorous_latent", config, LATENT_PARAMS, (100, 100), 3.0)]


def workflow_rigorous_gauss() -> list[dict[str, Any]]:
    config = _workflow_config(
        "gauss",
        {"generator": "correlated_gaussians", "n_samples": 5000, "dim": 5, "mi": 2.0},
        GAUSS_PARAMS,
    )
    return [_workflow_row("workflow_rigorous_gauss", config, GAUSS_PARAMS, (5, 5), 2.0)]


def long_recording_data(seed: int = 0) -> tuple[Any, Any]:
    """X: white noise ``(64, 3_600_000)`` float32; Y: 5-tap moving average of X plus noise.

    Generated channel by channel, so that no full-size temporary exists besides X and Y.
    """
    import numpy as np
    from scipy.signal import lfilter

    n_channels, rate, seconds, _ = LONG_SHAPE
    rng = np.random.default_rng(seed)
    x = np.empty((n_channels, rate * seconds), dtype=np.float32)
    y = np.empty_like(x)
    taps = np.full(5, 0.2, dtype=np.float32)
    for channel in range(n_channels):
        rng.standard_normal(out=x[channel], dtype=np.float32)
        y[channel] = lfilter(taps, np.float32(1.0), x[channel])
        y[channel] += np.float32(0.5) * rng.standard_normal(x.shape[1], dtype=np.float32)
    return x, y


def long_recording() -> list[dict[str, Any]]:
    x, y = long_recording_data()
    raw_mb = (x.nbytes + y.nbytes) / 2**20
    window = LONG_SHAPE[3]
    seconds, res = _timed_run(
        x,
        y,
        mode="estimate",
        processor_params={"window_size": window},
        base_params=LONG_PARAMS,
        split_mode="blocked",
    )
    dim = LONG_SHAPE[0] * window
    return [{**_row(seconds, res, LONG_PARAMS, (dim, dim), None), "raw_mb": raw_mb}]


NULL_PARAMS = {
    "n_epochs": 20,
    "learning_rate": 1e-3,
    "batch_size": 128,
    "patience": 5,
    "embedding_dim": 8,
    "hidden_dim": 32,
    "n_layers": 1,
}
#: Permutations of the permutation-test workloads.
N_PERMUTATIONS = 100


def _null_gauss() -> tuple[Any, Any]:
    import neural_mi as nmi

    x, y = nmi.datasets.generate_correlated_gaussians(2000, 2, 0.5, use_torch=False, seed=7)
    return x.T, y.T


def _estimate_test(n_permutations: int) -> list[dict[str, Any]]:
    x, y = _null_gauss()
    seconds, res = _timed_run(
        x,
        y,
        mode="estimate",
        processor_params=WINDOW,
        base_params=NULL_PARAMS,
        split_mode="random",
        n_permutations=n_permutations,
    )
    return [_row(seconds, res, NULL_PARAMS, (2, 2), 0.5)]


def _lag_test(n_permutations: int) -> list[dict[str, Any]]:
    import neural_mi as nmi

    x, y = nmi.datasets.generate_linear_data(2000, true_lag=1, noise=1.0, seed=7)
    seconds, res = _timed_run(
        x,
        y,
        mode="lag",
        lag_range=[0, 1, 2],
        processor_params=WINDOW,
        base_params=NULL_PARAMS,
        split_mode="blocked",
        n_permutations=n_permutations,
    )
    return [_row(seconds, res, NULL_PARAMS, (1, 1), 0.5)]


def null_estimate() -> list[dict[str, Any]]:
    return _estimate_test(N_PERMUTATIONS)


def plain_estimate() -> list[dict[str, Any]]:
    return _estimate_test(0)


def null_lag() -> list[dict[str, Any]]:
    return _lag_test(N_PERMUTATIONS)


def plain_lag() -> list[dict[str, Any]]:
    return _lag_test(0)


def null_rigorous() -> list[dict[str, Any]]:
    x, y = _gauss()
    seconds, res = _timed_run(
        x,
        y,
        mode="rigorous",
        processor_params=WINDOW,
        base_params=GAUSS_PARAMS,
        split_mode="random",
        n_permutations=20,
    )
    return [_row(seconds, res, GAUSS_PARAMS, (5, 5), 2.0)]


WORKLOADS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "seed_estimate": seed_estimate,
    "sweep_embed": sweep_embed,
    "rigorous_gauss": rigorous_gauss,
    "rigorous_latent": rigorous_latent,
    "workflow_rigorous_latent": workflow_rigorous_latent,
    "workflow_rigorous_gauss": workflow_rigorous_gauss,
    "long_recording": long_recording,
    "null_estimate": null_estimate,
    "plain_estimate": plain_estimate,
    "null_lag": null_lag,
    "plain_lag": plain_lag,
    "null_rigorous": null_rigorous,
}


#: Names that stand for several workloads (each still runs in its own subprocess).
ALIASES: dict[str, list[str]] = {
    "workflow_rigorous": ["workflow_rigorous_latent", "workflow_rigorous_gauss"],
    "null": ["null_estimate", "plain_estimate", "null_lag", "plain_lag"],
}


# --------------------------------------------------------------------------------------
# Parent: fresh subprocess per repeat, rusage of each, table
# --------------------------------------------------------------------------------------


def run_child(name: str) -> list[dict[str, Any]]:
    """Run workload ``name`` in a fresh subprocess; rows with process wall, CPU and peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", name, "--child-out", out.name], env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"workload {name} failed (exit status {proc.returncode})")
        rows = json.loads(out.read())
    for row in rows:
        row.setdefault("label", name)
        row.update(
            proc_seconds=wall,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_mb=usage.ru_maxrss / 1024,
        )
    return rows


def summarise(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Median of every numeric field over repeats, row by row."""
    table = []
    for rows in zip(*runs):
        merged: dict[str, Any] = {"label": rows[0]["label"], "repeats": len(rows)}
        for key, value in rows[0].items():
            if key == "label":
                continue
            values = [row[key] for row in rows]
            merged[key] = (
                statistics.median(values)
                if isinstance(value, (int, float)) and value is not None
                else value
            )
        table.append(merged)
    return table


#: Workflow workloads and the in-process workloads they repeat.
WORKFLOW_PAIRS = {
    "workflow_rigorous_latent": "rigorous_latent",
    "workflow_rigorous_gauss": "rigorous_gauss",
}


#: Permutation-test workloads and the same analyses without a test.
NULL_PAIRS = {
    "null_estimate": "plain_estimate",
    "null_lag": "plain_lag",
    "null_rigorous": "rigorous_gauss",
}


def format_ratio(
    workflow: str,
    in_process: str,
    workflow_runs: list[list[dict[str, Any]]],
    in_process_runs: list[list[dict[str, Any]]],
) -> str:
    """Median over repeats of the workflow's wall time over the in-process run's, paired by
    repeat: against the ``nmi.run`` call (``wall s``) and against its whole process
    (``proc s``: interpreter, imports and data generation too, as the workflow has)."""
    pairs = [(w[0], p[0]) for w, p in zip(workflow_runs, in_process_runs)]
    call = statistics.median(w["seconds"] / p["seconds"] for w, p in pairs)
    whole = statistics.median(w["seconds"] / p["proc_seconds"] for w, p in pairs)
    return (
        f"{workflow} / {in_process} (median of {len(pairs)} paired repeats): "
        f"x{call:.3f} of the nmi.run call, x{whole:.3f} of its whole process"
    )


def format_table(table: list[dict[str, Any]]) -> str:
    """Aligned text table of summarised rows."""
    header = [
        "workload",
        "n",
        "wall s",
        "proc s",
        "cpu s",
        "peak MB",
        "raw MB",
        "fits",
        "epochs",
        "GFLOP/s",
        "MI bits",
        "truth",
        "error",
    ]
    lines = []
    for row in table:
        truth = row.get("truth")
        error = "" if truth is None else f"{row['estimate'] - truth:+.3f}"
        raw = row.get("raw_mb")
        lines.append(
            [
                row["label"],
                str(row["repeats"]),
                f"{row['seconds']:.2f}",
                f"{row['proc_seconds']:.2f}",
                f"{row['cpu_seconds']:.2f}",
                f"{row['peak_mb']:.0f}",
                "" if raw is None else f"{raw:.0f} (x{row['peak_mb'] / raw:.2f})",
                str(row["fits"]),
                str(int(row["epochs"])),
                f"{row['gflops'] / row['seconds']:.1f}",
                f"{row['estimate']:.3f}",
                "" if truth is None else f"{truth:.1f}",
                error,
            ]
        )
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    text = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [header, *lines]
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run the chosen workloads (or, with ``--child``, one of them here)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "workloads",
        nargs="*",
        metavar="WORKLOAD",
        help=f"any of: {', '.join([*WORKLOADS, *ALIASES])}",
    )
    parser.add_argument("--all", action="store_true", help="run every workload")
    parser.add_argument("--repeats", type=int, default=3, help="runs per workload (default 3)")
    parser.add_argument("--json", help="also write the summarised rows to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        Path(args.child_out).write_text(json.dumps(WORKLOADS[args.child]()))
        return 0
    names = (
        list(WORKLOADS)
        if args.all
        else [name for given in args.workloads for name in ALIASES.get(given, [given])]
    )
    if not names:
        parser.error("name workloads or pass --all")
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    # Repeats go round the workloads (1st run of each, then 2nd...): slow drifts in the speed
    # of a shared machine then hit every workload alike, and paired ratios compare runs
    # made minutes apart.
    runs: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in names:
            runs[name].append(run_child(name))
            print(
                f"{name} run {repeat + 1}/{args.repeats}: "
                + ", ".join(f"{r['label']} {r['seconds']:.2f} s" for r in runs[name][-1]),
                file=sys.stderr,
                flush=True,
            )
    table = [row for name in names for row in summarise(runs[name])]
    print(format_table(table))
    for workflow, in_process in WORKFLOW_PAIRS.items():
        if workflow in runs and in_process in runs:
            print(format_ratio(workflow, in_process, runs[workflow], runs[in_process]))
    for tested, plain in NULL_PAIRS.items():
        if tested in runs and plain in runs:
            pairs = [(t[0], p[0]) for t, p in zip(runs[tested], runs[plain])]
            ratio = statistics.median(t["seconds"] / p["seconds"] for t, p in pairs)
            fits = pairs[0][0]["fits"] / pairs[0][1]["fits"]
            print(
                f"{tested} / {plain} (median of {len(pairs)} paired repeats): wall time "
                f"x{ratio:.2f} for x{fits:.0f} the fits"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
