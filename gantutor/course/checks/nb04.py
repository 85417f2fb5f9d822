"""The exercise checks of notebook 04, the GAN objective.

The optimal discriminator and the D and G losses on logits.
"""

import torch
import torch.nn.functional as F

from ...gan import losses, objective
from .core import Case, Mistake, Spec, exercise, seeded


def _density_cases() -> list[Case]:
    x = torch.linspace(-4, 4, 9, dtype=torch.float64)
    p, q = objective.Gaussian(0, 1), objective.Gaussian(1.5, 0.5)
    cases = [Case("p = N(0, 1) and q = N(1.5, 0.5²) at x = −4, −3, ..., 4",
                  p.pdf(x), q.pdf(x)),
             Case("hand-picked densities p = [0.2, 0.1, 0.3], q = [0.2, 0.3, 0.1]",
                  torch.tensor([0.2, 0.1, 0.3]), torch.tensor([0.2, 0.3, 0.1])),
             Case("a point where only the generator has mass: p = [0, 0.4], "
                  "q = [0.5, 0.4]", torch.tensor([0.0, 0.4]), torch.tensor([0.5, 0.4]))]
    return cases


@exercise
def optimal_discriminator():
    """Checks ``fn(p_x, q_x)``: the optimal discriminator D*(x) = p(x) / (p(x) + q(x))
    from the data density p(x) and the generator density q(x) (tensors of equal shape).
    """
    return Spec(
        reference=objective.optimal_discriminator,
        cases=_density_cases,
        mistakes=[
            Mistake(lambda p, q: q / (p + q), "this is q/(p + q), the probability "
                    "that x is fake; D*(x) is the probability that x is real: "
                    "p/(p + q)."),
            Mistake(lambda p, q: p / q, "this is the density ratio p/q, which is not "
                    "a probability; D* divides by p + q."),
            Mistake(lambda p, q: p / (p + q).sum(), "you divided by the sum over all "
                    "points; D*(x) divides pointwise by p(x) + q(x)."),
        ],
    )


_SIGMOID_LOGS = ("work with logits: log D = F.logsigmoid(l) = −F.softplus(−l) and "
                 "log(1 − D) = −F.softplus(l), never torch.log(torch.sigmoid(l))")


def _logit_cases() -> list[Case]:
    g = seeded(3)
    return [Case("8 real and 8 fake logits near 0", torch.randn(8, generator=g),
                 torch.randn(8, generator=g)),
            Case("a confident D: real logits +3, fake logits −3",
                 torch.full((4,), 3.0), torch.full((4,), -3.0)),
            Case("extreme logits ±200 (where float32 sigmoid is exactly 0 or 1)",
                 torch.tensor([200.0, -200.0]), torch.tensor([200.0, -200.0]))]


def _d_loss_labels_swapped(d_real, d_fake):
    return losses.d_loss_minimax(d_fake, d_real)


def _d_loss_naive(d_real, d_fake):
    return -(torch.log(torch.sigmoid(d_real)).mean()
             + torch.log(1 - torch.sigmoid(d_fake)).mean())


def _d_loss_logsigmoid_one_minus(d_real, d_fake):
    return -(F.logsigmoid(d_real).mean() + F.logsigmoid(1 - d_fake).mean())


@exercise
def d_loss():
    """Checks ``fn(d_real, d_fake)``: the discriminator loss from D's logits on a
    real batch and on a fake batch,

        −V = −E_x[log D(x)] − E_z[log(1 − D(G(z)))],   D = sigmoid(logit),

    written so that it stays finite for any logits (a single number).
    """
    return Spec(
        reference=losses.d_loss_minimax,
        cases=_logit_cases,
        nonfinite=_SIGMOID_LOGS,
        mistakes=[
            Mistake(lambda r, f: losses.value_function(r, f), "this is V itself; D "
                    "maximises V, so the loss to minimise is −V: flip the sign."),
            Mistake(_d_loss_labels_swapped, "real and fake are swapped: real samples "
                    "are labelled 1 (log D(x)), fakes 0 (log(1 − D(G(z))))."),
            Mistake(_d_loss_logsigmoid_one_minus, "log(1 − sigmoid(l)) is not "
                    "logsigmoid(1 − l); it is logsigmoid(−l) = −softplus(l)."),
            Mistake(_d_loss_naive, "torch.log(torch.sigmoid(l)) becomes log(0) = "
                    "−inf once sigmoid rounds to 0 or 1: use F.logsigmoid(l) = "
                    "−F.softplus(−l) for log D, and −F.softplus(l) for log(1 − D)."),
        ],
    )


def _fake_logit_cases() -> list[Case]:
    g = seeded(4)
    return [Case("8 fake logits near 0", torch.randn(8, generator=g)),
            Case("start of training: D rejects the fakes, logits −6",
                 torch.full((4,), -6.0)),
            Case("extreme fake logits (−200 and 200)", torch.tensor([-200.0, 200.0]))]


@exercise
def g_loss_nonsaturating():
    """Checks ``fn(d_fake)``: the non-saturating generator loss −E_z[log D(G(z))]
    from D's logits on fake samples, finite for any logits (a single number)."""
    return Spec(
        reference=losses.g_loss_nonsaturating,
        cases=_fake_logit_cases,
        nonfinite=_SIGMOID_LOGS,
        mistakes=[
            Mistake(losses.g_loss_minimax, "this is the saturating loss "
                    "E[log(1 − D(G(z)))], whose gradient vanishes when D rejects the "
                    "fakes; the non-saturating loss is −E[log D(G(z))]."),
            Mistake(lambda l: F.softplus(l).mean(), "this is −E[log(1 − D(G(z)))], "
                    "the discriminator's loss on fakes; G wants D(G(z)) high: "
                    "−E[log D(G(z))] = softplus(−l)."),
            Mistake(lambda l: -torch.log(torch.sigmoid(l)).mean(),
                    "torch.log(torch.sigmoid(l)) is log(0) = −inf once sigmoid(l) "
                    "rounds to 0: use F.softplus(−l) = −F.logsigmoid(l)."),
        ],
    )
