"""NeuralMI 1.1's plotting functions, for notebooks written against it.

``Results.plot()`` draws every analysis; these are the stand-alone functions that 1.1's
tutorials call (:mod:`neural_mi.visualize.plot`).  matplotlib is imported on first use.
"""

from __future__ import annotations

from .plot import (
    HeatmapAnalysis,
    analyze_mi_heatmap,
    plot_bias_correction_fit,
    plot_cross_correlation,
    plot_sweep_curve,
)

__all__ = [
    "HeatmapAnalysis",
    "analyze_mi_heatmap",
    "plot_bias_correction_fit",
    "plot_cross_correlation",
    "plot_sweep_curve",
]
