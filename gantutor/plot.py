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


def risk_curves(curves: dict, ax=None, title=None, ylabel="risk (nats)", log_y=False):
    """Training (solid) and held-out (dashed) risk against step, one colour per run.

    ``curves`` maps a label to a :class:`gantutor.risk.RiskCurve`.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    for i, (label, c) in enumerate(curves.items()):
        color = f"C{i}"
        ax.plot(c.step, c.train, color=color, label=f"{label}: training")
        if c.val:
            ax.plot(c.step, c.val, color=color, ls="--", label=f"{label}: held-out")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def dstar(p, q, d_net=None, ax=None, title=None, n: int = 801, legend: bool = True):
    """Data density p, generator density q (left axis) and the optimal discriminator
    D* = p/(p+q) (right axis) of two 1-D Gaussians; ``d_net``, a discriminator network
    (logits out), is drawn next to D* when given."""
    from .objective import (
        discriminator_probability,
        optimal_discriminator,
        support_grid,
    )

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


def dstar_panels(p, generators, n: int = 801):
    """One :func:`dstar` panel per generator Gaussian q, titled with V(D*, G) and
    JSD(p‖q): the static version of ``gt.widgets.dstar_explorer``."""
    from .objective import js_divergence, optimal_value

    fig, axes = plt.subplots(1, len(generators), figsize=(4.2 * len(generators), 3.2),
                             squeeze=False)
    for i, (ax, q) in enumerate(zip(axes[0], generators)):
        title = (f"q = N({q.mu:g}, {q.sigma:g}²)\nV(D*, G) = {optimal_value(p, q):.3f},"
                 f"  JSD = {js_divergence(p, q):.3f}")
        dstar(p, q, ax=ax, title=title, n=n, legend=i == 0)
    fig.tight_layout()
    return fig


def logit_gradients(logits, grads: dict, fake_logits=None, ax=None, title=None):
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


def size_sweep(sweep: dict, ax=None, title=None):
    """Training and held-out risk after training, against the number of training
    examples (log scale); ``sweep`` is ``{n: (training risk, held-out risk)}`` as
    returned by :func:`gantutor.risk.train_size_sweep`."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    sizes = sorted(sweep)
    ax.plot(sizes, [sweep[n][0] for n in sizes], "o-", label="training risk")
    ax.plot(sizes, [sweep[n][1] for n in sizes], "o--", label="held-out risk")
    ax.fill_between(sizes, [sweep[n][0] for n in sizes], [sweep[n][1] for n in sizes],
                    alpha=0.15, color="C3", label="generalisation gap")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("risk (nats)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def throughput(rows: list, title=None):
    """Samples per second against batch size (log-log), one panel per model and one
    line per variant; ``rows`` as returned by :func:`gantutor.scaling.throughput`."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.4),
                             squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == model]
        for variant in dict.fromkeys(r["variant"] for r in mine):
            pts = sorted((r["batch_size"], r["samples_per_s"]) for r in mine
                         if r["variant"] == variant)
            ax.plot(*zip(*pts), "o-", label=variant)
        ax.set_xscale("log", base=2)
        sizes = sorted({r["batch_size"] for r in mine})
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples / s")
        ax.set_title(model)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_sheet(x, y, title=None, ax=None):
    """Samples of a conditional generator sorted by class, one row per class, the
    class written at the left (``gantutor.latent.class_sheet`` makes x and y)."""
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


def attribution_maps(x, maps: dict, titles=None):
    """Images (top row) and one row of signed attribution maps per entry of ``maps``
    (label -> tensor shaped like x): red pushes the score up, blue pushes it down,
    each image on its own symmetric scale."""
    x = torch.as_tensor(x).detach().cpu()
    n = len(x)
    fig, axes = plt.subplots(1 + len(maps), n, figsize=(1.3 * n + 0.8,
                                                        1.35 * (1 + len(maps))),
                             squeeze=False)
    for i in range(n):
        show_images(x[i:i + 1], ax=axes[0, i],
                    title=None if titles is None else titles[i])
        for r, a in enumerate(maps.values(), start=1):
            a_i = torch.as_tensor(a[i]).detach().cpu().float().sum(0).numpy()
            lim = float(np.abs(a_i).max()) or 1.0
            axes[r, i].imshow(a_i, cmap="bwr", vmin=-lim, vmax=lim,
                              interpolation="nearest")
            axes[r, i].set_xticks([])
            axes[r, i].set_yticks([])
    for r, label in enumerate(maps, start=1):
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def augmentation(summary, ax=None, title=None):
    """Test accuracy (mean ± std over seeds) per condition, one group per number of
    labelled images per class; ``summary`` from ``gantutor.augment.summarize``."""
    ns = sorted({s.per_class for s in summary})
    conditions = list(dict.fromkeys(s.condition for s in summary))
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 3.4))
    else:
        fig = ax.figure
    width = 0.8 / len(conditions)
    for c, cond in enumerate(conditions):
        cells = [next((s for s in summary if s.per_class == n and s.condition == cond),
                      None) for n in ns]
        xs = [i + (c - (len(conditions) - 1) / 2) * width
              for i, s in enumerate(cells) if s]
        ax.bar(xs, [100 * s.mean for s in cells if s], width,
               yerr=[100 * (s.std if np.isfinite(s.std) else 0) for s in cells if s],
               capsize=3, label=cond, color=f"C{c}")
    ax.set_xticks(range(len(ns)), [f"{n} labelled / class" for n in ns])
    ax.set_ylabel("test accuracy (%)")
    lo = min(100 * s.mean for s in summary)
    ax.set_ylim(max(0, lo - 15), 100)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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


RD_METRICS = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("class_kept", "class kept"))


def rate_distortion(points: list, accounting: str = "set", title=None):
    """Bits per pixel against PSNR, SSIM and class-kept rate, one line per codec;
    ``points`` are :class:`gantutor.ratedistortion.RDPoint`, ``accounting`` is
    "set" (shared headers counted once) or "file" (one file per image)."""
    codecs = list(dict.fromkeys(p.codec for p in points))
    fig, axes = plt.subplots(1, len(RD_METRICS), figsize=(4.2 * len(RD_METRICS), 3.4))
    for ax, (key, label) in zip(axes, RD_METRICS):
        for i, codec in enumerate(codecs):
            mine = sorted((p for p in points if p.codec == codec),
                          key=lambda p: p.bpp(accounting))
            ax.plot([p.bpp(accounting) for p in mine], [getattr(p, key) for p in mine],
                    "o-", ms=3, color=f"C{i}", label=codec)
        ax.set_xscale("log")
        ax.set_xlabel(f"bits per pixel ({accounting} rule, log scale)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
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
