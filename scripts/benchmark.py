"""Benchmark neural_mi's training engine on fixed workloads and print one table.

Usage::

    python scripts/benchmark.py --all                  # every workload, 3 repeats each
    python scripts/benchmark.py seed_estimate rigorous_gauss --repeats 5
    python scripts/benchmark.py long_recording --repeats 1 --json out.json
    python scripts/benchmark.py --quick --repeats 3 --nmi11-python ~/nmi11/bin/python
    python scripts/benchmark.py rigorous_latent --input-transform none --nmi11-python PY
    PYTHONPATH=. python3 scripts/benchmark.py --quick --device cuda
    python scripts/benchmark.py null --repeats 1          # the cost of permutation tests

Every repeat of every workload runs in a fresh Python subprocess (``OMP_NUM_THREADS=1``,
as a user's script would) so that imports, thread pools and peak memory start from
scratch.  Per workload the table shows medians over the repeats of:

- ``wall s``: the timed section (the ``nmi.run`` call, or the ``neural-mi run`` command);
  the imports of ``neural_mi``'s modules (done before the call, as NeuralMI 1.1 does them
  at ``import neural_mi``) and data loading are not in it;
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

Side by side with NeuralMI 1.1 (``--nmi11-python``: the interpreter of a venv where
``import neural_mi`` finds NeuralMI 1.1): each repeat of each in-process workload
(``--quick``: ``seed_estimate``, ``sweep_embed``, ``rigorous_gauss``, ``rigorous_latent``)
is followed at once by its twin in NeuralMI 1.1, run by that interpreter in a fresh
subprocess, also with ``OMP_NUM_THREADS=1`` (its fastest setting on few cores), on the
same data files (written once per benchmark with neural_mi's seeded generators), the same
parameters, split mode, seed and number of workers (one for the single estimate, which
NeuralMI 1.1 runs without a pool).  A second table prints both sides' median call and
process times, the median over repeats of the paired ratio (NeuralMI 1.1 over ours; each
pair ran back to back, so a busy machine slows both) and both estimates and errors.

``--device cuda`` trains our side on the GPU (no NeuralMI 1.1 column) and adds, per
workload, tasks per second and the GPU's mean utilisation and peak memory while the call
ran (``nvidia-smi`` sampled every 100 ms, when it is on the PATH).

Workloads (2 workers where tasks can run in parallel; ``--workers`` changes ours):

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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
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
SWEEP_DIMS = [4, 8, 16, 32]

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


@dataclass(frozen=True)
class ChildOptions:
    """What a workload's subprocess is told: where the shared data files are, the device
    of our side, the size of its worker pool and our side's input transform (None: the
    package default)."""

    data_dir: str
    device: str = "cpu"
    n_workers: int = N_WORKERS
    input_transform: str | None = None


#: Data files shared by both sides (``(channels, samples)`` float32 X and Y), written once
#: per benchmark by :func:`write_data` with neural_mi's seeded generators.
DATA_FILES = {"gauss": "gauss.npz", "latent": "latent.npz"}


def write_data(directory: str) -> None:
    """Write the workloads' data (seed 42): 5-d Gaussians with 2 bits (5000 samples) and
    100-d nonlinear observations of 10-d latents with 3 bits (2500 samples)."""
    import numpy as np

    import neural_mi as nmi

    pairs = {
        "gauss": nmi.datasets.generate_correlated_gaussians(5000, 5, 2.0, seed=42),
        "latent": nmi.datasets.generate_nonlinear_from_latent(2500, 10, 100, 3.0, seed=42),
    }
    for name, (x, y) in pairs.items():
        np.savez(
            Path(directory) / DATA_FILES[name],
            x=np.ascontiguousarray(np.asarray(x, dtype=np.float32).T),
            y=np.ascontiguousarray(np.asarray(y, dtype=np.float32).T),
        )


def load_data(opts: ChildOptions, name: str) -> tuple[Any, Any]:
    """X and Y of a shared data file as ``(channels, samples)`` torch tensors (as NeuralMI
    1.1's tutorial passes them)."""
    import numpy as np
    import torch

    with np.load(Path(opts.data_dir) / DATA_FILES[name]) as arrays:
        return torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])


def _timed_run(opts: ChildOptions, x: Any, y: Any, **kwargs: Any) -> tuple[float, Any, dict]:
    """One ``nmi.run`` call, timed; on CUDA, also the GPU's utilisation while it ran."""
    import neural_mi as nmi

    # ``neural_mi`` imports its modules at the first use of ``nmi.run``; they are imported
    # here, before the clock starts, as NeuralMI 1.1 imports all of its own at ``import
    # neural_mi``.  The imports count in ``proc s``.
    run = nmi.run
    if opts.input_transform is not None:
        kwargs = {"input_transform": opts.input_transform, **kwargs}
    with GpuSampler(opts.device) as gpu:
        start = time.perf_counter()
        results = run(
            x,
            y,
            processor_type="continuous",
            verbose=False,
            random_seed=42,
            n_workers=opts.n_workers,
            device=opts.device,
            **kwargs,
        )
        seconds = time.perf_counter() - start
    return seconds, results, gpu.summary()


class GpuSampler:
    """Samples ``nvidia-smi`` (GPU utilisation %, memory used MiB) every 100 ms while the
    block runs; does nothing off CUDA or without ``nvidia-smi``.  A separate process, so
    that CUDA is not initialised here before the pool forks its workers."""

    def __init__(self, device: str) -> None:
        self._enabled = device.startswith("cuda") and shutil.which("nvidia-smi") is not None
        self._proc: subprocess.Popen | None = None
        self._samples: list[tuple[float, float]] = []

    def __enter__(self) -> GpuSampler:
        if self._enabled:
            self._proc = subprocess.Popen(
                [
                    "nvidia-smi",
                    "--query-gpu=utilization.gpu,memory.used",
                    "--format=csv,noheader,nounits",
                    "-lms",
                    "100",
                    "-i",
                    "0",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        out, _ = self._proc.communicate()
        for line in out.splitlines():
            try:
                util, memory = (float(v) for v in line.split(","))
            except ValueError:
                continue
            self._samples.append((util, memory))

    def summary(self) -> dict[str, float]:
        """Mean utilisation (%) and peak memory used (MiB) over the samples, if any."""
        if not self._samples:
            return {}
        return {
            "gpu_util": statistics.fmean(s[0] for s in self._samples),
            "gpu_mem_mb": max(s[1] for s in self._samples),
        }


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
    opts: ChildOptions,
    data: str,
    mode: str,
    base: dict[str, Any],
    dims: tuple[int, int],
    truth: float,
    **extra: Any,
) -> list[dict[str, Any]]:
    """One ``nmi.run`` of ``mode`` on the shared data file ``data`` (split 'random'; more
    ``nmi.run`` arguments in ``extra``), as one table row."""
    x, y = load_data(opts, data)
    seconds, res, gpu = _timed_run(
        opts,
        x,
        y,
        mode=mode,
        processor_params=WINDOW,
        base_params=base,
        split_mode="random",
        **extra,
    )
    return [{**_row(seconds, res, base, dims, truth), **gpu}]


def seed_estimate(opts: ChildOptions) -> list[dict[str, Any]]:
    return _single_run(opts, "gauss", "estimate", GAUSS_PARAMS, (5, 5), 2.0)


def sweep_embed(opts: ChildOptions) -> list[dict[str, Any]]:
    x, y = load_data(opts, "gauss")
    seconds, res, gpu = _timed_run(
        opts,
        x,
        y,
        mode="sweep",
        processor_params=WINDOW,
        base_params=GAUSS_PARAMS,
        sweep_grid={"embedding_dim": SWEEP_DIMS},
        split_mode="random",
    )
    bases = {
        combo: {**GAUSS_PARAMS, "embedding_dim": int(dim)}
        for combo, dim in zip(res.tasks["combo"].values, res.tasks["embedding_dim"].values)
    }
    mean_bits = float(res.tasks["test_mi"].mean()) / math.log(2.0)
    row = _row(seconds, res, GAUSS_PARAMS, (5, 5), 2.0, estimate=mean_bits, bases=bases)
    return [{**row, **gpu}]


def rigorous_gauss(opts: ChildOptions) -> list[dict[str, Any]]:
    return _single_run(opts, "gauss", "rigorous", GAUSS_PARAMS, (5, 5), 2.0)


def rigorous_latent(opts: ChildOptions) -> list[dict[str, Any]]:
    return _single_run(opts, "latent", "rigorous", LATENT_PARAMS, (100, 100), 3.0)


# --------------------------------------------------------------------------------------
# The same workloads in NeuralMI 1.1 (run by its own interpreter: --nmi11-python)
# --------------------------------------------------------------------------------------


def nmi11_workload(name: str, opts: ChildOptions) -> list[dict[str, Any]]:
    """Workload ``name`` with NeuralMI 1.1's ``nmi.run`` on the same data, parameters and
    seed: its estimate (bits; for the sweep, the mean over embedding sizes as ours) and the
    time of the call.  Runs in NeuralMI 1.1's interpreter, so it imports nothing of ours."""
    import logging

    import neural_mi as nmi11

    logging.getLogger("neural_mi").setLevel(logging.WARNING)
    if Path(nmi11.__file__).resolve().is_relative_to(REPO):
        raise RuntimeError(f"--nmi11-python imports this checkout's neural_mi ({nmi11.__file__})")
    data, mode, base, truth, extra = {
        "seed_estimate": ("gauss", "estimate", GAUSS_PARAMS, 2.0, {"n_workers": 1}),
        "sweep_embed": (
            "gauss",
            "sweep",
            GAUSS_PARAMS,
            2.0,
            {"sweep_grid": {"embedding_dim": SWEEP_DIMS}, "n_workers": N_WORKERS},
        ),
        "rigorous_gauss": ("gauss", "rigorous", GAUSS_PARAMS, 2.0, {"n_workers": N_WORKERS}),
        "rigorous_latent": ("latent", "rigorous", LATENT_PARAMS, 3.0, {"n_workers": N_WORKERS}),
    }[name]
    x, y = load_data(opts, data)
    start = time.perf_counter()
    res = nmi11.run(
        x,
        y,
        mode=mode,
        processor_type_x="continuous",
        processor_params_x=dict(WINDOW),
        processor_type_y="continuous",
        processor_params_y=dict(WINDOW),
        base_params=dict(base),
        split_mode="random",
        random_seed=42,
        verbose=False,
        **extra,
    )
    seconds = time.perf_counter() - start
    # Per-task rows (with each task's held-out curve: one value per epoch trained), except
    # for the single estimate, whose Results keep none.
    raw = {"sweep": res.details.get("raw_results"), "rigorous": res.dataframe}.get(mode)
    estimate = float(res.dataframe["mi_mean"].mean()) if mode == "sweep" else res.mi_estimate
    row = {"seconds": seconds, "fits": 1, "estimate": float(estimate), "truth": truth}
    if raw is not None:
        row["fits"] = len(raw)
        if "test_mi_history" in raw:
            row["epochs"] = int(sum(len(h) for h in raw["test_mi_history"]))
    return [row]


#: Workloads that also run in NeuralMI 1.1 when --nmi11-python is given.
NMI11_WORKLOADS = ("seed_estimate", "sweep_embed", "rigorous_gauss", "rigorous_latent")


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


def workflow_rigorous_latent(opts: ChildOptions) -> list[dict[str, Any]]:
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


def workflow_rigorous_gauss(opts: ChildOptions) -> list[dict[str, Any]]:
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


def long_recording(opts: ChildOptions) -> list[dict[str, Any]]:
    x, y = long_recording_data()
    raw_mb = (x.nbytes + y.nbytes) / 2**20
    window = LONG_SHAPE[3]
    seconds, res, gpu = _timed_run(
        opts,
        x,
        y,
        mode="estimate",
        processor_params={"window_size": window},
        base_params=LONG_PARAMS,
        split_mode="blocked",
    )
    dim = LONG_SHAPE[0] * window
    return [{**_row(seconds, res, LONG_PARAMS, (dim, dim), None), "raw_mb": raw_mb, **gpu}]


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


def _estimate_test(opts: ChildOptions, n_permutations: int) -> list[dict[str, Any]]:
    x, y = _null_gauss()
    seconds, res, gpu = _timed_run(
        opts,
        x,
        y,
        mode="estimate",
        processor_params=WINDOW,
        base_params=NULL_PARAMS,
        split_mode="random",
        n_permutations=n_permutations,
    )
    return [{**_row(seconds, res, NULL_PARAMS, (2, 2), 0.5), **gpu}]


def _lag_test(opts: ChildOptions, n_permutations: int) -> list[dict[str, Any]]:
    import neural_mi as nmi

    x, y = nmi.datasets.generate_linear_data(2000, true_lag=1, noise=1.0, seed=7)
    seconds, res, gpu = _timed_run(
        opts,
        x,
        y,
        mode="lag",
        lag_range=[0, 1, 2],
        processor_params=WINDOW,
        base_params=NULL_PARAMS,
        split_mode="blocked",
        n_permutations=n_permutations,
    )
    return [{**_row(seconds, res, NULL_PARAMS, (1, 1), 0.5), **gpu}]


def null_estimate(opts: ChildOptions) -> list[dict[str, Any]]:
    return _estimate_test(opts, N_PERMUTATIONS)


def plain_estimate(opts: ChildOptions) -> list[dict[str, Any]]:
    return _estimate_test(opts, 0)


def null_lag(opts: ChildOptions) -> list[dict[str, Any]]:
    return _lag_test(opts, N_PERMUTATIONS)


def plain_lag(opts: ChildOptions) -> list[dict[str, Any]]:
    return _lag_test(opts, 0)


def null_rigorous(opts: ChildOptions) -> list[dict[str, Any]]:
    return _single_run(opts, "gauss", "rigorous", GAUSS_PARAMS, (5, 5), 2.0, n_permutations=20)


WORKLOADS: dict[str, Callable[[ChildOptions], list[dict[str, Any]]]] = {
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


def run_child(name: str, opts: ChildOptions, nmi11_python: str | None = None) -> list[dict]:
    """Run workload ``name`` in a fresh subprocess (ours, or NeuralMI 1.1's when
    ``nmi11_python`` is given); rows with process wall, CPU and peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if opts.device != "cpu":
        # torch's default CUDA check (``torch.cuda.is_available``, which ``nmi.run`` calls
        # to validate ``device``) initialises the CUDA driver, after which forked pool
        # workers may be unable to use CUDA; the NVML-based check does not.
        env.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    if nmi11_python is None:
        command = [sys.executable, __file__, "--child", name]
    else:
        # NeuralMI 1.1's interpreter must find its own neural_mi, never this checkout's.
        env.pop("PYTHONPATH", None)
        env["TQDM_DISABLE"] = "1"
        command = [nmi11_python, __file__, "--child-nmi11", name]
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*command, "--child-out", out.name, "--child-options", json.dumps(asdict(opts))],
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            side = "ours" if nmi11_python is None else "NeuralMI 1.1"
            raise RuntimeError(f"workload {name} ({side}) failed (exit status {proc.returncode})")
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


def format_side_by_side(
    names: list[str],
    ours: Mapping[str, list[list[dict[str, Any]]]],
    theirs: Mapping[str, list[list[dict[str, Any]]]],
) -> str:
    """Aligned table of our ``nmi.run`` call against NeuralMI 1.1's on the same workload:
    median seconds of each (call, whole process, CPU), the median over repeats of the
    paired ratio of the calls (theirs / ours, each pair run back to back), epochs trained
    over all tasks (NeuralMI 1.1's single estimate does not report them) and each side's
    estimate and error against the truth."""
    header = [
        "workload",
        "n",
        "ours s",
        "NeuralMI 1.1 s",
        "ratio",
        "ours proc s",
        "1.1 proc s",
        "ours cpu s",
        "1.1 cpu s",
        "ours epochs",
        "1.1 epochs",
        "ours bits",
        "ours error",
        "1.1 bits",
        "1.1 error",
        "truth",
    ]
    lines = []
    for name in names:
        if name not in theirs:
            continue
        pairs = [(o[0], t[0]) for o, t in zip(ours[name], theirs[name])]
        med = {
            key: (
                statistics.median(o[key] for o, _ in pairs),
                statistics.median(t[key] for _, t in pairs),
            )
            for key in ("seconds", "proc_seconds", "cpu_seconds", "estimate")
        }
        epochs = [
            statistics.median(row.get("epochs", math.nan) for row in side) for side in zip(*pairs)
        ]
        ratio = statistics.median(t["seconds"] / o["seconds"] for o, t in pairs)
        truth = pairs[0][0]["truth"]
        lines.append(
            [
                name,
                str(len(pairs)),
                f"{med['seconds'][0]:.2f}",
                f"{med['seconds'][1]:.2f}",
                f"x{ratio:.2f}",
                f"{med['proc_seconds'][0]:.2f}",
                f"{med['proc_seconds'][1]:.2f}",
                f"{med['cpu_seconds'][0]:.2f}",
                f"{med['cpu_seconds'][1]:.2f}",
                *("" if math.isnan(e) else str(int(e)) for e in epochs),
                f"{med['estimate'][0]:.3f}",
                f"{med['estimate'][0] - truth:+.3f}",
                f"{med['estimate'][1]:.3f}",
                f"{med['estimate'][1] - truth:+.3f}",
                f"{truth:.1f}",
            ]
        )
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    text = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [header, *lines]
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def format_gpu(table: list[dict[str, Any]]) -> str:
    """One line per row run on the GPU: tasks per second, mean utilisation, peak memory."""
    lines = []
    for row in table:
        util = row.get("gpu_util")
        lines.append(
            f"{row['label']}: {row['fits'] / row['seconds']:.2f} tasks/s"
            + ("" if util is None else f", GPU utilisation {util:.0f} % (mean of 100 ms samples)")
            + ("" if util is None else f", GPU memory used up to {row['gpu_mem_mb']:.0f} MiB")
        )
    return "\n".join(lines)


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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the in-process workloads (seed_estimate, sweep_embed, rigorous_gauss, "
        "rigorous_latent), one repeat unless --repeats is given",
    )
    parser.add_argument("--repeats", type=int, help="runs per workload (default 3)")
    parser.add_argument(
        "--nmi11-python",
        metavar="PATH",
        help="the python of a venv with NeuralMI 1.1: run its twin of each in-process "
        "workload right after ours and print a side-by-side table",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="device of our side (default cpu; 'cuda' trains on the GPU and reports tasks/s "
        "and GPU utilisation; no NeuralMI 1.1 column then)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=N_WORKERS,
        help=f"our worker processes (n_workers, default {N_WORKERS})",
    )
    parser.add_argument(
        "--input-transform",
        help="our side's input_transform (default: the package's); NeuralMI 1.1 has none",
    )
    parser.add_argument("--json", help="also write the summarised rows to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-nmi11", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-options", help=argparse.SUPPRESS)
    parser.add_argument("--write-data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_data:
        write_data(args.write_data)
        return 0
    if args.child or args.child_nmi11:
        opts = ChildOptions(**json.loads(args.child_options))
        rows = WORKLOADS[args.child](opts) if args.child else nmi11_workload(args.child_nmi11, opts)
        Path(args.child_out).write_text(json.dumps(rows))
        return 0
    in_process = list(NMI11_WORKLOADS)
    names = (
        list(WORKLOADS)
        if args.all
        else [
            name
            for given in args.workloads or (in_process if args.quick else [])
            for name in ALIASES.get(given, [given])
        ]
    )
    if not names:
        parser.error("name workloads, or pass --quick or --all")
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    repeats = args.repeats or (1 if args.quick else 3)
    if args.device != "cpu":
        if args.nmi11_python:
            parser.error("--nmi11-python compares on the CPU only; drop it or --device")
        not_in_process = [name for name in names if name not in in_process]
        if not_in_process:
            parser.error(
                f"--device {args.device} runs the in-process workloads only "
                f"({', '.join(in_process)}), not {', '.join(not_in_process)}"
            )
    with tempfile.TemporaryDirectory(prefix="nmi-bench-data-") as data_dir:
        subprocess.run([sys.executable, __file__, "--write-data", data_dir], check=True)
        opts = ChildOptions(
            data_dir=data_dir,
            device=args.device,
            n_workers=args.workers,
            input_transform=args.input_transform,
        )
        runs, theirs = run_all(names, repeats, opts, args.nmi11_python)
    table = [row for name in names for row in summarise(runs[name])]
    print(format_table(table))
    for workflow, twin in WORKFLOW_PAIRS.items():
        if workflow in runs and twin in runs:
            print(format_ratio(workflow, twin, runs[workflow], runs[twin]))
    if theirs:
        print()
        print(format_side_by_side(names, runs, theirs))
    if args.device != "cpu":
        print()
        print(format_gpu(table))
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
        rows = table + [
            {**row, "label": f"{row['label']} (NeuralMI 1.1)"}
            for name in names
            if name in theirs
            for row in summarise(theirs[name])
        ]
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def run_all(
    names: list[str], repeats: int, opts: ChildOptions, nmi11_python: str | None
) -> tuple[dict[str, list[list[dict[str, Any]]]], dict[str, list[list[dict[str, Any]]]]]:
    """Every repeat of every workload, each in a fresh subprocess; with ``nmi11_python``,
    NeuralMI 1.1's twin of each in-process workload runs right after ours.

    Repeats go round the workloads (1st run of each, then 2nd...), and the two sides
    alternate: slow drifts in the speed of a shared machine then hit every workload and
    both sides alike, and paired ratios compare runs made seconds apart.
    """
    runs: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in names}
    theirs: dict[str, list[list[dict[str, Any]]]] = {}
    for repeat in range(repeats):
        for name in names:
            runs[name].append(run_child(name, opts))
            report = ", ".join(
                f"{r['label']} {r['seconds']:.2f} s ({r['proc_seconds']:.2f} s process), "
                f"{r['estimate']:.3f} bits"
                for r in runs[name][-1]
            )
            if nmi11_python and name in NMI11_WORKLOADS:
                theirs.setdefault(name, []).append(run_child(name, opts, nmi11_python))
                r = theirs[name][-1][0]
                report += (
                    f"; NeuralMI 1.1 {r['seconds']:.2f} s ({r['proc_seconds']:.2f} s process), "
                    f"{r['estimate']:.3f} bits"
                )
            print(f"{name} run {repeat + 1}/{repeats}: {report}", file=sys.stderr, flush=True)
    return runs, theirs


if __name__ == "__main__":
    sys.exit(main())
