"""TrainConfig.lr_decay: a linear fall of both learning rates to 0 at the end."""

import copy

import pytest
import torch

import gantutor as gt
from gantutor.gan.train import lr_scale


def test_lr_scale_is_one_then_falls_linearly_to_zero():
    assert [lr_scale(s, 10, 0.0) for s in (0, 9)] == [1.0, 1.0]
    assert [lr_scale(s, 10, 0.5) for s in range(10)] == pytest.approx(
        [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert lr_scale(0, 10, 1.0) == 1.0 and lr_scale(9, 10, 1.0) == pytest.approx(0.1)


def test_lr_decay_is_validated():
    with pytest.raises(gt.GantutorError, match="lr_decay"):
        gt.TrainConfig(lr_decay=1.5)


def _run(G, D, data, steps, out=None, resume=False, decay=0.5):
    cfg = gt.TrainConfig(steps=steps, batch_size=32, lr=1e-3, lr_d=2e-3,
                         lr_decay=decay, device="cpu", log_every=2,
                         checkpoint_every=2, progress=False)
    return gt.train_gan(G, D, data, cfg, out=out, resume=resume)


def test_decayed_run_uses_the_scheduled_rates_and_resumes_exactly(tmp_path,
                                                                  monkeypatch):
    data = gt.load_dataset("ring")
    torch.manual_seed(0)
    G, D = gt.build_gan("mlp", (2,), z_dim=2, hidden=(16, 16))
    G1, D1, G2, D2 = (copy.deepcopy(n) for n in (G, D, G, D))
    seen = []  # the learning rates each optimizer step used
    real_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    _run(G1, D1, data, 4)
    # per step: D (lr_d) then G (lr); the last half of 4 steps falls linearly
    assert seen == pytest.approx([2e-3, 1e-3, 2e-3, 1e-3, 2e-3, 1e-3, 1e-3, 5e-4])
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    # 2 steps, then resume to 4: the same weights as the uninterrupted run
    _run(G2, D2, data, 2, out=tmp_path)
    cfg_resume = gt.TrainConfig(steps=4, batch_size=32, lr=1e-3, lr_d=2e-3,
                                lr_decay=0.5, device="cpu", log_every=2,
                                checkpoint_every=2, progress=False)
    gt.train_gan(G2, D2, data, cfg_resume, out=tmp_path, resume=True)
    for a, b in zip(list(G1.parameters()) + list(D1.parameters()),
                    list(G2.parameters()) + list(D2.parameters())):
        assert torch.equal(a, b)
