"""Each loss against its closed form or an independent computation."""

import math

import pytest
import torch
import torch.nn.functional as F

from gantutor import losses

torch.manual_seed(0)
LOGITS_R = torch.randn(257, dtype=torch.float64) * 3
LOGITS_F = torch.randn(257, dtype=torch.float64) * 3


def test_value_function_matches_log_form():
    d_r, d_f = torch.sigmoid(LOGITS_R), torch.sigmoid(LOGITS_F)
    expected = torch.log(d_r).mean() + torch.log(1 - d_f).mean()
    assert torch.allclose(losses.value_function(LOGITS_R, LOGITS_F), expected)


def test_d_loss_minimax_is_bce_and_minus_v():
    bce = (F.binary_cross_entropy(torch.sigmoid(LOGITS_R), torch.ones(257,
           dtype=torch.float64)) + F.binary_cross_entropy(torch.sigmoid(LOGITS_F),
           torch.zeros(257, dtype=torch.float64)))
    got = losses.d_loss_minimax(LOGITS_R, LOGITS_F)
    assert torch.allclose(got, bce)
    assert torch.allclose(got, -losses.value_function(LOGITS_R, LOGITS_F))


def test_label_smoothing_is_one_sided():
    s = 0.1
    d_r, d_f = torch.sigmoid(LOGITS_R), torch.sigmoid(LOGITS_F)
    real = -(0.9 * torch.log(d_r) + 0.1 * torch.log(1 - d_r)).mean()
    fake = -torch.log(1 - d_f).mean()
    assert torch.allclose(losses.d_loss_minimax(LOGITS_R, LOGITS_F, smooth=s),
                          real + fake)


def test_generator_losses():
    d_f = torch.sigmoid(LOGITS_F)
    assert torch.allclose(losses.g_loss_minimax(LOGITS_F), torch.log(1 - d_f).mean())
    assert torch.allclose(losses.g_loss_nonsaturating(LOGITS_F), -torch.log(d_f).mean())


def test_losses_stay_finite_where_sigmoid_saturates():
    big = torch.tensor([80.0, -80.0])
    for value in (losses.d_loss_minimax(big, big), losses.g_loss_nonsaturating(big),
                  losses.g_loss_minimax(big)):
        assert torch.isfinite(value)
    # log(1 - sigmoid(80)) = -softplus(80) = -80 (to float precision), not -inf
    assert losses.g_loss_minimax(torch.tensor([80.0])).item() == pytest.approx(-80.0)


def test_hinge_and_wasserstein_closed_forms():
    r = torch.tensor([2.0, 0.5, -1.0])
    f = torch.tensor([-2.0, 0.0, 1.0])
    # real: max(0, 1-2)=0, 0.5, 2 -> mean 2.5/3; fake: max(0,1-2)=0, 1, 2 -> 3/3
    assert losses.d_loss_hinge(r, f).item() == pytest.approx(2.5 / 3 + 1.0)
    assert losses.g_loss_hinge(f).item() == pytest.approx(1 / 3)
    assert losses.d_loss_wasserstein(r, f).item() == pytest.approx(-1 / 3 - 0.5)
    assert losses.g_loss_wasserstein(f).item() == pytest.approx(1 / 3)


class Linear(torch.nn.Module):
    """D(x) = w·x: its input gradient is w everywhere, so the penalties are known."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_of_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ‖w‖ = 5 -> (5 - 1)^2 = 16
    D = Linear(w)
    x_r, x_f = torch.randn(8, 2), torch.randn(8, 2)
    gp = losses.gradient_penalty(D, x_r, x_f)
    assert gp.item() == pytest.approx(16.0)
    gp.backward()  # d/dw (‖w‖-1)^2 = 2(‖w‖-1) w/‖w‖
    assert torch.allclose(D.w.grad, 2 * 4 * w / 5)


def test_r1_penalty_of_linear_critic():
    D = Linear(torch.tensor([3.0, 4.0]))
    assert losses.r1_penalty(D, torch.randn(5, 2)).item() == pytest.approx(25.0)


def test_empirical_risk_and_bits_per_label():
    x = torch.randn(10, 3)
    y = torch.randint(0, 4, (10,))
    model = torch.nn.Linear(3, 4)
    risk = losses.empirical_risk(model, lambda o, t: F.cross_entropy(o, t,
                                 reduction="none"), x, y)
    assert torch.allclose(risk, F.cross_entropy(model(x), y))
    uniform = torch.zeros(10, 10)
    assert losses.bits_per_label(uniform, y).item() == pytest.approx(math.log2(10))


def test_empirical_risk_rejects_reduced_loss():
    with pytest.raises(losses.GantutorError, match="per-example"):
        losses.empirical_risk(torch.nn.Linear(3, 2), F.cross_entropy,
                              torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_unknown_loss_name():
    with pytest.raises(losses.GantutorError, match="unknown loss"):
        losses.get_losses("lsgan")


def test_loss_names_are_the_registry_keys():
    from gantutor.gan.config import LOSS_NAMES, TrainConfig

    assert tuple(losses.LOSSES) == LOSS_NAMES
    for name in LOSS_NAMES:
        TrainConfig(loss=name)
    with pytest.raises(losses.GantutorError, match="unknown loss 'lsgan'"):
        TrainConfig(loss="lsgan")
