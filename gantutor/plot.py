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
    """Tile images (N, C, H, W) in [-1, 1] into one array in [0, 1]."""
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


def show_class_sheet(x, y, title=None, ax=None):
    """Samples of a conditional generator sorted by class, one row per class, the
    class written at the left (``gantutor.gan.latent.class_sheet`` makes x and y)."""
    y = torch.as_tensor(y).cpu()
    classes = torch.unique(y).tolist()
    per_class = len(y) // len(classes)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.55 * per_class + 0.6, 0.55 * len(classes)))
    else:
        fig = ax.figure
    show_images(x, nrow=per_class, ax=ax)
    ax.set_axis_on()
    ax.set_xticks([])
    h = x.shape[-2] + 1
    ax.set_yticks([1 + h * (i + 0.5) for i in range(len(classes))], classes)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def confusion_matrix(m, ax=None, title=None, xlabel="predicted", ylabel="true class"):
    """A confusion matrix M[y, ŷ] as an image with the counts written in; the
    diagonal holds the correct answers."""
    m = np.asarray(m)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 3.8))
    else:
        fig = ax.figure
    ax.imshow(m, cmap="Blues")
    k = m.shape[0]
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def cost_along(costs: dict, window: int = 2000, ax=None, title=None,
               reference: dict | None = None):
    """Bits per byte along the data, as a moving average over ``window`` bytes, one
    line per model (``costs``: name -> per-byte bits); ``reference``: name -> a
    constant rate (e.g. gzip's) drawn as a dashed line."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.2))
    else:
        fig = ax.figure
    for name, c in costs.items():
        c = np.asarray(c, dtype=np.float64)
        w = max(1, min(window, len(c)))
        avg = np.convolve(c, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(len(avg)) + w, avg, label=name)
    for name, rate in (reference or {}).items():
        ax.axhline(rate, ls="--", lw=1, color="gray")
        ax.text(ax.get_xlim()[1], rate, f" {name}", va="center", fontsize=8)
    ax.set_xlabel("position in the data (bytes)")
    ax.set_ylabel(f"bits per byte ({window}-byte average)")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def code_lengths(curves: dict, ax=None, title=None, ylabel="bits per byte",
                 log_y: bool = False):
    """Code length per byte against the number of bytes coded (log axis): ``curves``
    maps a name to (sizes, rates); dashed lines for names containing "two-part"."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 4))
    else:
        fig = ax.figure
    for name, (sizes, rates) in curves.items():
        ax.plot(sizes, rates, "--o" if "two-part" in name else "-o", ms=3, label=name)
    ax.set_xscale("log", base=2)
    if log_y:
        ax.set_yscale("log")
        ax.axhline(8, color="gray", lw=0.8, ls=":")  # 8 bits per byte: raw data
    ax.set_xlabel("bytes of data coded")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def metric_curves(curves: dict, xlabel: str, ylabel: str, ax=None, title=None,
                  log_x: bool = False, log_y: bool = False):
    """One line with markers per entry of ``curves`` ({label: (xs, ys)})."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    for label, (xs, ys) in curves.items():
        ax.plot(list(xs), list(ys), "o-", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def distance_histograms(distances: dict, ax=None, title=None, bins: int = 40,
                        xlabel="distance to the nearest training image"):
    """Overlaid density histograms, one per entry of ``distances`` ({label: values})."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    values = {k: torch.as_tensor(v).float().cpu().numpy() for k, v in distances.items()}
    lo = min(float(v.min()) for v in values.values())
    hi = max(float(v.max()) for v in values.values())
    edges = np.linspace(lo, hi, bins + 1)
    for label, v in values.items():
        ax.hist(v, bins=edges, density=True, alpha=0.5, label=f"{label} (n={len(v):,})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def image_rows(rows, n: int = 8, title=None):
    """One row of images per entry of ``rows`` ({label: images} or a list of (label,
    images) pairs; images (N, C, H, W) in [-1, 1]), the first ``n`` of each, labelled
    on the left."""
    rows = list(rows.items()) if isinstance(rows, dict) else list(rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 * n, 1.05 * len(rows)),
                             squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows):
        ax.imshow(image_grid(torch.as_tensor(images)[:n], nrow=n), cmap="gray",
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
