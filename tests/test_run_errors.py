"""Every bad input gets a clear error naming the problem, before any training starts."""

from __future__ import annotations

import numpy as np
import pytest

import neural_mi as nmi
import neural_mi.engine.task
from neural_mi.errors import (
    DataShapeError,
    DataValueError,
    InsufficientDataError,
    NeuralMIError,
    ParameterError,
)


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Fail loudly if any of these bad inputs reaches training."""

    def forbidden(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(neural_mi.engine.task, "train_critic", forbidden)


def _run(x, y, **kw):
    kw.setdefault("processor_type", "continuous")
    kw.setdefault("processor_params", {"window_size": 1})
    kw.setdefault("verbose", False)
    return nmi.run(x, y, **kw)


def test_nan_in_data_is_named(gauss_small):
    x, y = gauss_small
    x[1, 17] = np.nan
    with pytest.raises(DataValueError, match=r"(?i)x_data.*nan"):
        _run(x, y)


def test_inf_in_data_is_named(gauss_small):
    x, y = gauss_small
    y[0, 3] = np.inf
    with pytest.raises(DataValueError, match=r"(?i)y_data.*inf"):
        _run(x, y)


def test_sample_counts_that_cannot_be_aligned(gauss_small):
    x, y = gauss_small
    with pytest.raises(DataShapeError, match=r"900.*300|300.*900"):
        _run(x, y[:, :300])


def test_window_longer_than_recording(gauss_small):
    x, y = gauss_small
    with pytest.raises(InsufficientDataError, match=r"window_size.*1000|1000.*900|900.*1000"):
        _run(x, y, processor_params={"window_size": 1000})


def test_batch_of_one_sample_is_refused(gauss_small):
    x, y = gauss_small
    with pytest.raises(ParameterError, match="batch_size"):
        _run(x, y, base_params={"batch_size": 1})


def test_too_few_training_samples_per_batch():
    x = np.random.default_rng(0).normal(size=(2, 12))
    with pytest.raises(InsufficientDataError, match=r"at least 2 .*gamma=2"):
        _run(x, x.copy(), mode="rigorous", gamma_range=[1, 2, 3, 4, 5, 6], split_mode="random")


def test_gamma_too_large_for_the_data_names_the_gamma(gauss_small):
    x, y = gauss_small
    with pytest.raises(InsufficientDataError, match="gamma"):
        _run(x, y, mode="rigorous", gamma_range=[1, 400], split_mode="random")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"mode": "estimat"}, r"mode 'estimat'.*'estimate'"),
        ({"estimator": "infonse"}, r"estimator 'infonse'.*'infonce'"),
        ({"base_params": {"critic_type": "bilinar"}}, r"critic_type 'bilinar'.*'bilinear'"),
        ({"base_params": {"embedding_model": "rnn"}}, r"embedding_model 'rnn'.*'gru'"),
        ({"base_params": {"n_epoch": 5}}, r"'n_epoch'.*Did you mean 'n_epochs'"),
        ({"processor_params": {"window": 3}}, r"'window'.*window_size"),
        ({"estimator": "smile", "estimator_params": {"clipp": 5}}, r"'clipp'.*clip"),
        ({"output_units": "bytes"}, r"output_units 'bytes'"),
        ({"split_mode": "blocky"}, r"split_mode 'blocky'"),
        ({"random_sed": 1}, r"'random_sed'.*Did you mean 'random_seed'"),
    ],
)
def test_unknown_options_are_named(gauss_small, kwargs, pattern):
    x, y = gauss_small
    with pytest.raises(ParameterError, match=pattern):
        _run(x, y, **kwargs)


def test_errors_share_one_base_class():
    for cls in (ParameterError, DataShapeError, DataValueError, InsufficientDataError):
        assert issubclass(cls, NeuralMIError)
        assert issubclass(cls, ValueError)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"mode": "lag", "lag_range": [float("nan")]}, ParameterError, r"lag_range.*finite.*nan"),
        ({"mode": "lag", "lag_range": [0, float("inf")]}, ParameterError, r"lag_range.*finite"),
        ({"random_seed": "abc"}, ParameterError, r"random_seed must be an integer.*'abc'"),
        ({"random_seed": 1.5}, ParameterError, r"random_seed must be an integer.*1\.5"),
        ({"random_seed": True}, ParameterError, r"random_seed must be an integer"),
        ({"base_params": [1, 2]}, ParameterError, r"base_params must be a mapping"),
        ({"processor_params": "window_size=3"}, ParameterError, r"processor_params.*mapping"),
        ({"sweep_grid": [1, 2], "mode": "sweep"}, ParameterError, r"sweep_grid must be a mapping"),
        ({"device": "bogus"}, ParameterError, r"Unknown device 'bogus'.*available here: auto"),
        ({"n_workers": 0}, ParameterError, r"n_workers must be an integer >= 1"),
        ({"n_workers": 2.0}, ParameterError, r"n_workers must be an integer"),
        ({"verbose": "no"}, ParameterError, r"verbose must be True or False"),
        ({"mode": "rigorous", "gamma_range": [1, 1, 2]}, ParameterError, r"gamma_range.*repeat"),
        ({"mode": "rigorous", "confidence_level": 1.5}, ParameterError, r"confidence_level"),
        (
            {"gamma_range": [1, 2]},
            ParameterError,
            r"gamma_range is not used in mode 'estimate' \(it is an argument of mode "
            r"'conditional' / 'rigorous' / 'transfer'\)",
        ),
        ({"n_splits": 2}, ParameterError, r"n_splits is not used in mode 'estimate'"),
        (
            {"save_best_model_path": "m.pt", "mode": "sweep", "sweep_grid": {"hidden_dim": [4]}},
            ParameterError,
            r"save_best_model_path is only supported in mode 'estimate'",
        ),
    ],
)
def test_every_argument_is_checked_before_training(gauss_small, kwargs, error, pattern):
    x, y = gauss_small
    with pytest.raises(error, match=pattern):
        _run(x, y, **kwargs)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused(gauss_small):
    x, y = gauss_small
    with pytest.raises(ParameterError, match=r"device 'cuda' is not available on this machine"):
        _run(x, y, device="cuda")


def test_a_store_path_that_is_a_file_is_refused(gauss_small, tmp_path):
    x, y = gauss_small
    (tmp_path / "stores").write_text("a file")
    with pytest.raises(ParameterError, match=r"store=.*stores.* is a file"):
        _run(x, y, store=tmp_path / "stores")
