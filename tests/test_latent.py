"""Linear and spherical interpolation; conditional generation and class sheets."""

import math

import pytest
import torch

from gantutor import latent
from gantutor.errors import GantutorError
from gantutor.gan.models import build_gan


def test_endpoints_and_midpoint():
    z0, z1 = torch.randn(100), torch.randn(100)
    for fn in (latent.lerp, latent.slerp):
        assert torch.allclose(fn(z0, z1, 0.0), z0, atol=1e-5)
        assert torch.allclose(fn(z0, z1, 1.0), z1, atol=1e-5)
    assert torch.allclose(latent.lerp(z0, z1, 0.5), (z0 + z1) / 2)


def test_slerp_stays_on_the_sphere_and_moves_at_constant_angle():
    torch.manual_seed(0)
    z0, z1 = torch.randn(50), torch.randn(50)
    z1 = z1 * z0.norm() / z1.norm()  # equal lengths: the path is a great circle
    path = latent.interpolate(z0, z1, steps=9, method="slerp")
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(9), rtol=1e-4)
    cos = torch.nn.functional.cosine_similarity(path[:-1], path[1:])
    assert torch.allclose(cos, cos[0].expand(8), atol=1e-5)  # equal angular steps


def test_lerp_cuts_inside_the_shell():
    # for z0, z1 ~ N(0, I_d), |(z0 + z1) / 2| ≈ √(d/2) while |z0| ≈ √d
    torch.manual_seed(0)
    z0, z1 = torch.randn(2000, 100), torch.randn(2000, 100)
    ratio = (latent.lerp(z0, z1, 0.5).norm(dim=1) / z0.norm(dim=1)).mean()
    assert ratio == pytest.approx(1 / math.sqrt(2), abs=0.02)
    ratio_s = (latent.slerp(z0, z1, 0.5).norm(dim=1) / z0.norm(dim=1)).mean()
    assert ratio_s == pytest.approx(1.0, abs=0.02)


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    z = torch.randn(10)
    out = latent.slerp(z, 2 * z, 0.5)
    assert torch.isfinite(out).all() and torch.allclose(out, 1.5 * z, atol=1e-5)


def test_interpolate_rejects_bad_arguments():
    z = torch.randn(4)
    with pytest.raises(GantutorError, match="at least 2"):
        latent.interpolate(z, z, steps=1)
    with pytest.raises(GantutorError, match="unknown interpolation"):
        latent.interpolate(z, z, method="cubic")


def test_class_sheet_uses_the_same_noise_for_every_class():
    torch.manual_seed(0)
    G, _ = build_gan("mlp", (1, 8, 8), z_dim=16, num_classes=3)
    x, y = latent.class_sheet(G, per_class=4, seed=1)
    assert x.shape == (12, 1, 8, 8) and y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(4, 16, generator=gen)
    assert torch.allclose(x[4:8], latent.generate(G, z, 1), atol=1e-6)
    assert not torch.allclose(x[:4], x[4:8])  # the label changes the image
    G_plain, _ = build_gan("mlp", (1, 8, 8), z_dim=16)
    with pytest.raises(GantutorError, match="conditional"):
        latent.class_sheet(G_plain)
    with pytest.raises(GantutorError, match="conditional"):
        latent.generate(G, z)
