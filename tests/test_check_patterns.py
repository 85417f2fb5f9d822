"""The checks of notebook 09 accept correct answers written in other styles and name
the typical mistakes."""

import numpy as np
import torch
import torch.nn.functional as F

import gantutor as gt


def test_slerp_other_correct_styles_pass_and_lerp_is_named():
    def slerp_cosine(z0, z1, t):
        omega = torch.arccos(F.cosine_similarity(z0, z1, dim=0).clamp(-1, 1))
        w0 = torch.sin((1 - t) * omega) / torch.sin(omega)
        return w0 * z0 + torch.sin(t * omega) / torch.sin(omega) * z1

    assert gt.check.slerp(slerp_cosine)
    result = gt.check.slerp(lambda z0, z1, t: z0 + t * (z1 - z0))
    assert not result and "straight line (lerp)" in result.message


def test_cluster_accuracy_negated_table_passes_and_no_matching_is_named():
    from scipy.optimize import linear_sum_assignment

    def negated(clusters, labels):
        table = np.zeros((5, 5))
        for c, y in zip(clusters, labels):
            table[c, y] += 1
        rows, cols = linear_sum_assignment(-table)
        return float(table[rows, cols].sum() / len(labels))

    assert gt.check.cluster_accuracy(negated)
    result = gt.check.cluster_accuracy(lambda c, y: (c == y).mean())
    assert not result and "Hungarian matching" in result.message


def test_gradient_x_input_backward_style_passes_and_plain_gradient_is_named():
    def with_backward(score, x):
        x = x.clone().requires_grad_(True)
        score(x).sum().backward()
        return (x + 1) * x.grad

    assert gt.check.gradient_x_input(with_backward)

    def plain_gradient(score, x):
        x = x.clone().requires_grad_(True)
        score(x).sum().backward()
        return x.grad

    result = gt.check.gradient_x_input(plain_gradient)
    assert not result and "gradient alone" in result.message
