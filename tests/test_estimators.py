"""Tests of the MI bounds in neural_mi.estimators."""

from __future__ import annotations

import math

import pytest
import torch

from neural_mi.errors import DataShapeError, ParameterError
from neural_mi.estimators import ESTIMATORS, get_estimator, infonce, js, nwj, smile, tuba
from neural_mi.params import ESTIMATOR_PARAM_DEFAULTS

E = math.e


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64, requires_grad=True)


# ----------------------------------------------------------------- hand-worked values
def test_infonce_two_by_two():
    # Each row: 1 - log(e^1 + e^0); plus log 2.
    value = infonce(_t([[1.0, 0.0], [0.0, 1.0]]))
    assert value.item() == pytest.approx(1.0 - math.log(1.0 + E) + math.log(2.0), abs=1e-12)


def test_infonce_asymmetric_rows():
    # Row 0: 2 - log(e^2 + e^0); row 1: 0 - log(e^1 + e^0).
    value = infonce(_t([[2.0, 0.0], [1.0, 0.0]]))
    expected = 0.5 * ((2.0 - math.log(E**2 + 1.0)) + (0.0 - math.log(E + 1.0))) + math.log(2.0)
    assert value.item() == pytest.approx(expected, abs=1e-12)


def test_nwj_two_by_two():
    # E_p[f] = (2 + 3) / 2, E_q[e^f] = (e^0 + e^1) / 2.
    value = nwj(_t([[2.0, 0.0], [1.0, 3.0]]))
    assert value.item() == pytest.approx(2.5 - math.exp(-1.0) * (1.0 + E) / 2, abs=1e-12)


def test_tuba_two_by_two():
    # 1 + E_p[f] - E_q[e^f] with a(y) = 1.
    value = tuba(_t([[2.0, 0.0], [1.0, 3.0]]))
    assert value.item() == pytest.approx(1.0 + 2.5 - (1.0 + E) / 2, abs=1e-12)


def test_js_value_is_nwj_of_shifted_scores():
    # nwj(f + 1) = 1 + E_p[f] - E_q[e^f]: the same number as tuba on this matrix.
    value = js(_t([[2.0, 0.0], [1.0, 3.0]]))
    assert value.item() == pytest.approx(1.0 + 2.5 - (1.0 + E) / 2, abs=1e-12)


SMILE_SCORES = [[1.0, 7.0, 0.0], [-6.0, 2.0, 1.0], [0.5, -1.0, 3.0]]


def test_smile_clips_partition_term_only():
    # Diagonal mean 2; off-diagonal after clipping to [-5, 5]: 5, 0, -5, 1, 0.5, -1.
    value = smile(_t(SMILE_SCORES), clip=5.0)
    partition = (E**5 + 1.0 + E**-5 + E + E**0.5 + E**-1) / 6
    assert value.item() == pytest.approx(2.0 - math.log(partition), abs=1e-12)


def test_smile_without_clip_is_donsker_varadhan():
    value = smile(_t(SMILE_SCORES), clip=None)
    partition = (E**7 + 1.0 + E**-6 + E + E**0.5 + E**-1) / 6
    assert value.item() == pytest.approx(2.0 - math.log(partition), abs=1e-12)


# ----------------------------------------------------------------------- gradients
def _js_gradient(scores: torch.Tensor) -> torch.Tensor:
    """d/df of E_p[-softplus(-f)] - E_q[softplus(f)], worked by hand."""
    b = scores.shape[0]
    s = scores.detach()
    grad = -torch.sigmoid(s) / (b * (b - 1))
    grad.diagonal().copy_(torch.sigmoid(-s.diagonal()) / b)
    return grad


@pytest.mark.parametrize("estimator", [js, smile])
def test_js_trained_estimators_have_js_gradient(estimator):
    scores = _t(SMILE_SCORES)
    estimator(scores).backward()
    torch.testing.assert_close(scores.grad, _js_gradient(scores), rtol=1e-10, atol=1e-12)


def test_nwj_gradient_by_hand():
    # d/df_ii = 1/b; d/df_ij = -e^{f_ij - 1} / (b (b - 1)).
    scores = _t(SMILE_SCORES)
    nwj(scores).backward()
    expected = -torch.exp(scores.detach() - 1.0) / 6
    expected.diagonal().fill_(1.0 / 3)
    torch.testing.assert_close(scores.grad, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_gradients_exist_and_are_finite(name):
    scores = torch.randn(16, 16, generator=torch.Generator().manual_seed(0)) * 3.0
    scores.requires_grad_(True)
    value = ESTIMATORS[name](scores)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value)
    assert scores.grad is not None and torch.isfinite(scores.grad).all()
    assert scores.grad.abs().sum() > 0


# ------------------------------------------------------------------ InfoNCE limits
def test_infonce_never_exceeds_log_batch():
    gen = torch.Generator().manual_seed(1)
    for scale in (0.1, 1.0, 10.0, 100.0):
        scores = torch.randn(32, 32, generator=gen, dtype=torch.float64) * scale
        scores.diagonal().add_(scale)
        assert infonce(scores).item() <= math.log(32) + 1e-12


def test_infonce_saturates_at_log_batch():
    # Each row: c - log(e^c + 7) + log 8 = log 8 - log(1 + 7 e^-c).
    value = infonce(10.0 * torch.eye(8, dtype=torch.float64))
    assert value.item() == pytest.approx(math.log(8.0) - math.log1p(7.0 * E**-10), abs=1e-12)
    assert infonce(100.0 * torch.eye(8)).item() == pytest.approx(math.log(8.0), abs=1e-6)


# ------------------------------------------------ optimal critic, correlated Gaussians
def _optimal_scores(rho: float, n: int, seed: int) -> torch.Tensor:
    """log p(x_i, y_j) / (p(x_i) p(y_j)) for unit-variance bivariate Gaussians."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = rho * x + math.sqrt(1.0 - rho**2) * torch.randn(n, generator=gen, dtype=torch.float64)
    xi, yj = x[:, None], y[None, :]
    quad = rho**2 * xi**2 - 2.0 * rho * xi * yj + rho**2 * yj**2
    return -0.5 * math.log(1.0 - rho**2) - quad / (2.0 * (1.0 - rho**2))


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_optimal_critic_recovers_gaussian_mi(rho):
    # Seed 0, batch 2000. Across seeds 0-9 the estimates' sd is <= 0.011 nats at rho=0.8,
    # so the tolerance of 0.04 nats is about 4 sd. True MI (0.14, 0.51) << log(2000) = 7.6.
    true_mi = -0.5 * math.log(1.0 - rho**2)
    scores = _optimal_scores(rho, 2000, seed=0)
    tol = 0.04
    assert infonce(scores).item() == pytest.approx(true_mi, abs=tol)
    assert nwj(scores + 1.0).item() == pytest.approx(true_mi, abs=tol)  # NWJ optimum: 1 + log r
    assert tuba(scores).item() == pytest.approx(true_mi, abs=tol)
    assert js(scores).item() == pytest.approx(true_mi, abs=tol)
    assert smile(scores, clip=5.0).item() == pytest.approx(true_mi, abs=tol)
    assert smile(scores, clip=None).item() == pytest.approx(true_mi, abs=tol)


def test_independent_variables_give_near_zero_with_zero_critic():
    # f = 0 is the optimal critic when X and Y are independent: every bound gives 0 exactly.
    zeros = torch.zeros(5, 5, dtype=torch.float64)
    assert infonce(zeros).item() == pytest.approx(0.0, abs=1e-12)
    assert tuba(zeros).item() == pytest.approx(0.0, abs=1e-12)
    assert js(zeros).item() == pytest.approx(0.0, abs=1e-12)
    assert smile(zeros).item() == pytest.approx(0.0, abs=1e-12)
    assert nwj(zeros + 1.0).item() == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------- registry
def test_registry_matches_parameter_defaults():
    assert set(ESTIMATORS) == set(ESTIMATOR_PARAM_DEFAULTS)


def test_get_estimator_binds_parameters():
    scores = _t(SMILE_SCORES)
    assert get_estimator("smile", clip=None)(scores).item() == pytest.approx(
        smile(scores, clip=None).item(), abs=1e-12
    )
    assert get_estimator("smile")(scores).item() == pytest.approx(
        smile(scores, clip=5.0).item(), abs=1e-12
    )
    assert get_estimator("infonce")(scores).item() == pytest.approx(infonce(scores).item())


def test_get_estimator_unknown_name_lists_allowed():
    with pytest.raises(ParameterError, match="'infonce'.*'smile'"):
        get_estimator("mine")


def test_get_estimator_unknown_parameter():
    with pytest.raises(ParameterError, match="clip"):
        get_estimator("infonce", clip=3.0)


@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (4,)])
def test_bad_score_shape(shape):
    with pytest.raises(DataShapeError, match=r"\(batch, batch\)"):
        infonce(torch.zeros(shape))
