"""MI of an LFP at 250 Hz and spike trains windowed in seconds: paired by time, at a common
rate, and with NeuralMI 1.1's count pairing.

    python scripts/make_synthetic_nwb.py data/synthetic --sessions 2 --duration 300
    python scripts/compare_time_pairing.py data/synthetic/session_000.nwb

Reads X = the LFP (``processing/ecephys/LFP/LFP``, 250 Hz) and Y = the good units of a
session written by ``scripts/make_synthetic_nwb.py`` and prints the rigorous
(bias-corrected) MI with its interval three ways:

1. **by time**: LFP windows of 10 samples every 5 (0.04 s every 0.02 s at the file's rate)
   and spike windows of 0.04 s every 0.02 s, paired by their start times;
2. **common rate**: the same LFP windows, the spikes binned into counts at the LFP's 250 Hz
   and windowed like the LFP (both variables on one grid: window ``i`` of each starts at the
   same sample);
2b. **by time, two rates**: the same LFP windows, the spikes binned into counts at 1 kHz
   and windowed in seconds (0.04 s every 0.02 s = 40 samples every 20), paired by time;
3. **count pairing** (what NeuralMI 1.1 and ``MIN_ALIGN_RATIO`` did with the layout of
   ``config/example_real_layout.yaml``, spike windows of 0.04 s every 0.025 s): window ``i``
   with window ``i`` (``align='truncate'``), so X's window at ``0.02 i`` s is paired with
   Y's at ``0.025 i`` s.

2 and 2b (the same representation of the spikes, one grid or two rates) should agree
within the interval; 1 represents the spikes differently (times in the window rather than
counts per bin), which a small critic learns less well; 3 drifts apart in time and loses
the dependence.
"""

from __future__ import annotations

import argparse

import numpy as np

import neural_mi as nmi
from neural_mi.data.sources import load_source

TRAIN = {"n_epochs": 30, "batch_size": 256, "embedding_dim": 8, "hidden_dim": 64, "patience": 5}
LFP = {"window_size": 10, "step_size": 5}


def rigorous(x, y, **kwargs) -> nmi.Results:
    return nmi.run(
        x,
        y,
        mode="rigorous",
        gamma_range=[1, 2, 3, 4],
        base_params=TRAIN,
        split_mode="blocked",
        output_units="bits",
        random_seed=3,
        verbose=False,
        **kwargs,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="a session written by scripts/make_synthetic_nwb.py")
    args = parser.parse_args()
    lfp = load_source({"path": args.path, "object": "processing/ecephys/LFP/LFP"})
    units = load_source(
        {"path": args.path, "object": "units", "units": {"where": {"quality": "good"}}}
    )
    rate = lfp.time_base.rate
    lfp_values = np.asarray(lfp.values, dtype=np.float32)
    n_times = lfp_values.shape[1]
    print(f"LFP {lfp_values.shape} at {rate:g} Hz; {len(units.times)} good units")

    by_time = rigorous(
        lfp_values,
        units.times,
        processor_type_x="continuous",
        processor_params_x=LFP,
        processor_type_y="spike",
        processor_params_y={"window_size": 0.04, "step_size": 0.02},
        sampling_rate={"x": rate},
    )
    edges = lfp.time_base.start + np.arange(n_times + 1) / rate
    counts = np.stack([np.histogram(t, bins=edges)[0] for t in units.times]).astype(np.float32)
    common = rigorous(
        lfp_values,
        counts,
        processor_type="continuous",
        processor_params=LFP,
        sampling_rate=rate,
    )
    fine = lfp.time_base.start + np.arange(4 * n_times + 1) / (4 * rate)
    counts_fine = np.stack([np.histogram(t, bins=fine)[0] for t in units.times]).astype(np.float32)
    two_rates = rigorous(
        lfp_values,
        counts_fine,
        processor_type="continuous",
        processor_params_x=LFP,
        processor_params_y={"window_size": "0.04 s", "step_size": "0.02 s"},
        sampling_rate={"x": rate, "y": 4 * rate},
    )
    by_count = rigorous(
        lfp_values,
        units.times,
        processor_type_x="continuous",
        processor_params_x=LFP,
        processor_type_y="spike",
        processor_params_y={"window_size": 0.04, "step_size": 0.025},
        align="truncate",
    )
    for name, result in (
        ("paired by time", by_time),
        ("common rate (spike counts at 250 Hz)", common),
        (f"by time, counts at {4 * rate:g} Hz", two_rates),
        ("count pairing (1.1, align='truncate')", by_count),
    ):
        head = result.headline
        print(
            f"{name:40s} MI = {head['mi_estimate']:.4f} ± {head['mi_error']:.4f} bits "
            f"(reliable: {head['is_reliable']})"
        )


if __name__ == "__main__":
    main()
