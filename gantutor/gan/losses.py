"""Losses, one formula per function. D(x) below is sigmoid(logit); all functions take
the discriminator's *logits* and are written with softplus, using

    log D(x)       = log sigmoid(l)     = -softplus(-l)
    log(1 - D(x))  = log sigmoid(-l)    = -softplus(l)

which stays exact where sigmoid saturates. Every loss is a quantity to *minimise*.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import GantutorError


def empirical_risk(model: Callable, loss: Callable, x: torch.Tensor,
                   y: torch.Tensor) -> torch.Tensor:
    """L(θ) = 1/N Σ_i ℓ(M_θ(x_i), y_i), with ``loss`` returning per-example values."""
    per_example = loss(model(x), y)
    if per_example.dim() == 0:
        raise GantutorError(
            "empirical_risk needs a per-example loss (reduction='none')")
    return per_example.mean()


def bits_per_label(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Average log-loss in bits, 1/N Σ -log2 p(y_i | x_i): the cost of the labels."""
    return F.cross_entropy(logits, y) / torch.log(torch.tensor(2.0))


def value_function(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]; D maximises it, G minimises."""
    return -F.softplus(-d_real).mean() - F.softplus(d_fake).mean()


def d_loss_minimax(d_real: torch.Tensor, d_fake: torch.Tensor,
                   smooth: float = 0.0) -> torch.Tensor:
    """-V(D, G) = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]: binary cross-entropy with
    real labelled 1 and fake labelled 0.

    ``smooth`` > 0 is one-sided label smoothing (Salimans et al. 2016): real targets
    become 1 - smooth; fake targets stay 0.
    """
    real = F.binary_cross_entropy_with_logits(
        d_real, torch.full_like(d_real, 1.0 - smooth))
    fake = F.softplus(d_fake).mean()  # -E[log(1 - D(G(z)))]
    return real + fake


def g_loss_minimax(d_fake: torch.Tensor) -> torch.Tensor:
    """The saturating generator loss E_z[log(1 - D(G(z)))], minimised by G.

    Its gradient vanishes when D confidently rejects the fakes (early in training).
    """
    return -F.softplus(d_fake).mean()


def g_loss_nonsaturating(d_fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -E_z[log D(G(z))] (Goodfellow et al. 2014)."""
    return F.softplus(-d_fake).mean()


def d_loss_hinge(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss for D: E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))] on logits."""
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def g_loss_hinge(d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss for G: -E_z[D(G(z))] on logits."""
    return -d_fake.mean()


def d_loss_wasserstein(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss: E_z[D(G(z))] - E_x[D(x)] (D is a critic here)."""
    return d_fake.mean() - d_real.mean()


def g_loss_wasserstein(d_fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss: -E_z[D(G(z))]."""
    return -d_fake.mean()


def gradient_penalty(D, x_real: torch.Tensor, x_fake: torch.Tensor, y=None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E_x̂[(‖∇_x̂ D(x̂)‖₂ - 1)²], x̂ = εx + (1-ε)x̃.

    ε ~ U(0, 1) per sample. Uses ``autograd.grad(create_graph=True)`` so the penalty
    backpropagates with an ordinary ``backward()`` (which also works under DDP).
    """
    shape = (x_real.shape[0],) + (1,) * (x_real.dim() - 1)
    eps = torch.rand(shape, device=x_real.device, generator=generator)
    x_hat = (eps * x_real + (1 - eps) * x_fake.detach()).requires_grad_(True)
    out = D(x_hat) if y is None else D(x_hat, y)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(D, x_real: torch.Tensor, y=None) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E_x[‖∇_x D(x)‖²] on real data; multiply by γ/2."""
    x = x_real.detach().requires_grad_(True)
    out = D(x) if y is None else D(x, y)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


# name -> (discriminator loss, generator loss). "minimax" is the saturating game as
# written in the value function; "nonsaturating" is what practitioners train with.
# The names are config.LOSS_NAMES, in that order (TrainConfig checks them without
# importing torch; tests/test_losses.py checks that the two agree).
LOSSES = {
    "nonsaturating": (d_loss_minimax, g_loss_nonsaturating),
    "minimax": (d_loss_minimax, g_loss_minimax),
    "hinge": (d_loss_hinge, g_loss_hinge),
    "wasserstein": (d_loss_wasserstein, g_loss_wasserstein),
}


def get_losses(name: str):
    """(d_loss, g_loss) for a loss name: nonsaturating, minimax, hinge, wasserstein."""
    try:
        return LOSSES[name]
    except KeyError:
        raise GantutorError(f"unknown loss {name!r}: choose one of "
                            f"{', '.join(LOSSES)}") from None
