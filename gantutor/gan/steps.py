"""One GAN update, written once: the discriminator step and the generator step.

:func:`gantutor.train_gan` takes them (with DDP, compile, penalties and conditioning
around them), and so do the teaching steps of notebook 05 (``gt.lessons``, whose
bugs swap one ingredient) and the minimal loop of ``gt.scaling``.

The discriminator sees fakes detached from G (``sg[G(z)]``); the generator step
back-propagates through D into G with D's weights frozen, so no weight gradient of D
is computed that nobody uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def update(opt: torch.optim.Optimizer, loss: torch.Tensor,
           retain_graph: bool = False) -> None:
    """One optimiser step on ``loss``: clear the gradients, back-propagate, step."""
    opt.zero_grad(set_to_none=True)
    loss.backward(retain_graph=retain_graph)
    opt.step()


def d_update(D: Callable, opt_d, d_loss: Callable, x_real: torch.Tensor,
           x_fake: torch.Tensor, y_real=None, y_fake=None, *,
           penalties: Sequence[Callable] = (), retain_graph: bool = False):
    """One discriminator update; returns (loss_d, d_real, d_fake), the last two D's
    logits on the real and the fake batch.

    Minimises d_loss(D(x_real), D(x_fake)) plus each penalty(x_real, x_fake, y_real),
    added in order. ``x_fake`` is normally detached from G. y_real, y_fake: class
    labels for a conditional D, else None. ``retain_graph`` keeps the graph for a
    second backward pass (only the lessons' ``no_detach_retain`` bug asks for it).
    """
    d_real = D(x_real, *label_args(y_real))
    d_fake = D(x_fake, *label_args(y_fake))
    loss_d = d_loss(d_real, d_fake)
    for penalty in penalties:
        loss_d = loss_d + penalty(x_real, x_fake, y_real)
    update(opt_d, loss_d, retain_graph)
    return loss_d, d_real, d_fake


def g_update(D: Callable, opt_g, g_loss: Callable, x_fake: torch.Tensor, y_fake=None,
           *, frozen: torch.nn.Module | None = None) -> torch.Tensor:
    """One generator update on fakes still attached to G; returns the G loss.

    Minimises g_loss(D(x_fake)) over G's weights. ``frozen`` (normally D itself) has
    its weights' ``requires_grad`` off for the pass: D is a fixed judge here, and no
    gradient of its weights is computed. None leaves D as it is (torch.compile
    must not see the switch).
    """
    if frozen is not None:
        frozen.requires_grad_(False)
    try:
        loss_g = g_loss(D(x_fake, *label_args(y_fake)))
        update(opt_g, loss_g)
    finally:
        if frozen is not None:
            frozen.requires_grad_(True)
    return loss_g


def gan_update(G, D, opt_g, opt_d, d_loss: Callable, g_loss: Callable,
             x_real: torch.Tensor, z: torch.Tensor):
    """One D update, then one G update on the same fakes: the plain GAN step
    (unconditional, no penalties), as ``train_gan`` takes it with ``d_steps=1``.

    Returns (loss_d, loss_g, d_real, d_fake), the last two D's logits.
    """
    x_fake = G(z)  # (B, z_dim) -> (B, *shape)
    loss_d, d_real, d_fake = d_update(D, opt_d, d_loss, x_real, x_fake.detach())
    loss_g = g_update(D, opt_g, g_loss, x_fake, frozen=D)
    return loss_d, loss_g, d_real, d_fake


def label_args(y) -> tuple:
    """The extra positional argument of a conditional network: (y,), or ()."""
    return () if y is None else (y,)
