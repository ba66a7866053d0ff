"""Build a critic from complete ``base_params`` and the shapes of X and Y."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ParameterError
from .base import BaseCritic, BaseEmbedding
from .critics import BilinearCritic, ConcatCritic, SeparableCritic
from .embeddings import (
    CNNEmbedding,
    GRUEmbedding,
    LSTMEmbedding,
    MLPEmbedding,
    TCNEmbedding,
    TransformerEmbedding,
    VariationalMLPEmbedding,
)

logger = logging.getLogger(__name__)

#: Built-in embedding classes (constructed as ``cls(input_shape, hidden_dim, embed_dim,
#: n_layers, **extra)``) and the base_params keys each takes beyond the common four.
EMBEDDINGS: dict[str, tuple[Callable[..., BaseEmbedding], tuple[str, ...]]] = {
    "mlp": (MLPEmbedding, ()),
    "cnn": (CNNEmbedding, ("kernel_size",)),
    "tcn": (TCNEmbedding, ("kernel_size",)),
    "gru": (GRUEmbedding, ("bidirectional",)),
    "lstm": (LSTMEmbedding, ("bidirectional",)),
    "transformer": (TransformerEmbedding, ("nhead",)),
}

_PROBE_BATCH = 2


class _FlatCustomEmbedding(BaseEmbedding):
    """Adapter giving a user class the flattened ``(batch, C*F)`` input.

    The user module's ``kl`` (attribute, property or method) is used if it has one,
    else the KL term is zero.
    """

    def __init__(self, inner: nn.Module, embed_dim: int) -> None:
        super().__init__(embed_dim)
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(x.flatten(1))

    @property
    def kl(self) -> Tensor:
        kl = getattr(self.inner, "kl", None)
        if callable(kl):
            kl = kl()
        zero = super().kl
        return zero if kl is None else zero + kl

    def mean_embedding(self, x: Tensor) -> Tensor:
        if isinstance(self.inner, BaseEmbedding):
            return self.inner.mean_embedding(x.flatten(1))
        return self(x)


def _custom_embedding(
    cls: type, shape: tuple[int, int], hidden_dim: int, embed_dim: int, n_layers: int, variable: str
) -> _FlatCustomEmbedding:
    """Construct a user embedding class and check it on a probe batch."""
    name = getattr(cls, "__name__", repr(cls))
    input_dim = shape[0] * shape[1]
    call = (
        f"{name}(input_dim={input_dim}, hidden_dim={hidden_dim}, embed_dim={embed_dim}, "
        f"n_layers={n_layers})"
    )
    try:
        inner = cls(input_dim, hidden_dim, embed_dim, n_layers)
    except Exception as err:
        raise ParameterError(
            f"custom_embedding_cls: constructing {call} for {variable} "
            f"failed: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(inner, nn.Module):
        raise ParameterError(
            f"custom_embedding_cls: {call} returned a "
            f"{type(inner).__name__}, expected a torch.nn.Module."
        )
    module = _FlatCustomEmbedding(inner, embed_dim)
    expected = (_PROBE_BATCH, embed_dim)
    probe = torch.randn(_PROBE_BATCH, *shape, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            out = module(probe)
    except Exception as err:
        raise ParameterError(
            f"custom_embedding_cls: {name} failed on a probe batch of shape "
            f"{(_PROBE_BATCH, input_dim)} for {variable}: {type(err).__name__}: {err}. "
            f"It must map (batch, {input_dim}) to (batch, {embed_dim})."
        ) from err
    if not isinstance(out, Tensor) or tuple(out.shape) != expected:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ParameterError(
            f"custom_embedding_cls: {name} returned {got} for {variable} on a probe batch of "
            f"shape {(_PROBE_BATCH, input_dim)}; expected shape {expected}, i.e. "
            f"(batch, embedding_dim)."
        )
    return module


def _builtin_embedding(params: Mapping[str, Any], shape: tuple[int, int]) -> BaseEmbedding:
    """Construct the built-in embedding named by ``params['embedding_model']``."""
    common = (shape, params["hidden_dim"], params["embedding_dim"], params["n_layers"])
    if params["use_variational"]:
        return VariationalMLPEmbedding(*common)
    cls, extra = EMBEDDINGS[params["embedding_model"]]
    return cls(*common, **{key: params[key] for key in extra})


def _shape(shape: Sequence[int]) -> tuple[int, int]:
    """``(n_channels, n_features)`` as a tuple (a list, e.g. read from JSON, works too)."""
    n_channels, n_features = shape
    return n_channels, n_features


def _check_combination(params: Mapping[str, Any], custom: bool) -> None:
    critic = params["critic_type"]
    model = params["embedding_model"]
    if critic == "concat" and (custom or model != "mlp" or params["use_variational"]):
        what = (
            "a custom_embedding_cls"
            if custom
            else "use_variational=True"
            if params["use_variational"]
            else f"embedding_model={model!r}"
        )
        raise ParameterError(
            f"critic_type='concat' cannot be combined with {what}: the concat critic is one "
            "MLP on the concatenated inputs and uses no embedding. Use critic_type "
            "'separable' or 'bilinear', or embedding_model='mlp' without use_variational."
        )
    if params["use_variational"] and (custom or model != "mlp"):
        what = "a custom_embedding_cls" if custom else f"embedding_model={model!r}"
        raise ParameterError(
            f"use_variational=True is only available with embedding_model='mlp', not with {what}."
        )


def build_critic(
    base_params: Mapping[str, Any],
    x_shape: Sequence[int],
    y_shape: Sequence[int],
    custom_embedding_cls: type | None = None,
    marginal_terms: bool = False,
) -> BaseCritic:
    """Build the critic described by ``base_params`` for data of the given shapes.

    Parameters
    ----------
    base_params
        Complete, validated base parameters (see
        :func:`neural_mi.params.resolve_base_params`); uses ``embedding_model``,
        ``critic_type``, ``hidden_dim``, ``embedding_dim``, ``n_layers``,
        ``use_variational``, ``kernel_size``, ``bidirectional`` and ``nhead``.
    x_shape, y_shape
        ``(n_channels, n_features)`` of one sample of X and of Y.
    custom_embedding_cls
        Optional user class used for both X and Y instead of ``embedding_model``,
        constructed as ``cls(input_dim, hidden_dim, embed_dim, n_layers)`` with
        ``input_dim = n_channels * n_features``; it receives the flattened
        ``(batch, input_dim)`` input and must return ``(batch, embed_dim)``.  Its ``kl``
        (if any) is added to the critic's KL term.
    marginal_terms
        Give separable and bilinear critics a scalar term per variable (see
        :class:`~neural_mi.models.SeparableCritic`): their embeddings are built with
        ``embedding_dim + 1`` outputs.  No effect on the concat critic, which scores
        pairs jointly anyway.

    Returns
    -------
    BaseCritic
        On the CPU, in training mode.

    Raises
    ------
    ParameterError
        On an unsupported combination (variational with a non-MLP embedding, concat with
        an embedding), or if the custom class fails to construct or returns the wrong
        shape on a probe batch.
    """
    custom = custom_embedding_cls is not None
    _check_combination(base_params, custom)
    shapes = {"X": _shape(x_shape), "Y": _shape(y_shape)}
    if base_params["critic_type"] == "concat":
        return ConcatCritic(
            shapes["X"], shapes["Y"], base_params["hidden_dim"], base_params["n_layers"]
        )
    params = dict(base_params)
    params["embedding_dim"] += int(marginal_terms)
    embeddings: list[BaseEmbedding] = []
    for variable, shape in shapes.items():
        if custom_embedding_cls is not None:
            embeddings.append(
                _custom_embedding(
                    custom_embedding_cls,
                    shape,
                    params["hidden_dim"],
                    params["embedding_dim"],
                    params["n_layers"],
                    variable,
                )
            )
        else:
            embeddings.append(_builtin_embedding(params, shape))
    critic_cls = BilinearCritic if params["critic_type"] == "bilinear" else SeparableCritic
    critic = critic_cls(embeddings[0], embeddings[1], marginal=marginal_terms)
    logger.debug(
        "Built %s with %d parameters for X %s, Y %s.",
        type(critic).__name__,
        sum(p.numel() for p in critic.parameters()),
        x_shape,
        y_shape,
    )
    return critic
