"""Explaining a decision with captum, and measuring how faithful the explanation is.

Four attribution methods, each with its baseline stated: the value that means "this
pixel is absent". For the course's images in [-1, 1] that is -1, the background ink
of a digit, so removing a pixel means painting it background.

- LIME (Ribeiro et al. 2016): switch random groups of superpixels to the baseline,
  fit a weighted linear model of the score on which groups were kept.
- Kernel SHAP (Lundberg and Lee 2017): the same with the Shapley kernel's weights, so
  the linear model's coefficients estimate Shapley values.
- Integrated gradients (Sundararajan et al. 2017): (x - b) ⊙ ∫₀¹ ∂s/∂x(b + α(x - b)) dα.
- Gradient × input: (x - b) ⊙ ∂s/∂x at x, one backward pass.

LIME and Kernel SHAP perturb *features*, here square superpixels
(:func:`superpixel_mask`), so that a 28×28 image has 49 of them and not 784: they
then need a few hundred model calls per image, not tens of thousands.

Faithfulness (:func:`deletion_curves`): delete pixels in the order an explanation
ranks them and watch the class probability; a faithful ranking makes it fall fast
(small area under the deletion curve) and, inserting pixels into a blank image in the
same order, rise fast (large area under the insertion curve; Petsiuk et al. 2018).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..errors import GantutorError

BASELINE = -1.0  # "absent" for images in [-1, 1]: the background value
METHODS = ("LIME", "Kernel SHAP", "integrated gradients", "gradient × input")


def superpixel_mask(shape, patch: int) -> torch.Tensor:
    """Feature ids (1, C, H, W) of square ``patch`` × ``patch`` superpixels, numbered
    row by row; every channel of a pixel shares its id. Edge patches are smaller when
    ``patch`` does not divide the side."""
    c, h, w = shape[-3:]
    if patch < 1:
        raise GantutorError(f"a superpixel is at least 1 pixel wide, got {patch}")
    rows = torch.arange(h) // patch
    cols = torch.arange(w) // patch
    ids = rows[:, None] * (-(-w // patch)) + cols[None, :]  # (H, W)
    return ids.expand(1, c, h, w).clone()


def _on_model_device(model, x) -> torch.Tensor:
    params = list(model.parameters()) if isinstance(model, nn.Module) else []
    x = torch.as_tensor(x).detach().float()
    return x.to(params[0].device) if params else x


class _Score(nn.Module):
    """The model's output as (B, K) scores, evaluated at ``shift + input``: captum's
    InputXGradient multiplies by its input, so giving it u = x - b computes (x - b) ⊙
    ∂s/∂x, gradient × input relative to the baseline b."""

    def __init__(self, model: Callable, shift: float = 0.0):
        super().__init__()
        self.model, self.shift = model, shift

    def forward(self, x):
        s = self.model(x + self.shift)
        return s[:, None] if s.dim() == 1 else s  # (B,) -> (B, 1)


def _attribute(method: str, model, x, target, mask, n_samples: int, seed: int,
               ig_steps: int, baseline: float) -> torch.Tensor:
    from captum.attr import (
        InputXGradient,
        IntegratedGradients,
        KernelShap,
        Lime,
    )

    if method == "gradient × input":
        u = (x - baseline).requires_grad_(True)  # captum differentiates w.r.t. u
        a = InputXGradient(_Score(model, baseline)).attribute(u, target=target)
        return a.detach()
    if method == "integrated gradients":
        ig = IntegratedGradients(_Score(model))
        return ig.attribute(x, baselines=baseline, target=target, n_steps=ig_steps,
                            internal_batch_size=len(x) * ig_steps).detach()
    explainer = {"LIME": Lime, "Kernel SHAP": KernelShap}[method](_Score(model))
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # captum warns that a batch of several inputs is explained one input at a
        # time; that is what we want (each image gets its own linear model)
        warnings.filterwarnings("ignore", message=".*multiple inputs for Lime.*")
        torch.manual_seed(seed)
        a = explainer.attribute(x, baselines=baseline, target=target,
                                feature_mask=mask, n_samples=n_samples,
                                perturbations_per_eval=n_samples)
    return a.detach()


def explain(model, x, target, method: str, patch: int = 4, n_samples: int = 200,
            seed: int = 0, ig_steps: int = 32, baseline: float = BASELINE):
    """(attributions shaped like x, seconds per image) of ``method`` (see
    :data:`METHODS`) for the score ``model(x)[:, target]``.

    ``model`` returns (B, K) logits (``target``: an int or a (B,) tensor of classes)
    or (B,) / (B, 1) scores (``target=0``). ``baseline`` is the value meaning
    "absent" for every method. LIME and Kernel SHAP use ``patch``-pixel superpixels
    and ``n_samples`` perturbed copies per image, drawn from ``seed``; integrated
    gradients uses ``ig_steps`` points of the path from the baseline to x.
    """
    if method not in METHODS:
        raise GantutorError(f"unknown attribution method {method!r}: choose one of "
                            f"{', '.join(METHODS)}")
    x = _on_model_device(model, x)
    if x.dim() != 4 or len(x) == 0:
        raise GantutorError(f"x must be a batch of images (N, C, H, W), got shape "
                            f"{tuple(x.shape)}")
    mask = superpixel_mask(x.shape, patch).to(x.device)
    target = torch.as_tensor(target, device=x.device).long()
    target = target.expand(len(x)) if target.dim() == 0 else target
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    t0 = time.perf_counter()
    try:
        a = _attribute(method, model, x, target, mask, n_samples, seed, ig_steps,
                       baseline)
    finally:
        if was_training:
            model.train()
    return a, (time.perf_counter() - t0) / len(x)


# ------------------------------------------------------------ faithfulness


def ranking(attributions: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Pixel order (N, P), most important first: by attribution summed over channels,
    ties (e.g. inside one LIME superpixel) broken at random from ``seed``."""
    a = attributions.detach().float().sum(1).flatten(1).cpu()  # (N, C, H, W) -> (N, P)
    gen = torch.Generator().manual_seed(seed)
    jitter = torch.randperm(a.shape[1], generator=gen)
    # sort by attribution, then by a random key: a stable sort of a shuffled order
    shuffled = a[:, jitter]
    order = shuffled.argsort(dim=1, descending=True, stable=True)
    return jitter[order]


def random_ranking(n: int, n_pixels: int, seed: int = 0) -> torch.Tensor:
    """A random pixel order per image, (n, n_pixels): the yardstick."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(n_pixels, generator=gen) for _ in range(n)])


@torch.no_grad()
def _probability(model, x, target) -> torch.Tensor:
    s = model(x)
    if s.dim() == 2 and s.shape[1] > 1:
        return s.softmax(1).gather(1, target[:, None]).squeeze(1)
    return torch.sigmoid(s.reshape(len(x)))  # one logit: its probability


def deletion_curves(model, x, target, order, steps: int = 20,
                    baseline: float = BASELINE):
    """(fractions, deletion, insertion): class probability with the first fraction f
    of pixels in ``order`` (N, P) removed (set to ``baseline``), and with only them
    inserted into a blank (all-``baseline``) image; f = 0, 1/steps, ..., 1.

    Returns fractions (steps + 1,) and two (N, steps + 1) tensors of probabilities of
    ``target`` (softmax for (B, K) logits, sigmoid for one logit).
    """
    x = _on_model_device(model, x)
    n, p = len(x), x[0, 0].numel()
    order = torch.as_tensor(order).long()
    if order.shape != (n, p):
        raise GantutorError(f"order must be (N, pixels) = ({n}, {p}), got "
                            f"{tuple(order.shape)}")
    target = torch.as_tensor(target, device=x.device).long()
    target = target.expand(n) if target.dim() == 0 else target
    rank = torch.empty_like(order)  # rank[i, pixel] = its position in the order
    rank.scatter_(1, order, torch.arange(p).expand(n, p).contiguous())
    rank = rank.view(n, 1, *x.shape[-2:]).to(x.device)
    fractions = torch.linspace(0, 1, steps + 1)
    deleted, inserted = [], []
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    for f in fractions:
        chosen = rank < round(float(f) * p)  # (N, 1, H, W), broadcast over channels
        deleted.append(_probability(model, torch.where(chosen, baseline, x), target))
        inserted.append(_probability(model, torch.where(chosen, x, baseline), target))
    if was_training:
        model.train()
    return fractions, torch.stack(deleted, 1).cpu(), torch.stack(inserted, 1).cpu()


def curve_auc(fractions, probs) -> torch.Tensor:
    """Area under each curve (N, S) over ``fractions`` (S,), trapezoid rule: (N,)."""
    return torch.trapezoid(torch.as_tensor(probs), torch.as_tensor(fractions), dim=-1)


# ------------------------------------------------------------ the measured table


@dataclass
class Faithfulness:
    """Deletion and insertion AUCs per method (and for a random order), each the
    mean over images, then mean and standard deviation over seeds."""

    rows: list  # dicts: method, deletion, deletion_sd, insertion, insertion_sd, seconds
    fractions: torch.Tensor  # (S,)
    curves: dict  # method -> (mean deletion curve (S,), mean insertion curve (S,))
    n_images: int
    seeds: tuple

    def table(self) -> str:
        head = (f"{'method':<22}{'deletion AUC ↓':>16}{'insertion AUC ↑':>17}"
                f"{'s / explanation':>17}")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            secs = "-" if math.isnan(r["seconds"]) else f"{r['seconds']:.4f}"
            lines.append(f"{r['method']:<22}{r['deletion']:>9.3f} ± "
                         f"{r['deletion_sd']:.3f}{r['insertion']:>10.3f} ± "
                         f"{r['insertion_sd']:.3f}{secs:>17}")
        lines.append(f"({self.n_images} images; mean over images, then mean ± sd over "
                     f"seeds {', '.join(map(str, self.seeds))})")
        return "\n".join(lines)

    def best(self) -> dict:
        """The row of the method with the smallest deletion AUC (random excluded)."""
        return min((r for r in self.rows if r["method"] != "random"),
                   key=lambda r: r["deletion"])

    def row(self, method: str) -> dict:
        return next(r for r in self.rows if r["method"] == method)


def _summarise(method, per_seed, seconds, fractions) -> tuple[dict, tuple]:
    dels = torch.stack([d.mean(0) for d, _ in per_seed])  # (seeds, S)
    ins = torch.stack([i.mean(0) for _, i in per_seed])
    d_auc, i_auc = curve_auc(fractions, dels), curve_auc(fractions, ins)
    sd = (lambda v: float(v.std()) if len(v) > 1 else 0.0)  # noqa: E731
    row = {"method": method, "deletion": float(d_auc.mean()), "deletion_sd": sd(d_auc),
           "insertion": float(i_auc.mean()), "insertion_sd": sd(i_auc),
           "seconds": seconds}
    return row, (dels.mean(0), ins.mean(0))


def faithfulness(model, x, target, methods=METHODS, seeds=(0,), patch: int = 4,
                 n_samples: int = 128, steps: int = 20) -> Faithfulness:
    """Explain every image of x with each method and score the explanations by their
    deletion and insertion curves (see :func:`deletion_curves`), next to a random
    pixel order. LIME and Kernel SHAP are rerun for every seed (their samples
    change); the gradient methods are deterministic, so only their tie-breaking
    changes with the seed. ``seconds`` is the time per explanation."""
    x = torch.as_tensor(x).detach().float()
    p = x[0, 0].numel()
    rows, curves = [], {}
    for method in methods:
        per_seed, times, a = [], [], None
        for seed in seeds:
            if a is None or method in ("LIME", "Kernel SHAP"):
                a, secs = explain(model, x, target, method, patch, n_samples, seed)
                times.append(secs)
            fr, dl, ins = deletion_curves(model, x, target, ranking(a, seed), steps)
            per_seed.append((dl, ins))
        row, curves[method] = _summarise(method, per_seed, sum(times) / len(times), fr)
        rows.append(row)
    per_seed = [deletion_curves(model, x, target, random_ranking(len(x), p, seed),
                                steps)[1:] for seed in seeds]
    row, curves["random"] = _summarise("random", per_seed, math.nan, fr)
    rows.append(row)
    return Faithfulness(rows, fr, curves, len(x), tuple(seeds))


def plot_faithfulness(result: Faithfulness):
    """Mean deletion and insertion curves of each method, side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for method, (dl, ins) in result.curves.items():
        style = {"color": "grey", "linestyle": "--"} if method == "random" else {}
        axes[0].plot(result.fractions, dl, label=method, **style)
        axes[1].plot(result.fractions, ins, label=method, **style)
    for ax, what in zip(axes, ("deleted (set to background)", "inserted into a blank "
                                                               "image")):
        ax.set_xlabel(f"fraction of pixels {what}")
        ax.set_ylabel("probability of the class")
        ax.set_ylim(0, 1.02)
    axes[0].set_title("deletion: lower is more faithful", fontsize=10)
    axes[1].set_title("insertion: higher is more faithful", fontsize=10)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
