"""Which pixels a decision rests on: gradient × input attribution maps.

For a score s(x) (a class logit, a discriminator's logit) the attribution of pixel j
is (x_j − b) · ∂s/∂x_j: the first-order estimate of how much the score would change
if that pixel went to the baseline b. Positive: the pixel pushes the score up. It
needs nothing but autograd. Two baselines matter, and libraries differ:

- b = 0 is the plain gradient × input, x · ∂s/∂x; captum's ``InputXGradient``
  computes exactly this, whatever the data's range;
- b = −1 is the blank background of the course's images (in [−1, 1]): a background
  pixel gets no attribution, only ink can. captum has no baseline option for
  ``InputXGradient``; its ``IntegratedGradients(..., baselines=-1.0)`` averages
  ∂s/∂x along the straight path from b to x instead of taking it at x, and gives
  the same map when s is linear.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import plot
from ..errors import GantutorError


def gradient_x_input(score: Callable, x: torch.Tensor, target=None,
                     baseline: float = 0.0) -> torch.Tensor:
    """Attribution A = (x - b) ⊙ ∂s/∂x for each image in the batch.

    ``score(x)`` returns (B,) scores, or (B, K) logits, in which case ``target``
    picks the class per image (an int or a (B,) tensor). ``baseline`` b is the value
    meaning "no ink": 0 for the plain gradient × input, -1 for images in [-1, 1] whose
    background is -1. The scores of different images do not mix, so one backward
    pass of their sum gives every image's gradient. Returns A with the shape of x.
    """
    x = x.detach().clone().requires_grad_(True)
    s = score(x)
    if s.dim() == 2:
        if target is None:
            raise GantutorError("the score has one column per class: say which class "
                                "with target=")
        idx = torch.as_tensor(target, device=s.device).long()
        idx = idx.expand(s.shape[0]) if idx.dim() == 0 else idx
        s = s.gather(1, idx[:, None]).squeeze(1)  # (B, K) -> (B,)
    elif s.dim() != 1:
        raise GantutorError(f"score(x) must return (B,) or (B, K), not "
                            f"{tuple(s.shape)}")
    (grad,) = torch.autograd.grad(s.sum(), x)
    return ((x - baseline) * grad).detach()


def plot_maps(x, maps: dict, titles=None):
    """Images (top row) and one row of signed attribution maps per entry of ``maps``
    (label -> tensor shaped like x): red pushes the score up, blue pushes it down,
    each image on its own symmetric scale."""
    x = torch.as_tensor(x).detach().cpu()
    n = len(x)
    fig, axes = plt.subplots(1 + len(maps), n, figsize=(1.3 * n + 0.8,
                                                        1.35 * (1 + len(maps))),
                             squeeze=False)
    for i in range(n):
        plot.show_images(x[i:i + 1], ax=axes[0, i],
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
