"""The GAN objective on one-dimensional Gaussians, where everything can be computed.

Data p = N(μ_p, σ_p²), generator q = N(μ_q, σ_q²). For a fixed generator the
discriminator that maximises

    V(D, G) = E_{x~p}[log D(x)] + E_{x~q}[log(1 − D(x))]

is D*(x) = p(x) / (p(x) + q(x)), and at that optimum V(D*, G) = 2·JSD(p‖q) − log 4.
Here the expectations are integrals over a fine grid (Simpson's rule, float64), done
with log-densities so that nothing underflows in the tails, and a discriminator network
can be trained on samples and compared with D*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..errors import GantutorError
from .losses import d_loss_minimax, g_loss_minimax, g_loss_nonsaturating

LOG4 = math.log(4.0)


@dataclass(frozen=True)
class Gaussian:
    """N(mu, sigma²) on the real line."""

    mu: float = 0.0
    sigma: float = 1.0

    def __post_init__(self):
        if not self.sigma > 0:
            raise GantutorError(f"a Gaussian needs sigma > 0, got {self.sigma}")

    def log_pdf(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; μ, σ²) = −(x − μ)²/(2σ²) − log σ − ½ log 2π."""
        return (-0.5 * ((x - self.mu) / self.sigma) ** 2 - math.log(self.sigma)
                - 0.5 * math.log(2 * math.pi))

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_pdf(x).exp()

    def sample(self, n: int, generator: torch.Generator | None = None,
               device=None) -> torch.Tensor:
        """n samples as a column (n, 1), the shape a discriminator network takes."""
        z = torch.randn(n, 1, generator=generator, device=device)
        return self.mu + self.sigma * z


def support_grid(p: Gaussian, q: Gaussian, n: int = 20001,
                 width: float = 12.0) -> torch.Tensor:
    """n equally spaced float64 points covering μ ± width·σ of both Gaussians (n odd,
    as Simpson's rule needs). Beyond 12σ a Gaussian holds less than 1e-32 of its mass.
    """
    if n < 3 or n % 2 == 0:
        raise GantutorError(f"the grid needs an odd number of points >= 3, got {n}")
    lo = min(p.mu - width * p.sigma, q.mu - width * q.sigma)
    hi = max(p.mu + width * p.sigma, q.mu + width * q.sigma)
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def integrate(fx: torch.Tensor, x: torch.Tensor) -> float:
    """∫ f(x) dx by Simpson's rule on the uniform grid x (odd length):
    h/3 · (f_0 + 4f_1 + 2f_2 + 4f_3 + ... + 4f_{n−2} + f_{n−1})."""
    n = x.shape[0]
    if n < 3 or n % 2 == 0 or fx.shape != x.shape:
        raise GantutorError("integrate needs f(x) and x of the same odd length >= 3")
    h = (x[-1] - x[0]) / (n - 1)
    weights = torch.ones_like(x)
    weights[1:-1:2] = 4.0
    weights[2:-1:2] = 2.0
    return float(h / 3 * (weights * fx).sum())


def optimal_discriminator(p_x: torch.Tensor, q_x: torch.Tensor) -> torch.Tensor:
    """D*(x) = p(x) / (p(x) + q(x)), from the densities at x (0.5 where both are 0)."""
    total = p_x + q_x
    return torch.where(total > 0, p_x / total.clamp_min(torch.finfo(total.dtype).tiny),
                       torch.full_like(total, 0.5))


def optimal_logit(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """The logit of D*: log D*/(1 − D*) = log p(x) − log q(x)."""
    return log_p - log_q


def value_integral(logit: torch.Tensor, log_p: torch.Tensor, log_q: torch.Tensor,
                   x: torch.Tensor) -> float:
    """V(D, G) = ∫ p(x) log D(x) + q(x) log(1 − D(x)) dx, for D(x) = sigmoid(logit),
    on the grid x; log D = −softplus(−logit), log(1 − D) = −softplus(logit)."""
    integrand = (log_p.exp() * -F.softplus(-logit)  # p(x) log D(x)
                 + log_q.exp() * -F.softplus(logit))  # q(x) log(1 − D(x))
    return integrate(integrand, x)


def optimal_value(p: Gaussian, q: Gaussian, n: int = 20001) -> float:
    """V(D*, G): the value function at the optimal discriminator, by integration."""
    x = support_grid(p, q, n)
    log_p, log_q = p.log_pdf(x), q.log_pdf(x)
    return value_integral(optimal_logit(log_p, log_q), log_p, log_q, x)


def kl_divergence(log_p: torch.Tensor, log_q: torch.Tensor, x: torch.Tensor) -> float:
    """KL(p‖q) = ∫ p(x) log(p(x)/q(x)) dx on the grid x, from log-densities."""
    return integrate(log_p.exp() * (log_p - log_q), x)


def js_divergence(p: Gaussian, q: Gaussian, n: int = 20001) -> float:
    """JSD(p‖q) = ½ KL(p‖m) + ½ KL(q‖m), m = (p + q)/2, by integration (nats)."""
    x = support_grid(p, q, n)
    log_p, log_q = p.log_pdf(x), q.log_pdf(x)
    log_m = torch.logaddexp(log_p, log_q) - math.log(2.0)  # log((p + q)/2)
    return 0.5 * kl_divergence(log_p, log_m, x) + 0.5 * kl_divergence(log_q, log_m, x)


def discriminator_gap(D, p: Gaussian, q: Gaussian, n: int = 4001) -> float:
    """How far a discriminator network is from D*, where the data are:

        E_{x~m}|sigmoid(D(x)) − D*(x)|,   m = (p + q)/2

    ``D`` maps (n, 1) inputs to (n,) logits.
    """
    x = support_grid(p, q, n, width=6.0)
    log_p, log_q = p.log_pdf(x), q.log_pdf(x)
    d_star = torch.sigmoid(optimal_logit(log_p, log_q))
    d_net = discriminator_probability(D, x)
    m = 0.5 * (log_p.exp() + log_q.exp())
    return integrate(m * (d_net - d_star).abs(), x)


@torch.no_grad()
def discriminator_logits(D, x: torch.Tensor) -> torch.Tensor:
    """D's logits on a 1-D grid x, as float64 on the CPU (D evaluated in its own
    dtype, on its own device, in eval mode)."""
    param = next(D.parameters())
    was_training = D.training
    D.eval()
    # cast before moving: MPS has no float64
    logits = D(x.to(param.dtype).to(param.device)[:, None])
    D.train(was_training)
    return logits.reshape(-1).double().cpu()


def discriminator_probability(D, x: torch.Tensor) -> torch.Tensor:
    """D(x) = sigmoid(logit) of a discriminator network on a 1-D grid x (float64)."""
    return torch.sigmoid(discriminator_logits(D, x))


def discriminator_value(D, p: Gaussian, q: Gaussian, n: int = 20001) -> float:
    """V(D, G) = ∫ p log D + q log(1 − D) dx for a discriminator network D, by
    integration: never above V(D*, G), which D* maximises pointwise."""
    x = support_grid(p, q, n)
    return value_integral(discriminator_logits(D, x), p.log_pdf(x), q.log_pdf(x), x)


def fit_discriminator(D, p: Gaussian, q: Gaussian, steps: int, batch_size: int = 512,
                      lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Train ``D`` to tell samples of p (real) from samples of q (fake): Adam on
    −V(D, G) = ``gt.losses.d_loss_minimax``, fresh samples every step. Returns the loss
    of every step."""
    device = next(D.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    losses = []
    D.train()
    for _ in range(steps):
        x_real = p.sample(batch_size, gen, device)
        x_fake = q.sample(batch_size, gen, device)
        loss = d_loss_minimax(D(x_real), D(x_fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return [float(v) for v in torch.stack(losses)] if losses else []


def generator_logit_gradients(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """∂ℓ/∂l, per fake sample, of each generator loss at D's logit l on that sample,
    computed by autograd through ``gt.losses``:

        saturating      ℓ = log(1 − sigmoid(l))   ∂ℓ/∂l = −sigmoid(l)
        non-saturating  ℓ = −log sigmoid(l)       ∂ℓ/∂l = −(1 − sigmoid(l))
    """
    out = {}
    for name, loss in (("saturating", g_loss_minimax),
                       ("non-saturating", g_loss_nonsaturating)):
        l = logits.detach().clone().requires_grad_(True)
        # the losses average over the batch; times N gives each sample's own gradient
        (grad,) = torch.autograd.grad(loss(l) * l.numel(), l)
        out[name] = grad
    return out


def plot_dstar(p, q, d_net=None, ax=None, title=None, n: int = 801,
               legend: bool = True):
    """Data density p, generator density q (left axis) and the optimal discriminator
    D* = p/(p+q) (right axis) of two 1-D Gaussians; ``d_net``, a discriminator network
    (logits out), is drawn next to D* when given."""
    x = support_grid(p, q, n, width=4.0)
    p_x, q_x = p.pdf(x), q.pdf(x)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    xs = x.numpy()
    ax.fill_between(xs, p_x.numpy(), alpha=0.25, color="C0")
    ax.plot(xs, p_x.numpy(), color="C0", label="p (data)")
    ax.fill_between(xs, q_x.numpy(), alpha=0.25, color="C1")
    ax.plot(xs, q_x.numpy(), color="C1", label="q (generator)")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax2 = ax.twinx()
    ax2.plot(xs, optimal_discriminator(p_x, q_x).numpy(), color="k", lw=2,
             label="D* = p/(p+q)")
    if d_net is not None:
        ax2.plot(xs, discriminator_probability(d_net, x).numpy(), color="C3", ls="--",
                 lw=2, label="trained D")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("D(x)")
    if legend:
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_dstar_panels(p, generators, n: int = 801):
    """One :func:`dstar` panel per generator Gaussian q, titled with V(D*, G) and
    JSD(p‖q): the static version of ``gt.widgets.dstar_explorer``."""
    fig, axes = plt.subplots(1, len(generators), figsize=(4.2 * len(generators), 3.2),
                             squeeze=False)
    for i, (ax, q) in enumerate(zip(axes[0], generators)):
        title = (f"q = N({q.mu:g}, {q.sigma:g}²)\nV(D*, G) = {optimal_value(p, q):.3f},"
                 f"  JSD = {js_divergence(p, q):.3f}")
        plot_dstar(p, q, ax=ax, title=title, n=n, legend=i == 0)
    fig.tight_layout()
    return fig


def plot_logit_gradients(logits, grads: dict, fake_logits=None, ax=None, title=None):
    """|∂ℓ/∂l| of each generator loss against D's logit l on a fake sample, with a
    histogram of the logits D actually gives to fakes when ``fake_logits`` is given."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    ls = torch.as_tensor(logits).detach().cpu().numpy()
    for name, g in grads.items():
        ax.plot(ls, torch.as_tensor(g).detach().abs().cpu().numpy(), lw=2,
                label=f"{name}: |∂ℓ/∂l|")
    ax.set_yscale("log")
    ax.set_xlabel("D's logit l on a fake sample   (D(G(z)) = sigmoid(l))")
    ax.set_ylabel("|gradient| w.r.t. the logit")
    if fake_logits is not None:
        ax2 = ax.twinx()
        fl = torch.as_tensor(fake_logits).detach().float().cpu().numpy()
        ax2.hist(fl, bins=40, color="gray", alpha=0.35)
        ax2.set_ylabel("fake samples (count)")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
