"""gt.notebook.LiveTraining: the on_step callback that redraws samples and curves."""

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

import gantutor as gt  # noqa: E402


def history(images: bool):
    h = gt.History()
    for step in (10, 20):
        h.append(step, [1.0, 0.7, 0.6, 0.4])
        x = torch.rand(9, 1, 8, 8) * 2 - 1 if images else torch.randn(50, 2)
        h.snapshots.append((step, x))
    return h


def test_draws_samples_losses_and_d_outputs():
    live = gt.notebook.LiveTraining(20, title="MLP GAN")
    fig = live.draw(20, history(images=True))
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title() == "samples at step 20"
    assert fig._suptitle.get_text() == "MLP GAN: step 20 of 20"
    labels = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert labels == ["D(x), real", "D(G(z)), fake"]


def test_two_d_samples_are_a_cloud_with_the_modes():
    modes = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    live = gt.notebook.LiveTraining(20, modes=modes, lim=2)
    fig = live.draw(20, history(images=False))
    assert fig.axes[0].get_xlim() == (-2, 2)
    assert len(fig.axes[0].collections) == 2  # the samples and the mode crosses


def test_redraws_are_throttled_but_the_last_step_always_draws():
    live = gt.notebook.LiveTraining(30, min_seconds=3600)
    h = history(images=True)
    live(10, h)
    live(20, h)  # too soon after the first: skipped
    assert live.redraws == 1
    live(30, h)  # the last step
    assert live.redraws == 2


def test_as_train_gan_callback():
    data = gt.load_dataset("ring")
    G, D = gt.build_gan("mlp", (2,), z_dim=2, hidden=(8,))
    live = gt.notebook.LiveTraining(6, min_seconds=0)
    cfg = gt.TrainConfig(steps=6, batch_size=16, device="cpu", log_every=2,
                         checkpoint_every=2, snapshot_every=2, n_fixed=20,
                         progress=False)
    gt.train_gan(G, D, data, cfg, on_step=live)
    assert live.redraws == 3
