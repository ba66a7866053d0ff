"""Spike trains with known structure: a population that echoes another after a lag."""

from __future__ import annotations

import numpy as np

from ..params import check_int, check_number
from ._common import _legacy_names


def _poisson_times(rng: np.random.Generator, rate: float, duration: float) -> np.ndarray:
    return np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))


@_legacy_names(delay="lag")
def generate_correlated_spike_trains(
    n_neurons: int = 10,
    duration: float = 100.0,
    firing_rate: float = 5.0,
    lag: float = 0.02,
    jitter: float = 0.005,
    seed: int | None = 42,
    background_rate: float | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two populations of spike trains where Y echoes X after a lag.

    Each X neuron fires as a homogeneous Poisson process at ``firing_rate`` Hz on
    ``[0, duration)``.  Y neuron ``i`` fires once for every spike of X neuron ``i``, at
    ``t + lag + jitter * N(0, 1)``, plus independent Poisson background spikes at
    ``background_rate`` Hz; Y spikes outside ``[0, duration)`` are dropped.  The defaults
    are NeuralMI 1.1's, whose name for ``lag`` (``delay``) is accepted too; 1.1's Y had no
    background (``background_rate=0`` gives its process).

    Parameters
    ----------
    n_neurons
        Neurons per population.
    duration
        Recording length in seconds.
    firing_rate
        Rate of the X neurons, Hz.
    lag, jitter
        Delay (s) of the Y copies and standard deviation (s) of their Gaussian jitter.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).
    background_rate
        Rate of the independent Y background, Hz; defaults to ``firing_rate / 2``.

    Returns
    -------
    x_spikes, y_spikes
        Lists of ``n_neurons`` sorted float64 arrays of spike times (s).
    """
    check_int(n_neurons, "n_neurons", 1)
    for value, name in (
        (duration, "duration"),
        (firing_rate, "firing_rate"),
        (lag, "lag"),
        (jitter, "jitter"),
    ):
        check_number(value, name, ge=0)
    background_rate = firing_rate / 2 if background_rate is None else background_rate
    check_number(background_rate, "background_rate", ge=0)
    rng = np.random.default_rng(seed)
    x_spikes, y_spikes = [], []
    for _ in range(n_neurons):
        x = _poisson_times(rng, firing_rate, duration)
        echo = x + lag + jitter * rng.standard_normal(x.size)
        echo = echo[(echo >= 0.0) & (echo < duration)]
        x_spikes.append(x)
        y_spikes.append(
            np.sort(np.concatenate([echo, _poisson_times(rng, background_rate, duration)]))
        )
    return x_spikes, y_spikes
