"""How good is a generator? Metrics that run offline, one formula per function.

Sample sizes are always explicit arguments: most of these numbers move with n (the
Fréchet distance is biased upwards at small n), so compare them only at equal n.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..data import translate
from ..errors import GantutorError

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
    return x.cpu().to(torch.float64)  # float64 is not on every device (Apple MPS)


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


# ------------------------------------------------------------ Fréchet distance


def _as_features(x, what: str, dtype=torch.float64) -> torch.Tensor:
    """(N, D) features, N >= 2; float64 ones on the CPU (not every device has it)."""
    f = torch.as_tensor(x).detach()
    if f.dim() != 2 or f.shape[0] < 2:
        raise GantutorError(f"{what} must be (N, D) features with N >= 2, got shape "
                            f"{tuple(f.shape)}")
    return (f.cpu() if dtype == torch.float64 else f).to(dtype)


def mean_and_covariance(features) -> tuple[torch.Tensor, torch.Tensor]:
    """μ = 1/N Σ f_i and Σ = 1/(N-1) Σ (f_i - μ)(f_i - μ)ᵀ, in float64."""
    f = _as_features(features, "features")
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues >= 0)."""
    vals, vecs = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance_gaussians(mu1, cov1, mu2, cov2) -> float:
    """d² = ‖μ₁ - μ₂‖² + Tr(Σ₁ + Σ₂ - 2 (Σ₁^½ Σ₂ Σ₁^½)^½), in float64.

    Tr((Σ₁Σ₂)^½) is computed as the sum of square roots of the eigenvalues of the
    symmetric matrix Σ₁^½ Σ₂ Σ₁^½ (same eigenvalues as Σ₁Σ₂), which avoids the
    complex values and instabilities of a general matrix square root.
    """
    mu1, mu2, cov1, cov2 = (torch.as_tensor(t, dtype=torch.float64)
                            for t in (mu1, mu2, cov1, cov2))
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0)
    d2 = (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * eig.sqrt().sum()
    return float(d2.clamp(min=0))


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features (N, D).

    FD = ‖μ_a - μ_b‖² + Tr(Σ_a + Σ_b - 2 (Σ_a Σ_b)^½) (FID when the features are
    Inception's). Biased upwards at small N: compare only at equal sample sizes.
    """
    return frechet_distance_gaussians(*mean_and_covariance(features_a),
                                      *mean_and_covariance(features_b))


# ------------------------------------------------------------ classifier score


def classifier_score(probs) -> float:
    """exp(1/N Σ_i KL(p(y|x_i) ‖ p(y))), p(y) = 1/N Σ_i p(y|x_i): the Inception Score
    formula on our classifier's softmax. 1 (all alike) up to K (confident and varied).
    """
    p = torch.as_tensor(probs).detach().cpu().to(torch.float64)
    if p.dim() != 2 or p.shape[0] == 0:
        raise GantutorError(f"probs must be (N, K) probabilities, got {tuple(p.shape)}")
    p = p.clamp(min=1e-12)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (p.log() - marginal.log())).sum(1)  # KL(p(y|x_i) ‖ p(y)), per sample
    return float(kl.mean().exp())


# ------------------------------------------------------ precision, recall, density


def kth_neighbour_distance(x, k: int, batch_size: int = 1024) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest *other* row, shape (N,)."""
    x = torch.as_tensor(x).detach().float()
    if not 1 <= k < x.shape[0]:
        raise GantutorError(f"k={k} needs at least k + 1 samples, got {x.shape[0]}")
    radii = [torch.cdist(b, x).kthvalue(k + 1, dim=1).values  # self is at distance 0
             for b in x.split(batch_size)]
    return torch.cat(radii)


def prdc(real, fake, k: int = 5, batch_size: int = 1024) -> dict:
    """Precision, recall (Kynkäänniemi et al. 2019), density, coverage (Naeem et al.
    2020) of ``fake`` (M, D) against ``real`` (N, D), with k-nearest-neighbour balls.

    With r_i the distance of real x_i to its k-th nearest real neighbour and s_j that
    of fake y_j among the fakes, B(c, r) the ball of radius r around c:

        precision = 1/M Σ_j 1[∃i: y_j ∈ B(x_i, r_i)]
        recall    = 1/N Σ_i 1[∃j: x_i ∈ B(y_j, s_j)]
        density   = 1/(kM) Σ_j Σ_i 1[y_j ∈ B(x_i, r_i)]
        coverage  = 1/N Σ_i 1[∃j: y_j ∈ B(x_i, r_i)]

    Distances come from ``torch.cdist`` in blocks of ``batch_size`` rows, so 10,000 ×
    10,000 needs ~40 MB per block, never the whole matrix.
    """
    real = _as_features(real, "real features", torch.float32)
    fake = _as_features(fake, "fake features", torch.float32).to(real.device)
    r_real = kth_neighbour_distance(real, k, batch_size)
    r_fake = kth_neighbour_distance(fake, k, batch_size)
    precise = torch.zeros(fake.shape[0], dtype=torch.bool, device=real.device)
    inside = torch.zeros(fake.shape[0], dtype=torch.float64, device=real.device)
    recalled, covered = [], []
    for rows, radii in zip(real.split(batch_size), r_real.split(batch_size)):
        d = torch.cdist(rows, fake)  # (b, M)
        in_real_ball = d < radii[:, None]  # fake j inside real ball i
        precise |= in_real_ball.any(0)
        inside += in_real_ball.sum(0)
        recalled.append((d < r_fake[None, :]).any(1))  # real i inside some fake ball
        covered.append(in_real_ball.any(1))
    return {"precision": float(precise.double().mean()),
            "recall": float(torch.cat(recalled).double().mean()),
            "density": float(inside.mean() / k),
            "coverage": float(torch.cat(covered).double().mean())}


def expected_coverage(n_real: int, n_fake: int, k: int) -> float:
    """E[coverage] when real and fake come from the same distribution (Naeem 2020):
    1 - C(N-1, k) / C(N-1+M, k), the chance that a fake is among the k nearest.
    """
    p_all_real = 1.0
    for i in range(k):
        p_all_real *= (n_real - 1 - i) / (n_real - 1 + n_fake - i)
    return 1.0 - p_all_real


# ------------------------------------------------------ memorisation and privacy


def nearest_neighbours(queries, reference, batch_size: int = 1024):
    """(distance, index) of the nearest ``reference`` row for every query row.

    Inputs of any shape (N, ...) are flattened; distances are Euclidean (for images
    in [-1, 1], in pixel space).
    """
    q = torch.as_tensor(queries).detach().flatten(1).float()
    r = torch.as_tensor(reference).detach().flatten(1).float().to(q.device)
    if q.shape[1] != r.shape[1]:
        raise GantutorError(f"queries have {q.shape[1]} values each but the reference "
                            f"has {r.shape[1]}")
    dists, idx = [], []
    for b in q.split(batch_size):
        d, i = torch.cdist(b, r).min(dim=1)
        dists.append(d.clamp(min=0))
        idx.append(i)
    return torch.cat(dists), torch.cat(idx)


def membership_auc(members, heldout, generated, batch_size: int = 1024) -> float:
    """Black-box membership inference (GAN-Leaks, Chen et al. 2020): ROC AUC.

    Each query x gets the score -min_j ‖x - G_j‖ (closer to some generated sample ⇒
    more likely a training member). AUC = P(score(member) > score(held-out)), ties
    counting ½: 0.5 means the samples reveal nothing about membership, 1 that every
    training image can be told apart (e.g. a generator that copies its data).
    """
    from sklearn.metrics import roc_auc_score

    d_in, _ = nearest_neighbours(members, generated, batch_size)
    d_out, _ = nearest_neighbours(heldout, generated, batch_size)
    scores = torch.cat([-d_in, -d_out]).cpu().numpy()
    labels = [1] * len(d_in) + [0] * len(d_out)
    return float(roc_auc_score(labels, scores))


# ------------------------------------------------------ reconstruction quality


def _to_unit(x, y, value_range):
    """Both batches mapped from ``value_range`` to [0, 1], after checking shapes."""
    x, y = torch.as_tensor(x).float(), torch.as_tensor(y).float()
    if x.shape != y.shape or x.dim() != 4:
        raise GantutorError(f"need two image batches (N, C, H, W) of equal shape, got "
                            f"{tuple(x.shape)} and {tuple(y.shape)}")
    lo, hi = value_range
    return (x - lo) / (hi - lo), (y.to(x.device) - lo) / (hi - lo)


def psnr(x, y, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """Per-image PSNR in dB, 10 log10(1 / MSE) on [0, 1] pixels, via torchmetrics.

    Images in ``value_range`` (the course's [-1, 1]) are first mapped to [0, 1].
    Returns shape (N,); average in dB with ``.mean()``.
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    x, y = _to_unit(x, y, value_range)
    return peak_signal_noise_ratio(x, y, data_range=1.0, reduction="none",
                                   dim=(1, 2, 3))


def ssim(x, y, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004) on [0, 1] pixels via torchmetrics, shape (N,).

    SSIM is not shift-invariant (its luminance term compares means), so images are
    mapped from ``value_range`` to [0, 1] first, as the standard definition assumes.
    Gaussian window σ = 1.5 of 11 pixels (7 for images smaller than 11, e.g. 8x8).
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, y = _to_unit(x, y, value_range)
    side = min(x.shape[-2:])
    size = 11 if side >= 11 else 7 if side >= 7 else 3
    return structural_similarity_index_measure(x, y, data_range=1.0, kernel_size=size,
                                               reduction="none")


# ------------------------------------------------------ calibration: known damage


def add_noise(x, std: float, seed: int = 0) -> torch.Tensor:
    """x + σ·ε, ε ~ N(0, I), clipped back to the image range [-1, 1]; seeded."""
    x = torch.as_tensor(x).float()
    gen = torch.Generator(x.device).manual_seed(seed)
    eps = torch.randn(x.shape, generator=gen, device=x.device)
    return (x + std * eps).clamp(-1, 1)


def blur(x, sigma: float) -> torch.Tensor:
    """Gaussian blur of images (N, C, H, W) with standard deviation ``sigma`` pixels
    (torchvision's ``gaussian_blur``; kernel 2⌈3σ⌉ + 1, at most the image size).
    """
    from torchvision.transforms.functional import gaussian_blur

    x = torch.as_tensor(x).float()
    if sigma <= 0:
        return x.clone()
    side = min(x.shape[-2:])
    size = min(2 * math.ceil(3 * sigma) + 1, side - 1 if side % 2 == 0 else side)
    return gaussian_blur(x, kernel_size=size, sigma=sigma)


# ------------------------------------------------------ where the ink sits


def _ink(images, value_range) -> torch.Tensor:
    """Grey images (N, 1, H, W) or (N, H, W) as ink in [0, 1], shape (N, H, W)."""
    x = torch.as_tensor(images).detach().float()
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 3:
        raise GantutorError(f"need grey images (N, 1, H, W) or (N, H, W), got shape "
                            f"{tuple(x.shape)}")
    lo, hi = value_range
    return ((x - lo) / (hi - lo)).clamp(0, 1)


def centre_of_mass(images, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """(N, 2): the (row, column) of each image's centre of ink, in pixels from the
    top-left pixel's centre. The background (``value_range[0]``) weighs 0.

    MNIST's digits were placed by this very measure: each one's centre of mass sits
    at the centre of the 28 × 28 field, so real digits spread a fraction of a pixel
    around it. An image with no ink gives NaN.
    """
    ink = _ink(images, value_range)
    rows = torch.arange(ink.shape[1], dtype=ink.dtype, device=ink.device)
    cols = torch.arange(ink.shape[2], dtype=ink.dtype, device=ink.device)
    total = ink.sum(dim=(1, 2))
    row = (ink.sum(dim=2) * rows).sum(dim=1) / total
    col = (ink.sum(dim=1) * cols).sum(dim=1) / total
    return torch.stack([row, col], dim=1)


def recentre(images, centre, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """Each image shifted by whole pixels so its centre of ink lands nearest to
    ``centre`` (row, column), as MNIST placed its digits; pixels shifted in are
    background. Images without ink are returned unchanged."""
    x = torch.as_tensor(images).detach().float()
    want = torch.as_tensor(centre, dtype=x.dtype, device=x.device)
    shifts = (want - centre_of_mass(x, value_range)).round().nan_to_num(0.0)
    grey = x if x.dim() == 4 else x[:, None]  # (N, H, W) -> (N, 1, H, W)
    out = translate(grey, shifts, background=float(value_range[0]))
    return out if x.dim() == 4 else out[:, 0]

from .classifier import Classifier, get_classifier  # noqa: E402  (re-exported)

__all__ = [
    "Classifier", "ModeCoverage", "add_noise", "blur", "centre_of_mass",
    "classifier_score", "expected_coverage",
    "frechet_distance", "frechet_distance_gaussians", "get_classifier",
    "kth_neighbour_distance", "mean_and_covariance", "membership_auc", "mode_counts",
    "mode_coverage", "nearest_neighbours", "prdc", "psnr", "recentre", "ssim",
]
