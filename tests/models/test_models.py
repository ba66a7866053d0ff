"""Tests of the embeddings, critics and critic builder in neural_mi.models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neural_mi.errors import ParameterError
from neural_mi.models import (
    BaseCritic,
    BaseEmbedding,
    BilinearCritic,
    ConcatCritic,
    MLPEmbedding,
    SeparableCritic,
    TCNEmbedding,
    TransformerEmbedding,
    VariationalMLPEmbedding,
    build_critic,
)
from neural_mi.models.stacked import stackable
from neural_mi.params import resolve_base_params

SMALL = {"hidden_dim": 8, "embedding_dim": 4, "n_layers": 2}
BATCH = 5

# (embedding_model, extra base_params)
EMBEDDING_CASES = [
    ("mlp", {}),
    ("mlp", {"use_variational": True}),
    ("cnn", {"kernel_size": 3}),
    ("cnn", {"kernel_size": 4}),
    ("tcn", {"kernel_size": 2}),
    ("gru", {}),
    ("gru", {"bidirectional": True}),
    ("lstm", {}),
    ("lstm", {"bidirectional": True}),
    ("transformer", {"nhead": 2}),
]
# (x_shape, y_shape) as (n_channels, n_features): single-step windows and 10-step windows.
SHAPES = [((5, 1), (3, 1)), ((2, 10), (3, 10))]


def _params(**overrides) -> dict:
    return resolve_base_params({**SMALL, **overrides})


def _data(shape: tuple[int, int], seed: int = 0) -> torch.Tensor:
    return torch.randn(BATCH, *shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("x_shape,y_shape", SHAPES)
@pytest.mark.parametrize("critic_type", ["separable", "bilinear"])
@pytest.mark.parametrize("model,extra", EMBEDDING_CASES)
def test_every_embedding_and_critic_scores_all_pairs(model, extra, critic_type, x_shape, y_shape):
    torch.manual_seed(0)
    critic = build_critic(
        _params(embedding_model=model, critic_type=critic_type, **extra), x_shape, y_shape
    )
    x, y = _data(x_shape, 1), _data(y_shape, 2)
    scores, kl = critic(x, y)
    assert scores.shape == (BATCH, BATCH) and scores.dtype == torch.float32
    assert kl.shape == () and torch.isfinite(scores).all()
    (scores.diagonal().mean() - kl).backward()
    assert all(p.grad is not None for p in critic.parameters() if p.requires_grad)

    # In eval mode the deterministic embeddings reproduce the scores: scores = zx @ zy.T.
    critic.eval()
    with torch.no_grad():
        scores, _ = critic(x, y)
        zx, zy = critic.embed(x, y)
    assert zx.shape == zy.shape == (BATCH, SMALL["embedding_dim"])
    torch.testing.assert_close(zx @ zy.T, scores)


@pytest.mark.parametrize("x_shape,y_shape", SHAPES)
def test_concat_critic_shapes(x_shape, y_shape):
    critic = build_critic(_params(critic_type="concat"), x_shape, y_shape)
    assert isinstance(critic, ConcatCritic)
    scores, kl = critic(_data(x_shape), _data(y_shape, 1))
    assert scores.shape == (BATCH, BATCH) and kl.shape == () and kl.item() == 0.0


@pytest.mark.parametrize("n_layers", [1, 3])
def test_concat_critic_matches_double_loop(n_layers):
    torch.manual_seed(0)
    critic = ConcatCritic((2, 3), (1, 4), hidden_dim=6, n_layers=n_layers)
    mlp = nn.Sequential(critic.first, nn.ReLU(), critic.rest)  # the same MLP on one pair
    x, y = _data((2, 3)), _data((1, 4), 1)
    scores, _ = critic(x, y)
    expected = torch.empty(BATCH, BATCH)
    for i in range(BATCH):
        for j in range(BATCH):
            expected[i, j] = mlp(torch.cat([x[i].flatten(), y[j].flatten()]))[0]
    torch.testing.assert_close(scores, expected)
    assert sum(isinstance(m, nn.Linear) for m in mlp.modules()) == n_layers + 1


def test_separable_and_bilinear_scores_by_hand():
    x_emb = MLPEmbedding((1, 2), hidden_dim=3, embed_dim=2, n_layers=1)
    y_emb = MLPEmbedding((1, 2), hidden_dim=3, embed_dim=2, n_layers=1)
    x, y = _data((1, 2)), _data((1, 2), 1)
    zx, zy = x_emb(x), y_emb(y)
    separable, _ = SeparableCritic(x_emb, y_emb)(x, y)
    torch.testing.assert_close(separable, zx @ zy.T)
    bilinear = BilinearCritic(x_emb, y_emb)
    torch.testing.assert_close(bilinear(x, y)[0], separable)  # W starts as the identity
    with torch.no_grad():
        bilinear.weight.copy_(torch.tensor([[0.0, 2.0], [1.0, 0.0]]))
    # zx W zy^T with W = [[0, 2], [1, 0]]: 2 zx0 zy1 + zx1 zy0.
    expected = 2 * zx[:, :1] @ zy[:, 1:].T + zx[:, 1:] @ zy[:, :1].T
    torch.testing.assert_close(bilinear(x, y)[0], expected)


@pytest.mark.parametrize("critic_type", ["separable", "bilinear"])
def test_marginal_terms_add_one_scalar_per_variable(critic_type):
    # Embeddings get embedding_dim + 1 outputs; the last one of each is a term of its
    # variable alone: scores[i, j] = zx_i . zy_j + a(x_i) + b(y_j).
    base = resolve_base_params({**SMALL, "critic_type": critic_type})
    torch.manual_seed(0)
    critic = build_critic(base, (1, 3), (2, 2), marginal_terms=True)
    assert critic.embed_dim == 4 and critic.embed_x.embed_dim == 5
    assert not stackable(critic)
    x, y = _data((1, 3)), _data((2, 2), 1)
    critic.eval()
    fx, fy = critic.embed_x(x), critic.embed_y(y)
    zx, zy = critic.embed(x, y)
    assert zx.shape == zy.shape == (BATCH, 4)
    expected = zx @ zy.T + fx[:, 4:] + fy[:, 4][None, :]
    torch.testing.assert_close(critic(x, y)[0], expected)
    if critic_type == "separable":
        torch.testing.assert_close(zx, fx[:, :4])


def test_mlp_embedding_layer_count():
    emb = MLPEmbedding((2, 3), hidden_dim=7, embed_dim=4, n_layers=3)
    widths = [(m.in_features, m.out_features) for m in emb.modules() if isinstance(m, nn.Linear)]
    assert widths == [(6, 7), (7, 7), (7, 7), (7, 4)]


def test_tcn_is_causal():
    # Kernel 2, dilations 1 and 2: the last step (9) sees steps 6..9 only, since the
    # receptive field is (2 - 1) * (2**2 - 1) + 1 = 4 steps.
    torch.manual_seed(0)
    emb = TCNEmbedding((1, 10), hidden_dim=4, embed_dim=3, n_layers=2, kernel_size=2)
    x = _data((1, 10))
    changed_early, changed_late = x.clone(), x.clone()
    changed_early[..., :6] += 1.0
    changed_late[..., 6] += 1.0
    torch.testing.assert_close(emb(changed_early), emb(x))
    assert not torch.allclose(emb(changed_late), emb(x))


def test_transformer_nhead_must_divide_hidden_dim():
    with pytest.raises(ParameterError, match=r"hidden_dim=10.*nhead=4"):
        TransformerEmbedding((2, 5), hidden_dim=10, embed_dim=4, n_layers=1, nhead=4)
    with pytest.raises(ParameterError, match=r"hidden_dim=10.*nhead=4"):
        build_critic(_params(embedding_model="transformer", hidden_dim=10, nhead=4), (2, 5), (2, 5))


# -------------------------------------------------------------------- variational
def test_variational_kl_and_modes():
    torch.manual_seed(0)
    emb = VariationalMLPEmbedding((3, 2), hidden_dim=8, embed_dim=4, n_layers=1)
    x = _data((3, 2))
    sample_a, sample_b = emb(x), emb(x)
    assert emb.kl.item() > 0 and emb.kl.requires_grad
    assert not torch.allclose(sample_a, sample_b)  # training mode samples
    emb.eval()
    torch.testing.assert_close(emb(x), emb.mean_embedding(x))
    torch.testing.assert_close(emb(x), emb(x))


def test_variational_kl_by_hand():
    # Zero weights: mean = bias[:d], log_var = bias[d:]; KL = 0.5 sum(m^2 + e^v - 1 - v).
    emb = VariationalMLPEmbedding((1, 2), hidden_dim=3, embed_dim=2, n_layers=0)
    linear = emb.net[0]
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(torch.tensor([1.0, -2.0, 0.0, 1.0]))
    emb(_data((1, 2)))
    expected = 0.5 * ((1.0 + 1.0 - 1.0 - 0.0) + (4.0 + torch.e - 1.0 - 1.0))
    assert emb.kl.item() == pytest.approx(expected, rel=1e-6)


def test_variational_critic_kl_is_sum_of_embeddings():
    torch.manual_seed(0)
    critic = build_critic(_params(use_variational=True), (2, 3), (1, 3))
    _, kl = critic(_data((2, 3)), _data((1, 3), 1))
    assert kl.item() > 0
    assert kl.item() == pytest.approx(critic.embed_x.kl.item() + critic.embed_y.kl.item())


@pytest.mark.parametrize("model", ["cnn", "gru", "lstm", "tcn", "transformer"])
def test_variational_needs_mlp(model):
    with pytest.raises(ParameterError, match=f"use_variational=True.*{model!r}"):
        build_critic(_params(embedding_model=model, use_variational=True), (1, 4), (1, 4))


@pytest.mark.parametrize("extra", [{"embedding_model": "gru"}, {"use_variational": True}])
def test_concat_rejects_embedding_settings(extra):
    with pytest.raises(ParameterError, match="critic_type='concat'"):
        build_critic(_params(critic_type="concat", **extra), (1, 4), (1, 4))


# ---------------------------------------------------------------- custom embeddings
class PlainEmbedding(nn.Module):
    """A user class that does not subclass BaseEmbedding and has no kl."""

    def __init__(self, input_dim, hidden_dim, embed_dim, n_layers):
        super().__init__()
        self.input_dim = input_dim
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, embed_dim)
        )

    def forward(self, x):
        assert x.ndim == 2 and x.shape[1] == self.input_dim  # receives the flattened input
        return self.net(x)


class KLEmbedding(BaseEmbedding):
    """A user BaseEmbedding subclass reporting a fixed KL term."""

    def __init__(self, input_dim, hidden_dim, embed_dim, n_layers):
        super().__init__(embed_dim)
        self.linear = nn.Linear(input_dim, embed_dim)

    def forward(self, x):
        self._kl = torch.tensor(0.25)
        return self.linear(x)


def test_custom_embedding_plain_module():
    critic = build_critic(_params(), (2, 3), (4, 1), custom_embedding_cls=PlainEmbedding)
    assert isinstance(critic, BaseCritic)
    assert critic.embed_x.inner.input_dim == 6 and critic.embed_y.inner.input_dim == 4
    scores, kl = critic(_data((2, 3)), _data((4, 1), 1))
    assert scores.shape == (BATCH, BATCH) and kl.item() == 0.0


def test_custom_embedding_kl_is_used():
    critic = build_critic(
        _params(critic_type="bilinear"), (2, 3), (2, 3), custom_embedding_cls=KLEmbedding
    )
    _, kl = critic(_data((2, 3)), _data((2, 3), 1))
    assert kl.item() == pytest.approx(0.5)


def test_custom_embedding_failing_constructor():
    class Broken(nn.Module):
        def __init__(self, input_dim, hidden_dim, embed_dim):  # wrong signature
            super().__init__()

    with pytest.raises(ParameterError, match=r"Broken\(input_dim=6"):
        build_critic(_params(), (2, 3), (2, 3), custom_embedding_cls=Broken)


def test_custom_embedding_wrong_output_shape():
    class TooWide(PlainEmbedding):
        def __init__(self, input_dim, hidden_dim, embed_dim, n_layers):
            super().__init__(input_dim, hidden_dim, embed_dim + 1, n_layers)

    with pytest.raises(ParameterError, match=r"TooWide.*expected shape \(2, 4\)"):
        build_critic(_params(), (2, 3), (2, 3), custom_embedding_cls=TooWide)


def test_custom_embedding_failing_forward():
    class Unflattened(nn.Module):
        def __init__(self, input_dim, hidden_dim, embed_dim, n_layers):
            super().__init__()
            self.linear = nn.Linear(3, embed_dim)  # expects the wrong width

        def forward(self, x):
            return self.linear(x)

    with pytest.raises(ParameterError, match=r"Unflattened.*\(batch, 6\) to \(batch, 4\)"):
        build_critic(_params(), (2, 3), (2, 3), custom_embedding_cls=Unflattened)


def test_custom_embedding_with_variational_or_concat_is_rejected():
    with pytest.raises(ParameterError, match="use_variational=True.*custom_embedding_cls"):
        build_critic(
            _params(use_variational=True), (1, 2), (1, 2), custom_embedding_cls=PlainEmbedding
        )
    with pytest.raises(ParameterError, match="concat.*custom_embedding_cls"):
        build_critic(
            _params(critic_type="concat"), (1, 2), (1, 2), custom_embedding_cls=PlainEmbedding
        )
