"""The exercise checks of notebook 09, patterns and applications.

Slerp, cluster accuracy, and gradient × input attribution.
"""

import numpy as np
import torch

from ...evaluation import attribution, probe
from ...gan import latent
from .core import Case, Mistake, Spec, exercise, seeded


def _slerp_cases() -> list[Case]:
    g = seeded(9)
    z0, z1 = torch.randn(100, generator=g), torch.randn(100, generator=g)
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    return [Case("two 100-d normal vectors at t = 0.25", z0, z1, 0.25),
            Case("two 100-d normal vectors at t = 0.8", z0, z1, 0.8),
            Case("z0 = [1, 0, 0], z1 = [0, 2, 0] (a right angle) at t = 0.5",
                 a, b, 0.5),
            Case("the same vectors at t = 0 (must give z0)", z0, z1, 0.0)]


def _slerp_parts(z0, z1):
    cos = (z0 @ z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    return omega, torch.sin(omega)


def _slerp_swapped(z0, z1, t):
    omega, sin = _slerp_parts(z0, z1)
    return (torch.sin(t * omega) * z0 + torch.sin((1 - t) * omega) * z1) / sin


def _nlerp(z0, z1, t):
    z = (1 - t) * z0 + t * z1
    return z / z.norm() * ((1 - t) * z0.norm() + t * z1.norm())


def _slerp_no_division(z0, z1, t):
    omega, _ = _slerp_parts(z0, z1)
    return torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1


@exercise
def slerp():
    """Checks ``fn(z0, z1, t)``: spherical interpolation
    sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1 with cos Ω = z0·z1 / (|z0| |z1|)."""
    return Spec(
        reference=latent.slerp,
        cases=_slerp_cases,
        mistakes=[
            Mistake(lambda z0, z1, t: (1 - t) * z0 + t * z1, "this is the straight "
                    "line (lerp); slerp weighs z0 and z1 by sin((1 − t)Ω)/sin Ω and "
                    "sin(tΩ)/sin Ω, where Ω is the angle between them."),
            Mistake(_slerp_swapped, "the weights are swapped: at t = 0 the result "
                    "must be z0, so z0 gets sin((1 − t)Ω) and z1 gets sin(tΩ)."),
            Mistake(_nlerp, "this is the straight line rescaled onto the sphere "
                    "(nlerp): the right length, but it does not move at a constant "
                    "angle; use the sine weights."),
            Mistake(_slerp_no_division, "divide both weights by sin Ω: without it the "
                    "path does not start at z0 or end at z1 (and shrinks)."),
        ],
    )


def _cluster_cases() -> list[Case]:
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 5, 60)
    shuffled = np.array([3, 0, 4, 1, 2])[labels]  # renamed clusters
    noisy = shuffled.copy()
    noisy[:12] = rng.integers(0, 5, 12)
    # clusters 0 and 1 both hold mostly class 0: only one of them may have it
    labels_shared = np.array([0, 0, 0, 1, 0, 0, 1, 2, 2, 2])
    clusters_shared = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    return [Case("60 points whose clusters are the classes renamed, 12 noisy",
                 noisy, labels),
            Case("10 points where two clusters are mostly class 0",
                 clusters_shared, labels_shared),
            Case("random clusters for 60 points", rng.integers(0, 5, 60), labels)]


def _cluster_majority(clusters, labels):
    correct = 0
    for c in np.unique(clusters):
        correct += np.bincount(labels[clusters == c]).max()
    return correct / len(labels)


def _cluster_table(clusters, labels):
    k = int(max(clusters.max(), labels.max())) + 1
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, (clusters, labels), 1)
    return table


def _cluster_minimised(clusters, labels):
    # scipy is slow to import and only this mistake needs it
    from scipy.optimize import linear_sum_assignment

    table = _cluster_table(clusters, labels)
    rows, cols = linear_sum_assignment(table)  # minimises: the worst matching
    return table[rows, cols].sum() / len(labels)


def _cluster_count(clusters, labels):
    return probe.cluster_accuracy(clusters, labels) * len(labels)


@exercise
def cluster_accuracy():
    """Checks ``fn(clusters, labels)``: the accuracy of the best one-to-one map from
    cluster numbers to classes, max over σ of 1/N Σ 1[σ(cluster_i) = label_i]."""
    return Spec(
        reference=lambda clusters, labels: probe.cluster_accuracy(clusters, labels),
        cases=_cluster_cases,
        mistakes=[
            Mistake(lambda c, y: np.mean(c == y), "you compared cluster numbers with "
                    "class numbers directly; k-means numbers its clusters in any "
                    "order, so first match clusters to classes (Hungarian matching)."),
            Mistake(_cluster_majority, "each cluster took its most common class, so "
                    "two clusters can claim the same class; the map must be one-to-"
                    "one: linear_sum_assignment on the contingency table."),
            Mistake(_cluster_minimised, "linear_sum_assignment minimises the total: "
                    "you found the worst matching; pass maximize=True (or negate the "
                    "table)."),
            Mistake(_cluster_count, "that is the number of correctly matched points; "
                    "divide by N for the accuracy."),
        ],
    )


class _Score:
    """A small fixed network giving one score per image: s(x) = w2·tanh(W1 x)."""

    def __init__(self, seed: int):
        g = seeded(seed)
        self.w1 = torch.randn(6, 16, generator=g) / 4
        self.w2 = torch.randn(6, generator=g)

    def __call__(self, x):
        return torch.tanh(x.flatten(1) @ self.w1.T) @ self.w2  # (B, 1, 4, 4) -> (B,)

    def __repr__(self) -> str:
        return "score"


def _attribution_cases() -> list[Case]:
    g = seeded(19)
    return [Case("4 random 4x4 images in [-1, 1] and a small tanh network",
                 _Score(0), torch.rand(4, 1, 4, 4, generator=g) * 2 - 1),
            Case("one 4x4 image with 3 pixels of ink on a -1 background",
                 _Score(1), torch.full((1, 1, 4, 4), -1.0).index_put_(
                     (torch.tensor([0, 0, 0]), torch.tensor([0, 0, 0]),
                      torch.tensor([1, 2, 2]), torch.tensor([1, 1, 2])),
                     torch.tensor(1.0)))]


def _grad_of(score, x, reduce="sum"):
    x = x.clone().requires_grad_(True)
    s = score(x)
    (grad,) = torch.autograd.grad(s.sum() if reduce == "sum" else s.mean(), x)
    return grad


@exercise
def gradient_x_input():
    """Checks ``fn(score, x)``: the attribution (x − b) ⊙ ∂s/∂x with the background
    b = −1, for a batch of images x and a function ``score`` giving one score per
    image."""
    return Spec(
        reference=lambda score, x: attribution.gradient_x_input(score, x,
                                                                baseline=-1.0),
        cases=_attribution_cases,
        mistakes=[
            Mistake(lambda s, x: _grad_of(s, x), "this is the gradient alone; "
                    "multiply it by (x − b) = x + 1, the ink each pixel holds."),
            Mistake(lambda s, x: x * _grad_of(s, x), "this is x ⊙ gradient, the "
                    "baseline 0 (what captum's InputXGradient computes); our images "
                    "are in [−1, 1] with background −1, so multiply by (x + 1): a "
                    "background pixel gets no attribution."),
            Mistake(lambda s, x: (x + 1) * _grad_of(s, x, "mean"), "you "
                    "differentiated the mean of the scores, which divides every "
                    "image's gradient by the batch size; differentiate their sum."),
        ],
    )
