"""The exercise checks of notebook 06, DCGAN and stability.

One-sided label smoothing and the R1 penalty.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ...gan import losses
from .core import Case, Mistake, Spec, exercise, seeded, step_exercise
from .nb05 import tiny_gan


def _smoothing_cases() -> list[Case]:
    g = seeded(5)
    return [Case("8 real and 8 fake logits, smooth=0.1", torch.randn(8, generator=g),
                 torch.randn(8, generator=g), 0.1),
            Case("a confident D (real +4, fake −4), smooth=0.2",
                 torch.full((4,), 4.0), torch.full((4,), -4.0), 0.2),
            Case("smooth=0 (must equal the plain D loss)", torch.randn(5, generator=g),
                 torch.randn(5, generator=g), 0.0)]


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@exercise
def d_loss_smoothed():
    """Checks ``fn(d_real, d_fake, smooth)``: the discriminator loss with one-sided
    label smoothing (Salimans et al. 2016) on D's logits: real targets 1 − smooth,
    fake targets 0,

        BCE(d_real, 1 − smooth) + BCE(d_fake, 0).
    """
    return Spec(
        reference=lambda r, f, s: losses.d_loss_minimax(r, f, smooth=s),
        cases=_smoothing_cases,
        mistakes=[
            Mistake(lambda r, f, s: _bce(r, 1 - s) + _bce(f, s),
                    "this smooths both sides: the fake targets must stay 0 (smoothing "
                    "them rewards D for calling fakes a bit real, which keeps bad "
                    "samples alive)."),
            Mistake(lambda r, f, s: _bce(r, s) + _bce(f, 0.0),
                    "the real target is `smooth` itself; it should be 1 − smooth "
                    "(0.9 for smooth = 0.1)."),
            Mistake(lambda r, f, s: _bce(r, 1.0) + _bce(f, 0.0),
                    "no smoothing: the real targets are still 1; use 1 − smooth."),
        ],
    )


def _adapt_r1(fn: Callable) -> Callable:
    """fn(D, x_real) -> (the penalty, its gradient with respect to D's weights)."""

    def run(seed: int):
        _, D, x_real, _ = tiny_gan(seed, confident=False)
        penalty = fn(D, x_real)
        if not isinstance(penalty, torch.Tensor):
            penalty = torch.as_tensor(penalty, dtype=torch.float32)
        params = list(D.parameters())
        if penalty.requires_grad:
            grads = torch.autograd.grad(penalty.sum(), params, allow_unused=True)
        else:  # no graph back to D's weights: the penalty cannot train D
            grads = [None] * len(params)
        flat = torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                          for p, g in zip(params, grads)])
        return penalty.detach(), flat

    return run


def _r1_variant(D, x_real, create_graph=True, power=2, reduce="mean"):
    x = x_real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=create_graph)
    norms = grad.flatten(1).norm(dim=1) ** power
    return norms.mean() if reduce == "mean" else norms.sum()


@step_exercise(_adapt_r1)
def r1_penalty():
    """Checks ``fn(D, x_real)``: the R1 penalty (Mescheder et al. 2018)
    E_x[‖∇_x D(x)‖²] on real samples, as a number D can be trained on (its gradient
    with respect to D's weights must exist: ``create_graph=True``)."""
    return Spec(
        reference=losses.r1_penalty,
        cases=[Case("a small D and 6 real points", 0), Case("another D and batch", 1)],
        outputs=("the penalty", "its gradient with respect to D's weights"),
        mistakes=[
            Mistake(lambda D, x: _r1_variant(D, x, create_graph=False),
                    "the value is right but D cannot learn from it: without "
                    "create_graph=True, autograd.grad returns a constant, so the "
                    "penalty has no gradient with respect to D's weights."),
            Mistake(lambda D, x: _r1_variant(D, x, power=1),
                    "this is the norm ‖∇D‖; R1 penalises the *squared* norm "
                    "‖∇D‖² (sum of squares, no square root)."),
            Mistake(lambda D, x: _r1_variant(D, x, reduce="sum"),
                    "this is the sum over the batch; the penalty is the mean "
                    "(an expectation over real samples)."),
        ],
    )
