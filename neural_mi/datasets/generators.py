"""NeuralMI 1.1's module path of the generators (``from neural_mi.datasets.generators import
generate_linear_data``): the functions of :mod:`neural_mi.datasets`, nothing else."""

from __future__ import annotations

from . import (
    generate_correlated_categorical_series,
    generate_correlated_gaussians,
    generate_correlated_spike_trains,
    generate_full_data,
    generate_history_data,
    generate_linear_data,
    generate_nonlinear_data,
    generate_nonlinear_from_latent,
    generate_xor_data,
)

__all__ = [
    "generate_correlated_categorical_series",
    "generate_correlated_gaussians",
    "generate_correlated_spike_trains",
    "generate_full_data",
    "generate_history_data",
    "generate_linear_data",
    "generate_nonlinear_data",
    "generate_nonlinear_from_latent",
    "generate_xor_data",
]
