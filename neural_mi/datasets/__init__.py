"""Synthetic data with known mutual information, for tests, tutorials and benchmarks.

Every generator takes ``seed`` (anything :func:`numpy.random.default_rng` accepts); the same
seed gives identical output.  The default seed is 42, the default ``random_seed`` of
``nmi.run``, so that a script or tutorial that does not pass one gives the same numbers on
every run; pass ``seed=None`` for fresh randomness.  MI values are in **bits** unless stated
otherwise.

The names, argument order and defaults follow NeuralMI 1.1, whose notebooks call them
(``neural_mi.datasets.generators`` is the same functions under 1.1's module path); 1.1's
argument names that differ from ours (``noise_level``, ``transition_probability``,
``delay``) are accepted as keyword aliases.  What differs from 1.1 (the seed, the exact
processes) is listed in ``docs/migrating_from_neuralmi.md``.
"""

from __future__ import annotations

from .autoregressive import autoregressive_transfer_entropy, generate_coupled_autoregressive
from .categorical import categorical_mi_bits, generate_correlated_categorical_series
from .gaussian import (
    generate_block_channels,
    generate_conditional_gaussians,
    generate_correlated_gaussians,
    generate_latent_factor_data,
    generate_nonlinear_from_latent,
    rho_from_mi,
)
from .series import (
    generate_full_data,
    generate_history_data,
    generate_linear_data,
    generate_nonlinear_data,
    generate_xor_data,
)
from .spikes import generate_correlated_spike_trains

__all__ = [
    "autoregressive_transfer_entropy",
    "categorical_mi_bits",
    "generate_block_channels",
    "generate_conditional_gaussians",
    "generate_correlated_categorical_series",
    "generate_correlated_gaussians",
    "generate_correlated_spike_trains",
    "generate_coupled_autoregressive",
    "generate_full_data",
    "generate_history_data",
    "generate_latent_factor_data",
    "generate_linear_data",
    "generate_nonlinear_data",
    "generate_nonlinear_from_latent",
    "generate_xor_data",
    "rho_from_mi",
]
