"""Lossy compression with a generator: find a latent code for an image, decode it.

A trained generator G maps a latent z (d numbers) to an image. Used as a decoder, it
turns d numbers into 784 pixels, so an image can be sent as "the z whose G(z) looks
like it". This module finds that z, two ways:

* *inversion*: optimise z so that G(z) ≈ x, from several starting points
  (:func:`invert`): slow, one optimisation per image, but as close as G allows;
* an *encoder* network trained to predict z in one forward pass
  (:class:`LatentEncoder`, :func:`train_encoder`): amortised, fast, less exact.

:func:`compare_methods` measures the trade-off. A :class:`LatentCodec` bundles a way
of finding z, a decoder and a fitted prior; :mod:`.latentcode` quantises and
entropy-codes the latents, :mod:`.ratedistortion` measures the result. The
rival with the same latent size is an autoencoder whose decoder has G's architecture
(:func:`build_autoencoder`, :func:`train_autoencoder`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GantutorError
from . import latentcode

# ------------------------------------------------------------------ the networks


class LatentEncoder(nn.Module):
    """x (B, C, H, W) in [-1, 1] -> z (B, z_dim): fully connected with LeakyReLU(0.2).

    The default sizes mirror the course's MLP discriminator (784 -> 512 -> 256), with
    z_dim outputs instead of one logit.
    """

    def __init__(self, shape=(1, 28, 28), z_dim: int = 32, hidden=(512, 256)):
        super().__init__()
        self.shape, self.z_dim = tuple(shape), z_dim
        layers, width = [nn.Flatten()], math.prod(shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, z_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, C, H, W) -> (B, z_dim)


def build_autoencoder(G: nn.Module, hidden=(512, 256)):
    """(encoder, decoder) for the autoencoder baseline: the decoder is a fresh,
    untrained copy of G's architecture (same latent size, same network), the encoder
    a :class:`LatentEncoder`."""
    from ..gan.models import from_spec

    spec = getattr(G, "spec", None)
    if spec is None:
        raise GantutorError("the generator has no .spec; build it with gt.build_gan so "
                            "its architecture can be copied")
    device = _device_of(G)
    decoder = from_spec(spec).to(device)
    return LatentEncoder(G.shape, G.z_dim, hidden).to(device), decoder


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def _check_images(x: torch.Tensor, shape) -> None:
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(shape):
        want = ", ".join(map(str, shape))
        raise GantutorError(f"expected images of shape (N, {want}), got "
                            f"{tuple(x.shape)}; use images of the dataset the "
                            "generator was trained on")


def _train(params, loss_fn, x, steps, batch_size, lr, seed, every=50) -> list[float]:
    """Adam on ``loss_fn(x_batch, gen)``; returns the mean loss of every ``every``
    steps."""
    if len(x) < batch_size:
        raise GantutorError(f"batch size {batch_size} is larger than the {len(x)} "
                            "training images; lower batch_size")
    gen = torch.Generator(x.device).manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    losses, acc, n = [], torch.zeros((), device=x.device), 0
    perm, pos = None, len(x)
    for step in range(steps):
        if pos + batch_size > len(x):
            perm, pos = torch.randperm(len(x), generator=gen, device=x.device), 0
        batch = x[perm[pos:pos + batch_size]]
        pos += batch_size
        loss = loss_fn(batch, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        acc += loss.detach()
        n += 1
        if n == every or step == steps - 1:
            losses.append(float(acc) / n)  # one host synchronisation per window
            acc.zero_()
            n = 0
    return losses


def train_encoder(G, E, x, steps: int = 2000, batch_size: int = 64, lr: float = 1e-3,
                  latent_weight: float = 1.0, seed: int = 0) -> list[float]:
    """Train the encoder E to invert the frozen generator G (amortised inversion):

        loss = 1/n ‖G(E(x)) − x‖²  +  latent_weight · 1/d ‖E(G(z)) − z‖²,  z ~ N(0, I)

    The first term fits real training images; the second teaches E the generator's own
    latents, keeping its outputs where G was trained. Returns the loss every 50 steps.
    """
    device = _device_of(G)
    x = x.to(device)
    _check_images(x, G.shape)
    E.to(device).train()
    was_training = G.training
    G.eval()
    G.requires_grad_(False)

    def loss_fn(batch, gen):
        z = torch.randn(len(batch), G.z_dim, device=device, generator=gen)
        fit_real = F.mse_loss(G(E(batch)), batch)
        fit_latent = F.mse_loss(E(G(z)), z)
        return fit_real + latent_weight * fit_latent

    try:
        return _train(E.parameters(), loss_fn, x, steps, batch_size, lr, seed)
    finally:
        G.requires_grad_(True)
        G.train(was_training)
        E.eval()


def train_autoencoder(E, decoder, x, steps: int = 2000, batch_size: int = 64,
                      lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Train encoder and decoder together on the reconstruction error,
    loss = 1/n ‖dec(E(x)) − x‖². Returns the loss every 50 steps."""
    device = _device_of(decoder)
    x = x.to(device)
    _check_images(x, decoder.shape)
    E.to(device).train()
    decoder.train()
    params = list(E.parameters()) + list(decoder.parameters())
    try:
        return _train(params, lambda b, g: F.mse_loss(decoder(E(b)), b), x, steps,
                      batch_size, lr, seed)
    finally:
        E.eval()
        decoder.eval()


# ------------------------------------------------------------------- inversion


@dataclass
class Inversion:
    """Latents found for N images: z (N, d), the per-image mean squared error of G(z)
    (N,), the restart each came from (N,), and the wall time in seconds."""

    z: torch.Tensor
    mse: torch.Tensor
    restart: torch.Tensor
    seconds: float


def invert(G, x, restarts: int = 4, steps: int = 200, lr: float = 0.1,
           init: torch.Tensor | None = None, prior_weight: float = 1e-3,
           seed: int = 0, batch_size: int = 1024) -> Inversion:
    """Find z for each image by gradient descent (Adam) through the frozen generator:

        z* = argmin_z  1/n ‖G(z) − x‖²  +  λ · 1/d ‖z‖²

    from ``restarts`` starting points per image (z ~ N(0, I); the first is ``init``
    when given, e.g. the encoder's guess). For each image it keeps the z with the
    smallest error 1/n ‖G(z) − x‖² met on any run, the starting points included, so
    the result is never worse than ``init``. The small λ (``prior_weight``) keeps z
    where G was trained.
    """
    if restarts < 1 or steps < 0:
        raise GantutorError("invert needs restarts >= 1 and steps >= 0")
    device = _device_of(G)
    x = x.to(device)
    _check_images(x, G.shape)
    gen = torch.Generator(device).manual_seed(seed)
    n, d = len(x), G.z_dim
    z0 = torch.randn(restarts, n, d, device=device, generator=gen)
    if init is not None:
        z0[0] = init.to(device)
    was_training = G.training
    G.eval()
    G.requires_grad_(False)
    t0 = time.perf_counter()
    chunk = max(1, batch_size // restarts)
    found_z, found_mse, which = [], [], []
    try:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            xb = x[start:stop].repeat(restarts, 1, 1, 1)  # (R*b, C, H, W)
            z = z0[:, start:stop].reshape(-1, d).clone().requires_grad_(True)
            best_z = z.detach().clone()
            best_mse = torch.full((len(z),), float("inf"), device=device)
            opt = torch.optim.Adam([z], lr=lr)
            for step in range(steps + 1):
                per_image = (G(z) - xb).square().flatten(1).mean(1)  # (R*b,)
                with torch.no_grad():  # remember the best z met so far
                    better = per_image < best_mse
                    best_mse = torch.where(better, per_image, best_mse)
                    best_z[better] = z[better]
                if step == steps:
                    break
                # summed over images, so each image's z gets its own gradient
                loss = (per_image + prior_weight * z.square().mean(1)).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            best_mse = best_mse.view(restarts, -1)
            winner = best_mse.argmin(0)  # (b,) which start won
            cols = torch.arange(stop - start, device=device)
            found_z.append(best_z.view(restarts, -1, d)[winner, cols])
            found_mse.append(best_mse[winner, cols])
            which.append(winner)
    finally:
        G.requires_grad_(True)
        G.train(was_training)
    seconds = _elapsed(t0, device)
    return Inversion(torch.cat(found_z).cpu(), torch.cat(found_mse).cpu(),
                     torch.cat(which).cpu(), seconds)


def _elapsed(t0: float, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def encode_with(E, x, decoder=None, batch_size: int = 1024) -> Inversion:
    """Latents from an encoder network in one forward pass, timed as in
    :func:`invert`; the error 1/n ‖dec(z) − x‖² is filled in when a decoder is given
    (NaN otherwise)."""
    device = _device_of(E)
    was_training = E.training
    E.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        z = torch.cat([E(b.to(device)) for b in x.split(batch_size)])
    seconds = _elapsed(t0, device)
    E.train(was_training)
    z = z.cpu()
    mse = torch.full((len(z),), float("nan"))
    if decoder is not None:
        x_hat = decode_latents(decoder, z, batch_size)
        mse = (x_hat - x.float().cpu()).square().flatten(1).mean(1)
    return Inversion(z, mse, torch.zeros(len(z), dtype=torch.long), seconds)


def decode_latents(G, z, batch_size: int = 1024) -> torch.Tensor:
    """x̂ = G(z) in eval mode, on the CPU, float32 (N, C, H, W)."""
    device = _device_of(G)
    was_training = G.training
    G.eval()
    with torch.no_grad():
        out = torch.cat([G(b.to(device)).float().cpu() for b in z.split(batch_size)])
    G.train(was_training)
    return out




# ------------------------------------------------------------------ the codecs


@dataclass
class LatentCodec:
    """A codec through a latent space: ``find`` maps images to latents (N, d),
    ``decoder`` maps latents back to images, and ``prior`` (fitted to training
    latents with :meth:`fit_prior`) sets the quantiser's scale and the entropy model.
    """

    name: str
    find: Callable[[torch.Tensor], torch.Tensor]
    decoder: nn.Module
    prior: latentcode.GaussianPrior | None = None

    def fit_prior(self, x_train: torch.Tensor) -> LatentCodec:
        """Fit the prior to the latents this codec finds for training images."""
        self.prior = latentcode.fit_prior(self.find(x_train))
        return self


def encoder_codec(name: str, E, decoder) -> LatentCodec:
    """Latents from the encoder E in one forward pass, decoded by ``decoder``."""
    return LatentCodec(name, lambda x: encode_with(E, x).z, decoder)


def inversion_codec(name: str, G, E=None, restarts: int = 4, steps: int = 300,
                    lr: float = 0.1, prior_weight: float = 1e-3,
                    seed: int = 0) -> LatentCodec:
    """Latents by :func:`invert` through G, the encoder's guess as the first of the
    ``restarts`` starting points when an encoder E is given."""
    def find(x):
        init = encode_with(E, x).z if E is not None else None
        return invert(G, x, restarts, steps, lr, init, prior_weight, seed).z

    return LatentCodec(name, find, G)


def codec_data(name: str = "mnist"):
    """(training images, held-out images) as two ImageData: the split the offline
    classifier uses (:func:`~gantutor.evaluation.classifier.classifier_data`), so
    that no network of the lesson, classifier included, has seen a held-out image.
    Falls back to the bundled digits, saying so, where ``name`` cannot be found or
    downloaded."""
    from ..data import ImageData
    from ..errors import DataNotFoundError
    from ..evaluation.classifier import classifier_data

    try:
        x_tr, y_tr, x_te, y_te, described = classifier_data(name)
    except DataNotFoundError:
        print(f"{name} is not on this machine and could not be downloaded: using "
              "scikit-learn's bundled 8x8 digits instead (set GANTUTOR_DATA to a "
              "folder of IDX files to use it).")
        name = "digits"
        x_tr, y_tr, x_te, y_te, described = classifier_data(name)
    train = ImageData(name, x_tr, y_tr, "train", described)
    held_out = ImageData(name, x_te, y_te, "held-out", described)
    print(f"{name}: {len(train):,} training images and {len(held_out):,} held-out "
          f"images ({described}); the held-out images are seen by no network here")
    return train, held_out


def compare_methods(G, E, x, restarts: int = 4, steps: int = 300,
                    lr: float = 0.1) -> list[dict]:
    """Encoder against inversion on the same images: seconds per image and the mean
    PSNR (dB) of G(z) against x, before any quantisation. The inversions start from
    random points, or (last row) from the encoder's guess and ``restarts`` − 1
    random points."""
    from ..evaluation.metrics import psnr

    runs = [("encoder", lambda: encode_with(E, x)),
            ("inversion, 1 start", lambda: invert(G, x, 1, steps, lr)),
            (f"inversion, {restarts} starts",
             lambda: invert(G, x, restarts, steps, lr)),
            (f"encoder + inversion, {restarts} starts",
             lambda: invert(G, x, restarts, steps, lr, init=encode_with(E, x).z))]
    rows = []
    for method, run in runs:
        found = run()
        x_hat = decode_latents(G, found.z)
        rows.append({"method": method, "seconds_per_image": found.seconds / len(x),
                     "psnr": float(psnr(x_hat, x.float().cpu()).mean()),
                     "z": found.z})
    return rows


def format_methods(rows: list[dict]) -> str:
    """The rows of :func:`compare_methods` as a text table."""
    head = f"{'how z is found':<32} {'ms / image':>10} {'PSNR dB':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['method']:<32} {1000 * r['seconds_per_image']:>10.2f} "
                     f"{r['psnr']:>8.2f}")
    return "\n".join(lines)
