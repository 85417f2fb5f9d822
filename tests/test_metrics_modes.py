"""Mode coverage and high-quality rate on the 2-D mixtures (VEEGAN/PacGAN)."""

import pytest
import torch

from gantutor import data, metrics
from gantutor.errors import GantutorError


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_true_mixture_covers_every_mode_with_high_quality(name):
    mix = data.load_mixture(name, n=5000, seed=3)
    covered, hq = metrics.mode_coverage(mix.x, mix.modes, mix.std)
    assert covered == len(mix.modes)
    # a 2-D Gaussian lies within 3 std with probability 1 - exp(-4.5) = 0.989
    assert abs(hq - 0.989) < 0.01


def test_collapsed_generator_covers_one_mode():
    modes, std = data.mixture_modes("ring")
    gen = torch.Generator().manual_seed(0)
    x = modes[2] + std * torch.randn(1000, 2, generator=gen)
    result = metrics.mode_coverage(x, modes, std)
    assert result.modes_covered == 1 and result.high_quality > 0.95
    assert metrics.mode_counts(x, modes, std).argmax() == 2


def test_samples_between_modes_are_low_quality_and_cover_nothing():
    modes, std = data.mixture_modes("grid")
    x = torch.tensor([[-3.0, -3.0], [1.0, 1.0], [0.0, 0.0]])  # midway, midway, a mode
    assert metrics.mode_counts(x, modes, std).sum() == 1
    assert metrics.mode_coverage(x, modes, std) == (1, pytest.approx(1 / 3))


def test_threshold_is_three_standard_deviations():
    modes, std = torch.zeros(1, 2), 0.1
    inside, outside = torch.tensor([[0.299, 0.0]]), torch.tensor([[0.301, 0.0]])
    assert metrics.mode_coverage(inside, modes, std) == (1, 1.0)
    assert metrics.mode_coverage(outside, modes, std) == (0, 0.0)


def test_min_count_drops_sparsely_visited_modes():
    modes, std = data.mixture_modes("ring")
    x = torch.cat([modes[:1].repeat(30, 1), modes[1:2].repeat(5, 1)])
    assert metrics.mode_coverage(x, modes, std).modes_covered == 2
    assert metrics.mode_coverage(x, modes, std, min_count=20).modes_covered == 1


def test_bad_inputs_are_explained():
    modes, std = data.mixture_modes("ring")
    with pytest.raises(GantutorError, match="coordinates"):
        metrics.mode_coverage(torch.zeros(4, 3), modes, std)
    with pytest.raises(GantutorError, match=r"\(N, D\)"):
        metrics.mode_coverage(torch.zeros(0, 2), modes, std)
    with pytest.raises(GantutorError, match="std"):
        metrics.mode_coverage(torch.zeros(4, 2), modes, 0.0)
