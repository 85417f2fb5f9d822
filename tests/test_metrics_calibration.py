"""Calibration: the metrics, on the real digits classifier, react as they must.

Real vs real is near zero, noise and blur make the Fréchet distance grow step by step,
a one-class "generator" has low recall and coverage, and a "generator" that copies
its training set is caught by the membership attack while fresh data is not.
"""

import pytest
import torch

from gantutor import classifier, data, metrics


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    classifier._LOADED.clear()
    return metrics.get_classifier("digits", "cpu",
                                  cache=tmp_path_factory.mktemp("cache"), verbose=False)


@pytest.fixture(scope="module")
def halves():
    """Two disjoint, seeded halves of all 1,797 digits (898 and 899 images)."""
    digits = data.load_dataset("digits", split="all")
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(1))
    a, b = order[: len(order) // 2], order[len(order) // 2:]
    return digits.x[a], digits.y[a], digits.x[b], digits.y[b]


def test_classifier_is_accurate_on_held_out_digits(clf):
    assert clf.test_accuracy > 0.95 and clf.info["n_test"] == 359


def test_real_vs_real_near_zero_and_far_below_real_vs_noise(clf, halves):
    xa, _, xb, _ = halves
    fa = clf.features(xa)
    noise = torch.rand(xb.shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
    fd_real = metrics.frechet_distance(fa, clf.features(xb))
    fd_noise = metrics.frechet_distance(fa, clf.features(noise))
    assert fd_real < 0.05 * fd_noise


def test_frechet_distance_grows_with_noise_and_with_blur(clf, halves):
    xa, _, xb, _ = halves
    fa = clf.features(xa)
    by_noise = [metrics.frechet_distance(fa, clf.features(metrics.add_noise(xb, s)))
                for s in (0.0, 0.1, 0.2, 0.4, 0.8, 1.6)]
    by_blur = [metrics.frechet_distance(fa, clf.features(metrics.blur(xb, s)))
               for s in (0.0, 0.5, 0.8, 1.2, 2.0)]
    assert by_noise == sorted(by_noise) and by_noise[-1] > 5 * by_noise[0]
    assert by_blur == sorted(by_blur) and by_blur[-1] > 10 * by_blur[0]


def test_one_class_generator_has_low_recall_and_coverage(clf, halves):
    xa, _, xb, yb = halves
    fa = clf.features(xa)
    full = metrics.prdc(fa, clf.features(xb), k=5)
    ones = metrics.prdc(fa, clf.features(xb[yb == 1]), k=5)
    assert full["recall"] > 0.8 and full["coverage"] > 0.8
    assert ones["recall"] < 0.2 and ones["coverage"] < 0.2
    assert ones["precision"] > 0.8  # each sample is a fine "1": it is not about quality
    score_full = metrics.classifier_score(clf.probs(xb))
    score_ones = metrics.classifier_score(clf.probs(xb[yb == 1]))
    assert score_full > 8 and score_ones < 1.5


def test_membership_attack_catches_copying_not_fresh_data():
    train = data.load_dataset("digits", "train")
    test = data.load_dataset("digits", "test")
    members, heldout = train.x[:150], test.x[:150]
    copying = train.x  # a "generator" that outputs its training set
    assert metrics.membership_auc(members, heldout, copying) == 1.0
    fresh = train.x[150:]  # real digits that are neither the members nor held out
    assert metrics.membership_auc(members, heldout, fresh) == pytest.approx(0.5,
                                                                            abs=0.1)
