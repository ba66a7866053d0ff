"""Gaussian samples with known MI: correlated pairs, their nonlinear images, latent factors,
conditional and block-structured channels."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ParameterError
from ..params import check_int, check_number
from ._common import _output

if TYPE_CHECKING:  # torch is imported only when a tensor is asked for (workflow parse time)
    import torch


#: Seed of the fixed nonlinear maps of :func:`generate_nonlinear_from_latent`, so that the
#: maps are the same for every call (the ``seed`` argument only drives the samples).
_MAP_SEED = 1729


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
