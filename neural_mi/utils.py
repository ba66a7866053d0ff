"""Helpers that NeuralMI 1.1 notebooks call from ``neural_mi.utils``.

Only what its tutorials use lives here: :func:`_shift_data` (tutorial 3 shifts raw data
by hand for a lag × window search, which ``mode='lag'`` with a ``sweep_grid`` now does in
one call).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = ["_shift_data"]


def _shift_data(x_data: Any, y_data: Any, lag: float, processor_type: str | None) -> tuple:
    """Pair X at time ``t`` with Y at time ``t + lag`` by trimming or shifting raw data.

    Parameters
    ----------
    x_data, y_data
        Raw data: ``(channels, time)`` arrays for ``'continuous'`` / ``'categorical'``,
        lists of spike-time arrays (seconds) for ``'spike'``.
    lag
        Samples (an integer) for sampled data, seconds for spikes; positive: Y follows X.
    processor_type
        ``'continuous'``, ``'categorical'`` or ``'spike'``.

    Returns
    -------
    x, y
        Sampled data: ``x[:, :T - lag]`` and ``y[:, lag:]`` for ``lag > 0``,
        ``x[:, -lag:]`` and ``y[:, :T + lag]`` for ``lag < 0`` (numpy arrays).  Spikes: X
        unchanged, every Y spike time minus ``lag``, times that fall before 0 dropped.

    Raises
    ------
    ParameterError
        For another processor type, a non-integer lag on sampled data, or a lag that
        leaves no samples.
    """
    if processor_type == "spike":
        shifted = [np.asarray(spikes, dtype=np.float64) - lag for spikes in y_data]
        return x_data, [spikes[spikes >= 0] for spikes in shifted]
    if processor_type not in ("continuous", "categorical"):
        raise ParameterError(
            f"_shift_data shifts 'continuous', 'categorical' or 'spike' data, not "
            f"{processor_type!r}."
        )
    x, y = np.asarray(x_data), np.asarray(y_data)
    n_time = min(x.shape[-1], y.shape[-1])
    if float(lag) != int(lag) or abs(int(lag)) >= n_time:
        raise ParameterError(
            f"lag must be a whole number of samples smaller than the recording ({n_time}), "
            f"got {lag!r}."
        )
    lag = int(lag)
    if lag > 0:
        return x[..., : x.shape[-1] - lag], y[..., lag:]
    if lag < 0:
        return x[..., -lag:], y[..., : y.shape[-1] + lag]
    return x, y
