"""The augmentation experiment: few labels, shifts, generated images, summaries."""

import math

import pytest
import torch

from gantutor import augment
from gantutor.course.augment import AugmentConfig, AugmentResult
from gantutor.data import load_dataset
from gantutor.errors import GantutorError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def test_few_labels_draws_exactly_per_class_and_is_seeded():
    y = torch.arange(10).repeat(20)
    idx = augment.few_labels(y, 3, seed=0)
    assert torch.bincount(y[idx]).tolist() == [3] * 10
    assert len(set(idx.tolist())) == 30  # no image twice
    assert torch.equal(idx, augment.few_labels(y, 3, seed=0))
    assert not torch.equal(idx, augment.few_labels(y, 3, seed=1))
    with pytest.raises(GantutorError, match="class 0 has only 20"):
        augment.few_labels(y, 21)


def test_random_shift_moves_ink_by_at_most_max_shift():
    x = torch.full((64, 1, 9, 9), -1.0)
    x[:, :, 4, 4] = 1.0  # one pixel of ink in the centre
    out = augment.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    pos = (out[:, 0] == 1.0).flatten(1).float().argmax(1)
    rows, cols = pos // 9, pos % 9
    assert (out == 1.0).flatten(1).sum(1).eq(1).all()  # the ink is kept, not copied
    assert ((rows - 4).abs() <= 2).all() and ((cols - 4).abs() <= 2).all()
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # really random
    assert ((out == -1.0) | (out == 1.0)).all()  # vacated pixels are background
    assert torch.equal(augment.random_shift(x, 0, torch.Generator()), x)


def test_classifier_learns_and_extra_images_are_really_used(digits):
    train, test = digits
    cfg = AugmentConfig(steps=100, synthetic_fraction=0.5)
    few = augment.few_labels(train.y, 1, seed=0)  # one image per class
    alone = augment.train_cnn(train.x[few], train.y[few], 10, cfg, seed=0)
    helped = augment.train_cnn(train.x[few], train.y[few], 10, cfg, seed=0,
                                      x_extra=train.x, y_extra=train.y)
    acc_alone = augment.test_accuracy(alone, test.x, test.y)
    acc_helped = augment.test_accuracy(helped, test.x, test.y)
    assert acc_helped > 0.75 and acc_helped > acc_alone + 0.15, (acc_alone, acc_helped)


def test_training_is_reproducible_from_its_seed(digits):
    train, _ = digits
    cfg = AugmentConfig(steps=5)
    nets = [augment.train_cnn(train.x[:50], train.y[:50], 10, cfg, seed=s,
                                     shift=True) for s in (3, 3, 4)]
    same = [torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(),
                                              nets[1].state_dict().values())]
    other = [torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(),
                                               nets[2].state_dict().values())]
    assert all(same) and not any(other)


def test_experiment_runs_every_condition_and_summarises(digits):
    train, test = digits
    cfg = AugmentConfig(per_class=(5,), seeds=(0, 1), steps=20, gan_steps=10,
                        synthetic_per_class=20, max_shift=1)
    G_all = augment.train_conditional_gan(train.x, train.y, 10, steps=10)
    results = augment.augmentation_experiment(train, test, cfg, G_all=G_all,
                                              progress=False)
    assert len(results) == 2 * 4
    assert {r.condition for r in results} == set(augment.CONDITIONS)
    assert all(0 <= r.accuracy <= 1 for r in results)
    summary = augment.summarise_accuracy(results)
    assert [s.condition for s in summary] == list(augment.CONDITIONS)
    assert all(s.n_seeds == 2 for s in summary)
    assert summary[0].diff_mean == 0 and summary[0].wins == 0
    text = augment.format_summary(summary)
    assert "real + cGAN (same labels)" in text and "±" in text
    generated = [s for s in summary if "cGAN" in s.condition]
    assert all(0 <= s.reproduced <= 1 and s.distance_ratio > 0 for s in generated)
    novel = augment.format_novelty(summary)
    assert "real + cGAN (all labels)" in novel and "real only" not in novel


def test_summarise_pairs_each_seed_with_its_own_baseline():
    R = AugmentResult
    results = [R(10, 0, "real only", 0.50), R(10, 1, "real only", 0.70),
               R(10, 2, "real only", 0.60),
               R(10, 0, "real + shifts", 0.55), R(10, 1, "real + shifts", 0.72),
               R(10, 2, "real + shifts", 0.58)]
    base, shifts = augment.summarise_accuracy(results)
    assert base.mean == pytest.approx(0.6) and base.std == pytest.approx(0.1)
    assert shifts.diff_mean == pytest.approx((0.05 + 0.02 - 0.02) / 3)
    assert shifts.diff_std == pytest.approx(torch.tensor([0.05, 0.02, -0.02]).std()
                                            .item(), rel=1e-5)
    assert shifts.wins == 2 and math.isnan(shifts.label_agreement)


def test_bad_settings_are_refused():
    with pytest.raises(GantutorError, match="synthetic_fraction"):
        AugmentConfig(synthetic_fraction=1.0)
    with pytest.raises(GantutorError, match="per_class"):
        AugmentConfig(per_class=())


def test_verdicts_follow_the_paired_differences():
    R = AugmentResult
    results = []
    for seed, (base, shift, gan) in enumerate([(0.5, 0.6, 0.4), (0.6, 0.7, 0.65),
                                               (0.7, 0.75, 0.6)]):
        results += [R(10, seed, "real only", base), R(10, seed, "real + shifts", shift),
                    R(10, seed, "real + cGAN (same labels)", gan)]
    text = augment.verdicts(augment.summarise_accuracy(results))
    lines = text.splitlines()
    assert lines[0].startswith("10 labels/class, real + shifts: +8.3")
    assert lines[0].endswith("helped in all 3 seeds")
    assert lines[1].endswith("mixed: better in 1 of 3 seeds")
    worse = [R(10, s, c, a) for s, (c, a) in enumerate([("real only", 0.5)] * 2)]
    worse += [R(10, 0, "real + shifts", 0.4), R(10, 1, "real + shifts", 0.45)]
    verdict = augment.verdicts(augment.summarise_accuracy(worse))
    assert verdict.endswith("hurt in all 2 seeds")


def test_novelty_tells_copies_from_fresh_images():
    g = torch.Generator().manual_seed(0)
    y_lab = torch.arange(2).repeat_interleave(5)
    x_lab = torch.rand(10, 1, 4, 4, generator=g)
    y_ref = torch.arange(2).repeat_interleave(40)
    x_ref = x_lab[y_ref * 5 + torch.randint(5, (80,), generator=g)] + \
        0.3 * torch.randn(80, 1, 4, 4, generator=g)
    # copies of two labelled images, one per class
    y_gen = y_ref.clone()
    x_gen = x_lab[y_gen * 5]
    new = augment.novelty(x_gen, y_gen, x_lab, y_lab, x_ref, y_ref)
    assert new.distance_ratio == pytest.approx(0.0, abs=1e-5)
    assert new.reproduced == pytest.approx(0.2)
    assert new.ref_reproduced > 0.8
    # fresh images drawn like the reference: as far away, as many reproduced
    same = augment.novelty(x_ref, y_ref, x_lab, y_lab, x_ref, y_ref)
    assert same.distance_ratio == pytest.approx(1.0)
    assert same.reproduced == same.ref_reproduced
    with pytest.raises(GantutorError, match="class 1"):
        augment.novelty(x_gen[:40], y_gen[:40], x_lab, y_lab, x_ref, y_ref)


def test_benchmark_prints_the_tables_and_the_last_line(capsys, load_benchmark,
                                                       monkeypatch, tmp_path):
    monkeypatch.setenv("GANTUTOR_CACHE", str(tmp_path))
    module = load_benchmark("augmentation")
    assert module.main(["--per-class", "2", "--seeds", "0", "--steps", "3",
                        "--gan-steps", "3", "--cgan-steps", "3",
                        "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "real + shifts" in out and "distance" in out
    last = dict(kv.split("=") for kv in out.strip().splitlines()[-1].split())
    assert set(last) == {"n2_shifts", "n2_cGAN_same_labels", "n2_cGAN_all_labels"}
    assert all(abs(float(v)) <= 100 for v in last.values())


def test_verdict_with_one_seed_says_so():
    R = AugmentResult
    one = [R(10, 0, "real only", 0.5), R(10, 0, "real + shifts", 0.6)]
    verdict = augment.verdicts(augment.summarise_accuracy(one))
    assert verdict.endswith("helped in the one seed")
