"""Windows of spike trains: spike times relative to each window's start, zero-padded.

Spike windows are materialised, which costs O(n_windows x n_channels x max_spikes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..errors import InsufficientDataError
from ..params import check_int, check_number
from .windows import count_spike_windows

logger = logging.getLogger(__name__)

__all__ = ["SpikeProcessor", "find_max_spikes_per_window"]

#: Slack (seconds) on spike window edges, so that a spike at exactly ``k * step`` falls in
#: window ``k`` although ``k * step`` may be computed a few ulps too large.
_EDGE_TOL_S = 1e-9


def _check_seconds(value: Any, name: str) -> None:
    check_number(value, f"{name} (seconds)", gt=0)


def _spike_window_starts(window_size: float, step_size: float, n_seconds: float) -> np.ndarray:
    """Start times (s) of ``floor((n_seconds - window_size) / step_size) + 1`` windows."""
    n_windows = count_spike_windows(n_seconds, window_size, step_size)
    if n_windows < 1:
        raise InsufficientDataError(
            f"Spike window_size={window_size} s is longer than the recording "
            f"(n_seconds={n_seconds} s)."
        )
    return np.arange(n_windows, dtype=np.float64) * step_size


def _spike_bounds(
    spikes: np.ndarray, starts: np.ndarray, window_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index range ``[lo, hi)`` of the sorted ``spikes`` in each window ``[start, start+w)``."""
    lo = np.searchsorted(spikes, starts - _EDGE_TOL_S, side="left")
    hi = np.searchsorted(spikes, starts + window_size - _EDGE_TOL_S, side="left")
    return lo, hi


def _sorted_channels(spike_list: Sequence[Any]) -> list[np.ndarray]:
    return [np.sort(np.asarray(spikes, dtype=np.float64).ravel()) for spikes in spike_list]


def _latest_spike(channels: list[np.ndarray]) -> float:
    latest = [c[-1] for c in channels if c.size]
    if not latest:
        raise InsufficientDataError(
            "Spike data holds no spikes in any channel, so n_seconds cannot be derived; pass "
            "n_seconds or check the input."
        )
    return float(max(latest))


def _max_count(channels: list[np.ndarray], starts: np.ndarray, window_size: float) -> int:
    counts = [
        np.max(hi - lo) for lo, hi in (_spike_bounds(c, starts, window_size) for c in channels)
    ]
    return max(1, int(max(counts, default=0)))


def find_max_spikes_per_window(
    spike_list: Sequence[Any],
    window_size: float,
    step_size: float | None = None,
    n_seconds: float | None = None,
) -> int:
    """Largest number of spikes that any channel has in any window.

    Parameters
    ----------
    spike_list
        One 1-D array of spike times (s) per channel.
    window_size
        Window length in seconds.
    step_size
        Shift of the windows in seconds: the count is over the windows
        ``[k * step_size, k * step_size + window_size)``.  ``None`` (default): over every
        placement of a window in the recording, so the count holds for any step (NeuralMI
        1.1's meaning; ``max_spikes_per_window`` set to it never drops a spike).
    n_seconds
        Recording length in seconds; defaults to the latest spike time over channels.
        Spikes at or after it are not counted.

    Returns
    -------
    int
        The maximum count, at least 1.
    """
    channels = _sorted_channels(spike_list)
    n_seconds = _latest_spike(channels) if n_seconds is None else n_seconds
    if step_size is not None:
        starts = _spike_window_starts(window_size, step_size, n_seconds)
        return _max_count(channels, starts, window_size)
    _spike_window_starts(window_size, window_size, n_seconds)  # refuses a too long window
    # A window holding the most spikes can be slid right until its first spike sits on its
    # start, so trying each spike time as a start finds the maximum.
    counts = [0]
    for spikes in channels:
        spikes = spikes[spikes < n_seconds]
        if spikes.size:
            _, hi = _spike_bounds(spikes, spikes, window_size)
            counts.append(int(np.max(hi - np.arange(spikes.size))))
    return max(1, max(counts))


class SpikeProcessor:
    """Windows of spike times, relative to each window's start.

    Parameters
    ----------
    window_size
        Window length in seconds.
    step_size
        Shift between windows in seconds; defaults to ``window_size``.
    max_spikes_per_window
        Features per channel; defaults to :func:`find_max_spikes_per_window`.  Windows with
        more spikes keep the earliest ones (a warning says how many were dropped).
    n_seconds
        Recording length in seconds; defaults to the latest spike time over channels.
        Only windows that end by ``n_seconds`` are made.
    """

    def __init__(
        self,
        window_size: float,
        step_size: float | None = None,
        max_spikes_per_window: int | None = None,
        n_seconds: float | None = None,
    ) -> None:
        _check_seconds(window_size, "SpikeProcessor window_size")
        if step_size is not None:
            _check_seconds(step_size, "SpikeProcessor step_size")
        if n_seconds is not None:
            _check_seconds(n_seconds, "SpikeProcessor n_seconds")
        if max_spikes_per_window is not None:
            check_int(max_spikes_per_window, "SpikeProcessor max_spikes_per_window", 1)
        self.window_size = float(window_size)
        self.step_size = self.window_size if step_size is None else float(step_size)
        self.max_spikes_per_window = max_spikes_per_window
        self.n_seconds = n_seconds

    def process(self, spike_list: Sequence[Any]) -> torch.Tensor:
        """Window the spike trains.

        Parameters
        ----------
        spike_list
            One 1-D array of spike times (s) per channel (neuron); need not be sorted.

        Returns
        -------
        torch.Tensor
            ``(n_windows, n_channels, max_spikes)`` float32 with
            ``n_windows = floor((n_seconds - window_size) / step_size) + 1``.  Row ``[i, c]``
            holds, in time order, the spike times of channel ``c`` in
            ``[i*step, i*step + window_size)`` minus ``i*step``, zero-padded at the end.

        Raises
        ------
        InsufficientDataError
            If there are no spikes and ``n_seconds`` is not given, or the window is longer
            than the recording.
        """
        channels = _sorted_channels(spike_list)
        n_seconds = _latest_spike(channels) if self.n_seconds is None else float(self.n_seconds)
        starts = _spike_window_starts(self.window_size, self.step_size, n_seconds)
        max_spikes = (
            _max_count(channels, starts, self.window_size)
            if self.max_spikes_per_window is None
            else int(self.max_spikes_per_window)
        )
        out = np.zeros((starts.size, len(channels), max_spikes), dtype=np.float32)
        slots = np.arange(max_spikes)
        n_dropped = 0
        for c, spikes in enumerate(channels):
            if spikes.size == 0:
                continue
            lo, hi = _spike_bounds(spikes, starts, self.window_size)
            counts = hi - lo
            n_dropped += int(np.maximum(counts - max_spikes, 0).sum())
            index = np.minimum(lo[:, None] + slots[None, :], spikes.size - 1)
            relative = np.maximum(spikes[index] - starts[:, None], 0.0)
            out[:, c, :] = np.where(slots[None, :] < counts[:, None], relative, 0.0)
        if n_dropped:
            logger.warning(
                "SpikeProcessor dropped %d spikes from windows holding more than "
                "max_spikes_per_window=%d spikes (the earliest ones were kept).",
                n_dropped,
                max_spikes,
            )
        return torch.from_numpy(out)
