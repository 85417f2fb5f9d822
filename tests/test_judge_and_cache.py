"""The independent pixel judge and the cache of trained runs."""

import numpy as np
import pytest
import torch

import gantutor as gt
from gantutor.evaluation import judge as judge_mod
from gantutor.gan import cache


@pytest.fixture
def quick_cache(monkeypatch, tmp_path):
    """Judges and runs cached in a fresh folder; the judge fitted in a few epochs."""
    monkeypatch.setenv("GANTUTOR_CACHE", str(tmp_path))
    monkeypatch.setattr(judge_mod, "MAX_EPOCHS", 40)
    monkeypatch.setattr(judge_mod, "_LOADED", {})
    return tmp_path


@pytest.fixture
def digits_judge(quick_cache):
    return judge_mod.get_pixel_judge("digits", verbose=False)


def test_numpy_forward_pass_is_scikit_learns(digits_judge):
    test = gt.load_dataset("digits", "test")
    ours = digits_judge.probs(test.x[:50])
    theirs = digits_judge.sklearn_model.predict_proba(judge_mod._pixels(test.x[:50]))
    assert np.allclose(ours, theirs, atol=1e-10)
    assert digits_judge.test_accuracy > 0.9


def test_verdicts_separate_digits_from_noise_and_collapse(digits_judge):
    test = gt.load_dataset("digits", "test")
    real = judge_mod.judge_samples(digits_judge, test.x)
    assert real.classes_recognised == 10 and real.mean_top_prob > 0.8
    assert sum(real.counts) == len(test.x)
    ones = test.x[test.y == 1]
    collapsed = judge_mod.judge_samples(digits_judge, ones.repeat(5, 1, 1, 1))
    assert collapsed.classes_recognised <= 2 and not collapsed.passes()
    noise = torch.rand(500, *test.x.shape[1:]) * 2 - 1
    verdict = judge_mod.judge_samples(digits_judge, noise)
    assert not verdict.passes()
    assert "classes recognised" in verdict.summary()


def test_judge_is_cached_and_a_damaged_cache_is_refitted(quick_cache, capsys):
    first = judge_mod.get_pixel_judge("digits")
    assert "fitted, saved to" in capsys.readouterr().out
    judge_mod._LOADED.clear()
    again = judge_mod.get_pixel_judge("digits")
    assert "loaded from" in capsys.readouterr().out
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, again.weights))
    (path,) = (quick_cache / "judges").glob("*.npz")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    judge_mod._LOADED.clear()
    judge_mod.get_pixel_judge("digits")
    assert "fitted, saved to" in capsys.readouterr().out


def test_build_gan_seed_repeats_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    G1, D1 = gt.build_gan("mlp", (1, 8, 8), seed=7, hidden=(16,))
    assert torch.equal(torch.get_rng_state(), before)
    G2, D2 = gt.build_gan("mlp", (1, 8, 8), seed=7, hidden=(16,))
    for a, b in zip([*G1.parameters(), *D1.parameters()],
                    [*G2.parameters(), *D2.parameters()]):
        assert torch.equal(a, b)
    G3, _ = gt.build_gan("mlp", (1, 8, 8), seed=8, hidden=(16,))
    assert not torch.equal(next(G1.parameters()), next(G3.parameters()))


def _setup(steps=6):
    data = gt.load_dataset("digits", "train")
    G, D = gt.build_gan("mlp", data.shape, seed=0, hidden=(16,))
    cfg = gt.TrainConfig(steps=steps, batch_size=16, log_every=2, checkpoint_every=2,
                         progress=False, device="cpu")
    return G, D, data, cfg


def test_train_or_reuse_trains_once_then_loads(quick_cache, capsys):
    G, D, data, cfg = _setup()
    hist = cache.train_or_reuse("tiny", G, D, data, cfg)
    assert "training" in capsys.readouterr().out and hist.step[-1] == cfg.steps
    G2, D2, _, _ = _setup()
    again = cache.train_or_reuse("tiny", G2, D2, data, cfg)
    assert "reused the finished run" in capsys.readouterr().out
    assert again.g_loss == pytest.approx(hist.g_loss)
    for a, b in zip(G.state_dict().values(), G2.state_dict().values()):
        assert torch.equal(a, b)
    # other settings, other key: trained anew
    G3, D3, _, _ = _setup()
    cache.train_or_reuse("tiny", G3, D3, data, cfg.__class__(**{**cfg.__dict__,
                                                                 "lr": 1e-3}))
    assert "training" in capsys.readouterr().out


def test_interrupted_run_continues_and_matches_one_go(quick_cache, capsys):
    G, D, data, cfg = _setup(steps=6)
    folder = cache.run_folder("tiny", G, D, data, cfg)
    folder.mkdir(parents=True)
    # the first 4 of the 6 steps, as a run killed after its step-4 checkpoint
    gt.train_gan(G, D, data, cfg.__class__(**{**cfg.__dict__, "steps": 4}), out=folder)
    G1, D1, _, _ = _setup(steps=6)
    cache.train_or_reuse("tiny", G1, D1, data, cfg)
    assert "continuing the interrupted run" in capsys.readouterr().out
    G2, D2, _, _ = _setup(steps=6)
    gt.train_gan(G2, D2, data, cfg)
    for a, b in zip(G1.state_dict().values(), G2.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_damaged_cached_run_is_reported_and_trained_again(quick_cache, capsys):
    G, D, data, cfg = _setup()
    cache.train_or_reuse("tiny", G, D, data, cfg)
    ckpt = cache.run_folder("tiny", *_setup()[:3], cfg) / "checkpoint.pt"
    raw = bytearray(ckpt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(raw))
    capsys.readouterr()
    G2, D2, _, _ = _setup()
    hist = cache.train_or_reuse("tiny", G2, D2, data, cfg)
    out = capsys.readouterr().out
    assert "could not be used" in out and "training" in out
    assert hist.step[-1] == cfg.steps
    G3, D3, _, _ = _setup()
    cache.train_or_reuse("tiny", G3, D3, data, cfg)  # the rewritten file is good
    assert "reused" in capsys.readouterr().out


def test_course_gan_trains_then_reuses_the_same_run(quick_cache, monkeypatch, capsys):
    from gantutor.course import runs

    tiny = runs.CourseRun("mlp", seed=3, build={"hidden": (16,)},
                          train={"batch_size": 16, "log_every": 2}, full_steps=4,
                          fast_steps=4)
    monkeypatch.setitem(runs.RUNS, "mlp", tiny)
    members, held_out = gt.data.holdout_split(gt.load_dataset("digits", "train"), 0.5)
    G, _, hist = runs.course_gan("mlp", members)
    G2, _, hist2 = runs.course_gan("mlp", members)
    out = capsys.readouterr().out
    assert "training" in out and "reused" in out
    assert hist2.d_loss == pytest.approx(hist.d_loss)
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), G2.parameters()))
    with pytest.raises(gt.GantutorError, match="no course run 'wgan'"):
        runs.course_gan("wgan", members)


def test_dcgan_judge_benchmark_trains_each_variant_and_reports_it(
        quick_cache, monkeypatch, capsys, load_benchmark):
    from gantutor.course import runs

    digits = gt.data.holdout_split(gt.load_dataset("digits", "train"), 0.5)
    monkeypatch.setattr(runs, "course_data", lambda device="cpu": digits)
    bench = load_benchmark("dcgan_judge")
    variants = ["course", "paper", "d_width_64", "d_head_hinge"]
    assert bench.main(["--variants", *variants, "--scale", "0.004",
                       "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = {line.split()[0]: line for line in lines
            if line.startswith(tuple(f"{name} " for name in ["real", *variants]))}
    assert set(rows) == {"real", *variants}
    assert " 12 " in rows["course"]  # the course's 3,000 steps x .004
    assert all(" 6 " in rows[name] for name in variants[1:])  # the paper's 1,500
    # held-out real digits: the judge recognises them, and they sit where real digits
    # sit (centre spread well under a pixel on 8x8 digits)
    real = rows["real"].split()
    assert real[-4] == "meets" and float(real[-3]) < 1.0
    centre, recentred, nearest = (float(v) for v in rows["course"].split()[-3:])
    assert centre >= 0 and 0.1 <= recentred <= 1.0 and nearest > 0
    last = dict(pair.split("=") for pair in lines[-1].split())
    assert set(last) == set(variants)  # the reference row is not a variant
    assert all(0.1 <= float(v) <= 1.0 for v in last.values())
    with pytest.raises(SystemExit):
        bench.main(["--scale", "0"])
