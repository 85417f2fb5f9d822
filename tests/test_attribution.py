"""Gradient × input attribution maps."""

import pytest
import torch

from gantutor.errors import GantutorError
from gantutor.evaluation.attribution import gradient_x_input


def test_linear_score_gives_weight_times_input_exactly():
    w = torch.randn(1, 4, 4)
    x = torch.randn(3, 1, 4, 4)
    a = gradient_x_input(lambda v: (v * w).flatten(1).sum(1), x)
    assert torch.allclose(a, x * w)
    # completeness for a linear score: attributions sum to s(x) - s(baseline)
    s = (x * w).flatten(1).sum(1)
    a_b = gradient_x_input(lambda v: (v * w).flatten(1).sum(1), x, baseline=-1.0)
    assert torch.allclose(a_b.flatten(1).sum(1), s - (-1.0 * w).sum(), atol=1e-5)


def test_class_logits_pick_the_target_per_image():
    W = torch.randn(3, 8)  # 3 classes, 8 inputs
    x = torch.randn(2, 8)
    a = gradient_x_input(lambda v: v @ W.T, x, target=torch.tensor([2, 0]))
    assert torch.allclose(a, x * W[[2, 0]])
    with pytest.raises(GantutorError, match="target"):
        gradient_x_input(lambda v: v @ W.T, x)


def test_images_do_not_mix_and_bad_scores_are_refused():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1),
                              torch.nn.Tanh())
    x = torch.randn(4, 1, 4, 4)
    full = gradient_x_input(lambda v: net(v).squeeze(1), x)
    one = gradient_x_input(lambda v: net(v).squeeze(1), x[2:3])
    assert torch.allclose(full[2:3], one, atol=1e-6)
    with pytest.raises(GantutorError, match=r"\(B,\)"):
        gradient_x_input(lambda v: net(v)[:, :, None], x)


def test_the_baselines_against_captum():
    attr = pytest.importorskip("captum.attr")
    torch.manual_seed(0)
    W = torch.randn(3, 16)

    def linear(v):
        return v.flatten(1) @ W.T  # (B, 1, 4, 4) -> (B, 3)

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8),
                              torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x = torch.rand(5, 1, 4, 4) * 2 - 1
    target = torch.tensor([0, 1, 2, 0, 1])
    for score in (linear, net):
        # captum's InputXGradient is the baseline 0: x * ds/dx
        ixg = attr.InputXGradient(score).attribute(x.clone().requires_grad_(),
                                                   target=target)
        assert torch.allclose(ixg, gradient_x_input(score, x, target), atol=1e-6)
    ours = gradient_x_input(linear, x, target, baseline=-1.0)
    assert not torch.allclose(ours, gradient_x_input(linear, x, target), atol=1e-3)
    # with baseline -1, integrated gradients equals ours for a linear score only
    ig = attr.IntegratedGradients(linear).attribute(x, baselines=-1.0, target=target)
    assert torch.allclose(ig.float(), ours, atol=1e-4)
    ig_net = attr.IntegratedGradients(net).attribute(x, baselines=-1.0, target=target)
    ours_net = gradient_x_input(net, x, target, baseline=-1.0)
    assert not torch.allclose(ig_net.float(), ours_net, atol=1e-3)
