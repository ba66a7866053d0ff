"""Built-in embeddings, all made of PyTorch's own layers.

Every class is constructed as ``Cls(input_shape, hidden_dim, embed_dim, n_layers, **kw)``
with ``input_shape = (n_channels, n_features)`` and maps a float tensor of shape
``(batch, n_channels, n_features)`` to ``(batch, embed_dim)``.  Sequence models read the
``n_features`` axis as time steps and the channels as the features of each step, so they
also work on single-step windows (``n_features == 1``).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn

from ..errors import ParameterError
from .base import BaseEmbedding

#: ``alpha`` of the CELU activation of MLP embeddings (see :func:`make_mlp`).
CELU_ALPHA = 2.0


def make_mlp(in_dim: int, hidden_dim: int, out_dim: int, n_layers: int) -> nn.Sequential:
    """``n_layers`` hidden ``(Linear, CELU)`` blocks of width ``hidden_dim``, then ``Linear``.

    The activation is ``CELU(alpha=2)`` (:data:`CELU_ALPHA`): smooth, linear for positive
    inputs and saturating at ``-alpha`` for negative ones.  It was chosen by measurement
    (``nmi.run`` estimates, seeds 0-4, split 'random', mean absolute error in bits):

    =========================  =========  =========  ===========  =========
    activation                 Gauss 0.5  Gauss 2.0  Gauss 4.0    latent
    =========================  =========  =========  ===========  =========
    CELU(alpha=2)              0.040      0.076      0.136        0.222
    SiLU                       0.040      0.077      0.132        0.40
    ELU                        0.040      0.081      0.152        0.230
    tanh                                             0.188        0.278
    SELU                                             0.184        0.272
    =========================  =========  =========  ===========  =========

    (Gauss: ``generate_correlated_gaussians(5000, 5, mi)`` with the seed tutorial's
    parameters; latent: ``generate_nonlinear_from_latent(2500, 10, 100, 3.0)`` with hidden
    256 x 3.)  With saturating negative parts the wide critics of the latent benchmark also
    peak on held-out data about twice as early (epoch ~25 rather than ~55) and overfit
    less; ReLU, GELU and softplus did worse than SiLU there.

    Parameters
    ----------
    in_dim, hidden_dim, out_dim
        Input width, hidden width and output width.
    n_layers
        Number of hidden layers (0 gives a single linear map).

    Returns
    -------
    nn.Sequential
        Maps ``(..., in_dim)`` to ``(..., out_dim)``.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden_dim), nn.CELU(CELU_ALPHA)]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MLPEmbedding(BaseEmbedding):
    """Flatten, then ``n_layers`` hidden ``(Linear, CELU)`` layers, then ``Linear``.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``.
    hidden_dim, embed_dim
        Hidden width and output size.
    n_layers
        Number of hidden layers.
    """

    def __init__(
        self, input_shape: tuple[int, int], hidden_dim: int, embed_dim: int, n_layers: int
    ) -> None:
        super().__init__(embed_dim)
        n_channels, n_features = input_shape
        self.net = make_mlp(n_channels * n_features, hidden_dim, embed_dim, n_layers)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, C, F)`` → ``(batch, embed_dim)``."""
        return self.net(x.flatten(1))


class VariationalMLPEmbedding(BaseEmbedding):
    """MLP giving a diagonal Gaussian ``N(mean, exp(log_var))`` per sample.

    In training mode :meth:`forward` returns a reparameterised sample, in eval mode the
    mean.  Each forward pass stores the KL divergence to ``N(0, I)`` (summed over
    dimensions, averaged over the batch, in nats), read through :attr:`kl`.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``.
    hidden_dim, embed_dim
        Hidden width and output size.
    n_layers
        Number of hidden layers of the shared trunk.
    """

    def __init__(
        self, input_shape: tuple[int, int], hidden_dim: int, embed_dim: int, n_layers: int
    ) -> None:
        super().__init__(embed_dim)
        n_channels, n_features = input_shape
        self.net = make_mlp(n_channels * n_features, hidden_dim, 2 * embed_dim, n_layers)

    def _mean_log_var(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, log_var = self.net(x.flatten(1)).chunk(2, dim=-1)
        return mean, log_var

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, C, F)`` → ``(batch, embed_dim)``; also stores the KL term."""
        mean, log_var = self._mean_log_var(x)
        self._kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1).mean()
        if not self.training:
            return mean
        return mean + torch.randn_like(mean) * (0.5 * log_var).exp()

    def mean_embedding(self, x: Tensor) -> Tensor:
        """Mean of the posterior, shape ``(batch, embed_dim)``; leaves :attr:`kl` alone."""
        return self._mean_log_var(x)[0]


class CNNEmbedding(BaseEmbedding):
    """``n_layers`` length-preserving ``Conv1d`` + ReLU over the feature axis, mean pool, Linear.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``; channels are the convolution's input channels.
    hidden_dim, embed_dim
        Number of convolution channels and output size.
    n_layers
        Number of convolution layers.
    kernel_size
        Convolution kernel length (any length; the input is zero-padded to keep its size).
    """

    def __init__(
        self,
        input_shape: tuple[int, int],
        hidden_dim: int,
        embed_dim: int,
        n_layers: int,
        kernel_size: int = 3,
    ) -> None:
        super().__init__(embed_dim)
        n_channels, _ = input_shape
        left = (kernel_size - 1) // 2
        layers: list[nn.Module] = []
        width = n_channels
        for _ in range(n_layers):
            layers += [
                nn.ZeroPad1d((left, kernel_size - 1 - left)),
                nn.Conv1d(width, hidden_dim, kernel_size),
                nn.ReLU(),
            ]
            width = hidden_dim
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(width, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, C, F)`` → ``(batch, embed_dim)``."""
        return self.head(self.convs(x).mean(-1))


class TCNEmbedding(BaseEmbedding):
    """Temporal convolutional network: residual causal convolutions with dilation ``2**i``.

    A 1×1 convolution lifts the channels to ``hidden_dim``; block ``i`` adds
    ``ReLU(causal_conv_i(h))`` to ``h``; the last time step goes through a Linear head.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``; the feature axis is time.
    hidden_dim, embed_dim
        Number of convolution channels and output size.
    n_layers
        Number of residual blocks; the receptive field is
        ``(kernel_size - 1) * (2**n_layers - 1) + 1`` steps.
    kernel_size
        Convolution kernel length.
    """

    def __init__(
        self,
        input_shape: tuple[int, int],
        hidden_dim: int,
        embed_dim: int,
        n_layers: int,
        kernel_size: int = 3,
    ) -> None:
        super().__init__(embed_dim)
        n_channels, _ = input_shape
        self.lift = nn.Conv1d(n_channels, hidden_dim, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.ZeroPad1d(((kernel_size - 1) * 2**i, 0)),
                nn.Conv1d(hidden_dim, hidden_dim, kernel_size, dilation=2**i),
                nn.ReLU(),
            )
            for i in range(n_layers)
        )
        self.head = nn.Linear(hidden_dim, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, C, F)`` → ``(batch, embed_dim)``."""
        h = self.lift(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h[..., -1])


class _RecurrentEmbedding(BaseEmbedding):
    """Shared code of the GRU and LSTM embeddings."""

    rnn_cls: type[nn.GRU | nn.LSTM]

    def __init__(
        self,
        input_shape: tuple[int, int],
        hidden_dim: int,
        embed_dim: int,
        n_layers: int,
        bidirectional: bool = False,
    ) -> None:
        super().__init__(embed_dim)
        n_channels, _ = input_shape
        self.rnn = self.rnn_cls(
            n_channels,
            hidden_dim,
            num_layers=n_layers,
            batch_first=True,
            bidirectional=bidirectional,
        )
        self.n_directions = 2 if bidirectional else 1
        self.head = nn.Linear(self.n_directions * hidden_dim, embed_dim)

    @abc.abstractmethod
    def _final_hidden(self, x: Tensor) -> Tensor:
        """Final hidden states ``(n_layers * n_directions, batch, hidden)`` of ``(batch, F, C)``."""

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, C, F)`` → ``(batch, embed_dim)`` from the last layer's final state(s)."""
        h_n = self._final_hidden(x.transpose(1, 2))  # (layers * dirs, batch, hidden)
        last = h_n[-self.n_directions :]  # (dirs, batch, hidden)
        return self.head(last.transpose(0, 1).flatten(1))


class GRUEmbedding(_RecurrentEmbedding):
    """GRU over the ``n_features`` steps (``n_channels`` inputs per step), final state → Linear.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``.
    hidden_dim, embed_dim
        GRU state size and output size.
    n_layers
        Number of stacked GRU layers.
    bidirectional
        Also run backwards and concatenate both final states.
    """

    rnn_cls = nn.GRU

    def _final_hidden(self, x: Tensor) -> Tensor:
        return self.rnn(x)[1]


class LSTMEmbedding(_RecurrentEmbedding):
    """LSTM over the ``n_features`` steps (``n_channels`` inputs per step), final state → Linear.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``.
    hidden_dim, embed_dim
        LSTM state size and output size.
    n_layers
        Number of stacked LSTM layers.
    bidirectional
        Also run backwards and concatenate both final hidden states.
    """

    rnn_cls = nn.LSTM

    def _final_hidden(self, x: Tensor) -> Tensor:
        return self.rnn(x)[1][0]


class TransformerEmbedding(BaseEmbedding):
    """Per-step Linear + learned positional embedding + Transformer encoder, mean pool, Linear.

    Parameters
    ----------
    input_shape
        ``(n_channels, n_features)``; each of the ``n_features`` steps is a token of
        ``n_channels`` values.
    hidden_dim, embed_dim
        Token width (model dimension) and output size.
    n_layers
        Number of encoder layers (feed-forward width ``2 * hidden_dim``, no dropout).
    nhead
        Number of attention heads; must divide ``hidden_dim``.

    Raises
    ------
    ParameterError
        If ``hidden_dim`` is not divisible by ``nhead``.
    """

    def __init__(
        self,
        input_shape: tuple[int, int],
        hidden_dim: int,
        embed_dim: int,
        n_layers: int,
        nhead: int = 4,
    ) -> None:
        super().__init__(embed_dim)
        if hidden_dim % nhead:
            raise ParameterError(
                f"Transformer embedding: hidden_dim={hidden_dim} must be divisible by "
                f"nhead={nhead}."
            )
        n_channels, n_features = input_shape
        self.token = nn.Linear(n_channels, hidden_dim)
        self.position = nn.Parameter(torch.randn(n_features, hidden_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            hidden_dim, nhead, dim_feedforward=2 * hidden_dim, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden_dim, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, C, F)`` → ``(batch, embed_dim)``."""
        tokens = self.token(x.transpose(1, 2)) + self.position
        return self.head(self.encoder(tokens).mean(1))
