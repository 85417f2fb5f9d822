"""A few real training steps in a temporary folder: files, exact resume, NaN, errors."""

import dataclasses

import pytest
import torch

import gantutor as gt
from gantutor.checkpoint import load_checkpoint
from gantutor.errors import GantutorError
from gantutor.gan.train import NonFiniteLossError


def tiny_run(out, steps, resume=False, data=None, model="mlp", **kw):
    torch.manual_seed(0)
    data = data or gt.load_dataset("digits")
    G, D = gt.build_gan(model, data.shape, hidden=(32, 32), width=8)
    cfg = gt.TrainConfig(steps=steps, batch_size=16, log_every=5, checkpoint_every=5,
                         device="cpu", progress=False, **kw)
    hist = gt.train_gan(G, D, data, cfg, out=out, resume=resume)
    return G, D, hist


def test_history_and_checkpoint(tmp_path):
    G, D, hist = tiny_run(tmp_path, 12, snapshot_every=5)
    assert hist.step == [5, 10, 12]
    assert all(0 < v < 1 for v in hist.d_real + hist.d_fake)
    assert [s for s, _ in hist.snapshots] == [5, 10, 12]
    assert hist.snapshots[0][1].shape == (64, 1, 8, 8)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 12 and state["config"]["steps"] == 12
    assert set(state) >= {"G", "D", "opt_g", "opt_d", "rng", "versions", "G_spec"}
    G2 = gt.load_generator(tmp_path / "checkpoint.pt")
    assert torch.equal(gt.sample(G2, 4), gt.sample(G, 4))


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_stop_and_resume_equals_uninterrupted(tmp_path, model):
    G_a, D_a, hist_a = tiny_run(tmp_path / "a", 20, model=model)
    tiny_run(tmp_path / "b", 10, model=model)
    G_b, D_b, hist_b = tiny_run(tmp_path / "b", 20, resume=True, model=model)
    for a, b in zip(list(G_a.state_dict().values()) + list(D_a.state_dict().values()),
                    list(G_b.state_dict().values()) + list(D_b.state_dict().values())):
        assert torch.equal(a, b)
    assert hist_a.as_dict() == hist_b.as_dict()


def test_a_learning_rate_given_with_resume_is_the_one_used(tmp_path):
    tiny_run(tmp_path, 10, lr=2e-4)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["opt_g"]["param_groups"][0]["lr"] == 2e-4
    tiny_run(tmp_path, 15, resume=True, lr=5e-5, betas=(0.0, 0.9))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    for opt in ("opt_g", "opt_d"):
        group = state[opt]["param_groups"][0]
        assert group["lr"] == 5e-5 and tuple(group["betas"]) == (0.0, 0.9)


def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    good = gt.load_dataset("digits")
    tiny_run(tmp_path, 10, data=good)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    bad = dataclasses.replace(good, x=torch.full_like(good.x, float("nan")))
    with pytest.raises(NonFiniteLossError, match="step 11.*values, step 10, is kept"):
        tiny_run(tmp_path, 20, resume=True, data=bad)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_checkpoint_of_another_model_is_refused(tmp_path):
    tiny_run(tmp_path, 5)
    with pytest.raises(GantutorError, match="does not fit"):
        tiny_run(tmp_path, 10, resume=True, model="dcgan")


def test_non_checkpoint_files_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(GantutorError, match="not a readable gantutor checkpoint"):
        gt.load_generator(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(GantutorError, match="not a gantutor checkpoint"):
        gt.load_generator(other)
    tiny_run(tmp_path / "run", 5)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "run" / "checkpoint.pt").read_bytes()[:2000])
    with pytest.raises(GantutorError, match="not a readable"):
        gt.load_generator(truncated)


def test_interrupted_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    tiny_run(tmp_path, 5)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        tiny_run(tmp_path, 10, resume=True)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


@pytest.mark.parametrize("extra", [
    {"loss": "hinge"}, {"loss": "wasserstein", "gp_weight": 10.0, "d_steps": 2},
    {"r1_weight": 1.0}, {"label_smoothing": 0.1}, {"loss": "minimax"},
])
def test_every_loss_option_trains(tmp_path, extra):
    _, _, hist = tiny_run(None, 5, **extra)
    assert len(hist.step) == 1 and all(map(torch.isfinite, torch.tensor(hist.d_loss)))


def test_conditional_and_packed_training():
    data = gt.load_dataset("digits")
    G, D = gt.build_gan("mlp", data.shape, num_classes=10, pack=2, hidden=(32,))
    cfg = gt.TrainConfig(steps=5, batch_size=16, log_every=5, checkpoint_every=5,
                         device="cpu", progress=False)
    calls = []
    gt.train_gan(G, D, data, cfg, on_step=lambda step, h: calls.append(step))
    assert calls == [5]
    x = gt.sample(G, 10, y=3)
    assert x.shape == (10, 1, 8, 8)


def test_bad_config_is_explained():
    with pytest.raises(GantutorError, match="label smoothing"):
        gt.TrainConfig(loss="hinge", label_smoothing=0.1)
    with pytest.raises(GantutorError, match="multiple of log_every"):
        gt.TrainConfig(log_every=30, checkpoint_every=50)
