"""Per-task MI of one analysis per mode, bit for bit as recorded before the modes refactor.

The values were recorded at commit 9a46dca (before analyses became plug-in modes) with the
calls below. Any change to how tasks are planned, seeded, split or trained shows up here as
a different float; a deliberate change of the numbers must re-record them and say why.
Labels name each task by its coordinates, not its key, so that renaming keys alone would
not hide a change of numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import neural_mi as nmi

FAST = {
    "n_epochs": 4,
    "batch_size": 64,
    "hidden_dim": 16,
    "embedding_dim": 4,
    "n_layers": 1,
    "patience": 2,
    "learning_rate": 1e-3,
}

RECORDED = {
    "estimate": {
        "gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.5e85800000000p-2",
    },
    "sweep": {
        "embedding_dim=2,gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.9e35800000000p-3",
        "embedding_dim=2,gamma=1,subset=0,lag=0,split=0,repeat=1": "0x1.51c9000000000p-3",
        "embedding_dim=4,gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.b472800000000p-3",
        "embedding_dim=4,gamma=1,subset=0,lag=0,split=0,repeat=1": "0x1.6719200000000p-2",
    },
    "rigorous": {
        "gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.f359800000000p-3",
        "gamma=2,subset=0,lag=0,split=0,repeat=0": "0x1.11b1e00000000p-2",
        "gamma=2,subset=1,lag=0,split=0,repeat=0": "0x1.2326c00000000p-3",
        "gamma=3,subset=0,lag=0,split=0,repeat=0": "0x1.10cb000000000p-4",
        "gamma=3,subset=1,lag=0,split=0,repeat=0": "0x1.711f000000000p-4",
        "gamma=3,subset=2,lag=0,split=0,repeat=0": "0x1.9980800000000p-4",
    },
    "lag": {
        "gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.91e0000000000p-10",
        "gamma=1,subset=0,lag=10,split=0,repeat=0": "-0x1.cb50000000000p-9",
        "gamma=1,subset=0,lag=5,split=0,repeat=0": "0x1.9a7f800000000p-2",
    },
    "dimensionality": {
        "embedding_dim=1,gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.0eaaf00000000p-2",
        "embedding_dim=1,gamma=1,subset=0,lag=0,split=1,repeat=0": "0x1.0fc8f00000000p-3",
        "embedding_dim=2,gamma=1,subset=0,lag=0,split=0,repeat=0": "0x1.e221300000000p-3",
        "embedding_dim=2,gamma=1,subset=0,lag=0,split=1,repeat=0": "0x1.7b55e80000000p-2",
    },
}


def _cases() -> dict[str, dict]:
    x, y = nmi.datasets.generate_correlated_gaussians(900, 2, 1.0, use_torch=False, seed=3)
    x, y = x.T.copy(), y.T.copy()
    lx, ly = nmi.datasets.generate_linear_data(n_samples=1200, true_lag=5, noise=0.5, seed=4)
    latent = nmi.datasets.generate_latent_factor_data(900, 2, 6, seed=5)
    return {
        "estimate": dict(x_data=x, y_data=y, split_mode="random"),
        "sweep": dict(
            x_data=x,
            y_data=y,
            sweep_grid={"embedding_dim": [2, 4]},
            n_repeats=2,
            split_mode="random",
        ),
        "rigorous": dict(x_data=x, y_data=y, gamma_range=[1, 2, 3], split_mode="random"),
        "lag": dict(x_data=lx, y_data=ly, lag_range=[0, 5, 10]),
        "dimensionality": dict(x_data=latent, sweep_grid={"embedding_dim": [1, 2]}, n_splits=2),
    }


def _label(task) -> str:
    parts = []
    for name in ("embedding_dim", "gamma", "subset", "lag", "split", "repeat"):
        if name in task.coords:
            value = float(task[name].item())
            parts.append(f"{name}={int(value) if value.is_integer() else value}")
    return ",".join(parts)


@pytest.mark.parametrize("mode", list(RECORDED))
def test_per_task_mi_is_unchanged(mode: str) -> None:
    # input_transform='none': the default before #15 made rank_gauss the default.
    results = nmi.run(
        **_cases()[mode],
        mode=mode,
        base_params=FAST,
        random_seed=7,
        verbose=False,
        input_transform="none",
    )
    ds = results.details["dataset"]
    got = {
        _label(ds.isel(task=i)): float(ds["test_mi"].values[i]).hex()
        for i in range(ds.sizes["task"])
    }
    assert got == RECORDED[mode]
    assert np.isfinite(results.mi_estimate)
