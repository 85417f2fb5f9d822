"""The exercise checks of notebook 05, training a GAN.

One hinge-loss step of D and one of G, checked by what they do to small networks.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ...gan import losses
from ...gan.models import MLPDiscriminator, MLPGenerator
from .core import Case, Mistake, Spec, seeded, step_exercise


def tiny_gan(seed: int, confident: bool):
    """A small G (3-D noise -> 2-D points), D and a batch, all from ``seed``.

    ``confident``: D's last layer scaled up so its logits pass ±1 (where the hinge
    is flat and saturating losses saturate)."""
    torch.manual_seed(seed)
    G = MLPGenerator((2,), z_dim=3, hidden=(8,), out_activation="none")
    D = MLPDiscriminator((2,), hidden=(8,))
    if confident:
        with torch.no_grad():
            D.net[-1].weight.mul_(40.0)
    g = seeded(seed)
    x_real = torch.randn(6, 2, generator=g) + 1.0
    z = torch.randn(6, 3, generator=g)
    return G, D, x_real, z


def _flat(params, grads: bool = False) -> torch.Tensor:
    parts = []
    for p in params:
        if grads:
            parts.append(torch.zeros_like(p) if p.grad is None else p.grad)
        else:
            parts.append(p)
    return torch.cat([t.detach().flatten() for t in parts])


def _stale_grads(net) -> None:
    """Leave a gradient from an earlier step in every weight (zero_grad must go)."""
    for p in net.parameters():
        p.grad = torch.ones_like(p)


def _adapt_d_step(fn: Callable) -> Callable:
    """fn(G, D, opt_d, x_real, z) -> (D's weights after, gradients left in G)."""

    def run(seed: int, confident: bool = False):
        G, D, x_real, z = tiny_gan(seed, confident)
        # plain SGD: the change of the weights is -lr times the gradient, so any
        # difference in the loss shows (Adam's first step is lr times its sign)
        opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
        _stale_grads(D)
        fn(G, D, opt_d, x_real, z)
        return _flat(D.parameters()), _flat(G.parameters(), grads=True)

    return run


def _adapt_g_step(fn: Callable) -> Callable:
    """fn(G, D, opt_g, z) -> (G's weights after, D's weights after)."""

    def run(seed: int, confident: bool = False):
        G, D, _, z = tiny_gan(seed, confident)
        opt_g = torch.optim.SGD(G.parameters(), lr=0.1)
        _stale_grads(G)
        fn(G, D, opt_g, z)
        return _flat(G.parameters()), _flat(D.parameters())

    return run


def _step_cases() -> list[Case]:
    return [Case("a fresh D (logits near 0)", 0),
            Case("another fresh D and batch", 1),
            Case("a confident D (logits beyond ±1)", 2, confident=True)]


def _hinge_d_step(G, D, opt_d, x_real, z, detach=True, zero=True, loss=None):
    x_fake = G(z)
    if detach:
        x_fake = x_fake.detach()
    d_real, d_fake = D(x_real), D(x_fake)
    loss_d = (loss or losses.d_loss_hinge)(d_real, d_fake)
    if zero:
        opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()


@step_exercise(_adapt_d_step)
def d_step_hinge():
    """Checks ``fn(G, D, opt_d, x_real, z)``: one discriminator update with the hinge
    loss  E_x[max(0, 1 − D(x))] + E_z[max(0, 1 + D(G(z)))]  on D's logits, fakes
    detached (the function returns nothing; the check looks at what it did)."""
    return Spec(
        reference=_hinge_d_step,
        cases=_step_cases,
        outputs=("D's weights after the step", "the gradients left in G"),
        mistakes=[
            Mistake(lambda G, D, o, x, z: _hinge_d_step(G, D, o, x, z, detach=False),
                    "the fakes are not detached: the D loss sent gradients into G. "
                    "Use G(z).detach() (or make them under torch.no_grad())."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(G, D, o, x, z, zero=False),
                    "opt_d.zero_grad() is missing: PyTorch adds new gradients to "
                    "the old ones, so the step used last step's gradients too."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(
                        G, D, o, x, z, loss=lambda r, f: F.relu(1 - r).mean()
                        + F.relu(1 - f).mean()),
                    "the fakes are treated as real: their term is max(0, 1 + D(G(z))) "
                    "(D pushes fake logits below −1), not max(0, 1 − D(G(z)))."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(
                        G, D, o, x, z, loss=losses.d_loss_wasserstein),
                    "the max(0, ·) is missing: this is the Wasserstein critic loss. "
                    "The hinge stops pushing once a logit is beyond ±1."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(
                        G, D, o, x, z, loss=losses.d_loss_minimax),
                    "this is the cross-entropy D loss of the earlier cells; the "
                    "exercise asks for the hinge: F.relu(1 − d_real).mean() + "
                    "F.relu(1 + d_fake).mean()."),
        ],
    )


def _hinge_g_step(G, D, opt_g, z, detach=False, zero=True, loss=None):
    x_fake = G(z)
    if detach:
        x_fake = x_fake.detach()
    loss_g = (loss or losses.g_loss_hinge)(D(x_fake))
    if zero:
        opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()


@step_exercise(_adapt_g_step)
def g_step_hinge():
    """Checks ``fn(G, D, opt_g, z)``: one generator update with the hinge generator
    loss  −E_z[D(G(z))]  on D's logits (D's weights must not change)."""
    return Spec(
        reference=_hinge_g_step,
        cases=_step_cases,
        outputs=("G's weights after the step", "D's weights after the step"),
        mistakes=[
            Mistake(lambda G, D, o, z: _hinge_g_step(G, D, o, z,
                                                     loss=lambda d: d.mean()),
                    "the sign is flipped: G wants D(G(z)) *high*, so it minimises "
                    "−mean(D(G(z)))."),
            Mistake(lambda G, D, o, z: _hinge_g_step(
                        G, D, o, z, loss=losses.g_loss_nonsaturating),
                    "this is the non-saturating loss −E[log D(G(z))] of the earlier "
                    "cells; the hinge generator loss is −mean(D(G(z))) on the logits."),
            Mistake(lambda G, D, o, z: _hinge_g_step(G, D, o, z, detach=True),
                    "G's weights did not move: the fakes were detached, so no "
                    "gradient reached G. Detach only in the D step."),
            Mistake(lambda G, D, o, z: _hinge_g_step(G, D, o, z, zero=False),
                    "opt_g.zero_grad() is missing: the step also used the gradients "
                    "left over from before."),
        ],
    )
