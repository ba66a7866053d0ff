"""How many windows a recording gives: the one formula the processors and the config's
header checks share (torch-free)."""

from __future__ import annotations

import math

__all__ = ["WINDOW_COUNT_TOL", "count_spike_windows", "count_windows"]

#: Slack (in units of one step) when counting windows over seconds, so that e.g.
#: ``(1.0 - 0.1) / 0.1 = 8.999999999999998`` still counts 10 windows.
WINDOW_COUNT_TOL = 1e-9


def count_windows(n_time: int, window_size: int, step_size: int) -> int:
    """Windows of ``window_size`` samples every ``step_size`` in ``n_time`` samples:
    ``(n_time - window_size) // step_size + 1`` (0 when none fits)."""
    return max(0, (n_time - window_size) // step_size + 1)


def count_spike_windows(n_seconds: float, window_size: float, step_size: float) -> int:
    """Windows of ``window_size`` s every ``step_size`` s that end by ``n_seconds``:
    ``floor((n_seconds - window_size) / step_size) + 1`` (0 when none fits)."""
    return max(0, math.floor((n_seconds - window_size) / step_size + WINDOW_COUNT_TOL) + 1)
