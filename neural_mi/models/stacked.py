"""Several MLP critics as one set of stacked weights: the fast path of training.

The default critic (separable or bilinear, with :class:`~neural_mi.models.MLPEmbedding`
for X and Y) is a handful of small matrix products.  Run through ``nn.Module`` calls, a
training step of such a critic costs far more in per-operation overhead than in
arithmetic.  :class:`StackedMLPCritics` holds the weights of ``M`` such critics with a
leading *slot* axis and evaluates every layer of every MLP with one batched product
(``torch.baddbmm``):

- when X and Y have the same input size, the X and Y embeddings of every critic share one
  stack of ``2M`` slots (``x_0..x_{M-1}, y_0..y_{M-1}``), so a step of one critic runs
  each layer once instead of twice; otherwise X and Y have a stack of ``M`` slots each;
- each critic keeps its own initial weights (copied from the built module; a bilinear
  critic's ``W`` is one more stacked tensor), its own samples and its own optimiser
  state; the critics only share kernel calls.

Per-critic arithmetic does not depend on how many critics share the stacks (on the CPU,
with one torch thread): batched products and row-wise reductions treat every slot alike,
and the optimiser updates every slot as its own tensor.  The one trap is element-wise
kernels (the activation and its gradient): PyTorch runs them over a whole tensor with a
vectorised body and a scalar tail of a few elements, which round differently, so a slot's last
elements could land in the tail in one stack and in the body in another.  The activation
is therefore applied to the whole stack only when each slot holds a multiple of
:data:`ELEMENTWISE_MULTIPLE` elements (no slot straddles a tail), and slot by slot
otherwise.  Hence a critic trained alone and the same critic trained next to others give
bit-identical numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ParameterError
from .critics import BilinearCritic, SeparableCritic
from .embeddings import CELU_ALPHA, MLPEmbedding

#: Element-wise CPU kernels advance 2 vectors at a time (2 x 16 float32 lanes with
#: AVX-512); a slot of a multiple of this many elements never meets the scalar tail.
ELEMENTWISE_MULTIPLE = 32


def stackable(critic: nn.Module) -> bool:
    """Whether ``critic`` can be trained by :class:`StackedMLPCritics`.

    True for a :class:`SeparableCritic` or :class:`BilinearCritic` (exactly these classes)
    without marginal terms whose two embeddings are plain :class:`MLPEmbedding` instances
    with equal output size.
    """
    return _mlp_embeddings(critic) is not None


def _mlp_embeddings(critic: nn.Module) -> tuple[MLPEmbedding, MLPEmbedding] | None:
    """The X and Y embeddings of a critic accepted by :func:`stackable`, else None."""
    if (
        not isinstance(critic, SeparableCritic)
        or type(critic) not in (SeparableCritic, BilinearCritic)
        or critic.marginal
    ):
        return None
    x, y = critic.embed_x, critic.embed_y
    if type(x) is not MLPEmbedding or type(y) is not MLPEmbedding or x.embed_dim != y.embed_dim:
        return None
    return x, y


def _linears(embedding: MLPEmbedding) -> list[nn.Linear]:
    return [m for m in embedding.net if isinstance(m, nn.Linear)]


def _widths(embedding: MLPEmbedding) -> tuple[int, ...]:
    layers = _linears(embedding)
    return (layers[0].in_features, *(layer.out_features for layer in layers))


def _grad(parameter: Tensor) -> Tensor:
    """The gradient buffer of a stacked parameter (allocated by ``_init_grads``)."""
    if parameter.grad is None:
        raise RuntimeError("a stacked parameter lost its gradient buffer")
    return parameter.grad


def _activation(h: Tensor) -> Tensor:
    """CELU of a stack ``(slots, ...)`` with per-slot arithmetic independent of ``slots``."""
    if h[0].numel() % ELEMENTWISE_MULTIPLE == 0:
        return F.celu(h, CELU_ALPHA)
    return torch.stack([F.celu(slot, CELU_ALPHA) for slot in h.unbind(0)])


class StackedMLPCritics:
    """``M`` separable/bilinear MLP critics with stacked weights (see the module docstring).

    Parameters
    ----------
    critics
        Critics accepted by :func:`stackable`, all with the same layer widths and class.
    device
        Where the stacked weights live.

    Attributes
    ----------
    n_models
        Number of critics currently stacked (shrinks with :meth:`keep`).
    joint
        True when X and Y share one stack of ``2 * n_models`` slots.
    params
        The stacked weights (leaf tensors with ``requires_grad``), each with a leading slot
        axis; their ``.grad`` buffers are allocated once and accumulated into in place.
    """

    def __init__(self, critics: Sequence[nn.Module], device: torch.device) -> None:
        first = critics[0]
        embeddings = [_mlp_embeddings(critic) for critic in critics]
        pairs = [pair for pair in embeddings if pair is not None]
        if len(pairs) < len(critics) or any(
            type(critic) is not type(first)
            or (_widths(x), _widths(y)) != (_widths(pairs[0][0]), _widths(pairs[0][1]))
            for critic, (x, y) in zip(critics, pairs)
        ):
            raise ParameterError(
                "StackedMLPCritics needs separable or bilinear critics with MLP "
                "embeddings, all of one class and with the same layer widths."
            )
        self.n_models = len(critics)
        self.bilinear = isinstance(first, BilinearCritic)
        self.joint = _widths(pairs[0][0]) == _widths(pairs[0][1])
        with torch.no_grad():
            if self.joint:
                stacks = [self._stack([x for x, _ in pairs] + [y for _, y in pairs])]
            else:
                stacks = [self._stack([x for x, _ in pairs]), self._stack([y for _, y in pairs])]
            # All critics are of one class: bilinear ones all, or none.
            bilinear = [c.weight.T for c in critics if isinstance(c, BilinearCritic)]
            extra = [torch.stack(bilinear)] if self.bilinear else []
        self._n_layers = [len(s) // 2 for s in stacks]
        self.params = [t.to(device).requires_grad_() for s in stacks for t in s] + [
            t.to(device).requires_grad_() for t in extra
        ]
        self._init_grads()

    @staticmethod
    def _stack(embeddings: Sequence[MLPEmbedding]) -> list[Tensor]:
        """``[W_1, ..., W_L, b_1, ..., b_L]`` with ``W_l`` of shape ``(S, in, out)`` (the
        transposed ``nn.Linear`` weights) and ``b_l`` of shape ``(S, 1, out)``."""
        layers = [_linears(embedding) for embedding in embeddings]
        weights = [
            torch.stack([slot[i].weight.T for slot in layers]).contiguous()
            for i in range(len(layers[0]))
        ]
        biases = [
            torch.stack([slot[i].bias[None] for slot in layers]) for i in range(len(layers[0]))
        ]
        return weights + biases

    def _init_grads(self) -> None:
        """Give every parameter a gradient buffer: views of one flat, zeroed buffer."""
        flat = torch.zeros(sum(p.numel() for p in self.params), device=self.params[0].device)
        start = 0
        for p in self.params:
            p.grad = flat[start : start + p.numel()].view_as(p)
            start += p.numel()
        self._flat_grad = flat

    def zero_grad(self) -> None:
        """Zero the gradient buffers in place (one kernel; views of them stay valid)."""
        self._flat_grad.zero_()

    def slot_views(self) -> tuple[list[Tensor], list[Tensor]]:
        """Per-slot views of every parameter and of its gradient (see :func:`adam_update`)."""
        params = [p.detach()[k] for p in self.params for k in range(p.shape[0])]
        grads = [_grad(p)[k] for p in self.params for k in range(p.shape[0])]
        return params, grads

    def _mlp(self, h: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor]) -> Tensor:
        last = len(weights) - 1
        for index, (weight, bias) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(bias, h, weight)
            if index < last:
                h = _activation(h)
        return h

    def embed(self, inputs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Embeddings ``(zx, zy)``, each ``(M, batch, embed_dim)``.

        Parameters
        ----------
        inputs
            ``[xy]`` with ``xy`` of shape ``(2M, batch, d)`` (X of every critic, then Y)
            when :attr:`joint`, else ``[x, y]`` of shapes ``(M, batch, d_x)`` and
            ``(M, batch, d_y)``.
        """
        m = self.n_models
        if self.joint:
            n = self._n_layers[0]
            z = self._mlp(inputs[0], self.params[:n], self.params[n : 2 * n])
            zx, zy = z[:m], z[m:]
        else:
            nx, ny = self._n_layers
            zx = self._mlp(inputs[0], self.params[:nx], self.params[nx : 2 * nx])
            start = 2 * nx
            zy = self._mlp(
                inputs[1], self.params[start : start + ny], self.params[start + ny : start + 2 * ny]
            )
        if self.bilinear:
            zy = torch.bmm(zy, self.params[-1])
        return zx, zy

    def scores(self, inputs: Sequence[Tensor]) -> Tensor:
        """Score matrices ``(M, batch, batch)``: ``scores[m, i, j] = f_m(x_i, y_j)``."""
        zx, zy = self.embed(inputs)
        return torch.bmm(zx, zy.transpose(1, 2))

    def slots(self, models: Tensor, n_models: int | None = None) -> list[Tensor]:
        """Slot indices of critics ``models`` in each parameter tensor (:attr:`params` order).

        Parameters
        ----------
        models
            Positions of critics, 1-D integer tensor.
        n_models
            Number of critics of the layout the positions refer to (default: the current
            :attr:`n_models`).
        """
        m = self.n_models if n_models is None else n_models
        per_stack = [torch.cat([models, models + m])] if self.joint else [models, models]
        index = [s for s, n in zip(per_stack, self._n_layers) for _ in range(2 * n)]
        return index + ([models] if self.bilinear else [])

    def keep(self, models: Tensor) -> list[Tensor]:
        """Keep only the critics at positions ``models`` (sorted, current numbering).

        Returns
        -------
        list of Tensor
            The slot indices that were kept, per parameter tensor (to select optimiser
            state the same way).
        """
        index = self.slots(models)
        with torch.no_grad():
            self.params = [
                p.detach().index_select(0, i.to(p.device)).requires_grad_()
                for p, i in zip(self.params, index)
            ]
        self.n_models = len(models)
        self._init_grads()
        return index

    def copy_into(
        self, critic: nn.Module, params: Sequence[Tensor], model: int, n_models: int
    ) -> None:
        """Write the weights of critic ``model`` held in ``params`` into ``critic``.

        Parameters
        ----------
        critic
            A critic of the stacked shape.
        params
            Tensors laid out as :attr:`params` for ``n_models`` critics (e.g. a snapshot
            taken before any critic was dropped).
        model
            Position of the critic in that layout.
        n_models
            Number of critics of that layout.
        """
        pair = _mlp_embeddings(critic)
        if pair is None or self.bilinear != isinstance(critic, BilinearCritic):
            raise ParameterError(
                f"copy_into needs a critic of the stacked shape, not {type(critic).__name__}."
            )
        sides = [pair] if self.joint else [pair[:1], pair[1:]]
        position = 0
        with torch.no_grad():
            for embeddings, n in zip(sides, self._n_layers):
                weights, biases = (
                    params[position : position + n],
                    params[position + n : position + 2 * n],
                )
                for side, embedding in enumerate(embeddings):
                    slot = side * n_models + model
                    for layer, weight, bias in zip(_linears(embedding), weights, biases):
                        layer.weight.copy_(weight[slot].T)
                        layer.bias.copy_(bias[slot, 0])
                position += 2 * n
            if isinstance(critic, BilinearCritic):
                critic.weight.copy_(params[-1][model].T)
