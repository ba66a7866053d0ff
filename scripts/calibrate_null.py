"""How often a permutation test rejects independence that holds, per null method.

Usage::

    python scripts/calibrate_null.py                     # circular and permute, 40 pairs
    python scripts/calibrate_null.py --methods block --min-shift 50

On 40 independent pairs of AR(1) signals (1000 time points, phi 0.9: zero MI, strong
autocorrelation), each analysed with ``nmi.run`` (estimate, one-sample windows, blocked
split, 19 permutations), prints per null method the rejection rate at alpha = 0.05, its
95 % binomial (Clopper-Pearson) interval and the mean p-value.  A calibrated test rejects
5 % (1 in 20: with 19 permutations the observed value must exceed them all) and its
p-values average 0.525.  A pair whose observed estimate failed (its held-out value
below -0.1 bit, which training refuses as a number) has no p-value (``undefined``).  The
settings of ``circular`` are those of
``tests/test_significance_calibration.py``, so its numbers are that test's.

``permute`` (a plain row shuffle) breaks each signal's autocorrelation in the null data
only: its null is narrower than the spread of the observed estimate between two slow
signals, which is why the default null for temporal data is the circular shift.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.signal import lfilter
from scipy.stats import binomtest

import neural_mi as nmi

SMALL = {
    "n_epochs": 10,
    "batch_size": 64,
    "learning_rate": 1e-3,
    "embedding_dim": 4,
    "hidden_dim": 16,
    "n_layers": 1,
    "patience": 5,
}
ALPHA = 0.05


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary AR(1) series of unit variance (the calibration test draws its pairs
    with it too)."""
    noise = rng.standard_normal(n) * math.sqrt(1.0 - phi**2)
    noise[0] = rng.standard_normal()
    return lfilter([1.0], [1.0, -phi], noise)


def p_values(method: str, n_pairs: int, min_shift: float | None) -> np.ndarray:
    """The p-values of ``n_pairs`` independent AR(1) pairs under one null method."""
    rng = np.random.default_rng(2026)
    values = []
    for pair in range(n_pairs):
        x, y = ar1(1000, 0.9, rng), ar1(1000, 0.9, rng)
        extra = {} if method == "circular" else {"null_method": method}
        if min_shift is not None:
            extra["null_min_shift"] = min_shift
        try:
            result = nmi.run(
                x[None],
                y[None],
                processor_params={"window_size": 1},
                base_params=SMALL,
                split_mode="blocked",
                random_seed=pair,
                n_permutations=19,
                alpha=ALPHA,
                allow_partial=True,
                verbose=False,
                **extra,
            )
        except nmi.errors.FailedTasksError:  # the observed estimate failed: no p-value
            values.append(math.nan)
            continue
        value = result.headline["p_value"]
        values.append(math.nan if value is None else value)
    return np.array(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["circular", "permute"])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--min-shift", type=float, default=None)
    args = parser.parse_args(argv)
    print("method    rejected  rate   95% interval    mean p  undefined")
    for method in args.methods:
        p = p_values(method, args.pairs, args.min_shift)
        defined = p[~np.isnan(p)]
        rejected = int(np.sum(defined <= ALPHA))
        interval = binomtest(rejected, len(defined), ALPHA).proportion_ci(0.95)
        print(
            f"{method:<9} {rejected:>4}/{len(defined):<4} {rejected / len(defined):5.1%}  "
            f"[{interval.low:5.1%}, {interval.high:5.1%}]  {np.mean(defined):6.3f}  "
            f"{int(np.isnan(p).sum())}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
