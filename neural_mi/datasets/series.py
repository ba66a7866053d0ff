"""NeuralMI 1.1's lagged time series: Y a (nonlinear) function of X's past, a window of it,
or an XOR of two of its lags."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ..params import check_int, check_number
from ._common import _legacy_names, _series


def _lagged_copy(x: np.ndarray, lag: int) -> np.ndarray:
    """``out[t] = x[t - lag]`` for ``t >= lag``, 0 before."""
    out = np.zeros_like(x)
    out[lag:] = x[: x.size - lag]
    return out


def _check_lag(n_samples: int, lag: int, name: str) -> None:
    check_int(n_samples, "n_samples", 2)
    check_int(lag, name, 0)
    if lag >= n_samples:
        raise ParameterError(f"{name}={lag} must be smaller than n_samples={n_samples}.")


@_legacy_names(noise_level="noise")
def generate_linear_data(
    n_samples: int = 5000, true_lag: int = 50, noise: float = 0.5, seed: int | None = 42
) -> tuple[np.ndarray, np.ndarray]:
    """White noise ``x`` and a lagged noisy copy ``y[t] = x[t - true_lag] + noise * e[t]``.

    The first ``true_lag`` values of ``y`` are pure noise.  With one-sample windows the
    MI peaks at lag ``true_lag``, where it is ``0.5 * log2(1 + 1 / noise^2)`` bits.

    Parameters
    ----------
    n_samples
        Number of time points.
    true_lag
        Delay of ``y`` after ``x``, in samples.
    noise
        Standard deviation of the additive Gaussian noise (NeuralMI 1.1's name
        ``noise_level`` is accepted too).
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        float32 arrays ``(1, n_samples)`` (channels, time).
    """
    _check_lag(n_samples, true_lag, "true_lag")
    check_number(noise, "noise", ge=0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_samples)
    y = _lagged_copy(x, true_lag) + noise * rng.standard_normal(n_samples)
    return _series(x), _series(y)


@_legacy_names(noise_level="noise")
def generate_nonlinear_data(
    n_samples: int = 5000, true_lag: int = 50, noise: float = 0.2, seed: int | None = 42
) -> tuple[np.ndarray, np.ndarray]:
    """White noise ``x`` and ``y[t] = x[t - true_lag]^2 - 1 + noise * e[t]``.

    The first ``true_lag`` values of ``y`` are pure noise.  The dependence is even in
    ``x``, so the linear correlation of ``x`` and ``y`` is zero at every lag (``E[x^3] = 0``
    for Gaussian ``x``): cross-correlation cannot find the lag, MI can.

    Parameters
    ----------
    n_samples, true_lag, noise, seed
        As for :func:`generate_linear_data`.

    Returns
    -------
    x, y
        float32 arrays ``(1, n_samples)`` (channels, time).
    """
    _check_lag(n_samples, true_lag, "true_lag")
    check_number(noise, "noise", ge=0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_samples)
    y = _lagged_copy(x**2 - 1.0, true_lag) + noise * rng.standard_normal(n_samples)
    return _series(x), _series(y)


@_legacy_names(noise_level="noise")
def generate_history_data(
    n_samples: int = 5000, history_duration: int = 20, noise: float = 0.1, seed: int | None = 42
) -> tuple[np.ndarray, np.ndarray]:
    """White noise ``x`` and ``y[t] = x[t - history_duration] + noise * e[t]``.

    With equal window sizes ``w`` on X and Y, windows starting at the same index ``s``
    cover ``x[s : s+w]`` and ``y[s : s+w]``, which depends on ``x[s-h : s+w-h]``.  The two
    ranges share ``max(0, w - h)`` time points, so the MI between windows is 0 for
    ``w <= history_duration`` and grows with ``w`` beyond it.

    Parameters
    ----------
    n_samples
        Number of time points.
    history_duration
        Delay ``h`` in samples.
    noise, seed
        As for :func:`generate_linear_data`.

    Returns
    -------
    x, y
        float32 arrays ``(1, n_samples)`` (channels, time).
    """
    return generate_linear_data(n_samples, history_duration, noise, seed)


@_legacy_names(noise_level="noise")
def generate_full_data(
    n_samples: int = 5000,
    true_lag: int = 30,
    history_duration: int = 20,
    noise: float = 0.3,
    seed: int | None = 42,
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` driven by a window of ``x``'s past that ends ``true_lag`` samples ago.

    Ground truth: ``y[t] = (1 / sqrt(H)) * sum_{k=0}^{H-1} x[t - L - k] + noise * e[t]``
    with ``L = true_lag`` and ``H = history_duration`` (terms with negative index are 0).
    ``y[t]`` thus depends on ``x[t-L-H+1 : t-L+1]``: capturing all of it needs an X window
    of at least ``H`` samples positioned at lag ``L``.  The signal part has unit variance
    (for ``t >= L + H - 1``), so with one-sample Y windows and an X window covering the
    whole history the MI is ``0.5 * log2(1 + 1 / noise^2)`` bits.

    Parameters
    ----------
    n_samples
        Number of time points.
    true_lag
        ``L``, in samples.
    history_duration
        ``H``, length of the driving history in samples (>= 1).
    noise, seed
        As for :func:`generate_linear_data`.

    Returns
    -------
    x, y
        float32 arrays ``(1, n_samples)`` (channels, time).
    """
    _check_lag(n_samples, true_lag, "true_lag")
    check_int(history_duration, "history_duration", 1)
    check_number(noise, "noise", ge=0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_samples)
    history_sum = np.convolve(x, np.ones(history_duration))[:n_samples]
    signal = _lagged_copy(history_sum, true_lag) / math.sqrt(history_duration)
    y = signal + noise * rng.standard_normal(n_samples)
    return _series(x), _series(y)


def generate_xor_data(
    n_samples: int = 5000, noise: float = 0.1, seed: int | None = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Synergy: ``y`` is the XOR of the signs of two independent channels of ``x``.

    ``x`` has two independent standard-normal channels and
    ``y = [(x0 > 0) xor (x1 > 0)] + noise * e``.  The XOR bit ``b`` is a fair coin that is
    independent of each channel alone (given ``x0``, ``b`` still depends on the fair coin
    ``x1 > 0``), so ``I(X0; Y) = I(X1; Y) = 0``; both channels together determine ``b``, so
    ``I(X; Y) = I(B; Y)``, which is 1 bit for ``noise = 0`` and within 1e-5 bits of 1 for
    the default ``noise = 0.1``.

    Parameters
    ----------
    n_samples
        Number of time points.
    noise
        Standard deviation of the Gaussian noise on ``y``.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        float32 arrays ``(2, n_samples)`` and ``(1, n_samples)`` (channels, time).
    """
    check_int(n_samples, "n_samples", 1)
    check_number(noise, "noise", ge=0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n_samples))
    bit = np.logical_xor(x[0] > 0, x[1] > 0)
    y = bit + noise * rng.standard_normal(n_samples)
    return x.astype(np.float32), _series(y)
