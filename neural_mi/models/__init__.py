"""Embeddings and critics: small torch modules scoring pairs of samples of X and Y.

Data reaching a model is a float tensor of shape ``(batch, n_channels, n_features)``.
:func:`build_critic` turns ``base_params`` into a critic; :class:`BaseEmbedding` is the
class to subclass for a custom embedding.
"""

from .base import BaseCritic, BaseEmbedding
from .build import EMBEDDINGS, build_critic
from .critics import BilinearCritic, ConcatCritic, SeparableCritic
from .embeddings import (
    CNNEmbedding,
    GRUEmbedding,
    LSTMEmbedding,
    MLPEmbedding,
    TCNEmbedding,
    TransformerEmbedding,
    VariationalMLPEmbedding,
    make_mlp,
)

__all__ = [
    "EMBEDDINGS",
    "BaseCritic",
    "BaseEmbedding",
    "BilinearCritic",
    "CNNEmbedding",
    "ConcatCritic",
    "GRUEmbedding",
    "LSTMEmbedding",
    "MLPEmbedding",
    "SeparableCritic",
    "TCNEmbedding",
    "TransformerEmbedding",
    "VariationalMLPEmbedding",
    "build_critic",
    "make_mlp",
]
