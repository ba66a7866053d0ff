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

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import ParameterError
from ..params import check_int, check_number

if TYPE_CHECKING:  # torch is imported only when a tensor is asked for (workflow parse time)
    import torch

_T = TypeVar("_T")

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

#: Seed of the fixed nonlinear maps of :func:`generate_nonlinear_from_latent`, so that the
#: maps are the same for every call (the ``seed`` argument only drives the samples).
_MAP_SEED = 1729


def _legacy_names(**renames: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Accept NeuralMI 1.1's keyword names (``old="new"``) for arguments we name otherwise.

    The wrapped function keeps our signature (``inspect.signature`` shows our names only,
    so a workflow config cannot use the old ones); giving both names is an error.
    """

    def decorate(function: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> _T:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ParameterError(
                            f"Give {new} or its NeuralMI 1.1 name {old}, not both."
                        )
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate


def _output(array: np.ndarray, use_torch: bool) -> np.ndarray | torch.Tensor:
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not use_torch:
        return array
    import torch

    return torch.from_numpy(array)


def rho_from_mi(mi: float, dim: int) -> float:
    """Per-dimension correlation giving ``mi`` bits between two ``dim``-D Gaussians.

    Solves ``-0.5 * dim * log2(1 - rho**2) = mi``.

    Parameters
    ----------
    mi
        Total MI in bits (>= 0).
    dim
        Number of independent correlated pairs.

    Returns
    -------
    float
        ``rho = sqrt(1 - 2**(-2 * mi / dim))`` in ``[0, 1)``.
    """
    check_number(mi, "mi", ge=0)
    check_int(dim, "dim", 1)
    return math.sqrt(-math.expm1(-2.0 * mi * math.log(2.0) / dim))


def _correlated_pairs(
    rng: np.random.Generator, n_samples: int, dim: int, mi: float
) -> tuple[np.ndarray, np.ndarray]:
    rho = rho_from_mi(mi, dim)
    x = rng.standard_normal((n_samples, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * rng.standard_normal((n_samples, dim))
    return x, y


def generate_correlated_gaussians(
    n_samples: int, dim: int, mi: float, use_torch: bool = True, seed: int | None = 42
) -> tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]:
    """Pairs of standard Gaussian vectors with exactly ``mi`` bits of MI.

    ``x ~ N(0, I)`` and ``y = rho * x + sqrt(1 - rho^2) * z`` with independent ``z ~ N(0, I)``,
    so each of the ``dim`` coordinate pairs has correlation ``rho = rho_from_mi(mi, dim)``
    and ``I(X; Y) = -0.5 * dim * log2(1 - rho^2) = mi``.

    Parameters
    ----------
    n_samples
        Number of samples.
    dim
        Dimension of ``x`` and of ``y``.
    mi
        True MI in bits.
    use_torch
        Return torch tensors (default) or numpy arrays.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        float32, each ``(n_samples, dim)``.
    """
    check_int(n_samples, "n_samples", 1)
    x, y = _correlated_pairs(np.random.default_rng(seed), n_samples, dim, mi)
    return _output(x, use_torch), _output(y, use_torch)


def _softplus(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def _injective_map(
    rng: np.random.Generator,
    in_dim: int,
    out_dim: int,
    activations: tuple[Callable[[np.ndarray], np.ndarray], ...],
) -> Callable[[np.ndarray], np.ndarray]:
    """A fixed map ``R^in_dim -> R^out_dim`` (``out_dim >= in_dim``) that is injective.

    Each layer is ``u -> act(gain * Q u + b)`` with ``Q`` having orthonormal columns (so
    ``Q u`` is injective) and ``act`` strictly monotone elementwise (so injective); a
    composition of injective maps is injective.
    """
    layers = []
    width = in_dim
    for act in activations:
        q = np.linalg.qr(rng.standard_normal((out_dim, width)))[0]
        layers.append((q, rng.uniform(-0.5, 0.5, out_dim), act))
        width = out_dim

    def apply(z: np.ndarray) -> np.ndarray:
        for q, bias, act in layers:
            z = act(1.5 * z @ q.T + bias)
        return z

    return apply


def generate_nonlinear_from_latent(
    n_samples: int,
    latent_dim: int,
    observed_dim: int,
    mi: float,
    *,
    use_torch: bool = True,
    seed: int | None = 42,
) -> tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]:
    """Nonlinear, higher-dimensional observations of correlated Gaussian latents.

    Latents ``(zx, zy)`` are drawn as in :func:`generate_correlated_gaussians` with ``mi``
    bits.  Then ``x = f(zx)`` and ``y = g(zy)`` with two different fixed maps (the same for
    every call; ``seed`` only drives the samples), each two layers
    ``u -> act(1.5 * Q u + b)`` where ``Q`` has orthonormal columns and the activations are
    tanh then softplus for ``f`` and softplus then tanh for ``g``.  Orthonormal columns
    make ``Q u`` injective and the activations are strictly monotone, so ``f`` and ``g``
    are injective; MI is invariant under injective maps of each variable separately, hence
    ``I(X; Y) = I(Zx; Zy) = mi`` exactly.  ``use_torch`` and ``seed`` are keyword-only:
    NeuralMI 1.1's fifth positional argument was the width of its random maps, which these
    fixed maps do not have.

    Parameters
    ----------
    n_samples
        Number of samples.
    latent_dim
        Dimension of each latent.
    observed_dim
        Dimension of ``x`` and of ``y`` (``>= latent_dim``).
    mi
        True MI in bits.
    use_torch
        Return torch tensors (default) or numpy arrays.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        float32, each ``(n_samples, observed_dim)``.
    """
    check_int(n_samples, "n_samples", 1)
    check_int(latent_dim, "latent_dim", 1)
    check_int(observed_dim, "observed_dim", 1)
    if observed_dim < latent_dim:
        raise ParameterError(
            f"observed_dim={observed_dim} must be >= latent_dim={latent_dim} for the maps to "
            "be injective (and MI preserved)."
        )
    zx, zy = _correlated_pairs(np.random.default_rng(seed), n_samples, latent_dim, mi)
    map_rng = np.random.default_rng(_MAP_SEED)
    f = _injective_map(map_rng, latent_dim, observed_dim, (np.tanh, _softplus))
    g = _injective_map(map_rng, latent_dim, observed_dim, (_softplus, np.tanh))
    return _output(f(zx), use_torch), _output(g(zy), use_torch)


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


@_legacy_names(transition_probability="p_copy")
def generate_correlated_categorical_series(
    n_samples: int,
    n_channels: int = 1,
    n_categories: int = 3,
    p_copy: float = 0.9,
    use_torch: bool = True,
    seed: int | None = 42,
) -> tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]:
    """Label series where Y copies X with probability ``p_copy``.

    ``x`` is i.i.d. uniform on ``{0, ..., n_categories - 1}``; at each time and channel
    ``y = x`` with probability ``p_copy``, else a fresh uniform label (which may equal
    ``x`` by chance).  The per-sample, per-channel MI is :func:`categorical_mi_bits`.
    Argument order and defaults are NeuralMI 1.1's (whose name for ``p_copy``,
    ``transition_probability``, is accepted too); 1.1's ``x`` also kept its label from one
    time point to the next with probability 0.95, which made its MI unknown.

    Parameters
    ----------
    n_samples
        Number of time points.
    n_channels
        Independent channels.
    n_categories
        Number of labels ``K`` (>= 2).
    p_copy
        Copy probability in ``[0, 1]``.
    use_torch
        Return torch int64 tensors (default) or numpy int64 arrays.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y
        int64 ``(n_channels, n_samples)``.
    """
    check_int(n_samples, "n_samples", 1)
    check_int(n_channels, "n_channels", 1)
    _check_probability_and_k(n_categories, p_copy)
    rng = np.random.default_rng(seed)
    shape = (n_channels, n_samples)
    x = rng.integers(0, n_categories, shape)
    y = np.where(rng.random(shape) < p_copy, x, rng.integers(0, n_categories, shape))
    x, y = x.astype(np.int64), y.astype(np.int64)
    if not use_torch:
        return x, y
    import torch

    return torch.from_numpy(x), torch.from_numpy(y)


def _check_probability_and_k(n_categories: int, p_copy: float) -> None:
    check_int(n_categories, "n_categories", 2)
    check_number(p_copy, "p_copy", ge=0, le=1)


def categorical_mi_bits(n_categories: int, p_copy: float) -> float:
    """Exact MI (bits) per sample and channel of :func:`generate_correlated_categorical_series`.

    ``X`` and ``Y`` are both uniform, so ``I = log2 K - H(Y | X)`` where ``Y | X`` puts
    ``a = p + (1 - p) / K`` on ``X`` and ``b = (1 - p) / K`` on each other label:
    ``I = log2 K + a log2 a + (K - 1) b log2 b``.

    Parameters
    ----------
    n_categories
        Number of labels ``K``.
    p_copy
        Copy probability ``p``.

    Returns
    -------
    float
        MI in bits, in ``[0, log2 K]``.
    """
    from scipy.special import (
        xlogy,  # here, not at the top: the workflow's parse imports this module
    )

    _check_probability_and_k(n_categories, p_copy)
    k = n_categories
    a = p_copy + (1.0 - p_copy) / k
    b = (1.0 - p_copy) / k
    return float(math.log2(k) + (xlogy(a, a) + (k - 1) * xlogy(b, b)) / math.log(2.0))


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


def _series(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.float32)[None, :]


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


def generate_latent_factor_data(
    n_samples: int, latent_dim: int, n_channels: int, noise: float = 0.1, seed: int | None = 42
) -> np.ndarray:
    """Channels driven by a few shared latent factors, for the dimensionality analysis.

    ``data = A z + noise * e`` with ``latent_dim`` independent standard-normal factors
    ``z`` and a random mixing matrix ``A`` (``N(0, 1 / latent_dim)`` entries), so the
    channels span a ``latent_dim``-dimensional signal subspace.  Two halves of the channels
    share ``latent_dim`` dimensions of information; the log density ratio of the
    (Gaussian) halves is a rank-``latent_dim`` bilinear term plus a quadratic term in each
    half alone, which the dimensionality mode's critics represent with their marginal
    terms (see :class:`~neural_mi.models.SeparableCritic`).  The MI between halves grows
    fast as ``noise`` falls (for 4 factors over 20 channels about 12 bits at 0.1, 6.4 at
    0.3, 4 at 0.5); choose ``noise`` so that it stays measurable.

    Parameters
    ----------
    n_samples
        Number of time points.
    latent_dim
        Number of latent factors.
    n_channels
        Number of observed channels.
    noise
        Standard deviation of the independent per-channel noise.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    numpy.ndarray
        float32 ``(n_channels, n_samples)``.
    """
    check_int(n_samples, "n_samples", 1)
    check_int(latent_dim, "latent_dim", 1)
    check_int(n_channels, "n_channels", 1)
    check_number(noise, "noise", ge=0)
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((n_channels, latent_dim)) / math.sqrt(latent_dim)
    factors = rng.standard_normal((latent_dim, n_samples))
    data = mixing @ factors + noise * rng.standard_normal((n_channels, n_samples))
    return data.astype(np.float32)


def generate_conditional_gaussians(
    n_samples: int,
    dim: int = 1,
    cmi: float = 1.0,
    rho_xz: float = 0.6,
    rho_zy: float = 0.6,
    seed: int | None = 42,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jointly Gaussian X, Y and Z with exactly ``cmi`` bits of I(X;Y|Z).

    Per coordinate, ``z ~ N(0, 1)``, ``x = rho_xz z + sqrt(1 - rho_xz^2) e_x`` and
    ``y = rho_zy z + r e_x + s e_y`` with independent standard normal ``e_x``, ``e_y``,
    where ``r^2 = q (1 - rho_zy^2)``, ``s^2 = (1 - q)(1 - rho_zy^2)`` and
    ``q = 1 - 2^(-2 cmi / dim)``.  Given Z, the correlation of X and Y is ``sqrt(q)``, so
    ``I(X;Y|Z) = -0.5 dim log2(1 - q) = cmi``; ``I(Z;Y) = -0.5 dim log2(1 - rho_zy^2)``.
    With ``cmi = 0``, Y depends on X only through Z (X - Z - Y is a Markov chain) although
    ``I(X;Y) > 0`` whenever ``rho_xz`` and ``rho_zy`` are not 0.

    Parameters
    ----------
    n_samples
        Number of time points.
    dim
        Channels of each variable (independent copies).
    cmi
        I(X;Y|Z) in bits (total over the channels).
    rho_xz, rho_zy
        Correlation of each channel of X, and of Y, with the same channel of Z, in
        ``(-1, 1)``.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    x, y, z
        float32 arrays ``(dim, n_samples)`` (channels, time).
    """
    check_int(n_samples, "n_samples", 1)
    check_int(dim, "dim", 1)
    check_number(cmi, "cmi", ge=0)
    for value, name in ((rho_xz, "rho_xz"), (rho_zy, "rho_zy")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 < value < 1:
            raise ParameterError(f"{name} must be a number in (-1, 1), got {value!r}.")
    q = -math.expm1(-2.0 * cmi * math.log(2.0) / dim)
    rest = 1.0 - rho_zy**2
    rng = np.random.default_rng(seed)
    z, e_x, e_y = rng.standard_normal((3, dim, n_samples))
    x = rho_xz * z + math.sqrt(1.0 - rho_xz**2) * e_x
    y = rho_zy * z + math.sqrt(q * rest) * e_x + math.sqrt((1.0 - q) * rest) * e_y
    return x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)


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


def generate_block_channels(
    n_samples: int,
    n_blocks: int = 3,
    block_size: int = 4,
    mi: float = 0.7,
    seed: int | None = 42,
) -> np.ndarray:
    """Channels in independent blocks; any two channels of one block share ``mi`` bits.

    Channel ``i`` of block ``k`` is ``sqrt(rho) s_k + sqrt(1 - rho) e_i`` with independent
    standard normal block sources ``s_k`` and noises ``e_i``, so two channels of a block have
    correlation ``rho = rho_from_mi(mi, 1)`` and ``I = -0.5 log2(1 - rho^2) = mi``; channels
    of different blocks are independent (I = 0).  Channels are ordered block by block.

    Parameters
    ----------
    n_samples
        Number of time points.
    n_blocks, block_size
        Number of blocks and channels per block.
    mi
        MI in bits of any two channels of a block.
    seed
        Seed of the random generator (default 42, reproducible; ``None``: fresh draws).

    Returns
    -------
    numpy.ndarray
        float32 ``(n_blocks * block_size, n_samples)``.
    """
    check_int(n_samples, "n_samples", 1)
    check_int(n_blocks, "n_blocks", 1)
    check_int(block_size, "block_size", 1)
    rho = rho_from_mi(mi, 1)
    rng = np.random.default_rng(seed)
    sources = np.repeat(rng.standard_normal((n_blocks, n_samples)), block_size, axis=0)
    noise = rng.standard_normal((n_blocks * block_size, n_samples))
    return (math.sqrt(rho) * sources + math.sqrt(1.0 - rho) * noise).astype(np.float32)
