"""Calibration and power of the permutation test, with real trainings (slow).

Calibration: on 40 independent pairs of AR(1) signals (zero MI, strong autocorrelation),
the default null for temporal data (a circular shift) rejects at alpha = 0.05 at a rate
consistent with 5 %.  With 19 permutations a p-value is at most 0.05 only when the
observed estimate exceeds all 19 nulls, which under exchangeability happens with
probability exactly 1/20; the number of rejections among 40 pairs is then
Binomial(40, 0.05): P(>= 7) = 0.0034, so the test allows at most 6.  (A pair whose
observed estimate fails, its held-out value below -0.1 bit, has no p-value; at most 2 may.)

Power: a 0.1-bit dependence between 5,000 IID samples gives p < 0.05 in at least 9 of 10
seeds (20 permutations: the smallest p-value is 1/21).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import load_script

import neural_mi as nmi

pytestmark = pytest.mark.slow

#: The signals and the critic of scripts/calibrate_null.py, which reports the same rates
#: for other null methods.
CALIBRATION = load_script("calibrate_null")
SMALL, ar1 = CALIBRATION.SMALL, CALIBRATION.ar1
N_PERMUTATIONS = 19
ALPHA = CALIBRATION.ALPHA


def test_circular_shift_p_values_are_calibrated_on_independent_autocorrelated_signals():
    rng = np.random.default_rng(2026)  # the 40 pairs
    p_values = []
    for pair in range(40):
        x, y = ar1(1000, 0.9, rng), ar1(1000, 0.9, rng)
        try:
            result = nmi.run(
                x[None],
                y[None],
                processor_params={"window_size": 1},
                base_params=SMALL,
                split_mode="blocked",
                random_seed=pair,
                n_permutations=N_PERMUTATIONS,
                alpha=ALPHA,
                allow_partial=True,
                verbose=False,
            )
        except nmi.errors.FailedTasksError:  # the observed estimate failed: no p-value
            p_values.append(None)
            continue
        assert result.summary_dataset.attrs["null_method"] == "circular"
        p_values.append(result.headline["p_value"])
    p = np.array([math.nan if v is None else v for v in p_values])
    assert np.isnan(p).sum() <= 2, p.tolist()  # an observed estimate rarely fails
    rejections = int(np.sum(p <= ALPHA))
    assert rejections <= 6, (rejections, p.tolist())  # Binomial(40, 0.05): P(>= 7) = 0.0034
    # Uniform on {1/20, ..., 1}: mean 0.525, sd of the mean of 40 p-values 0.046; +-3 sd.
    assert 0.385 <= np.nanmean(p) <= 0.665, p.tolist()


def test_a_tenth_of_a_bit_in_5000_samples_is_significant_in_9_of_10_seeds():
    significant = []
    for seed in range(10):
        x, y = nmi.datasets.generate_correlated_gaussians(
            5000, 1, 0.1, use_torch=False, seed=100 + seed
        )
        result = nmi.run(
            x.T,
            y.T,
            processor_params={"window_size": 1},
            base_params={**SMALL, "batch_size": 128},
            split_mode="random",
            random_seed=seed,
            n_permutations=20,
            alpha=ALPHA,
            verbose=False,
        )
        assert result.summary_dataset.attrs["null_method"] == "permute"
        significant.append(result.headline["p_value"] < ALPHA)
    assert sum(significant) >= 9, significant
