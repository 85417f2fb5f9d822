"""Generators and discriminators: the classic MLP GAN and DCGAN-style networks.

Discriminators return *logits* (no sigmoid): the losses apply ``softplus`` /
``binary_cross_entropy_with_logits``, which is exact where sigmoid + log is not.

Every network remembers the arguments it was built with (``net.spec``), so a
checkpoint can rebuild it with :func:`from_spec` without knowing the class up front.
Conditional networks (``num_classes > 0``) take the labels ``y`` as a second argument.
Packed discriminators (``pack = m``, PacGAN) judge m samples at once: a batch of B
samples gives B / m logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from ..errors import GantutorError
from .config import MODELS


class _Spec(nn.Module):
    """Remembers constructor arguments so checkpoints can rebuild the network."""

    def _remember(self, **kwargs):
        self.spec = {"class": type(self).__name__, "kwargs": kwargs}


def _apply_spectral_norm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, _sn(child))
        else:
            _apply_spectral_norm(child)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): weights N(0, 0.02), BN scale
    N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class MLPGenerator(_Spec):
    """z (B, z_dim) -> x (B, *shape): fully connected, LeakyReLU, tanh for images.

    Default sizes are the classic MNIST GAN: 100 -> 256 -> 512 -> 784.
    ``activation="relu"`` uses ReLU between layers (as VEEGAN's and PacGAN's 2-D
    generators do): a ReLU network can map whole regions of noise to one point.
    """

    def __init__(self, shape=(1, 28, 28), z_dim=100, hidden=(256, 512),
                 num_classes=0, out_activation="tanh", batch_norm=False,
                 activation="leaky_relu"):
        super().__init__()
        if activation not in ("leaky_relu", "relu"):
            raise GantutorError(f"unknown activation {activation!r}: use leaky_relu "
                                "or relu")
        self._remember(shape=tuple(shape), z_dim=z_dim, hidden=tuple(hidden),
                       num_classes=num_classes, out_activation=out_activation,
                       batch_norm=batch_norm, activation=activation)
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        layers, width = [], z_dim + num_classes
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU() if activation == "relu" else nn.LeakyReLU(0.2))
            width = h
        layers.append(nn.Linear(width, math.prod(shape)))
        if out_activation == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z, y=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, z_dim + K)
        return self.net(z).view(z.shape[0], *self.shape)  # (B, prod) -> (B, *shape)


class MLPDiscriminator(_Spec):
    """x (B, *shape) -> logits (B / pack,): fully connected with LeakyReLU.

    Default sizes are the classic MNIST GAN: 784 -> 512 -> 256 -> 1.
    """

    def __init__(self, shape=(1, 28, 28), hidden=(512, 256), num_classes=0, pack=1,
                 spectral_norm=False):
        super().__init__()
        self._remember(shape=tuple(shape), hidden=tuple(hidden),
                       num_classes=num_classes, pack=pack, spectral_norm=spectral_norm)
        self.shape, self.pack, self.num_classes = tuple(shape), pack, num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        layers, width = [], (math.prod(shape) + num_classes) * pack
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        if spectral_norm:
            _apply_spectral_norm(self)

    def forward(self, x, y=None):
        h = x.flatten(1)  # (B, *shape) -> (B, prod)
        if self.embed is not None:
            h = torch.cat([h, self.embed(y)], dim=1)
        h = _pack(h, self.pack)  # (B, F) -> (B / pack, pack * F)
        return self.net(h).squeeze(1)


def _pack(h: torch.Tensor, pack: int) -> torch.Tensor:
    if pack == 1:
        return h
    if h.shape[0] % pack:
        raise GantutorError(f"batch of {h.shape[0]} is not divisible by pack={pack}")
    return h.reshape(h.shape[0] // pack, pack * h.shape[1], *h.shape[2:])


def _check_size(size: int) -> None:
    if size not in (8, 28, 32):
        raise GantutorError(f"DCGAN networks support 8x8, 28x28 and 32x32 images, not "
                            f"{size}x{size}")


class DCGANGenerator(_Spec):
    """z (B, z_dim) -> x (B, C, S, S) with transposed convolutions, BN, ReLU, tanh.

    S is 8 (digits), 28 (MNIST) or 32. No pooling, no fully connected hidden layers.
    ``refine``: False makes the image with the last transposed convolution, as in the
    DCGAN paper; True lets that one make ``width`` feature maps at full size, and a
    3x3 convolution draws the image from them, so every pixel is set from the maps
    around it.
    """

    def __init__(self, shape=(1, 28, 28), z_dim=100, width=64, num_classes=0,
                 refine=False):
        super().__init__()
        if not isinstance(refine, bool):
            raise GantutorError(f"refine must be True or False, got {refine!r}")
        # refine=False stays out of the spec, so runs cached before it existed keep
        # their keys
        self._remember(shape=tuple(shape), z_dim=z_dim, width=width,
                       num_classes=num_classes, **({"refine": True} if refine else {}))
        channels, size = shape[0], shape[-1]
        _check_size(size)
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        w, zin = width, z_dim + num_classes

        def up(cin, cout):  # doubles the spatial size
            return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(cout), nn.ReLU(True)]

        if size == 8:  # 1 -> 4 -> 8
            layers = [nn.ConvTranspose2d(zin, 2 * w, 4, 1, 0, bias=False),
                      nn.BatchNorm2d(2 * w), nn.ReLU(True)]
        else:  # 1 -> 7 (or 4 -> 8) -> 14 (16) -> 28 (32)
            first = 7 if size == 28 else 4
            layers = [nn.ConvTranspose2d(zin, 4 * w, first, 1, 0, bias=False),
                      nn.BatchNorm2d(4 * w), nn.ReLU(True)]
            if size == 32:
                layers += up(4 * w, 4 * w)
            layers += up(4 * w, 2 * w)
        if refine:  # the last doubling makes w maps; a 3x3 convolution draws the image
            layers += up(2 * w, w) + [nn.Conv2d(w, channels, 3, 1, 1)]
        else:
            layers += [nn.ConvTranspose2d(2 * w, channels, 4, 2, 1)]
        self.net = nn.Sequential(*layers, nn.Tanh())
        dcgan_init(self)

    def forward(self, z, y=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z[:, :, None, None])  # (B, Z, 1, 1) -> (B, C, S, S)


class DCGANDiscriminator(_Spec):
    """x (B, C, S, S) -> logits (B / pack,): strided convs, BN, LeakyReLU(0.2).

    ``head``: 0 reads the logit off the last feature map with one linear layer, as
    in the DCGAN paper; N > 0 puts a 3x3 convolution stage and a fully connected
    hidden layer of N units before the logit, so D can judge the shape as a whole.
    """

    def __init__(self, shape=(1, 28, 28), width=64, num_classes=0, pack=1,
                 spectral_norm=False, head=0):
        super().__init__()
        if isinstance(head, bool) or not isinstance(head, int) or head < 0:
            raise GantutorError(f"head must be a whole number of hidden units, 0 or "
                                f"more (0: the DCGAN paper's linear read-out), got "
                                f"{head!r}")
        # head=0 stays out of the spec, so runs cached before it existed keep their keys
        self._remember(shape=tuple(shape), width=width, num_classes=num_classes,
                       pack=pack, spectral_norm=spectral_norm,
                       **({"head": head} if head else {}))
        channels, size = shape[0], shape[-1]
        _check_size(size)
        self.shape, self.pack, self.num_classes = tuple(shape), pack, num_classes
        # a conditional D sees its label as one extra constant-free input plane
        self.embed = nn.Embedding(num_classes, size * size) if num_classes else None
        w = width
        cin = (channels + (1 if num_classes else 0)) * pack
        # spectral norm replaces batch norm as the Lipschitz control when asked for
        norm = (lambda c: nn.Identity()) if spectral_norm else nn.BatchNorm2d
        if size == 8:  # 8 -> 4 -> 4 -> 1
            layers = [nn.Conv2d(cin, w, 4, 2, 1), nn.LeakyReLU(0.2, True),
                      nn.Conv2d(w, 2 * w, 3, 1, 1, bias=False), norm(2 * w),
                      nn.LeakyReLU(0.2, True)]
        else:  # 28 -> 14 -> 7 -> 1  (32 -> 16 -> 8 -> 4 -> 1)
            layers = [nn.Conv2d(cin, w, 4, 2, 1), nn.LeakyReLU(0.2, True),
                      nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), norm(2 * w),
                      nn.LeakyReLU(0.2, True)]
            if size == 32:
                layers += [nn.Conv2d(2 * w, 2 * w, 4, 2, 1, bias=False), norm(2 * w),
                           nn.LeakyReLU(0.2, True)]
        side = 7 if size == 28 else 4  # of the last feature map, (2w, side, side)
        if head:
            # a 3x3 stage (on 28x28 images each feature then sees 18 pixels across,
            # not 10) and a hidden layer over the whole map: D judges the digit as a
            # whole, where one linear layer can only add up what each patch looks like
            layers += [nn.Conv2d(2 * w, 4 * w, 3, 1, 1, bias=False), norm(4 * w),
                       nn.LeakyReLU(0.2, True), nn.Flatten(),
                       nn.Linear(4 * w * side * side, head), nn.LeakyReLU(0.2, True),
                       nn.Linear(head, 1)]
        else:  # the DCGAN paper's read-out: one linear map of the last feature map
            layers += [nn.Conv2d(2 * w, 1, side, 1, 0)]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if spectral_norm:
            _apply_spectral_norm(self)

    def forward(self, x, y=None):
        if self.embed is not None:
            plane = self.embed(y).view(x.shape[0], 1, *x.shape[2:])
            x = torch.cat([x, plane], dim=1)  # (B, C, S, S) -> (B, C + 1, S, S)
        x = _pack(x, self.pack)  # (B, C, S, S) -> (B / pack, pack * C, S, S)
        return self.net(x).flatten()


_CLASSES = {c.__name__: c for c in (MLPGenerator, MLPDiscriminator, DCGANGenerator,
                                    DCGANDiscriminator)}


def build_gan(model: str, shape, z_dim: int = 100, num_classes: int = 0, pack: int = 1,
              spectral_norm: bool = False, seed: int | None = None, **kwargs):
    """Build a (generator, discriminator) pair for samples of ``shape``.

    ``model`` is ``"mlp"`` or ``"dcgan"`` (images only). Extra keyword arguments go to
    both constructors where they apply (``hidden``/``g_hidden``/``d_hidden``,
    ``width``; for the MLP generator also ``batch_norm`` and ``g_activation``; for the
    DCGAN generator also ``g_refine`` (a 3x3 convolution draws the image); for the
    DCGAN discriminator also ``d_width`` (default: ``width``) and ``d_head``, the
    hidden units of its fully connected head, 0 for none).
    ``seed``: initialise the weights from this seed, leaving the global random state
    untouched (two notebooks then build the very same networks); None draws them
    from the global random state.
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_gan(model, shape, z_dim, num_classes, pack, spectral_norm,
                             None, **kwargs)
    shape = tuple(shape)
    if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
        raise GantutorError(f"pack must be a whole number of samples, 1 or more (1: no "
                            f"packing), got {pack!r}")
    if model == "mlp":
        g_hidden = kwargs.get("g_hidden", kwargs.get("hidden", (256, 512)))
        d_hidden = kwargs.get("d_hidden", tuple(reversed(g_hidden)))
        image = len(shape) == 3
        G = MLPGenerator(shape, z_dim, g_hidden, num_classes,
                         out_activation="tanh" if image else "none",
                         batch_norm=kwargs.get("batch_norm", False),
                         activation=kwargs.get("g_activation", "leaky_relu"))
        D = MLPDiscriminator(shape, d_hidden, num_classes, pack, spectral_norm)
    elif model == "dcgan":
        if len(shape) != 3:
            raise GantutorError("the DCGAN model needs images; use --model mlp for "
                                "2-D mixtures")
        width = kwargs.get("width", 64)
        G = DCGANGenerator(shape, z_dim, width, num_classes,
                           kwargs.get("g_refine", False))
        D = DCGANDiscriminator(shape, kwargs.get("d_width", width), num_classes, pack,
                               spectral_norm, kwargs.get("d_head", 0))
    else:
        raise GantutorError(
            f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    return G, D


def from_spec(spec: dict) -> nn.Module:
    """Rebuild a network from the ``spec`` stored in a checkpoint."""
    try:
        cls = _CLASSES[spec["class"]]
        return cls(**spec["kwargs"])
    except (KeyError, TypeError) as err:
        raise GantutorError(f"the checkpoint describes a network gantutor cannot build "
                            f"({err}); was it written by another version?") from None


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
