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
