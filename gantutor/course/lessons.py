"""Teaching helpers for notebook 05: one GAN step spelled out, and the classic bugs.

:func:`gan_step` is one discriminator update followed by one generator update, the
very steps :func:`gantutor.train_gan` takes (:mod:`gantutor.gan.steps`; here with
``d_steps=1``, no penalties): the fake batch made for the D step is reused,
detached, in the D step and attached in the G step, and D's weights are frozen during
the G step. The tests check that it changes the weights exactly as the first step of
``train_gan`` does.

``bug=`` switches on one of the classic mistakes (:data:`BUGS`), and
:func:`train_variant` trains a pair of networks with it, so a notebook can show each
symptom next to the correct run. :func:`noise_like` makes the fourth bug's "data".
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data import Batches
from ..errors import GantutorError
from ..gan import steps
from ..gan.config import TrainConfig
from ..gan.losses import get_losses
from ..gan.train import History, adam, resolve_device

# name -> what the mistake is, in words
BUGS = {
    "d_applied_twice": "the discriminator applied to its own output: D(D(x))",
    "double_sigmoid": "D ends in a sigmoid and the loss applies another: σ(σ(logit))",
    "no_detach": "fakes not detached in the D step",
    "no_detach_retain": "fakes not detached, and retain_graph=True added to silence "
                        "the error that follows",
    "fake_labelled_real": "fakes labelled as real (target 1) in the D step",
    "noise_as_data": "random noise used as the training data",
}


def _check_bug(bug: str | None) -> None:
    if bug is not None and bug not in BUGS:
        raise GantutorError(f"unknown bug {bug!r}: choose one of {', '.join(BUGS)}, "
                            "or None for the correct step")


def d_logits(D, x: torch.Tensor, bug: str | None = None) -> torch.Tensor:
    """D's logit for x, or what a buggy discriminator computes in its place."""
    logit = D(x)
    if bug == "d_applied_twice":
        # D(D(x)): D's input is a sample, but here it is given D's own output
        logit = D(logit)
    elif bug == "double_sigmoid":
        # D returns probabilities σ(l); a logits loss then treats them as logits
        logit = torch.sigmoid(logit)
    return logit


def d_step(G, D, opt_d, x_real: torch.Tensor, z: torch.Tensor,
           loss: str = "nonsaturating", bug: str | None = None):
    """One discriminator update; returns (stats, x_fake).

    Minimises d_loss(D(x_real), D(sg[G(z)])), where sg (stop-gradient, ``.detach()``)
    keeps the update out of G. ``x_fake`` is returned still attached to G, for the
    generator step. stats: d_loss, d_real = mean D(x), d_fake = mean D(G(z)). The
    update is train_gan's (:func:`gantutor.gan.steps.d_update`); a bug swaps one of its
    ingredients.
    """
    _check_bug(bug)
    d_loss_fn, _ = get_losses(loss)
    if bug == "fake_labelled_real":
        d_loss_fn = _fakes_labelled_real
    x_fake = G(z)  # (B, z_dim) -> (B, *shape)
    x_fake_d = x_fake if bug in ("no_detach", "no_detach_retain") else x_fake.detach()
    # without detach this backward pass also runs through G and frees G's graph, so
    # the G step's backward fails ("Trying to backward through the graph a second
    # time") unless retain_graph=True keeps the graph alive
    loss_d, d_real, d_fake = steps.d_update(
        functools.partial(d_logits, D, bug=bug), opt_d, d_loss_fn, x_real, x_fake_d,
        retain_graph=bug == "no_detach_retain")
    stats = {"d_loss": loss_d.detach(), "d_real": torch.sigmoid(d_real.detach()).mean(),
             "d_fake": torch.sigmoid(d_fake.detach()).mean()}
    return stats, x_fake


def _fakes_labelled_real(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The bug's D loss: both halves get target 1, -E[log D(x)] - E[log D(G(z))]."""
    return F.softplus(-d_real).mean() + F.softplus(-d_fake).mean()


def g_step(G, D, opt_g, x_fake: torch.Tensor, loss: str = "nonsaturating",
           bug: str | None = None) -> torch.Tensor:
    """One generator update on fakes still attached to G; returns the G loss.

    Minimises g_loss(D(G(z))) (non-saturating: -E[log D(G(z))]) over G's weights only:
    D's weights are frozen (``requires_grad_(False)``) for the pass, a fixed judge
    (:func:`gantutor.gan.steps.g_update`).
    """
    _check_bug(bug)
    _, g_loss_fn = get_losses(loss)
    loss_g = steps.g_update(functools.partial(d_logits, D, bug=bug), opt_g, g_loss_fn,
                          x_fake, frozen=D)
    return loss_g.detach()


def gan_step(G, D, opt_g, opt_d, x_real: torch.Tensor, z: torch.Tensor,
             loss: str = "nonsaturating", bug: str | None = None) -> dict:
    """One D update, then one G update on the same fakes; returns the four numbers
    train_gan logs: d_loss, g_loss, d_real (mean D(x)), d_fake (mean D(G(z)))."""
    stats, x_fake = d_step(G, D, opt_d, x_real, z, loss, bug)
    stats["g_loss"] = g_step(G, D, opt_g, x_fake, loss, bug)
    return stats


def noise_like(data, seed: int = 0):
    """The fourth bug's "data": uniform noise in [-1, 1] with the shape of ``data``.

    Returns a copy of ``data`` whose ``x`` is noise (the labels are kept).
    """
    import copy

    gen = torch.Generator().manual_seed(seed)
    noisy = copy.copy(data)
    noisy.x = torch.rand(data.x.shape, generator=gen).to(data.x.device) * 2 - 1
    noisy.name = f"noise shaped like {data.name}"
    noisy.source = "torch.rand (the bug: this is not the data)"
    return noisy


def max_weight_change(net_a, net_b) -> float:
    """max |w_a - w_b| over all parameters of two networks of the same architecture."""
    diffs = [(a.detach() - b.detach()).abs().max()
             for a, b in zip(net_a.parameters(), net_b.parameters(), strict=True)]
    return float(torch.stack(diffs).max())


@dataclass
class VariantRun:
    """What :func:`train_variant` measured: the history, the time, any error."""

    bug: str | None
    history: History
    seconds: float
    steps_done: int
    error: str | None = None  # "ExceptionType: message" when the bug crashed the run
    # no_detach_retain: norm of the gradient the D loss left in G (computed, unused)
    g_grad_from_d_step: list = field(default_factory=list)

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / max(self.steps_done, 1)


def train_variant(G, D, data, cfg: TrainConfig, bug: str | None = None,
                  on_step=None) -> VariantRun:
    """Train with :func:`gan_step` (optionally with a bug) for ``cfg.steps`` steps.

    Uses cfg's batch_size, lr, betas, loss, seed, device, log_every, snapshot_every,
    n_fixed. A bug that crashes the run is caught and reported in ``error``; the
    networks keep what they learned until then. ``noise_as_data`` replaces the data
    with :func:`noise_like` noise. The history has the same columns as train_gan's.
    """
    _check_bug(bug)
    device = resolve_device(cfg.device)
    if bug == "noise_as_data":
        data = noise_like(data, seed=cfg.seed)
    G.to(device).train()
    D.to(device).train()
    gen = torch.Generator(device).manual_seed(cfg.seed)
    batches = Batches(data.x.to(device), batch_size=cfg.batch_size, generator=gen)
    fixed_z = torch.randn(cfg.n_fixed, G.z_dim, device=device,
                          generator=torch.Generator(device).manual_seed(cfg.seed + 1))
    opt_g = adam(G.parameters(), cfg.lr, cfg.betas, device)
    opt_d = adam(D.parameters(), cfg.lr_d or cfg.lr, cfg.betas, device)
    run = VariantRun(bug, History(), 0.0, 0)
    window = []
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        (x_real,) = batches.next()
        z = torch.randn(cfg.batch_size, G.z_dim, device=device, generator=gen)
        try:
            stats, x_fake = d_step(G, D, opt_d, x_real, z, cfg.loss, bug)
            if bug == "no_detach_retain" and step % cfg.log_every == 0:
                run.g_grad_from_d_step.append(_grad_norm(G))
            stats["g_loss"] = g_step(G, D, opt_g, x_fake, cfg.loss, bug)
        except (RuntimeError, IndexError) as err:  # the crash is the bug's symptom
            first = (str(err).splitlines() or [""])[0].split(" (")[0]
            run.error = f"{type(err).__name__}: {first}"
            break
        window.append(torch.stack([stats["d_loss"], stats["g_loss"], stats["d_real"],
                                   stats["d_fake"]]))
        run.steps_done = step
        if step % cfg.log_every == 0 or step == cfg.steps:
            run.history.append(step, torch.stack(window).mean(0).tolist())
            window = []
            if cfg.snapshot_every and (step % cfg.snapshot_every == 0
                                       or step == cfg.steps):
                run.history.snapshots.append((step, _fixed_samples(G, fixed_z)))
            if on_step is not None:
                on_step(step, run.history)
    run.seconds = time.perf_counter() - t0
    return run


def _grad_norm(net) -> float:
    grads = [p.grad.detach().flatten() for p in net.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def _fixed_samples(G, fixed_z) -> torch.Tensor:
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = G(fixed_z)
    G.train(was_training)
    return x.float().cpu()


def plot_runs(runs: dict, n_images: int = 16):
    """One column per run: its last samples over its D(x) and D(G(z)) curves.

    ``runs`` maps a title to a :class:`VariantRun`; a run that crashed shows its
    error instead. Returns the figure.
    """
    import textwrap

    import matplotlib.pyplot as plt

    from .. import plot

    n = len(runs)
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.6), squeeze=False,
                             gridspec_kw={"height_ratios": [1.2, 1]})
    for col, (title, run) in enumerate(runs.items()):
        top, bottom = axes[0, col], axes[1, col]
        top.set_title(title, fontsize=9)
        if run.history.snapshots:
            step, x = run.history.snapshots[-1]
            plot.show_images(x[:n_images], nrow=int(n_images ** 0.5), ax=top)
            top.set_title(f"{title}\n(step {step})", fontsize=9)
        else:
            top.set_axis_off()
            top.text(0.5, 0.5, textwrap.fill(run.error or "no samples", 22),
                     ha="center", va="center", fontsize=7, color="darkred",
                     transform=top.transAxes)
        h = run.history
        if h.step:
            bottom.plot(h.step, h.d_real, label="D(x)")
            bottom.plot(h.step, h.d_fake, label="D(G(z))")
            bottom.axhline(0.5, color="gray", lw=0.8, ls="--")
        else:
            bottom.text(0.5, 0.5, "crashed at step 1", ha="center", va="center",
                        fontsize=8, transform=bottom.transAxes)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("step", fontsize=8)
        bottom.tick_params(labelsize=7)
        if col == 0:
            bottom.legend(fontsize=7)
    fig.tight_layout()
    return fig
