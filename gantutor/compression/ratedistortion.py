"""Rate–distortion: bits per pixel against PSNR, SSIM and the class a classifier sees.

Each codec at each setting gives one :class:`RDPoint`, measured on the same held-out
images: the rate under both header rules (one file per image; one set with shared
headers counted once, see :mod:`.imagecodec`), the mean per-image PSNR and
SSIM of the decoded images (:mod:`~gantutor.evaluation.metrics`), and the fraction of
decoded images that the offline classifier still puts in the digit's true class.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch

from ..errors import GantutorError
from . import gencodec, imagecodec, latentcode

ACCOUNTINGS = ("set", "file")


@dataclass
class RDPoint:
    """One codec at one setting, measured on n images of ``pixels`` pixels each.

    file_bytes / set_bytes: mean bytes per image under the two header rules.
    examples: the first few decoded images, for side-by-side strips.
    """

    codec: str
    setting: str
    n: int
    pixels: int
    file_bytes: float
    set_bytes: float
    psnr: float
    ssim: float
    class_kept: float
    examples: torch.Tensor
    parameter: float = float("nan")  # the quantisation step or the quality

    def bpp(self, accounting: str = "set") -> float:
        """Bits per pixel under ``accounting`` ("set" or "file")."""
        if accounting not in ACCOUNTINGS:
            raise GantutorError(f"accounting must be 'set' or 'file', not "
                                f"{accounting!r}")
        nbytes = self.set_bytes if accounting == "set" else self.file_bytes
        return bits_per_pixel(nbytes, 1, self.pixels)


def bits_per_pixel(total_bytes: float, n_images: int, pixels: int) -> float:
    """bpp = 8 · bytes / (N · H · W): the rate of N images of H·W pixels each."""
    return 8.0 * total_bytes / (n_images * pixels)


def set_bits_per_pixel(header_bytes: int, data_bytes, pixels: int) -> float:
    """Rate of a set of N images under the set rule, the header counted once:

        bpp = 8 · (header + Σ_i data_i) / (N · pixels)
    """
    data = torch.as_tensor(data_bytes, dtype=torch.float64)
    return bits_per_pixel(header_bytes + float(data.sum()), data.numel(), pixels)


def class_kept(x_hat: torch.Tensor, y: torch.Tensor, classifier) -> float:
    """Fraction of decoded images the classifier assigns to their true class y."""
    return float((classifier.predict(x_hat).cpu() == torch.as_tensor(y).cpu())
                 .float().mean())


def measure(codec: str, setting: str, x: torch.Tensor, x_hat: torch.Tensor, y,
            classifier, file_bytes_total: float, set_bytes_total: float,
            keep: int = 8, parameter: float = float("nan")) -> RDPoint:
    """Score decoded images x_hat against the originals x (both in [-1, 1])."""
    from ..evaluation import metrics

    x, x_hat = x.float().cpu(), x_hat.float().cpu()
    n, pixels = len(x), x.shape[-1] * x.shape[-2]
    return RDPoint(codec, setting, n, pixels, file_bytes_total / n,
                   set_bytes_total / n, float(metrics.psnr(x_hat, x).mean()),
                   float(metrics.ssim(x_hat, x).mean()),
                   class_kept(x_hat, y, classifier), x_hat[:keep].clone(),
                   float(parameter))


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round images in [-1, 1] to the 256 levels an 8-bit image file holds."""
    return imagecodec.from_uint8(imagecodec.to_uint8(x))


def latent_points(codec, x, y, classifier, steps=None, z=None,
                  keep: int = 8) -> list[RDPoint]:
    """A :class:`.gencodec.LatentCodec` at several quantisation steps: find
    the latents (or take ``z``), code them (bytes counted and decoded again), decode
    x̂ = decoder(ẑ) to 8-bit pixels, and score against x."""
    if codec.prior is None:
        raise GantutorError(f"the codec {codec.name!r} has no prior yet: call "
                            "codec.fit_prior(training images) first")
    z = codec.find(x) if z is None else z
    points = []
    for step in steps or latentcode.QUANT_STEPS:
        coded = latentcode.code_latents(z, codec.prior, step)
        x_hat = to_8bit(gencodec.decode_latents(codec.decoder, coded.z_hat))
        points.append(measure(codec.name, f"step {step:g}", x, x_hat, y, classifier,
                              float(coded.file_bytes.sum()), coded.set_bytes, keep,
                              step))
    return points


def pillow_points(fmt: str, qualities, x, y, classifier,
                  keep: int = 8) -> list[RDPoint]:
    """JPEG or WebP at several qualities, with both header rules."""
    points = []
    for q in qualities:
        coded = imagecodec.pillow_code(x, fmt, q)
        name = "JPEG" if fmt.upper() == "JPEG" else "WebP"
        points.append(measure(name, f"quality {q}", x, coded.decoded, y, classifier,
                              float(coded.file_bytes.sum()), coded.set_bytes, keep,
                              q))
    return points


def baseline_points(x, y, classifier, keep: int = 8) -> list[RDPoint]:
    """JPEG at :data:`~.imagecodec.JPEG_QUALITIES`, and WebP at
    :data:`~.imagecodec.WEBP_QUALITIES` where Pillow supports it (one line
    says so where it does not)."""
    points = pillow_points("JPEG", imagecodec.JPEG_QUALITIES, x, y, classifier, keep)
    if imagecodec.webp_available():
        points += pillow_points("WEBP", imagecodec.WEBP_QUALITIES, x, y, classifier,
                                keep)
    else:
        print("this Pillow has no WebP support: comparing with JPEG only")
    return points


def unlike_training(x: torch.Tensor) -> dict:
    """The images as they are, and two sets unlike anything in the training data:
    the same digits as negatives (dark strokes on white) and turned by 90 degrees."""
    return {"as they are": x, "negative": -x, "turned 90°": torch.rot90(x, 1, (2, 3))}


def matched_rows(points: list[RDPoint], x: torch.Tensor, bpp: float,
                 codecs=None, accounting: str = "set") -> dict:
    """{label: images} for :func:`gantutor.plot.image_rows`: the originals, then each
    codec (all of ``points`` by default) at its best setting that spends at most
    ``bpp``, or a blank row saying it cannot go that low."""
    codecs = codecs or list(dict.fromkeys(p.codec for p in points))
    rows = {"original": x[:len(points[0].examples)]}
    for codec in codecs:
        p = at_rate(points, codec, bpp, accounting)
        if p is None:
            low = lowest_rate(points, codec, accounting).bpp(accounting)
            rows[f"{codec}: cannot go\nbelow {low:.2f} bpp"] = \
                torch.ones_like(rows["original"])
        else:
            rows[f"{codec}\n{p.bpp(accounting):.2f} bpp, {p.psnr:.1f} dB"] = \
                p.examples
    return rows


def other_images(codecs, sets: dict, y, classifier, step: float,
                 quality: int = 1, keep: int = 8) -> list[RDPoint]:
    """Each latent codec at quantisation ``step`` and JPEG at ``quality`` on each
    set of images in ``sets`` ({name: images}); the set's name starts each point's
    setting."""
    points = []
    for name, images in sets.items():
        found = [p for codec in codecs for p in
                 latent_points(codec, images, y, classifier, [step], keep=keep)]
        found += pillow_points("JPEG", [quality], images, y, classifier, keep)
        for p in found:
            p.setting = f"{name}: {p.setting}"
        points += found
    return points


def rows_by_set(sets: dict, points: list[RDPoint]) -> list:
    """(label, images) rows for :func:`gantutor.plot.image_rows`: each set's
    originals followed by every codec's decoded images of that set (from
    :func:`other_images`)."""
    rows = []
    for name, images in sets.items():
        mine = [p for p in points if p.setting.startswith(f"{name}: ")]
        rows.append((name, images[:len(mine[0].examples) if mine else 8]))
        rows += [(f"{p.codec}\n{p.psnr:.1f} dB", p.examples) for p in mine]
    return rows


def format_rd_table(points: list[RDPoint]) -> str:
    """The points as a text table, one row per codec and setting."""
    wc = max([5] + [len(p.codec) for p in points])
    ws = max([7] + [len(p.setting) for p in points])
    head = (f"{'codec':<{wc}} {'setting':<{ws}} {'bpp set':>8} {'bpp files':>9} "
            f"{'PSNR dB':>8} {'SSIM':>6} {'class kept':>10}")
    lines = [head, "-" * len(head)]
    for p in points:
        lines.append(f"{p.codec:<{wc}} {p.setting:<{ws}} {p.bpp('set'):>8.3f} "
                     f"{p.bpp('file'):>9.3f} {p.psnr:>8.2f} {p.ssim:>6.3f} "
                     f"{p.class_kept:>10.1%}")
    return "\n".join(lines)


def of_codec(points: list[RDPoint], codec: str) -> list[RDPoint]:
    """The points of one codec, in order of rising rate."""
    chosen = [p for p in points if p.codec == codec]
    if not chosen:
        names = sorted({p.codec for p in points})
        raise GantutorError(f"no points for codec {codec!r}; there are {names}")
    return sorted(chosen, key=lambda p: p.set_bytes)


def lowest_rate(points: list[RDPoint], codec: str,
                accounting: str = "set") -> RDPoint:
    """The point of ``codec`` with the lowest rate."""
    return min(of_codec(points, codec), key=lambda p: p.bpp(accounting))


def at_rate(points: list[RDPoint], codec: str, bpp: float,
            accounting: str = "set") -> RDPoint | None:
    """The best point of ``codec`` that spends at most ``bpp`` bits per pixel (the
    highest-rate one, which the curves show is the most faithful), or None."""
    within = [p for p in of_codec(points, codec) if p.bpp(accounting) <= bpp]
    return max(within, key=lambda p: p.bpp(accounting)) if within else None


def rd_summary_line(points: list[RDPoint], ours: str, baseline: str = "JPEG",
                 accounting: str = "set") -> str:
    """``at_bpp=… gantutor_psnr=… jpeg_psnr=… gantutor_class_kept=…
    jpeg_class_kept=…`` at the lowest rate the baseline reaches, with ``ours`` at its
    best setting that spends no more."""
    base = lowest_rate(points, baseline, accounting)
    bpp = base.bpp(accounting)
    mine = at_rate(points, ours, bpp, accounting)
    if mine is None:
        raise GantutorError(f"{ours} has no setting at or below {bpp:.3f} bpp; add a "
                            "coarser quantisation step")
    return (f"at_bpp={bpp:.3f} gantutor_psnr={mine.psnr:.2f} "
            f"jpeg_psnr={base.psnr:.2f} gantutor_class_kept={mine.class_kept:.3f} "
            f"jpeg_class_kept={base.class_kept:.3f}")


RD_METRICS = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("class_kept", "class kept"))


def plot_rate_distortion(points: list, accounting: str = "set", title=None):
    """Bits per pixel against PSNR, SSIM and class-kept rate, one line per codec;
    ``points`` are :class:`RDPoint`, ``accounting`` is
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
