"""Coupled vector autoregressions with an exact transfer entropy."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ..params import check_int, check_number
from ._common import _series


def _coupled_matrices(
    coupling: float, a: float, b: float, noise_x: float, noise_y: float
) -> tuple[np.ndarray, np.ndarray]:
    """Transition matrix and innovation covariance of the state ``(x_t, y_t)``."""
    for value, name in ((a, "a"), (b, "b")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 < value < 1:
            raise ParameterError(f"{name} must be a number in (-1, 1) (a stable process).")
    for value, name in ((noise_x, "noise_x"), (noise_y, "noise_y")):
        check_number(value, name, ge=0)
        if value == 0:
            raise ParameterError(f"{name} must be positive.")
    if isinstance(coupling, bool) or not isinstance(coupling, (int, float)):
        raise ParameterError(f"coupling must be a number, got {coupling!r}.")
    transition = np.array([[a, 0.0], [coupling, b]])
    return transition, np.diag([noise_x**2, noise_y**2])


def generate_coupled_autoregressive(
    n_samples: int,
    coupling: float = 0.8,
    a: float = 0.5,
    b: float = 0.5,
    noise_x: float = 1.0,
    noise_y: float = 1.0,
    seed: int | None = 42,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear Gaussian VAR(1) pair in which X drives Y and Y does not drive X.

    ``x[t+1] = a x[t] + noise_x e[t]`` and ``y[t+1] = b y[t] + coupling x[t] + noise_y
    n[t]`` (independent standard normal ``e``, ``n``), started from the stationary
    distribution.  :func:`autoregressive_transfer_entropy` gives the transfer entropies in
    closed form; TE(Y→X) is 0.

    Parameters
    ----------
    n_samples
        Number of time points.
    coupling
        Weight of ``x[t]`` in ``y[t+1]``.
    a, b
        Autoregressive weights of X and of Y, in ``(-1, 1)``.
    noise_x, noise_y
        Standard deviations of the innovations (positive).
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        float32 arrays ``(1, n_samples)`` (channels, time).
    """
    check_int(n_samples, "n_samples", 2)
    transition, innovation = _coupled_matrices(coupling, a, b, noise_x, noise_y)
    from scipy.linalg import solve_discrete_lyapunov
    from scipy.signal import lfilter

    stationary = solve_discrete_lyapunov(transition, innovation)
    rng = np.random.default_rng(seed)
    start = rng.multivariate_normal(np.zeros(2), stationary)
    shocks = rng.standard_normal((n_samples, 2)) * np.array([noise_x, noise_y])
    # Each series is a first-order recursion driven by its input (the start, then shocks).
    drive_x = np.concatenate([[start[0]], shocks[1:, 0]])
    x = lfilter([1.0], [1.0, -a], drive_x)
    drive_y = np.concatenate([[start[1]], coupling * x[:-1] + shocks[1:, 1]])
    y = lfilter([1.0], [1.0, -b], drive_y)
    return _series(x), _series(y)


def autoregressive_transfer_entropy(
    coupling: float = 0.8,
    a: float = 0.5,
    b: float = 0.5,
    noise_x: float = 1.0,
    noise_y: float = 1.0,
    history: int = 1,
    horizon: int = 1,
) -> tuple[float, float]:
    """Transfer entropies (bits) of :func:`generate_coupled_autoregressive`, in closed form.

    ``TE(X→Y) = I(Y_future; X_past | Y_past)`` with the past the ``history`` samples up to
    ``t`` and the future the sample ``t + horizon`` (the definition of mode ``transfer``
    on one-sample windows), ``0.5 log2(Var(Y_f | Y_past) / Var(Y_f | Y_past, X_past))``
    from the process' stationary autocovariance ``Cov(v[t+k], v[t]) = A^k S``.

    Returns
    -------
    te_xy, te_yx
        TE(X→Y) and TE(Y→X) in bits (the latter 0 up to rounding).
    """
    check_int(history, "history", 1)
    check_int(horizon, "horizon", 1)
    transition, innovation = _coupled_matrices(coupling, a, b, noise_x, noise_y)
    from scipy.linalg import solve_discrete_lyapunov

    stationary = solve_discrete_lyapunov(transition, innovation)
    times = [*range(history), history - 1 + horizon]  # past samples, then the future one
    blocks = [
        [
            np.linalg.matrix_power(transition, i - j) @ stationary
            if i >= j
            else stationary @ np.linalg.matrix_power(transition, j - i).T
            for j in times
        ]
        for i in times
    ]
    cov = np.block(blocks)  # variables ordered (x, y) per time

    def conditional_variance(target: int, given: list[int]) -> float:
        s_tg = cov[target, given]
        return float(cov[target, target] - s_tg @ np.linalg.solve(cov[np.ix_(given, given)], s_tg))

    future = 2 * history
    past_x = [2 * k for k in range(history)]
    past_y = [2 * k + 1 for k in range(history)]
    te = []
    for target, own, other in ((future + 1, past_y, past_x), (future, past_x, past_y)):
        reduced = conditional_variance(target, own)
        full = conditional_variance(target, own + other)
        te.append(0.5 * math.log2(reduced / full))
    return te[0], te[1]
