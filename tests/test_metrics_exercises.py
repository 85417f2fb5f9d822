"""Notebook 07's exercise checks accept answers written the way a learner might."""

import numpy as np
import scipy.linalg
import torch

from gantutor import check


def fd_with_scipy(mu1, cov1, mu2, cov2):
    root = scipy.linalg.sqrtm((cov1 @ cov2).numpy()).real
    return float(((mu1 - mu2) ** 2).sum() + torch.trace(cov1 + cov2)
                 - 2 * np.trace(root))


def fd_with_eigvals(mu1, cov1, mu2, cov2):  # the notebook's solution
    eig = torch.linalg.eigvals(cov1 @ cov2).real.clamp(min=0)
    return ((mu1 - mu2) ** 2).sum() + torch.trace(cov1 + cov2) - 2 * eig.sqrt().sum()


def coverage_by_sorting(real, fake, k):
    radii = torch.cdist(real, real).sort(dim=1).values[:, k]
    return float((torch.cdist(real, fake).min(dim=1).values < radii).double().mean())


def coverage_with_kthvalue(real, fake, k):  # the notebook's solution
    radii = torch.cdist(real, real).kthvalue(k + 1, dim=1).values
    nearest_fake = torch.cdist(real, fake).min(dim=1).values
    return (nearest_fake < radii).float().mean()


def test_frechet_distance_check_accepts_learner_answers():
    assert check.frechet_distance(fd_with_scipy).passed
    assert check.frechet_distance(fd_with_eigvals).passed


def test_coverage_check_accepts_learner_answers():
    assert check.coverage(coverage_by_sorting).passed
    assert check.coverage(coverage_with_kthvalue).passed


def test_coverage_check_explains_an_unknown_mistake_by_input():
    def loose(real, fake, k):  # <= instead of <, and the radius of the k+2-th
        radii = torch.cdist(real, real).kthvalue(k + 2, dim=1).values
        return (torch.cdist(real, fake).min(dim=1).values <= radii).float().mean()

    result = check.coverage(loose)
    assert not result.passed
    assert "for " in result.message and "expected" in result.message
