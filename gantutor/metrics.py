"""How good is a generator? Metrics that run offline, one formula per function.

Sample sizes are always explicit arguments: most of these numbers move with n (the
Fréchet distance is biased upwards at small n), so compare them only at equal n.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .errors import GantutorError

# ------------------------------------------------------------ 2-D mixtures: modes


class ModeCoverage(NamedTuple):
    """Modes covered (out of K) and the fraction of high-quality samples."""

    modes_covered: int
    high_quality: float


def _as_points(samples, what: str) -> torch.Tensor:
    x = torch.as_tensor(samples).detach()
    if x.dim() != 2 or x.shape[0] == 0:
        raise GantutorError(f"{what} must be a non-empty (N, D) array of points, "
                            f"got shape {tuple(x.shape)}")
    return x.to(torch.float64)


def mode_counts(samples, modes, std: float, threshold: float = 3.0) -> torch.Tensor:
    """Number of high-quality samples nearest to each mode, shape (K,).

    A sample x is high-quality when ‖x - m*‖ < threshold · std, where m* is the mode
    nearest to x (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).
    """
    x = _as_points(samples, "samples")
    m = _as_points(modes, "modes").to(x.device)
    if x.shape[1] != m.shape[1]:
        raise GantutorError(f"samples have {x.shape[1]} coordinates but modes have "
                            f"{m.shape[1]}")
    if not std > 0:
        raise GantutorError(f"std must be > 0, got {std}")
    counts = torch.zeros(m.shape[0], dtype=torch.long, device=x.device)
    for block in x.split(65536):
        dist, nearest = torch.cdist(block, m).min(dim=1)  # (B, K) -> (B,)
        good = dist < threshold * std
        counts += torch.bincount(nearest[good], minlength=m.shape[0])
    return counts.cpu()


def mode_coverage(samples, modes, std: float, threshold: float = 3.0,
                  min_count: int = 1) -> ModeCoverage:
    """Modes covered and high-quality rate of 2-D mixture samples (VEEGAN/PacGAN).

    high_quality = 1/N Σ_i 1[‖x_i - m*(x_i)‖ < 3σ], with m*(x) the mode nearest to x;
    a mode is covered when at least ``min_count`` (1 in VEEGAN and PacGAN)
    high-quality samples have it as their nearest mode.
    """
    counts = mode_counts(samples, modes, std, threshold)
    n = torch.as_tensor(samples).shape[0]
    return ModeCoverage(int((counts >= min_count).sum()), float(counts.sum()) / n)
