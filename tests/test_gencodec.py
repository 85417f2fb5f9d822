"""The generator codec: inversion with restarts, the encoder, the autoencoder
baseline, and the codecs built from them."""

import pytest
import torch

import gantutor as gt
from gantutor import gencodec as gc
from gantutor.errors import GantutorError

SHAPE = (1, 8, 8)


@pytest.fixture
def tiny_gan():
    torch.manual_seed(0)
    G, _ = gt.build_gan("mlp", SHAPE, z_dim=4, g_hidden=(32,))
    return G.eval()


# ------------------------------------------------------------------ inversion


def test_inversion_from_the_true_latent_with_no_steps_is_exact(tiny_gan):
    z = torch.randn(6, 4)
    x = tiny_gan(z).detach()
    inv = gc.invert(tiny_gan, x, restarts=3, steps=0, init=z)
    assert torch.allclose(inv.z, z)
    assert float(inv.mse.max()) < 1e-10
    assert (inv.restart == 0).all()


def test_inversion_finds_latents_that_reproduce_generated_images(tiny_gan):
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(3))
    x = tiny_gan(z).detach()
    start = gc.invert(tiny_gan, x, restarts=1, steps=0, seed=5)
    found = gc.invert(tiny_gan, x, restarts=1, steps=300, lr=0.05, seed=5,
                      prior_weight=0.0)
    assert float(found.mse.mean()) < 0.05 * float(start.mse.mean())
    recon = gc.decode_latents(tiny_gan, found.z)
    assert torch.allclose((recon - x).square().flatten(1).mean(1), found.mse,
                          atol=1e-5)


def test_inversion_is_never_worse_than_its_starting_point(tiny_gan):
    x = torch.rand(12, *SHAPE) * 2 - 1
    guess = torch.randn(12, 4)
    start = gc.invert(tiny_gan, x, restarts=1, steps=0, init=guess)
    # a learning rate far too large: Adam overshoots, the best point met is kept
    found = gc.invert(tiny_gan, x, restarts=2, steps=20, lr=5.0, init=guess)
    assert (found.mse <= start.mse + 1e-7).all()


def test_more_restarts_never_do_worse(tiny_gan):
    x = torch.rand(10, *SHAPE) * 2 - 1
    one = gc.invert(tiny_gan, x, restarts=1, steps=30, seed=0)
    four = gc.invert(tiny_gan, x, restarts=4, steps=30, seed=0)
    # the first start is the same in both runs (up to float rounding in the batch)
    assert (four.mse <= one.mse + 1e-3).all()
    assert float(four.mse.mean()) < float(one.mse.mean())
    assert four.restart.max() <= 3
    assert not tiny_gan.training and all(p.requires_grad for p in
                                         tiny_gan.parameters())


def test_inversion_processes_images_in_chunks_the_same_way(tiny_gan):
    x = torch.rand(7, *SHAPE) * 2 - 1
    whole = gc.invert(tiny_gan, x, restarts=2, steps=10, batch_size=1024)
    chunks = gc.invert(tiny_gan, x, restarts=2, steps=10, batch_size=4)
    assert torch.allclose(whole.z, chunks.z, atol=1e-4)


def test_inversion_rejects_images_of_the_wrong_shape(tiny_gan):
    with pytest.raises(GantutorError, match="expected images of shape"):
        gc.invert(tiny_gan, torch.zeros(2, 1, 28, 28))
    with pytest.raises(GantutorError, match="restarts >= 1"):
        gc.invert(tiny_gan, torch.zeros(2, *SHAPE), restarts=0)


# ---------------------------------------------------- encoder and autoencoder


def test_encoder_maps_images_to_latents():
    E = gc.LatentEncoder(SHAPE, z_dim=5, hidden=(16,))
    assert E(torch.zeros(3, *SHAPE)).shape == (3, 5)
    out = gc.encode_with(E, torch.zeros(4, *SHAPE))
    assert out.z.shape == (4, 5) and out.seconds >= 0


def test_training_the_encoder_lowers_its_loss_and_leaves_g_untouched(tiny_gan):
    x = tiny_gan(torch.randn(64, 4)).detach()
    before = {k: v.clone() for k, v in tiny_gan.state_dict().items()}
    E = gc.LatentEncoder(SHAPE, z_dim=4, hidden=(32,))
    losses = gc.train_encoder(tiny_gan, E, x, steps=150, batch_size=16, lr=3e-3)
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0]
    for k, v in tiny_gan.state_dict().items():
        assert torch.equal(v, before[k]), f"G's {k} changed"
    assert all(p.requires_grad for p in tiny_gan.parameters())


def test_autoencoder_copies_the_generator_architecture_and_learns(tiny_gan):
    E, dec = gc.build_autoencoder(tiny_gan, hidden=(32,))
    assert dec.spec == tiny_gan.spec and E.z_dim == tiny_gan.z_dim
    assert not torch.equal(dec.net[0].weight, tiny_gan.net[0].weight)
    x = torch.rand(64, *SHAPE) * 2 - 1
    losses = gc.train_autoencoder(E, dec, x, steps=100, batch_size=16, lr=3e-3)
    assert losses[-1] < losses[0]
    assert not dec.training and not E.training
    with pytest.raises(GantutorError, match="batch size"):
        gc.train_autoencoder(E, dec, x[:4], steps=1, batch_size=16)


def test_encode_with_measures_the_error_when_given_a_decoder(tiny_gan):
    E = gc.LatentEncoder(SHAPE, z_dim=4, hidden=(8,))
    x = torch.rand(5, *SHAPE) * 2 - 1
    found = gc.encode_with(E, x, decoder=tiny_gan)
    expected = (gc.decode_latents(tiny_gan, found.z) - x).square().flatten(1).mean(1)
    assert torch.allclose(found.mse, expected)
    assert torch.isnan(gc.encode_with(E, x).mse).all()


def test_codecs_find_latents_and_fit_their_prior(tiny_gan):
    E = gc.LatentEncoder(SHAPE, z_dim=4, hidden=(8,))
    x = torch.rand(20, *SHAPE) * 2 - 1
    enc = gc.encoder_codec("enc", E, tiny_gan).fit_prior(x)
    assert enc.find(x).shape == (20, 4) and enc.prior.mean.shape == (4,)
    inv = gc.inversion_codec("inv", tiny_gan, E, restarts=2, steps=5)
    z = inv.find(x[:6])
    start = gc.encode_with(E, x[:6], decoder=tiny_gan).mse
    err = (gc.decode_latents(tiny_gan, z) - x[:6]).square().flatten(1).mean(1)
    assert (err <= start + 1e-6).all()
    assert inv.prior is None and inv.fit_prior(x[:6]).prior is not None


def test_compare_methods_reports_time_and_psnr_per_method(tiny_gan):
    E = gc.LatentEncoder(SHAPE, z_dim=4, hidden=(8,))
    x = tiny_gan(torch.randn(6, 4)).detach()
    rows = gc.compare_methods(tiny_gan, E, x, restarts=3, steps=20)
    assert [r["method"] for r in rows] == [
        "encoder", "inversion, 1 start", "inversion, 3 starts",
        "encoder + inversion, 3 starts"]
    assert all(r["seconds_per_image"] >= 0 and r["z"].shape == (6, 4) for r in rows)
    # encoder's guess first, never worse than the encoder alone
    assert rows[3]["psnr"] >= rows[0]["psnr"] - 1e-4
    table = gc.format_methods(rows)
    assert "ms / image" in table and len(table.splitlines()) == 6


def test_codec_data_splits_like_the_classifier_and_falls_back_to_digits(capsys):
    train, held_out = gc.codec_data("digits")
    assert (len(train), len(held_out)) == (1438, 359)
    assert held_out.split == "held-out" and train.shape == (1, 8, 8)
    assert "seen by no network" in capsys.readouterr().out


def test_codec_data_without_mnist_says_so_and_uses_digits(monkeypatch, tmp_path,
                                                          capsys):
    import gantutor.data as data

    monkeypatch.setenv("GANTUTOR_DATA", str(tmp_path))
    monkeypatch.setattr(data.Path, "home", lambda: tmp_path)
    monkeypatch.setattr(data, "_download", lambda *a, **k: None)
    train, _ = gc.codec_data("mnist")
    assert train.name == "digits"
    assert "using scikit-learn's bundled 8x8 digits" in capsys.readouterr().out


def test_build_autoencoder_needs_a_generator_with_a_spec():
    with pytest.raises(GantutorError, match="spec"):
        gc.build_autoencoder(torch.nn.Linear(2, 2))
