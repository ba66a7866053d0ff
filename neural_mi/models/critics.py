"""Critics: functions ``f(x, y)`` evaluated on every pair of a batch.

``SeparableCritic`` and ``BilinearCritic`` embed X and Y separately and score pairs by a
(bilinear) inner product; ``ConcatCritic`` runs one MLP on each concatenated pair.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ParameterError
from .base import BaseCritic, BaseEmbedding
from .embeddings import make_mlp


class SeparableCritic(BaseCritic):
    """``scores = embed_x(x) @ embed_y(y).T``, optionally plus marginal terms.

    With ``marginal=True`` each embedding gives one output more than the critic's
    :attr:`embed_dim`; that last output is a scalar term of its variable alone, and
    ``scores[i, j] = zx_i . zy_j + a(x_i) + b(y_j)``.  The log density ratio of jointly
    Gaussian variables sharing ``k`` dimensions is a rank-``k`` bilinear term plus a
    quadratic term in each variable alone; without the marginal terms a separable critic
    spends one (InfoNCE) or two (SMILE, NWJ) embedding dimensions on those, so the MI
    levels off at ``k + 1`` or ``k + 2``.  With them, ``embed_dim`` counts only the
    dimensions of the interaction (the dimensionality mode uses this).

    Parameters
    ----------
    embed_x, embed_y
        Embeddings of X and Y with the same ``embed_dim`` (``embed_dim + 1`` outputs each
        when ``marginal``).
    marginal
        Read the last output of each embedding as a marginal term.
    """

    def __init__(
        self, embed_x: BaseEmbedding, embed_y: BaseEmbedding, marginal: bool = False
    ) -> None:
        super().__init__()
        for name, embedding in (("embed_x", embed_x), ("embed_y", embed_y)):
            if getattr(embedding, "embed_dim", None) is None:
                raise ParameterError(
                    f"{type(self).__name__}: {name} ({type(embedding).__name__}) does not say "
                    "its output size; call super().__init__(embed_dim) in its __init__."
                )
        self.embed_x = embed_x
        self.embed_y = embed_y
        self.marginal = marginal
        self.embed_dim = int(embed_x.embed_dim or 0) - int(marginal)  # not None: checked

    def _pair(self, zx: Tensor, zy: Tensor) -> tuple[Tensor, Tensor]:
        """Map the two embeddings so that ``scores = zx @ zy.T``."""
        return zx, zy

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Scores ``(batch, batch)`` and the summed KL term (scalar) of both embeddings."""
        zx, zy = self.embed_x(x), self.embed_y(y)
        kl = self.embed_x.kl + self.embed_y.kl
        if not self.marginal:
            zx, zy = self._pair(zx, zy)
            return zx @ zy.T, kl
        (zx, a), (zy, b) = self._split(zx), self._split(zy)
        zx, zy = self._pair(zx, zy)
        return zx @ zy.T + a[:, None] + b[None, :], kl

    def _split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z[:, : self.embed_dim], z[:, self.embed_dim]

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Deterministic embeddings ``(zx, zy)``, each ``(batch, embed_dim)``.

        Variational embeddings give their means.  In eval mode ``zx @ zy.T`` equals the
        scores of :meth:`forward` (less the marginal terms, if any).
        """
        zx, zy = self.embed_x.mean_embedding(x), self.embed_y.mean_embedding(y)
        if self.marginal:
            zx, zy = self._split(zx)[0], self._split(zy)[0]
        return self._pair(zx, zy)


class BilinearCritic(SeparableCritic):
    """``scores = embed_x(x) @ W @ embed_y(y).T`` with a learnable ``W``.

    ``W`` (``embed_dim × embed_dim``) starts as the identity, so training starts from the
    separable critic.  :meth:`embed` returns ``(zx, zy @ W.T)`` so that
    ``scores = zx @ zy.T`` holds for it as for the separable critic.

    Parameters
    ----------
    embed_x, embed_y, marginal
        As for :class:`SeparableCritic`.
    """

    def __init__(
        self, embed_x: BaseEmbedding, embed_y: BaseEmbedding, marginal: bool = False
    ) -> None:
        super().__init__(embed_x, embed_y, marginal)
        self.weight = nn.Parameter(torch.eye(self.embed_dim))

    def _pair(self, zx: Tensor, zy: Tensor) -> tuple[Tensor, Tensor]:
        return zx, zy @ self.weight.T


class ConcatCritic(BaseCritic):
    """``scores[i, j] = MLP([flatten(x_i), flatten(y_j)])`` for every pair, without loops.

    The first layer of an MLP on a concatenation is ``W_x x_i + W_y y_j + b``, so it is
    computed once per sample and broadcast to ``(batch, batch, hidden_dim)``; this equals
    building the ``(batch, batch, d_x + d_y)`` pair tensor but needs less memory.

    Parameters
    ----------
    input_shape_x, input_shape_y
        ``(n_channels, n_features)`` of X and Y.
    hidden_dim
        Hidden width.
    n_layers
        Number of hidden layers (at least 1).
    """

    def __init__(
        self,
        input_shape_x: tuple[int, int],
        input_shape_y: tuple[int, int],
        hidden_dim: int,
        n_layers: int,
    ) -> None:
        super().__init__()
        dim_x = input_shape_x[0] * input_shape_x[1]
        dim_y = input_shape_y[0] * input_shape_y[1]
        self.first = nn.Linear(dim_x + dim_y, hidden_dim)
        self.dim_x = dim_x
        self.rest = make_mlp(hidden_dim, hidden_dim, 1, n_layers - 1)

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Scores ``(batch, batch)`` and a zero KL term."""
        w_x, w_y = self.first.weight[:, : self.dim_x], self.first.weight[:, self.dim_x :]
        hx = x.flatten(1) @ w_x.T  # (batch, hidden)
        hy = y.flatten(1) @ w_y.T + self.first.bias  # (batch, hidden)
        hidden = torch.relu(hx[:, None, :] + hy[None, :, :])  # (batch, batch, hidden)
        return self.rest(hidden).squeeze(-1), torch.zeros((), device=x.device)
