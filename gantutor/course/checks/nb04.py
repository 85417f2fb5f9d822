"""The exercise checks of notebook 04, the GAN objective.

The optimal discriminator, the D and G losses on logits, and one gradient step of D
on its objective by hand (where the common sign mistake shows).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ...gan import losses, objective
from ...gan.models import MLPDiscriminator
from .core import Case, Mistake, Spec, exercise, seeded, step_exercise


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


def _d_step_cases() -> list[Case]:
    return [Case("a fresh D, data N(0, 1), fakes N(2, 0.7²)", 0),
            Case("another fresh D and batch", 1),
            Case("fakes far away, N(4, 0.5²)", 2, far=True)]


def _d_gradient_setup(seed: int, far: bool = False):
    """A small 1-D discriminator and a batch of 8 real and 8 fake samples."""
    torch.manual_seed(seed)
    D = MLPDiscriminator(shape=(1,), hidden=(8,))
    g = seeded(seed)
    x_real = torch.randn(8, 1, generator=g)
    x_fake = torch.randn(8, 1, generator=g) * (0.5 if far else 0.7) + (4 if far else 2)
    return D, x_real, x_fake


def _adapt_d_gradient_step(fn: Callable) -> Callable:
    """fn(D, x_real, x_fake, lr) -> D's weights after the step."""

    def run(seed: int, far: bool = False):
        D, x_real, x_fake = _d_gradient_setup(seed, far)
        fn(D, x_real, x_fake, 0.1)
        return torch.cat([p.detach().flatten() for p in D.parameters()])

    return run


def _d_plain_step(D, x_real, x_fake, lr, sign=1.0, objective=None):
    """θ ← θ + sign · lr · ∇θ objective, objective = V by default."""
    objective = objective or losses.value_function
    value = objective(D(x_real), D(x_fake))
    grads = torch.autograd.grad(value, list(D.parameters()))
    with torch.no_grad():
        for p, g in zip(D.parameters(), grads):
            p.add_(sign * lr * g)


def _v_summed(d_real, d_fake):
    return -(F.softplus(-d_real).sum() + F.softplus(d_fake).sum())


def _v_real_term_only(d_real, d_fake):
    return -F.softplus(-d_real).mean()


@step_exercise(_adapt_d_gradient_step)
def d_gradient_step():
    """Checks ``fn(D, x_real, x_fake, lr)``: one plain gradient step of the
    discriminator on its objective, by hand (no optimiser): gradient *ascent* on

        V = E_x[log D(x)] + E_z[log(1 − D(G(z)))],   θ_d ← θ_d + lr · ∇_θd V

    (the same as descent on the cross-entropy −V). D returns logits; ``x_fake`` is
    given (already detached). The function returns nothing; the check looks at D's
    weights afterwards."""
    return Spec(
        reference=_d_plain_step,
        cases=_d_step_cases,
        outputs=("D's weights after the step",),
        mistakes=[
            Mistake(lambda D, r, f, lr: _d_plain_step(D, r, f, lr, sign=-1.0),
                    "the common sign mistake: a descent update (θ − lr·∇) with the "
                    "gradient of V, the quantity D maximises. That step lowers V: D "
                    "learns to call the real samples fake. Ascend on V, θ + lr·∇V, "
                    "or descend on the cross-entropy −V, θ − lr·∇(−V)."),
            Mistake(lambda D, r, f, lr: _d_plain_step(
                        D, f, r, lr, objective=losses.value_function),
                    "real and fake are swapped: log D(x) belongs to the real samples, "
                    "log(1 − D(G(z))) to the fakes."),
            Mistake(lambda D, r, f, lr: _d_plain_step(D, r, f, lr,
                                                      objective=_v_summed),
                    "you summed over the batch: V is an expectation, estimated by "
                    "the mean (.mean()), so the step does not grow with B."),
            Mistake(lambda D, r, f, lr: _d_plain_step(D, r, f, lr,
                                                      objective=_v_real_term_only),
                    "only the real term: V also has E_z[log(1 − D(G(z)))] = "
                    "−softplus(d_fake).mean(), which teaches D to reject the fakes."),
        ],
    )
