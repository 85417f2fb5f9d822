"""Each metric against a closed form or an independent (naive) computation."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gantutor import metrics
from gantutor.errors import GantutorError


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------ Fréchet distance


def _scipy_fd(a, b):
    a, b = a.double().numpy(), b.double().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def test_frechet_distance_matches_scipy_sqrtm():
    a = _randn(600, 16, seed=1)
    b = _randn(500, 16, seed=2) @ _randn(16, 16, seed=3) * 0.4 + 0.3
    assert metrics.frechet_distance(a, b) == pytest.approx(_scipy_fd(a, b), rel=1e-9)


def test_frechet_distance_closed_forms():
    # 1-D Gaussians: (μ1 - μ2)² + (σ1 - σ2)²
    assert metrics.frechet_distance_gaussians(
        torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-2.0]),
        torch.tensor([[9.0]])) == pytest.approx(9 + 1)
    # diagonal covariances: Σ_d (σ1d - σ2d)²
    v1, v2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([4.0, 1.0, 0.25])
    assert metrics.frechet_distance_gaussians(
        torch.zeros(3), torch.diag(v1), torch.zeros(3), torch.diag(v2)
    ) == pytest.approx(1 + 1 + 0)


def test_frechet_distance_is_zero_for_identical_sets_and_symmetric():
    a, b = _randn(300, 8, seed=4), _randn(300, 8, seed=5) * 2
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert metrics.frechet_distance(a, b) == pytest.approx(
        metrics.frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_with_singular_covariance_stays_finite_and_right():
    # fewer samples than dimensions: rank-deficient covariances
    a, b = _randn(20, 64, seed=6), _randn(20, 64, seed=7) + 1
    fd = metrics.frechet_distance(a, b)
    assert math.isfinite(fd) and fd == pytest.approx(_scipy_fd(a, b), rel=1e-4)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(GantutorError, match="N >= 2"):
        metrics.frechet_distance(torch.zeros(1, 4), torch.zeros(5, 4))


# ------------------------------------------------------------ classifier score


def test_classifier_score_bounds():
    K = 10
    confident_varied = torch.eye(K).repeat(5, 1)  # each class equally, p = one-hot
    assert metrics.classifier_score(confident_varied) == pytest.approx(K)
    one_class = torch.zeros(50, K)
    one_class[:, 3] = 1
    assert metrics.classifier_score(one_class) == pytest.approx(1)
    unsure = torch.full((50, K), 1 / K)
    assert metrics.classifier_score(unsure) == pytest.approx(1)


def test_classifier_score_against_direct_formula():
    p = torch.softmax(_randn(40, 5, seed=8) * 3, 1).double()
    marginal = p.mean(0)
    kl = [sum(float(p[i, c] * math.log(p[i, c] / marginal[c])) for c in range(5))
          for i in range(40)]
    assert metrics.classifier_score(p) == pytest.approx(math.exp(sum(kl) / 40))


# ------------------------------------------------------------ PRDC


def _naive_prdc(real, fake, k):
    real, fake = real.double().numpy(), fake.double().numpy()

    def d(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    r_real = np.sort(d(real, real), axis=1)[:, k]
    r_fake = np.sort(d(fake, fake), axis=1)[:, k]
    rf = d(real, fake)
    inside = rf < r_real[:, None]
    return {"precision": inside.any(0).mean(),
            "recall": (rf < r_fake[None, :]).any(1).mean(),
            "density": inside.sum(0).mean() / k,
            "coverage": (rf.min(1) < r_real).mean()}


@pytest.mark.parametrize("batch_size", [7, 1024])
def test_prdc_matches_naive_definitions_for_any_batch_size(batch_size):
    real, fake = _randn(150, 6, seed=9), _randn(120, 6, seed=10) * 0.7 + 0.4
    got = metrics.prdc(real, fake, k=3, batch_size=batch_size)
    want = _naive_prdc(real, fake, 3)
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name


def test_prdc_sanity_values_10k_vs_10k_in_1000d():
    """N(0, I) vs itself, 1000-D, 10,000 vs 10,000, k=5 (Naeem et al. 2020 publish
    P 0.477, R 0.471, D 1.056, C 0.974 for one draw). Density has a standard deviation
    of about 0.05 between draws here (E[density] = 1 exactly), so it is held to its
    expectation; the others to the published values within 0.02."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(10_000, 1000, generator=gen)
    fake = torch.randn(10_000, 1000, generator=gen)
    got = metrics.prdc(real, fake, k=5)
    assert got["precision"] == pytest.approx(0.477, abs=0.02)
    assert got["recall"] == pytest.approx(0.471, abs=0.02)
    assert got["coverage"] == pytest.approx(0.974, abs=0.02)
    expected = metrics.expected_coverage(10_000, 10_000, 5)
    assert got["coverage"] == pytest.approx(expected, abs=0.01)
    assert got["density"] == pytest.approx(1.0, abs=0.1)


def test_density_and_coverage_expectations_in_low_dimension():
    got = metrics.prdc(_randn(3000, 4, seed=11), _randn(3000, 4, seed=12), k=5)
    assert got["density"] == pytest.approx(1.0, abs=0.04)
    assert got["coverage"] == pytest.approx(metrics.expected_coverage(3000, 3000, 5),
                                            abs=0.01)
    assert got["precision"] > 0.9 and got["recall"] > 0.9


def test_prdc_of_a_collapsed_generator():
    real = _randn(1000, 8, seed=13)
    fake = real[:1] + 0.01 * _randn(1000, 8, seed=14)  # everything near one point
    got = metrics.prdc(real, fake, k=5)
    assert got["precision"] > 0.9  # those samples are realistic...
    assert got["recall"] < 0.05 and got["coverage"] < 0.05  # ...but cover nothing


def test_expected_coverage_formula():
    # k = 1, N = M = 2: the one other real vs two fakes; P(real is nearest) = 1/3
    assert metrics.expected_coverage(2, 2, 1) == pytest.approx(2 / 3)
    assert metrics.expected_coverage(10**6, 10**6, 5) == pytest.approx(1 - 0.5**5,
                                                                       abs=1e-5)


def test_prdc_needs_more_samples_than_k():
    with pytest.raises(GantutorError, match="k=5"):
        metrics.prdc(torch.zeros(5, 2), torch.zeros(10, 2), k=5)


# ------------------------------------------------------------ neighbours, MIA


def test_nearest_neighbours_exact():
    ref = torch.tensor([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    q = torch.tensor([[3.0, 5.0], [9.0, 0.0], [0.0, 0.0]])
    d, i = metrics.nearest_neighbours(q, ref, batch_size=2)
    assert i.tolist() == [1, 2, 0]
    assert d.tolist() == pytest.approx([1.0, 1.0, 0.0], abs=1e-3)


def test_membership_auc_copying_vs_independent_generator():
    train, heldout = _randn(400, 30, seed=15), _randn(400, 30, seed=16)
    assert metrics.membership_auc(train, heldout, generated=train) == 1.0
    fresh = _randn(2000, 30, seed=17)  # a generator that never saw train
    assert metrics.membership_auc(train, heldout, fresh) == pytest.approx(0.5, abs=0.06)


def test_membership_auc_is_the_rank_probability():
    gen_set = torch.tensor([[0.0]])
    members = torch.tensor([[0.1], [0.5]])
    heldout = torch.tensor([[0.2], [1.0]])
    # member distances 0.1, 0.5 vs held-out 0.2, 1.0: 3 of 4 pairs have member closer
    assert metrics.membership_auc(members, heldout, gen_set) == pytest.approx(0.75)


# ------------------------------------------------------------ PSNR, SSIM, damage


def test_psnr_and_ssim_on_the_course_pixel_range():
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    shifted = x + 0.05  # 0.025 on the [0, 1] scale: MSE 6.25e-4
    assert metrics.psnr(x, shifted) == pytest.approx(
        [10 * math.log10(1 / 0.025**2)] * 4, rel=1e-4)
    assert metrics.ssim(x, x).tolist() == pytest.approx([1.0] * 4)
    assert (metrics.ssim(x, shifted) > 0.99).all()  # as on [0, 1], not [-1, 1]
    noisy = metrics.add_noise(x, 0.5, seed=0)
    assert (metrics.ssim(x, noisy) < 0.9).all()
    assert metrics.ssim(x[:, :, :8, :8], noisy[:, :, :8, :8]).shape == (4,)  # 8x8 works


def test_psnr_rejects_mismatched_batches():
    with pytest.raises(GantutorError, match="equal shape"):
        metrics.psnr(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8))


def test_blur_keeps_shape_and_mean_and_smooths():
    x = torch.zeros(1, 1, 28, 28)
    x[..., 14, 14] = 1.0
    y = metrics.blur(x, 1.0)
    assert y.shape == x.shape and y.sum() == pytest.approx(1.0, abs=1e-4)
    assert y.max() < 0.2 and torch.equal(metrics.blur(x, 0), x)
    assert metrics.blur(torch.zeros(2, 1, 8, 8), 3.0).shape == (2, 1, 8, 8)


def test_add_noise_is_seeded_and_clipped():
    x = torch.zeros(2, 1, 8, 8)
    a, b = metrics.add_noise(x, 3.0, seed=1), metrics.add_noise(x, 3.0, seed=1)
    assert torch.equal(a, b) and a.abs().max() <= 1


# ------------------------------------------------------------ where the ink sits


def _dot(row, col, size=9, value=1.0):
    x = torch.full((1, 1, size, size), -1.0)
    x[0, 0, row, col] = value
    return x


def test_centre_of_mass_of_single_pixels_and_a_bar():
    assert metrics.centre_of_mass(_dot(2, 7)).tolist() == [[2.0, 7.0]]
    bar = torch.full((1, 9, 9), -1.0)
    bar[0, 4, 2:7] = 1.0  # a horizontal bar from column 2 to 6
    assert metrics.centre_of_mass(bar).tolist() == [[4.0, 4.0]]
    # half-grey ink weighs half: a full pixel at column 0 and a grey one at column 3
    two = _dot(5, 0)
    two[0, 0, 5, 3] = 0.0  # grey: half of the way from background to ink
    assert metrics.centre_of_mass(two)[0].tolist() == pytest.approx([5.0, 1.0])


def test_centre_of_mass_without_ink_is_nan_and_bad_shape_is_refused():
    assert metrics.centre_of_mass(torch.full((1, 1, 4, 4), -1.0)).isnan().all()
    with pytest.raises(GantutorError, match="grey images"):
        metrics.centre_of_mass(torch.zeros(2, 3, 4, 4))


def test_recentre_moves_the_ink_to_the_centre_and_keeps_it():
    x = torch.cat([_dot(1, 7), _dot(8, 0), torch.full((1, 1, 9, 9), -1.0)])
    moved = metrics.recentre(x, (4.0, 4.0))
    assert metrics.centre_of_mass(moved[:2]).tolist() == [[4.0, 4.0], [4.0, 4.0]]
    assert ((moved > -1).sum(dim=(1, 2, 3))).tolist() == [1, 1, 0]  # nothing lost
    assert torch.equal(moved[2], x[2])  # no ink: unchanged
    assert torch.equal(x[0], _dot(1, 7)[0])  # the input is not modified
