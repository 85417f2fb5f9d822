"""The latent slider: it moves along the same path the static strip shows."""

import pytest
import torch

from gantutor import latent
from gantutor.gan.models import build_gan

pytest.importorskip("ipywidgets")


def test_latent_slider_shows_the_image_at_t():
    from gantutor.course.widgets import latent_slider

    torch.manual_seed(0)
    G, _ = build_gan("mlp", (1, 8, 8), z_dim=8, num_classes=2)
    z0, z1 = torch.randn(8), torch.randn(8)
    box = latent_slider(G, z0, z1, y=1, steps=5)
    assert len(box.output.outputs) == 1  # drawn once at t = 0.5
    box.slider.value = 1.0
    assert len(box.output.outputs) == 1  # redrawn, not appended
    # the end of the slider's path is G(z1): the same as the static strip's end
    strip = latent.generate(G, latent.interpolate(z0, z1, 5), 1)
    assert torch.allclose(strip[-1], latent.generate(G, z1[None], 1)[0], atol=1e-6)
