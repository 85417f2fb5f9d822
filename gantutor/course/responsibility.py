"""Notebook 11's experiments: membership inference on generators trained briefly and
long, on small and large training sets; and the generators the detector is tested on
(the course's own two).
"""

from __future__ import annotations

import math
import time

import torch

from ..data import ImageData
from ..errors import GantutorError
from ..evaluation.metrics import membership_auc
from ..gan.config import TrainConfig
from ..gan.models import build_gan
from ..gan.train import sample, train_gan
from .runs import course_data, course_gan


def _part(data: ImageData, idx: torch.Tensor, what: str) -> ImageData:
    idx = idx.to(data.x.device)
    return ImageData(data.name, data.x[idx], data.y[idx], data.split,
                     f"{data.source} ({what})", data.num_classes)


def membership_by_size_and_steps(data: ImageData, sizes, checkpoints,
                                 n_generated: int = 2000, model: str = "mlp",
                                 seed: int = 0, device="cpu") -> list[dict]:
    """GAN-Leaks membership AUC for each training-set size in ``sizes`` and each
    step count in ``checkpoints`` (one run per size, measured as it passes each).

    For a size n, a seeded random n images are the training set (members) and n
    other images the held-out queries; at each checkpoint ``n_generated`` samples
    are drawn and :func:`.metrics.membership_auc` scores the n members against the n
    held-out images. One row per (size, steps): size, steps, auc, seconds so far.
    """
    checkpoints = sorted(int(s) for s in checkpoints)
    if 2 * max(sizes) > len(data):
        raise GantutorError(f"a training set of {max(sizes)} and as many held-out "
                            f"images need {2 * max(sizes)} images; the data has "
                            f"{len(data)}")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    rows = []
    for n in sizes:
        members = _part(data, order[:n], f"{n} training images")
        heldout = data.x[order[n:2 * n].to(data.x.device)]
        torch.manual_seed(seed)
        G, D = build_gan(model, data.shape)
        every = math.gcd(*checkpoints)  # on_step runs at every checkpoint
        cfg = TrainConfig(steps=checkpoints[-1], batch_size=min(64, n), lr=2e-4,
                          log_every=every, checkpoint_every=every, device=str(device),
                          progress=False, seed=seed)
        t0 = time.perf_counter()

        def measure(step, history, n=n, members=members, heldout=heldout, G=G,
                    t0=t0):
            if step in checkpoints:
                fake = sample(G, n_generated, seed=seed + 1)
                rows.append({"size": n, "steps": step, "seconds":
                             time.perf_counter() - t0, "auc": membership_auc(
                                 members.x, heldout, fake)})

        train_gan(G, D, members, cfg, on_step=measure)
    return rows


def format_membership_table(rows: list[dict], n_generated: int) -> str:
    """The rows of :func:`membership_by_size_and_steps` as a table."""
    head = f"{'training images':>15}  {'steps':>6}  {'epochs':>7}  {'MIA AUC':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        epochs = r["steps"] * min(64, r["size"]) / r["size"]
        lines.append(f"{r['size']:>15,}  {r['steps']:>6,}  {epochs:>7.0f}  "
                     f"{r['auc']:>7.3f}")
    lines.append(f"(queries: every training image against as many held-out images; "
                 f"{n_generated:,} generated samples)")
    return "\n".join(lines)


def course_generators(device="cpu") -> dict:
    """{"MLP GAN": (G, D), "DCGAN": (G, D)}: the course's two generators (notebooks
    05 and 06, :mod:`gantutor.course.runs`), loaded from the cache when those
    notebooks ran and trained otherwise; both networks in eval mode."""
    members, _ = course_data(device)
    out = {}
    for label, name in (("MLP GAN", "mlp"), ("DCGAN", "dcgan")):
        G, D, _ = course_gan(name, members, device)
        out[label] = (G.eval(), D.eval())
    return out
