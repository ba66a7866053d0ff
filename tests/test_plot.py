"""Tests of neural_mi.plot: each figure draws the expected artists and saves to PNG."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import make_result
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from neural_mi import plot
from neural_mi.aggregate import summarize
from neural_mi.errors import ParameterError
from neural_mi.modes.dimensionality import plot_dimensionality
from neural_mi.modes.lag import plot_lag
from neural_mi.modes.rigorous import aggregate_rigorous, plot_rigorous
from neural_mi.store import results_to_dataset

LN2 = math.log(2.0)


def saves(fig: Figure, tmp_path) -> bool:
    path = tmp_path / "figure.png"
    fig.savefig(path)
    return path.stat().st_size > 1000


def errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_training_curves_in_bits_with_best_epoch(tmp_path):
    history = {
        "train_mi": np.linspace(0.0, 2.0, 20),
        "test_mi": np.linspace(0.0, 1.5, 20),
        "test_mi_smoothed": np.linspace(0.1, 1.4, 20),
        "loss": -np.ones(20),
    }
    fig = plot.plot_training(history, best_epoch=12, units="bits")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4  # three MI curves (no loss) and the best-epoch marker
    np.testing.assert_allclose(lines[0].get_ydata(), history["train_mi"] / LN2)
    assert list(lines[3].get_xdata()) == [12, 12]
    assert ax.get_ylabel() == "MI (bits)"
    assert saves(fig, tmp_path)
    with pytest.raises(ParameterError, match="history"):
        plot.plot_training({"loss": np.ones(3)}, best_epoch=0)


def test_training_curves_show_minus_the_loss_when_there_is_no_train_mi_curve():
    history = {"test_mi": np.linspace(0.0, 1.5, 20), "loss": -np.linspace(0.0, 2.0, 20)}
    fig = plot.plot_training(history, best_epoch=5, units="nats")
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines[:2]] == ["training batches (-loss)", "held-out"]
    np.testing.assert_allclose(lines[0].get_ydata(), np.linspace(0.0, 2.0, 20))


def rigorous_tasks():
    results = [
        make_result(
            f"{combo}-g{g:02d}-s{s:02d}",
            combo,
            "rigorous",
            base - 0.04 * g + 0.01 * (s % 2),
            gamma=g,
            subset=s,
            coords={"embedding_dim": dim},
        )
        for combo, dim, base in (("ca", 4, 1.0), ("cb", 8, 2.0))
        for g in range(1, 8)
        for s in range(g)
    ]
    return results_to_dataset(results)


def test_rigorous_points_means_fit_and_estimate(tmp_path):
    ds = rigorous_tasks()
    summary, _ = summarize(ds, "rigorous", output_units="bits")
    fig = plot_rigorous(summary, ds)
    (ax,) = fig.axes
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 2
    assert [len(s.get_offsets()) for s in scatters] == [28, 28]  # one point per task
    np.testing.assert_allclose(scatters[0].get_offsets()[:, 1], ds["test_mi"].values[:28] / LN2)
    assert len(errorbars(ax)) == 4  # per-gamma means and the corrected estimate, per combo
    fit_lines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(fit_lines) == 2
    assert list(fit_lines[1].get_xdata()) == [0.0, 7.0]
    assert fit_lines[1].get_ydata()[0] == pytest.approx(float(summary["mi_corrected"][1]))
    assert len(ax.get_legend().get_texts()) == 2
    assert "embedding_dim=8" in ax.get_legend().get_texts()[1].get_text()
    assert ax.get_ylabel() == "MI (bits)"
    assert saves(fig, tmp_path)


def test_rigorous_nats_summary_draws_tasks_unconverted():
    ds = rigorous_tasks()
    fig = plot_rigorous(aggregate_rigorous(ds), ds)
    scatter = next(c for c in fig.axes[0].collections if isinstance(c, PathCollection))
    np.testing.assert_allclose(scatter.get_offsets()[:, 1], ds["test_mi"].values[:28])


def test_sweep_one_line_per_other_parameter(tmp_path):
    results = [
        make_result(
            f"s{e}-w{w}-r{r}",
            f"c{e}{w}",
            "sweep",
            0.1 * e + w + 0.05 * r,
            coords={"embedding_dim": e, "window_size": w},
            repeat=r,
        )
        for e in (8, 2, 4)
        for w in (1, 2)
        for r in range(3)
    ]
    summary, _ = summarize(results_to_dataset(results), "sweep")
    fig = plot.plot_sweep(summary, "embedding_dim")
    (ax,) = fig.axes
    bars = errorbars(ax)
    assert len(bars) == 2
    data_line = bars[0].lines[0]
    assert list(data_line.get_xdata()) == [2, 4, 8]
    np.testing.assert_allclose(data_line.get_ydata(), (0.1 * np.array([2, 4, 8]) + 1.05) / LN2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["window_size=1", "window_size=2"]
    assert ax.get_xlabel() == "embedding_dim"
    assert saves(fig, tmp_path)
    with pytest.raises(ParameterError, match="hidden_dim"):
        plot.plot_sweep(summary, "hidden_dim")


def test_lag_curve_band_and_peak(tmp_path):
    results = [
        make_result(f"{combo}-l{lag:+d}", combo, "lag", 1.0 - 0.1 * abs(lag - peak), lag=lag)
        for combo, peak in (("early", 1), ("late", 4))
        for lag in range(-2, 7)
    ]
    summary, _ = summarize(results_to_dataset(results), "lag", output_units="nats")
    fig = plot_lag(summary)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4  # curve and peak marker per combo
    assert [list(lines[i].get_xdata()) for i in (1, 3)] == [[1], [4]]
    assert lines[3].get_ydata()[0] == pytest.approx(1.0)
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    assert saves(fig, tmp_path)


def dimensionality_summary(with_pr: bool):
    curve = {1: 0.5, 2: 1.0, 4: 1.7, 8: 1.92, 16: 2.0}
    results = [
        make_result(
            f"d{dim:02d}-s{split}",
            f"c{dim}",
            "dimensionality",
            mi + off,
            coords={"embedding_dim": dim},
            split=split,
            extras={"participation_ratio": dim / 2 + split} if with_pr else None,
        )
        for dim, mi in curve.items()
        for split, off in enumerate((-0.01, 0.0, 0.01))
    ]
    summary, _ = summarize(results_to_dataset(results), "dimensionality")
    return summary


def test_dimensionality_twin_axis_and_saturation(tmp_path):
    fig = plot_dimensionality(dimensionality_summary(with_pr=True))
    ax, twin = fig.axes
    assert len(errorbars(ax)) == 1 and len(errorbars(twin)) == 1
    saturation = [line for line in ax.get_lines() if list(line.get_xdata()) in ([4, 4], [8, 8])]
    assert len(saturation) == 3  # strictness 0.8 -> 4, 0.9 -> 8, 0.95 -> 8
    assert twin.get_ylabel() == "participation ratio"
    assert ax.get_xlabel() == "embedding dimension"
    assert len(ax.get_legend().get_texts()) == 5
    assert saves(fig, tmp_path)


def test_dimensionality_without_participation_ratio_into_given_axes(tmp_path):
    host = Figure()
    ax = host.add_subplot()
    fig = plot_dimensionality(dimensionality_summary(with_pr=False), ax=ax)
    assert fig is host
    assert fig.axes == [ax]
    assert saves(fig, tmp_path)


def test_sweep_keeps_combos_whose_other_parameter_is_missing():
    results = [
        make_result("a", "ca", "sweep", 1.0, coords={"embedding_dim": 4}),
        make_result("b", "cb", "sweep", 2.0, coords={"embedding_dim": 8, "window_size": 3}),
    ]
    summary, _ = summarize(results_to_dataset(results), "sweep")
    ax = plot.plot_sweep(summary, "embedding_dim").axes[0]
    assert len(errorbars(ax)) == 2  # the NaN window_size is a group of its own


def test_sweep_against_combo_ids_when_nothing_is_swept():
    results = [
        make_result(f"{c}-r{r}", c, "sweep", 1.0 + r, repeat=r)
        for c in ("cb", "ca")
        for r in range(2)
    ]
    summary, _ = summarize(results_to_dataset(results), "sweep", output_units="nats")
    ax = plot.plot_sweep(summary, "combo").axes[0]
    (bar,) = errorbars(ax)
    np.testing.assert_allclose(bar.lines[0].get_ydata(), [1.5, 1.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ca", "cb"]
