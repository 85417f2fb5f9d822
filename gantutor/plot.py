"""Pictures: sample grids, training curves, 2-D sample clouds. Matplotlib only.

Functions draw into a given ``ax`` (or make a figure) and return the figure, so
notebooks show them inline and the command line saves them.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images (N, C, H, W) in [-1, 1] into one (rows*H, cols*W[, 3]) array in [0, 1]."""
    x = torch.as_tensor(x).detach().float().cpu()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    img = ((x.clamp(-1, 1) + 1) / 2)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = img[i]
    arr = grid.permute(1, 2, 0).numpy()
    return arr[..., 0] if c == 1 else arr


def show_images(x, nrow=None, title=None, ax=None, figsize=None):
    """Show a grid of images in [-1, 1]; returns the figure."""
    grid = image_grid(x, nrow)
    if ax is None:
        size = figsize or (5, 5 * grid.shape[0] / grid.shape[1])
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def save_image_grid(x, path, nrow=None, scale: int | None = None) -> None:
    """Write a grid of images in [-1, 1] to a PNG file, upscaled (nearest neighbour) so
    each image is at least 56 pixels wide unless ``scale`` says otherwise."""
    from PIL import Image

    from .checkpoint import atomic_write

    grid = image_grid(x, nrow)
    if scale is None:
        scale = max(1, -(-56 // torch.as_tensor(x).shape[-1]))
    arr = (grid * 255).round().astype(np.uint8)
    if scale > 1:
        arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
    img = Image.fromarray(arr)
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def history(hist, axes=None, title=None):
    """Two panels: D and G losses; mean D(x) on real and D(G(z)) on fake batches."""
    h = hist.as_dict() if hasattr(hist, "as_dict") else hist
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    else:
        fig = axes[0].figure
    axes[0].plot(h["step"], h["d_loss"], label="D loss")
    axes[0].plot(h["step"], h["g_loss"], label="G loss")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    axes[1].plot(h["step"], h["d_real"], label="D(x), real")
    axes[1].plot(h["step"], h["d_fake"], label="D(G(z)), fake")
    axes[1].axhline(0.5, color="gray", lw=0.8, ls="--")
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel("step")
    axes[1].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def scatter_2d(x, modes=None, ax=None, title=None, lim=None, s=2):
    """A cloud of 2-D samples, with the mixture's mode centres as red crosses."""
    x = torch.as_tensor(x).detach().float().cpu().numpy()
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4))
    else:
        fig = ax.figure
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=0.4)
    if modes is not None:
        m = torch.as_tensor(modes).cpu().numpy()
        ax.scatter(m[:, 0], m[:, 1], marker="x", color="red", s=30)
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return fig


def snapshots(hist, every: int = 1, nrow=None, max_cols: int = 6):
    """Sample grids from the fixed noise over training, one panel per snapshot."""
    snaps = hist.snapshots[::every][-max_cols:]
    fig, axes = plt.subplots(1, len(snaps), figsize=(2.4 * len(snaps), 2.6),
                             squeeze=False)
    for ax, (step, imgs) in zip(axes[0], snaps):
        if imgs.dim() == 2:
            scatter_2d(imgs, ax=ax, title=f"step {step}")
        else:
            show_images(imgs[:36], nrow=nrow or 6, ax=ax, title=f"step {step}")
    fig.tight_layout()
    return fig
