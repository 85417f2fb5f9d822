"""The exercise checks of notebook 01, empirical risk.

The risk of softmax regression, its gradient by hand, and the log-loss in bits.
"""

import math

import torch
import torch.nn.functional as F

from ...gan import losses
from .. import risk
from .core import Case, Mistake, Spec, exercise, seeded


def _softmax_cases() -> list[Case]:
    g = seeded(1)
    cases = []
    for n, f, k in ((5, 3, 4), (8, 6, 10), (3, 2, 2)):
        x = torch.randn(n, f, generator=g)
        W = 0.5 * torch.randn(f, k, generator=g)
        b = 0.5 * torch.randn(k, generator=g)
        y = torch.randint(k, (n,), generator=g)
        cases.append(Case(f"N={n} examples, {f} features, K={k} classes", W, b, x, y))
    W = torch.tensor([[60.0, -60.0], [-60.0, 60.0]])  # confident logits, up to ±120
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    cases.append(Case("confident logits (±60: exp(±120) over- or underflows float32)",
                      W, torch.zeros(2), x, torch.tensor([0, 1, 1])))
    return cases


def _risk_summed(W, b, x, y):
    return F.cross_entropy(x @ W + b, y, reduction="sum")


def _risk_probability(W, b, x, y):
    return 1 - torch.softmax(x @ W + b, 1)[torch.arange(len(y)), y].mean()


def _risk_no_bias(W, b, x, y):
    return F.cross_entropy(x @ W, y)


def _risk_bits(W, b, x, y):
    return F.cross_entropy(x @ W + b, y) / math.log(2)


def _risk_softmax_dim0(W, b, x, y):
    return -torch.log_softmax(x @ W + b, 0)[torch.arange(len(y)), y].mean()


@exercise
def empirical_risk():
    """Checks ``fn(W, b, x, y)``: the empirical risk of softmax regression,

        L(W, b) = 1/N Σ_i −log softmax(x_i W + b)_{y_i}      (nats, a single number)

    x: (N, F) inputs, y: (N,) labels in 0..K−1, W: (F, K), b: (K,).
    """
    return Spec(
        reference=risk.softmax_regression_risk,
        cases=_softmax_cases,
        nonfinite="take log-probabilities with torch.log_softmax(logits, dim=1) "
                  "(or use F.cross_entropy), which never computes log(0) or exp(120)",
        mistakes=[
            Mistake(_risk_summed, "this is the sum of the losses; the empirical risk "
                    "is their mean (divide by N)."),
            Mistake(_risk_probability, "the loss is −log p(y | x), not 1 − p(y | x): "
                    "take the log of the probability of the true class."),
            Mistake(_risk_no_bias, "the bias b is missing: the model is xW + b."),
            Mistake(_risk_bits, "this is in bits (log base 2); here the risk uses the "
                    "natural log (nats)."),
            Mistake(_risk_softmax_dim0, "the softmax runs over the wrong axis: each "
                    "example's K class probabilities must sum to 1 (dim=1)."),
        ],
    )


def _grad_summed(W, b, x, y):
    dW, db = risk.softmax_regression_gradient(W, b, x, y)
    return dW * x.shape[0], db * x.shape[0]


def _grad_sign(W, b, x, y):
    dW, db = risk.softmax_regression_gradient(W, b, x, y)
    return -dW, -db


def _grad_no_onehot(W, b, x, y):
    P = torch.softmax(x @ W + b, 1)
    return x.T @ P / x.shape[0], P.mean(0)


def _grad_bias_not_summed(W, b, x, y):
    dW, _ = risk.softmax_regression_gradient(W, b, x, y)
    return dW, torch.zeros_like(b)


@exercise
def gradient():
    """Checks ``fn(W, b, x, y)`` returning (∂L/∂W, ∂L/∂b) of the softmax-regression
    risk, written out by hand (the reference uses autograd):

        ∂L/∂W = 1/N xᵀ(P − Y),   ∂L/∂b = 1/N Σ_i (P_i − Y_i),
        P = softmax(xW + b), Y = one-hot labels.
    """
    return Spec(
        reference=lambda W, b, x, y: risk.autograd_gradient(
            risk.softmax_regression_risk, W, b, x, y),
        cases=_softmax_cases,
        outputs=("dW", "db"),
        mistakes=[
            Mistake(_grad_summed, "these are N times too large: the risk is a mean, "
                    "so its gradient divides by N too."),
            Mistake(_grad_sign, "the sign is flipped: the gradient of −log softmax is "
                    "P − Y (predicted minus one-hot), not Y − P."),
            Mistake(_grad_no_onehot, "the one-hot labels Y are missing: the gradient "
                    "is xᵀ(P − Y)/N, not xᵀP/N."),
            Mistake(_grad_bias_not_summed, "∂L/∂b is zero but should be the mean of "
                    "P − Y over the examples."),
        ],
        atol=1e-5,
    )


def _bits_cases() -> list[Case]:
    g = seeded(2)
    return [Case("4 examples, 3 classes", torch.randn(4, 3, generator=g),
                 torch.tensor([0, 2, 1, 2])),
            Case("6 examples, 10 classes", 3 * torch.randn(6, 10, generator=g),
                 torch.tensor([9, 0, 3, 3, 7, 1])),
            Case("uniform logits over 10 classes (answer: log2 10 = 3.32)",
                 torch.zeros(5, 10), torch.tensor([0, 1, 2, 3, 4]))]


@exercise
def bits_per_label():
    """Checks ``fn(logits, y)``: the average log-loss in bits, the cost of sending
    the labels with the model,  1/N Σ_i −log2 softmax(logits_i)_{y_i}."""
    return Spec(
        reference=losses.bits_per_label,
        cases=_bits_cases,
        mistakes=[
            Mistake(lambda logits, y: F.cross_entropy(logits, y),
                    "this is in nats (natural log); bits use log base 2: divide by "
                    "ln 2."),
            Mistake(lambda logits, y: F.cross_entropy(logits, y, reduction="sum")
                    / math.log(2), "this is the total over all labels; the question "
                    "asks for bits per label (the mean)."),
        ],
    )
