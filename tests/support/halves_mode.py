"""A toy analysis mode, written as a user would write a plug-in: each task trains on a
random half of the samples, and the answer is the mean MI over the halves.

Registered on import; a notebook imports it, a workflow config names it under
``plugins:``.  Nothing else in neural_mi knows about it.
"""

from __future__ import annotations

import numpy as np

from neural_mi.modes import Mode, ModeOptions, register_mode
from neural_mi.params import PositiveInt
from neural_mi.plan import derive_seed


class HalvesOptions(ModeOptions):
    """Arguments of the toy mode."""

    n_halves: PositiveInt = 3
    """How many random halves (one task each)."""


@register_mode
class Halves(Mode):
    """One task per random half of the samples; the mean MI over the halves."""

    name = "halves"
    Options = HalvesOptions
    summary = "one task per random half of the samples; the mean MI"
    sweep_grid = "refused"

    def tasks(self, combination, options):
        return [combination.task(f"h{k:02d}", repeat=k) for k in range(options.n_halves)]

    def data_key(self, spec):
        return (spec.combo, spec.repeat)  # every half is different data

    def task_data(self, spec, data):
        import torch

        x, y, gap = data.aligned_pair(spec.params)
        rng = np.random.default_rng(derive_seed(spec.params["run_seed"], "half", spec.repeat))
        rows = torch.as_tensor(np.sort(rng.permutation(len(x))[: len(x) // 2]))
        return x.index_select(0, rows), y.index_select(0, rows), gap
