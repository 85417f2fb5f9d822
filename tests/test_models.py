"""Shapes, logits, packing, conditioning, spectral norm, rebuilding from a spec."""

import pytest
import torch

from gantutor import models
from gantutor.errors import GantutorError


def test_classic_mlp_sizes():
    G, D = models.build_gan("mlp", (1, 28, 28))
    g_sizes = [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)]
    d_sizes = [m.out_features for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert g_sizes == [256, 512, 784] and G.net[0].in_features == 100
    assert d_sizes == [512, 256, 1] and D.net[0].in_features == 784
    x = G(torch.randn(5, 100))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (5,)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_dcgan_shapes_and_logits(shape):
    G, D = models.build_gan("dcgan", shape)
    x = G(torch.randn(4, 100))
    assert x.shape == (4, *shape)
    logits = D(x)
    assert logits.shape == (4,)
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in D.modules())
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d))
                   for m in D.modules())


def test_dcgan_init_std():
    G, _ = models.build_gan("dcgan", (1, 28, 28), width=64)
    w = G.net[0].weight
    assert abs(w.std().item() - 0.02) < 0.002


def test_pack_and_conditional_and_spectral_norm():
    G, D = models.build_gan("mlp", (1, 8, 8), num_classes=10, pack=4,
                            spectral_norm=True)
    y = torch.arange(8) % 10
    x = G(torch.randn(8, 100), y)
    assert D(x, y).shape == (2,)
    assert any("parametrizations" in n for n, _ in D.named_parameters())
    with pytest.raises(GantutorError, match="divisible"):
        D(x[:6], y[:6])


def test_rebuild_from_spec_gives_same_function():
    G, D = models.build_gan("dcgan", (1, 8, 8), num_classes=10)
    G2 = models.from_spec(G.spec)
    G2.load_state_dict(G.state_dict())
    G.eval(), G2.eval()
    z, y = torch.randn(3, 100), torch.tensor([1, 2, 3])
    assert torch.equal(G(z, y), G2(z, y))


def test_bad_model_requests():
    with pytest.raises(GantutorError, match="unknown model"):
        models.build_gan("vae", (1, 28, 28))
    with pytest.raises(GantutorError, match="needs images"):
        models.build_gan("dcgan", (2,))
    with pytest.raises(GantutorError, match="support"):
        models.build_gan("dcgan", (1, 16, 16))


@pytest.mark.parametrize("pack", [0, -2, 1.5, True])
def test_build_gan_refuses_a_pack_that_is_not_a_positive_whole_number(pack):
    with pytest.raises(GantutorError, match="pack must be"):
        models.build_gan("mlp", (1, 8, 8), pack=pack)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_dcgan_discriminator_head_shapes_and_rebuild(shape):
    _, D = models.build_gan("dcgan", shape, width=8, d_head=16, seed=0)
    x = torch.randn(5, *shape)
    assert D(x).shape == (5,)
    hidden = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in hidden] == [16, 1]
    # in eval mode each logit depends on its own image only, and on all its pixels
    x.requires_grad_(True)
    D.eval()
    D(x)[0].backward()
    assert (x.grad[0].abs().sum(dim=0) > 0).all()
    assert (x.grad[1:] == 0).all()
    rebuilt = models.from_spec(D.spec)
    rebuilt.load_state_dict(D.state_dict())
    rebuilt.eval()
    assert torch.equal(rebuilt(x), D(x))


def test_dcgan_discriminator_without_head_keeps_its_spec_and_layers():
    # runs cached before the head existed keep their keys: no "head" in the spec
    _, D = models.build_gan("dcgan", (1, 28, 28), width=8)
    assert "head" not in D.spec["kwargs"]
    assert isinstance(D.net[-1], torch.nn.Conv2d) and D.net[-1].kernel_size == (7, 7)
    _, D = models.build_gan("dcgan", (1, 28, 28), width=8, d_width=4)
    assert D.net[0].out_channels == 4


@pytest.mark.parametrize("head", [-1, 2.5, True])
def test_dcgan_discriminator_refuses_a_bad_head(head):
    with pytest.raises(GantutorError, match="head must be"):
        models.build_gan("dcgan", (1, 28, 28), d_head=head)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_dcgan_generator_refine_draws_the_image_with_a_3x3_convolution(shape):
    G, _ = models.build_gan("dcgan", shape, width=8, g_refine=True, seed=0)
    x = G(torch.randn(5, G.z_dim))
    assert x.shape == (5, *shape) and x.abs().max() <= 1
    last = G.net[-2]
    assert isinstance(last, torch.nn.Conv2d) and last.kernel_size == (3, 3)
    assert (last.in_channels, last.out_channels) == (8, shape[0])
    assert G.spec["kwargs"]["refine"] is True
    rebuilt = models.from_spec(G.spec)
    rebuilt.load_state_dict(G.state_dict())
    G.eval()
    rebuilt.eval()
    z = torch.randn(3, G.z_dim)
    assert torch.equal(rebuilt(z), G(z))


def test_dcgan_generator_without_refine_keeps_its_spec_and_layers():
    # runs cached before refine existed keep their keys: no "refine" in the spec
    G, _ = models.build_gan("dcgan", (1, 28, 28), width=8)
    assert "refine" not in G.spec["kwargs"]
    assert isinstance(G.net[-2], torch.nn.ConvTranspose2d)
    assert G.net[-2].out_channels == 1


@pytest.mark.parametrize("refine", [1, "yes", None])
def test_dcgan_generator_refuses_a_refine_that_is_not_a_bool(refine):
    with pytest.raises(GantutorError, match="refine must be True or False"):
        models.build_gan("dcgan", (1, 28, 28), g_refine=refine)
