"""The exercise checks of notebook 07, evaluating generators.

The Fréchet distance between Gaussians and coverage.
"""

import torch

from ...evaluation import metrics
from .core import Case, Mistake, Spec, exercise, seeded


def _spd(d: int, g: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def _fd_cases() -> list[Case]:
    g = seeded(7)
    f64 = torch.float64
    return [Case("1-D: N(1, 2²) against N(−2, 3²) (answer: 3² + (2 − 3)² = 10)",
                 torch.tensor([1.0], dtype=f64), torch.tensor([[4.0]], dtype=f64),
                 torch.tensor([-2.0], dtype=f64), torch.tensor([[9.0]], dtype=f64)),
            Case("3-D, equal means, full covariances", torch.zeros(3, dtype=f64),
                 _spd(3, g), torch.zeros(3, dtype=f64), _spd(3, g)),
            Case("5-D, different means and covariances",
                 torch.randn(5, generator=g, dtype=f64), _spd(5, g),
                 torch.randn(5, generator=g, dtype=f64), _spd(5, g))]


def _trace_sqrt(cov1, cov2):
    return torch.linalg.eigvals(cov1 @ cov2).real.clamp(min=0).sqrt().sum()


@exercise
def frechet_distance():
    """Checks ``fn(mu1, cov1, mu2, cov2)``: the Fréchet distance between the Gaussians
    N(μ1, Σ1) and N(μ2, Σ2),

        d² = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½).
    """
    def no_two(m1, c1, m2, c2):
        return (m1 - m2).square().sum() + (c1 + c2).trace() - _trace_sqrt(c1, c2)

    def norm_not_squared(m1, c1, m2, c2):
        return ((m1 - m2).norm() + (c1 + c2).trace() - 2 * _trace_sqrt(c1, c2))

    def sqrt_of_trace(m1, c1, m2, c2):
        return ((m1 - m2).square().sum() + (c1 + c2).trace()
                - 2 * (c1 @ c2).trace().sqrt())

    return Spec(
        reference=metrics.frechet_distance_gaussians,
        cases=_fd_cases,
        mistakes=[
            Mistake(no_two, "the cross term is −2·Tr((Σ1Σ2)^½): the factor 2 is "
                    "missing (with Σ1 = Σ2 the distance must then be 0)."),
            Mistake(norm_not_squared, "the mean term is the squared distance "
                    "‖μ1 − μ2‖², not the distance ‖μ1 − μ2‖."),
            Mistake(sqrt_of_trace, "Tr((Σ1Σ2)^½) is the trace of a matrix square "
                    "root: the sum of the square roots of the eigenvalues of Σ1Σ2, "
                    "not the square root of Tr(Σ1Σ2)."),
        ],
        rtol=1e-6, atol=1e-8,
    )


def _coverage_cases() -> list[Case]:
    g = seeded(8)
    real = torch.randn(40, 2, generator=g)
    near_one = real[:1] + 0.05 * torch.randn(30, 2, generator=g)
    return [Case("40 real and 30 fake points in 2-D from the same Gaussian, k=3",
                 real, torch.randn(30, 2, generator=g), 3),
            Case("30 real and 30 fake points in 5-D, the fakes shifted by 1, k=5",
                 torch.randn(30, 5, generator=g),
                 torch.randn(30, 5, generator=g) + 1, 5),
            Case("a collapsed generator: 30 fakes around one real point, k=2",
                 real, near_one, 2)]


def _coverage_with(real, fake, k, radius_k, ball="real", per="real"):
    d_rr, d_ff = torch.cdist(real, real), torch.cdist(fake, fake)
    d_rf = torch.cdist(real, fake)  # (N, M)
    if ball == "real":
        inside = d_rf < d_rr.kthvalue(radius_k, dim=1).values[:, None]
    else:  # real points inside the fakes' balls
        inside = d_rf < d_ff.kthvalue(radius_k, dim=1).values[None, :]
    return inside.any(1 if per == "real" else 0).double().mean()


@exercise
def coverage():
    """Checks ``fn(real, fake, k)``: coverage (Naeem et al. 2020), the fraction of
    real points whose k-nearest-neighbour ball holds at least one fake,

        coverage = 1/N Σ_i 1[∃j: ‖y_j − x_i‖ < r_i],

    r_i the distance from x_i to its k-th nearest *other* real point.
    """
    return Spec(
        reference=lambda real, fake, k: metrics.prdc(real, fake, k)["coverage"],
        cases=_coverage_cases,
        mistakes=[
            Mistake(lambda r, f, k: _coverage_with(r, f, k, k), "the radius counts "
                    "the point itself as its nearest neighbour (distance 0): take the "
                    "(k + 1)-th smallest distance, e.g. kthvalue(k + 1)."),
            Mistake(lambda r, f, k: _coverage_with(r, f, k, k + 1, per="fake"),
                    "this is precision, the share of *fakes* inside some real ball; "
                    "coverage asks, for each *real* point, whether its ball holds a "
                    "fake."),
            Mistake(lambda r, f, k: _coverage_with(r, f, k, k + 1, ball="fake"),
                    "this is recall, real points inside the *fakes'* balls; coverage "
                    "uses the real points' own balls, which outlying fakes cannot "
                    "inflate."),
        ],
    )
