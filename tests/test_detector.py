"""The generated-image detector and the per-class fairness table."""

import pytest
import torch

from gantutor.errors import GantutorError
from gantutor.evaluation import detector, fairness


def test_detector_tells_blank_digits_from_noise():
    g = torch.Generator().manual_seed(0)
    real = torch.full((64, 1, 8, 8), -1.0)
    real[:, :, 2:6, 3:5] = 1.0  # a bar of ink
    fake = torch.rand(64, 1, 8, 8, generator=g) * 2 - 1
    det = detector.train_detector(real, fake, epochs=3, batch_size=32)
    assert detector.detector_accuracy(det, real, fake) > 0.95
    # balanced: a detector calling everything "real" scores 0.5 on any set sizes
    assert detector.detector_accuracy(det, real, real[:10]) == pytest.approx(0.5)


def test_detector_refuses_mismatched_images():
    with pytest.raises(GantutorError, match="one shape"):
        detector.train_detector(torch.zeros(4, 1, 8, 8), torch.zeros(4, 1, 4, 4))


class StubJudge:
    """Features are the images themselves; the class is the sign of the first pixel."""

    num_classes = 2

    def features(self, x):
        return x.flatten(1)

    def predict(self, x):
        return (x.flatten(1)[:, 0] > 0).long()


def test_a_generator_that_drops_a_class_is_seen_per_class():
    g = torch.Generator().manual_seed(0)
    real_y = torch.arange(200) % 2
    real = torch.randn(200, 1, 2, 2, generator=g) * 0.1 + (real_y * 2 - 1).view(
        -1, 1, 1, 1).float()
    fake = real[real_y == 1][:50] + 0.01  # only class 1
    rows = fairness.per_class_quality(StubJudge(), real, real_y, fake, k=3)
    assert [r["class"] for r in rows] == [0, 1]
    assert rows[0]["share"] == 0.0 and rows[1]["share"] == 1.0
    assert rows[0]["coverage"] == 0.0 and rows[1]["coverage"] > 0.3
    assert rows[0]["n_real"] == 100
    assert "share of samples" in fairness.format_class_table(rows, 50, k=3)
