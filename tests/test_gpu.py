"""On a CUDA GPU, every mode gives the numbers it gives on the CPU, within float tolerance.

These tests run only where ``torch.cuda.is_available()`` (CI has no GPU; they are run on a
lent GPU machine, see docs/performance.md). GPU kernels sum in a different order than the
CPU's, so the per-task MI is not bit-identical; with the same seeds, splits and
initialisation the trained critics stay close. Tolerance: 0.02 bit per task after 4 epochs
(the tests' fast_params, seeds as in tests/test_identity_modes.py), 0.05 bit on the seed
tutorial's 2-bit estimate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SEED_TUTORIAL_PARAMS

import neural_mi as nmi

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

#: Largest per-task difference (bits) accepted between the GPU and the CPU.
PER_TASK_TOLERANCE_BITS = 0.02


def _cases() -> dict[str, dict]:
    x, y = nmi.datasets.generate_correlated_gaussians(900, 2, 1.0, use_torch=False, seed=3)
    x, y = x.T.copy(), y.T.copy()
    lx, ly = nmi.datasets.generate_linear_data(n_samples=1200, true_lag=5, noise=0.5, seed=4)
    latent = nmi.datasets.generate_latent_factor_data(900, 2, 6, seed=5)
    return {
        "estimate": dict(x_data=x, y_data=y, split_mode="random"),
        "sweep": dict(
            x_data=x, y_data=y, sweep_grid={"embedding_dim": [2, 4]}, split_mode="random"
        ),
        "rigorous": dict(x_data=x, y_data=y, gamma_range=[1, 2, 3], split_mode="random"),
        "lag": dict(x_data=lx, y_data=ly, lag_range=[0, 5, 10]),
        "dimensionality": dict(x_data=latent, sweep_grid={"embedding_dim": [1, 2]}, n_splits=2),
    }


def _per_task(results: nmi.Results) -> dict[str, float]:
    ds = results.details["dataset"]
    return {str(k): float(v) for k, v in zip(ds["task"].values, ds["test_mi"].values, strict=True)}


@pytest.mark.parametrize("mode", list(_cases()))
def test_every_task_agrees_with_the_cpu(mode: str, fast_params: dict) -> None:
    case = _cases()[mode]
    common = dict(mode=mode, base_params=fast_params, random_seed=7, verbose=False)
    cpu = _per_task(nmi.run(**case, device="cpu", **common))
    gpu_results = nmi.run(**case, device="cuda", **common)
    gpu = _per_task(gpu_results)
    assert gpu.keys() == cpu.keys()
    worst = max(abs(gpu[k] - cpu[k]) for k in cpu)
    assert worst <= PER_TASK_TOLERANCE_BITS, f"{mode}: GPU and CPU differ by {worst:.4f} bit"
    assert np.isfinite(gpu_results.mi_estimate)


def test_seed_estimate_on_the_gpu() -> None:
    x, y = nmi.datasets.generate_correlated_gaussians(5000, 5, 2.0, use_torch=False, seed=42)
    params = SEED_TUTORIAL_PARAMS
    common = dict(
        processor_type="continuous",
        processor_params={"window_size": 1},
        mode="estimate",
        base_params=params,
        split_mode="random",
        random_seed=42,
        verbose=False,
    )
    gpu = nmi.run(x.T.copy(), y.T.copy(), device="cuda", **common).mi_estimate
    cpu = nmi.run(x.T.copy(), y.T.copy(), device="cpu", **common).mi_estimate
    assert 1.9 <= gpu <= 2.1
    assert abs(gpu - cpu) <= 0.05, f"GPU {gpu:.4f} bit, CPU {cpu:.4f} bit"
