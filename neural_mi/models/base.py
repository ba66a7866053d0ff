"""Base classes of embeddings and critics.

An *embedding* maps one variable's samples, a float tensor of shape
``(batch, n_channels, n_features)``, to vectors of shape ``(batch, embed_dim)``.
A *critic* scores every pair of samples of X and Y: ``scores[i, j] = f(x_i, y_j)``, so the
diagonal holds the positive (jointly drawn) pairs and the off-diagonal entries stand in for
samples of the product of the marginals.
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn


def _module_device(module: nn.Module) -> torch.device:
    """Device of a module's first parameter or buffer (CPU if it has neither)."""
    for parameter in module.parameters():
        return parameter.device
    for buffer in module.buffers():
        return buffer.device
    return torch.device("cpu")


class BaseEmbedding(nn.Module, abc.ABC):
    """Maps ``(batch, n_channels, n_features)`` to ``(batch, embed_dim)``.

    Subclasses call ``super().__init__(embed_dim)`` and implement :meth:`forward`.  A
    stochastic (variational) subclass stores the KL term of its last forward pass in
    ``self._kl`` and overrides :meth:`mean_embedding`.

    Parameters
    ----------
    embed_dim
        Size of the output vectors.  It may be left out (``super().__init__()``, as in
        NeuralMI 1.1) by an embedding used inside a custom critic or through
        ``custom_embedding_cls``; :class:`~neural_mi.models.SeparableCritic` and
        :class:`~neural_mi.models.BilinearCritic` need it.
    """

    def __init__(self, embed_dim: int | None = None) -> None:
        super().__init__()
        self.embed_dim = None if embed_dim is None else int(embed_dim)
        self._kl: Tensor | None = None

    @abc.abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """Embed a batch.

        Parameters
        ----------
        x
            Shape ``(batch, n_channels, n_features)``.

        Returns
        -------
        Tensor
            Shape ``(batch, embed_dim)``.
        """

    @property
    def kl(self) -> Tensor:
        """KL term (nats, scalar tensor) of the last forward pass; zero if deterministic."""
        if self._kl is None:
            return torch.zeros((), device=_module_device(self))
        return self._kl

    def mean_embedding(self, x: Tensor) -> Tensor:
        """Deterministic embedding of ``x`` (the mean for a variational embedding).

        Parameters
        ----------
        x
            Shape ``(batch, n_channels, n_features)``.

        Returns
        -------
        Tensor
            Shape ``(batch, embed_dim)``.
        """
        return self(x)


class BaseCritic(nn.Module, abc.ABC):
    """Scores every ``(x_i, y_j)`` pair of a batch.

    Critics built from two embeddings (separable, bilinear) also provide
    ``embed(x, y) -> (zx, zy)`` with ``scores = zx @ zy.T`` in eval mode.
    """

    @abc.abstractmethod
    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Score all pairs.

        Parameters
        ----------
        x
            Shape ``(batch, n_channels_x, n_features_x)``.
        y
            Shape ``(batch, n_channels_y, n_features_y)``.

        Returns
        -------
        scores : Tensor
            Shape ``(batch, batch)``; ``scores[i, j] = f(x_i, y_j)``.
        kl : Tensor
            Scalar; summed KL term of the variational embeddings (zero if none).
        """
