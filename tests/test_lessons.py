"""gt.lessons: the written-out GAN step is train_gan's step; each bug shows itself."""

import copy

import pytest
import torch
import torch.nn.functional as F

import gantutor as gt
from gantutor import lessons


@pytest.fixture
def tiny():
    """A small image-like dataset (digits, 8x8) and a small MLP GAN for it."""
    data = gt.load_dataset("digits")
    torch.manual_seed(0)
    G, D = gt.build_gan("mlp", data.shape, z_dim=8, hidden=(32, 32))
    return data, G, D


def cfg(steps, **kw):
    base = dict(steps=steps, batch_size=16, lr=1e-3, device="cpu", log_every=2,
                checkpoint_every=2, progress=False, seed=3)
    base.update(kw)
    return gt.TrainConfig(**base)


def test_gan_step_is_the_step_written_out_by_hand(tiny):
    data, G, D = tiny
    G0, G2, D2 = copy.deepcopy(G), copy.deepcopy(G), copy.deepcopy(D)
    x_real, z = data.x[:16], torch.randn(16, G.z_dim)
    # by hand, as notebook 05 writes it
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    x_fake = G(z)
    d_real, d_fake = D(x_real), D(x_fake.detach())
    loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(False)
    loss_g = F.softplus(-D(x_fake)).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    D.requires_grad_(True)
    # the package
    opt_g2 = torch.optim.Adam(G2.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d2 = torch.optim.Adam(D2.parameters(), lr=2e-4, betas=(0.5, 0.999))
    stats = lessons.gan_step(G2, D2, opt_g2, opt_d2, x_real, z)
    # equal up to float rounding (the package writes -log D(x) as a BCE with logits);
    # Adam moves every weight by about lr = 2e-4, so a wrong step shows far above 1e-6
    assert lessons.max_weight_change(G, G2) < 1e-6
    assert lessons.max_weight_change(D, D2) < 1e-6
    assert lessons.max_weight_change(G, G0) > 1e-5
    assert float(stats["d_loss"]) == pytest.approx(float(loss_d.detach()))
    assert float(stats["g_loss"]) == pytest.approx(float(loss_g.detach()))
    assert all(p.requires_grad for p in D2.parameters())  # D unfrozen afterwards


def test_train_variant_without_bug_takes_exactly_train_gans_steps(tiny):
    data, G, D = tiny
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    run = lessons.train_variant(G, D, data, cfg(6))
    hist = gt.train_gan(G2, D2, data, cfg(6))
    assert run.steps_done == 6 and run.error is None
    assert lessons.max_weight_change(G, G2) == 0.0
    assert lessons.max_weight_change(D, D2) == 0.0
    assert run.history.step == hist.step == [2, 4, 6]
    for k in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert getattr(run.history, k) == pytest.approx(getattr(hist, k), rel=1e-5)


def test_d_applied_twice_crashes_on_the_first_step(tiny):
    data, G, D = tiny
    run = lessons.train_variant(G, D, data, cfg(4), bug="d_applied_twice")
    assert run.steps_done == 0 and run.error is not None
    assert run.error.startswith(("IndexError", "RuntimeError"))


def test_no_detach_fails_in_the_g_step_and_retain_graph_only_wastes_work(tiny):
    data, G, D = tiny
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    crashed = lessons.train_variant(G, D, data, cfg(4), bug="no_detach")
    assert crashed.steps_done == 0
    assert "backward through the graph a second time" in crashed.error
    G1, D1, G2, D2 = (copy.deepcopy(n) for n in (G0, D0, G0, D0))
    silent = lessons.train_variant(G1, D1, data, cfg(4), bug="no_detach_retain")
    lessons.train_variant(G2, D2, data, cfg(4))  # the correct run
    # G received a gradient from the D loss ...
    assert silent.g_grad_from_d_step and min(silent.g_grad_from_d_step) > 0
    # ... which the G step's zero_grad threw away: the same weights as the correct run
    assert lessons.max_weight_change(G1, G2) == 0.0
    assert lessons.max_weight_change(D1, D2) == 0.0


def test_double_sigmoid_keeps_d_between_one_half_and_sigmoid_one(tiny):
    data, G, D = tiny
    run = lessons.train_variant(G, D, data, cfg(20, lr=5e-3), bug="double_sigmoid")
    low, high = 0.5, float(torch.sigmoid(torch.tensor(1.0)))
    for v in run.history.d_real + run.history.d_fake:
        assert low <= v <= high + 1e-6


def test_fake_labelled_real_makes_d_call_everything_real(tiny):
    data, G, D = tiny
    run = lessons.train_variant(G, D, data, cfg(60, lr=5e-3), bug="fake_labelled_real")
    assert run.history.d_real[-1] > 0.95 and run.history.d_fake[-1] > 0.95
    assert run.history.g_loss[-1] < 0.05  # G is told its fakes are already perfect


def test_noise_like_replaces_only_the_images(tiny):
    data, _, _ = tiny
    noisy = lessons.noise_like(data, seed=1)
    assert noisy.x.shape == data.x.shape and torch.equal(noisy.y, data.y)
    assert noisy.x.min() >= -1 and noisy.x.max() <= 1
    assert abs(float(noisy.x.mean())) < 0.05  # uniform on [-1, 1]
    assert not torch.equal(noisy.x, data.x) and data.name == "digits"
    assert torch.equal(lessons.noise_like(data, seed=1).x, noisy.x)


def test_noise_as_data_trains_on_the_noise(tiny, monkeypatch):
    data, G, D = tiny
    seen = []
    real_next = gt.data.Batches.next

    def spy(self):
        batch = real_next(self)
        seen.append(batch[0])
        return batch

    monkeypatch.setattr(gt.data.Batches, "next", spy)
    run = lessons.train_variant(G, D, data, cfg(2), bug="noise_as_data")
    assert run.steps_done == 2
    noise = lessons.noise_like(data, seed=3).x
    for batch in seen:  # every real batch is rows of the noise, none of the digits
        assert all((noise == row).all(dim=(1, 2, 3)).any() for row in batch)


def test_snapshots_and_on_step(tiny):
    data, G, D = tiny
    calls = []
    run = lessons.train_variant(G, D, data, cfg(4, snapshot_every=2, n_fixed=9),
                                on_step=lambda s, h: calls.append(s))
    assert calls == [2, 4]
    assert [s for s, _ in run.history.snapshots] == [2, 4]
    assert run.history.snapshots[0][1].shape == (9, *data.shape)
    assert run.ms_per_step > 0


def test_unknown_bug_is_a_clear_error(tiny):
    data, G, D = tiny
    with pytest.raises(gt.GantutorError, match="unknown bug"):
        lessons.train_variant(G, D, data, cfg(2), bug="typo")


def test_plot_runs_shows_samples_or_the_error(tiny):
    import matplotlib

    matplotlib.use("Agg")
    data, G, D = tiny
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    ok = lessons.train_variant(G, D, data, cfg(4, snapshot_every=2, n_fixed=16))
    bad = lessons.train_variant(G2, D2, data, cfg(4), bug="d_applied_twice")
    fig = lessons.plot_runs({"correct": ok, "D(D(x))": bad})
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "correct\n(step 4)"
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert texts and "IndexError" in texts[0].replace("\n", " ")


def test_to_module_fails_at_once_with_a_type_error(tiny):
    data, G, D = tiny
    run = lessons.train_variant(G, D, data, cfg(4), bug="to_module")
    assert run.steps_done == 0
    assert run.error.startswith("TypeError: to() received an invalid combination")
    assert "MLPDiscriminator" in run.error


def test_no_grad_fakes_never_changes_g_while_d_trains(tiny):
    data, G, D = tiny
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    run = lessons.train_variant(G, D, data, cfg(20), bug="no_grad_fakes")
    assert run.steps_done == 20 and run.error is None
    assert lessons.max_weight_change(G, G0) == 0.0
    assert lessons.max_weight_change(D, D0) > 1e-3


def test_unused_noise_feeds_g_the_first_noise_every_step(tiny, monkeypatch):
    data, G, D = tiny
    fed = []
    real_d_step = lessons.d_step

    def spy(G, D, opt_d, x_real, z, *args):
        fed.append(z.clone())
        return real_d_step(G, D, opt_d, x_real, z, *args)

    monkeypatch.setattr(lessons, "d_step", spy)
    run = lessons.train_variant(G, D, data, cfg(5), bug="unused_noise")
    assert run.steps_done == 5 and len(fed) == 5
    assert all(torch.equal(z, fed[0]) for z in fed)
    assert torch.equal(run.seen, fed[0])
    fed.clear()
    lessons.train_variant(G, D, data, cfg(3))  # the correct loop: fresh noise
    assert not torch.equal(fed[0], fed[1])


def test_one_fixed_batch_sees_one_batch_and_its_samples_copy_it(tiny):
    data, G, D = tiny
    run = lessons.train_variant(G, D, data, cfg(3), bug="one_fixed_batch")
    assert run.seen.shape == (16, *data.shape)
    # the measurement: samples that are rows of the batch sit at distance 0 from it
    copies = run.seen[torch.arange(40) % 16]
    others = data.x[16:]
    assert lessons.memorisation_ratio(copies, run.seen, others) == 0.0
    # samples that are other images are as close to the batch as to any images
    fresh = data.x[-400:]
    ratio = lessons.memorisation_ratio(fresh, data.x[:16], data.x[16:-400])
    assert 0.8 < ratio < 1.25


def test_nearest_distances_are_exact():
    ref = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[0.0, 1.0], [3.0, 5.0], [3.0, 4.0]])
    d = lessons.nearest_distances(x, ref, chunk=2)
    assert torch.allclose(d, torch.tensor([1.0, 1.0, 0.0]))


def test_every_bug_has_a_one_line_fix():
    assert set(lessons.FIXES) == set(lessons.BUGS)
    assert all("\n" not in fix and fix for fix in lessons.FIXES.values())


def test_standoff_and_health_read_the_curves_and_the_samples(tiny):
    data, G, D = tiny
    hist = gt.train.History()
    for step, (dx, dgz) in enumerate([(0.99, 0.01)] * 8 + [(0.8, 0.2)] * 2, 1):
        hist.append(step, [1.0, 1.0, dx, dgz])
    d_x, d_gz, ok = lessons.standoff(hist)
    assert (round(d_x, 6), round(d_gz, 6), ok) == (0.8, 0.2, True)
    assert lessons.standoff(hist, last=1.0)[2] is False  # 0.99 dominates

    class Judge:  # sure of class c for samples whose first pixel is high
        def __init__(self, sure):
            self.sure = sure

        def probs(self, x):
            import numpy as np
            p = np.full((len(x), 10), 0.0)
            p[:, 0] = 1.0 if self.sure else 0.1
            p[:, 1:] = 0.0 if self.sure else 0.1
            return p

    bad = lessons.health(hist, G, Judge(sure=False), n=50)
    assert bad.standoff and not bad.verdict.passes() and not bad.healthy
    assert "not yet digits" in bad.summary() and "healthy: False" in bad.summary()
    one_class = lessons.health(hist, G, Judge(sure=True), n=50)
    assert one_class.verdict.classes_recognised == 1 and not one_class.healthy


def test_samples_are_seeded_and_leave_g_in_training_mode(tiny):
    _, G, _ = tiny
    a, b = lessons.samples(G, 30, seed=4, batch_size=7), lessons.samples(G, 30, seed=4)
    assert a.shape == (30, *G.shape) and torch.allclose(a, b, atol=1e-6)
    assert G.training


def test_tiny_gan_gradients_by_hand_equal_autograd():
    tiny = lessons.TinyGAN(seed=1)
    g = torch.Generator().manual_seed(2)
    x_real = torch.randn(7, 3, generator=g, dtype=torch.float64)
    z = torch.randn(7, 2, generator=g, dtype=torch.float64)
    x_fake = tiny.G(z).detach()
    d_real = torch.sigmoid(tiny.logit(x_real)).detach()
    d_fake = torch.sigmoid(tiny.logit(x_fake)).detach()
    gr, gf = tiny.logit_grads(x_real), tiny.logit_grads(x_fake)
    hand = {k: lessons.batch_mean(1 - d_real, gr[k]) - lessons.batch_mean(d_fake, gf[k])
            for k in gr}
    V = gt.losses.value_function(tiny.logit(x_real), tiny.logit(x_fake))
    auto = dict(zip(tiny.d_params,
                    torch.autograd.grad(V, list(tiny.d_params.values()))))
    assert lessons.largest_difference(hand, auto) < 1e-12
    gg = tiny.generator_grads(z)
    l_fake = tiny.logit(tiny.G(z))
    for loss, weight in ((gt.losses.g_loss_nonsaturating, 1 - d_fake),
                         (gt.losses.g_loss_minimax, d_fake)):
        hand_g = {k: -lessons.batch_mean(weight, gg[k]) for k in gg}
        auto_g = dict(zip(tiny.g_params, torch.autograd.grad(
            loss(l_fake), list(tiny.g_params.values()), retain_graph=True)))
        assert lessons.largest_difference(hand_g, auto_g) < 1e-12
    # a wrong coefficient (the non-saturating one against the minimax gradient,
    # the last one computed) is caught far above that tolerance
    wrong = {k: -lessons.batch_mean(1 - d_fake, gg[k]) for k in gg}
    assert lessons.largest_difference(wrong, auto_g) > 1e-3
