"""Does generated data help a classifier that has few labels? An honest experiment.

A small classifier learns from ``n`` labelled real images per class, once on those
alone and once with extra training images. Every condition gets the same number of
gradient steps of the same batch size, on the same images, from the same
initialisation; only the extra images differ:

- ``real only``: the n·K labelled images;
- ``real + shifts``: the same images, each batch randomly shifted by up to a few
  pixels (the classic, free augmentation: the fair competitor);
- ``real + cGAN (same labels)``: a conditional GAN trained on the *same* n·K
  labelled images, its samples labelled with the class they were asked for;
- ``real + cGAN (all labels)``: a conditional GAN trained on the whole labelled
  pool. It saw far more labels than the classifier, so any gain it brings is
  information from those labels, not from generation: it is the comparison many
  published "GAN augmentation helps" results make without saying so.

Repeated over several seeds (a different labelled subset, initialisation and batch
order per seed); :func:`summarise_accuracy` reports mean ± standard deviation and the
paired difference to ``real only``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from ..data import translate
from ..errors import GantutorError

CONDITIONS = ("real only", "real + shifts", "real + cGAN (same labels)",
              "real + cGAN (all labels)")


@dataclass
class AugmentConfig:
    """Everything that decides the augmentation experiment."""

    per_class: tuple = (10, 100)  # labelled real images per class, one setting each
    seeds: tuple = (0, 1, 2)  # one repetition per seed: subset, init, batch order
    steps: int = 600  # classifier updates, equal for every condition
    batch_size: int = 64  # images per classifier batch
    lr: float = 1e-3  # Adam learning rate of the classifier
    width: int = 8  # channels of the classifier's first convolution
    synthetic_fraction: float = 0.5  # share of each batch taken from generated images
    synthetic_per_class: int = 500  # generated images drawn per class (a fixed pool)
    max_shift: int = 2  # pixels, for "real + shifts" (use 1 for 8x8 digits)
    gan_steps: int = 1500  # updates of each cGAN trained on the few labels
    gan_lr: float = 2e-4  # Adam learning rate of those cGANs
    gan_batch_size: int = 64  # batch of those cGANs (capped at the subset size)

    def __post_init__(self):
        self.per_class, self.seeds = tuple(self.per_class), tuple(self.seeds)
        if not self.per_class or min(self.per_class) < 1:
            raise GantutorError("per_class needs at least one setting, each >= 1")
        if len(self.seeds) < 1:
            raise GantutorError("give at least one seed (three or more for a spread)")
        if not 0 < self.synthetic_fraction < 1:
            raise GantutorError("synthetic_fraction must be between 0 and 1")
        if self.steps < 1 or self.batch_size < 2 or self.gan_steps < 0:
            raise GantutorError("steps >= 1, batch_size >= 2 and gan_steps >= 0")


def few_labels(y: torch.Tensor, per_class: int, seed: int = 0,
               num_classes: int | None = None) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class, drawn at random (seeded)."""
    y = y.cpu()
    K = num_classes or int(y.max()) + 1
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for k in range(K):
        idx = torch.nonzero(y == k).flatten()
        if len(idx) < per_class:
            raise GantutorError(f"class {k} has only {len(idx)} examples, fewer than "
                                f"the {per_class} per class asked for")
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(chosen)


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by (dy, dx), each uniform in -max_shift..max_shift.

    Vacated pixels take the background value -1 (images in [-1, 1]).
    """
    if max_shift == 0:
        return x
    offsets = torch.randint(0, 2 * max_shift + 1, (x.shape[0], 2), generator=gen,
                            device=gen.device)
    return translate(x, max_shift - offsets.to(x.device))


def train_cnn(x, y, num_classes: int, cfg: AugmentConfig, seed: int = 0,
                     x_extra=None, y_extra=None, shift: bool = False, device="cpu"):
    """Train the small CNN for ``cfg.steps`` Adam steps on the cross-entropy.

    Each batch holds ``batch_size`` images: all real, or a share
    ``synthetic_fraction`` drawn from (x_extra, y_extra) and the rest real. Indices
    are drawn uniformly with replacement, so tiny sets work. Returns the network.
    """
    from ..evaluation.classifier import Classifier

    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same initial weights in every condition
        net = Classifier(tuple(x.shape[1:]), num_classes, width=cfg.width,
                         feature_dim=64).to(device)
    x, y = x.to(device), y.to(device)
    n_extra = 0
    if x_extra is not None:
        x_extra, y_extra = x_extra.to(device), y_extra.to(device)
        n_extra = round(cfg.batch_size * cfg.synthetic_fraction)
    n_real = cfg.batch_size - n_extra
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    net.train()
    for _ in range(cfg.steps):
        i = torch.randint(len(x), (n_real,), generator=gen, device=device)
        xb, yb = x[i], y[i]
        if shift:
            xb = random_shift(xb, cfg.max_shift, gen)
        if n_extra:
            j = torch.randint(len(x_extra), (n_extra,), generator=gen, device=device)
            xb, yb = torch.cat([xb, x_extra[j]]), torch.cat([yb, y_extra[j]])
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def test_accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of test images whose most likely class equals the label."""
    return float((net.predict(x).cpu() == y.cpu()).float().mean())


def synthetic_pool(G, per_class: int, seed: int = 0):
    """``per_class`` samples of every class from a conditional G: (x, y) on the CPU."""
    from ..gan.train import sample

    K = G.num_classes
    y = torch.arange(K).repeat_interleave(per_class)
    return sample(G, len(y), y=y, seed=seed), y


def train_conditional_gan(x, y, num_classes: int, steps: int, batch_size: int = 64,
                          seed: int = 0, device="cpu", lr: float = 2e-4):
    """A conditional MLP GAN trained on (x, y) with the course's ``train_gan``."""
    from ..data import ImageData
    from ..gan.config import TrainConfig
    from ..gan.models import build_gan
    from ..gan.train import train_gan

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, D = build_gan("mlp", tuple(x.shape[1:]), num_classes=num_classes)
    data = ImageData("subset", x, y, "train", "labelled subset", num_classes)
    cfg = TrainConfig(steps=steps, batch_size=min(batch_size, len(x)), seed=seed,
                      lr=lr, device=str(device), progress=False, log_every=50,
                      checkpoint_every=50)
    train_gan(G, D, data, cfg)
    return G.eval()


@dataclass
class AugmentResult:
    """One classifier of the experiment."""

    per_class: int
    seed: int
    condition: str
    accuracy: float  # on the held-out test images
    label_agreement: float = float("nan")  # share of generated images the judge
    # assigns to the class they were generated for
    reproduced: float = float("nan")  # share of the labelled images that are the
    # nearest labelled image of some generated one (fresh real digits: ref_reproduced)
    ref_reproduced: float = float("nan")
    distance_ratio: float = float("nan")  # mean distance of a generated image to
    # its nearest labelled image of its class, over the same for a fresh real digit


@dataclass
class Novelty:
    """How much a set of generated images adds to the labelled images it copies.

    For every generated image (and every fresh real digit, the reference) find the
    nearest labelled image of the same class, by Euclidean distance on pixels.
    """

    reproduced: float  # share of labelled images nearest to some generated image
    ref_reproduced: float  # the same share for as many fresh real digits per class
    distance_ratio: float  # mean nearest distance, generated / fresh real


def novelty(x_gen, y_gen, x_lab, y_lab, x_ref, y_ref) -> Novelty:
    """Compare generated images with fresh real ones, measured against the labelled
    images (x_lab, y_lab). Per class, as many generated as fresh real images are used
    (the smaller count of the two), so the two shares are comparable."""
    x_gen, x_lab, x_ref = (t.detach().flatten(1).float().cpu()
                           for t in (x_gen, x_lab, x_ref))
    y_gen, y_lab, y_ref = (t.cpu() for t in (y_gen, y_lab, y_ref))
    hit = {"gen": torch.zeros(len(x_lab), dtype=torch.bool)}
    hit["ref"] = hit["gen"].clone()
    dist = {"gen": [], "ref": []}
    for k in y_lab.unique():
        lab = torch.nonzero(y_lab == k).flatten()
        gen, ref = x_gen[y_gen == k], x_ref[y_ref == k]
        m = min(len(gen), len(ref))
        if m == 0:
            raise GantutorError(f"class {int(k)} has no generated or no reference "
                                "images to compare")
        for name, xs in (("gen", gen[:m]), ("ref", ref[:m])):
            d, nearest = torch.cdist(xs, x_lab[lab]).min(1)  # (m, n_k) -> (m,)
            dist[name].append(d)
            hit[name][lab[nearest]] = True
    d_gen, d_ref = torch.cat(dist["gen"]).mean(), torch.cat(dist["ref"]).mean()
    return Novelty(float(hit["gen"].float().mean()), float(hit["ref"].float().mean()),
                   float(d_gen / d_ref))


def augmentation_experiment(pool, test, cfg: AugmentConfig | None = None,
                            G_all=None, judge=None, device="cpu",
                            progress: bool = True) -> list[AugmentResult]:
    """Run every condition for every ``per_class`` setting and seed.

    pool: labelled training images (ImageData); the few labels are drawn from it, and
    ``G_all`` (optional) is a conditional generator trained on all of it.
    test: held-out images (ImageData), never used for training.
    judge: optional classifier with ``predict(x)``; it scores how many generated
    images show the class they were asked for (label agreement).
    Every generated pool is also compared with fresh real digits from ``test``
    (:func:`novelty`): does it add new images, or copy a few labelled ones?
    """
    cfg = cfg or AugmentConfig()
    K = pool.num_classes
    x_pool, y_pool = pool.x.cpu(), pool.y.cpu()
    results = []

    def agreement(x_syn, y_syn):
        if judge is None:
            return float("nan")
        return float((judge.predict(x_syn).cpu() == y_syn).float().mean())

    pool_all = None
    if G_all is not None:
        pool_all = synthetic_pool(G_all, cfg.synthetic_per_class, seed=10_000)
        agree_all = agreement(*pool_all)
    x_test = test.x.to(device)
    runs = [(n, s) for n in cfg.per_class for s in cfg.seeds]
    for r, (n, seed) in enumerate(runs):
        idx = few_labels(y_pool, n, seed, K)
        x, y = x_pool[idx], y_pool[idx]
        train = functools.partial(train_cnn, x, y, K, cfg, seed=seed,
                                  device=device)
        acc = test_accuracy(train(), x_test, test.y)
        results.append(AugmentResult(n, seed, CONDITIONS[0], acc))
        acc = test_accuracy(train(shift=True), x_test, test.y)
        results.append(AugmentResult(n, seed, CONDITIONS[1], acc))
        G = train_conditional_gan(x, y, K, cfg.gan_steps, cfg.gan_batch_size, seed,
                                  device, lr=cfg.gan_lr)
        x_syn, y_syn = synthetic_pool(G, cfg.synthetic_per_class, seed=seed + 1)
        acc = test_accuracy(train(x_extra=x_syn, y_extra=y_syn), x_test, test.y)
        new = novelty(x_syn, y_syn, x, y, test.x, test.y)
        results.append(AugmentResult(n, seed, CONDITIONS[2], acc,
                                     agreement(x_syn, y_syn), **new.__dict__))
        if pool_all is not None:
            acc = test_accuracy(train(x_extra=pool_all[0], y_extra=pool_all[1]),
                                x_test, test.y)
            new = novelty(*pool_all, x, y, test.x, test.y)
            results.append(AugmentResult(n, seed, CONDITIONS[3], acc, agree_all,
                                         **new.__dict__))
        if progress:
            print(f"  {r + 1}/{len(runs)}: {n} per class, seed {seed} done", flush=True)
    return results


@dataclass
class AugmentSummary:
    """Mean and spread of one (per_class, condition) cell over the seeds."""

    per_class: int
    condition: str
    n_seeds: int
    mean: float
    std: float  # sample standard deviation over seeds (ddof=1)
    diff_mean: float  # mean paired difference to "real only" (same seed)
    diff_std: float
    wins: int  # seeds where this condition beat "real only"
    label_agreement: float
    reproduced: float = math.nan  # means over seeds of the AugmentResult fields
    ref_reproduced: float = math.nan
    distance_ratio: float = math.nan


def _mean_or_nan(rows, field: str) -> float:
    a = np.array([getattr(r, field) for r in rows])
    return float(a.mean()) if np.isfinite(a).all() else math.nan


def _std(a: np.ndarray) -> float:
    return float(a.std(ddof=1)) if len(a) > 1 else math.nan


def summarise_accuracy(results: list[AugmentResult]) -> list[AugmentSummary]:
    """Per (per_class, condition): mean ± std over seeds, paired differences."""
    out = []
    for n in sorted({r.per_class for r in results}):
        base = {r.seed: r.accuracy for r in results
                if r.per_class == n and r.condition == CONDITIONS[0]}
        for cond in CONDITIONS:
            rows = [r for r in results if r.per_class == n and r.condition == cond]
            if not rows:
                continue
            acc = np.array([r.accuracy for r in rows])
            diff = np.array([r.accuracy - base[r.seed] for r in rows])
            out.append(AugmentSummary(
                n, cond, len(rows), float(acc.mean()), _std(acc), float(diff.mean()),
                _std(diff), int((diff > 0).sum()),
                *(_mean_or_nan(rows, f) for f in ("label_agreement", "reproduced",
                                                  "ref_reproduced",
                                                  "distance_ratio"))))
    return out


def format_novelty(summary: list[AugmentSummary]) -> str:
    """What the generated images are, per generator row of the summary: label
    agreement, the share of the labelled images they reproduce (against fresh real
    digits), and their distance to the labelled images (1 = as far as a fresh real
    digit is; near 0 = copies). Means over seeds."""
    lines = [f"{'labels/class':>12}  {'condition':<26}{'label agr.':>11}"
             f"{'labelled images nearest to some':>34}{'distance':>10}",
             f"{'':>12}  {'':<26}{'':>11}{'generated':>17}{'fresh real':>17}"
             f"{'ratio':>10}", "-" * 93]
    for s in summary:
        if math.isnan(s.reproduced):
            continue
        lines.append(f"{s.per_class:>12}  {s.condition:<26}{s.label_agreement:>11.0%}"
                     f"{s.reproduced:>17.0%}{s.ref_reproduced:>17.0%}"
                     f"{s.distance_ratio:>10.2f}")
    return "\n".join(lines)


def format_summary(summary: list[AugmentSummary]) -> str:
    """The summary as a plain-text table, accuracies in percent."""
    lines = [f"{'labels/class':>12}  {'condition':<26}{'test accuracy':>18}"
             f"{'vs real only':>17}{'wins':>7}{'label agr.':>12}",
             "-" * 92]
    for s in summary:
        diff = ("" if s.condition == CONDITIONS[0] else
                f"{s.diff_mean * 100:+.1f} ± {s.diff_std * 100:.1f}")
        wins = "" if s.condition == CONDITIONS[0] else f"{s.wins}/{s.n_seeds}"
        agree = "" if math.isnan(s.label_agreement) else f"{s.label_agreement:.0%}"
        lines.append(f"{s.per_class:>12}  {s.condition:<26}"
                     f"{s.mean * 100:>10.1f} ± {s.std * 100:>4.1f}%"
                     f"{diff:>17}{wins:>7}{agree:>12}")
    return "\n".join(lines)


def verdict(s: AugmentSummary) -> str:
    """One sentence for one cell of the summary, from its paired differences."""
    change = f"{s.diff_mean * 100:+.1f} ± {s.diff_std * 100:.1f} points"
    every = "in the one seed" if s.n_seeds == 1 else f"in all {s.n_seeds} seeds"
    if s.wins == s.n_seeds and s.diff_mean > 0:
        word = f"helped {every}"
    elif s.wins == 0 and s.diff_mean < 0:
        word = f"hurt {every}"
    else:
        word = f"mixed: better in {s.wins} of {s.n_seeds} seeds"
    return f"{s.per_class} labels/class, {s.condition}: {change}, {word}"


def verdicts(summary: list[AugmentSummary]) -> str:
    """:func:`verdict` for every condition that adds something to ``real only``."""
    return "\n".join(verdict(s) for s in summary if s.condition != CONDITIONS[0])


def plot_summary(summary, ax=None, title=None):
    """Test accuracy (mean ± std over seeds) per condition, one group per number of
    labelled images per class; ``summary`` from :func:`summarise_accuracy`."""
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
