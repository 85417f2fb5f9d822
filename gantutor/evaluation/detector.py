"""Spotting generated images: a small classifier trained to tell real from generated.

The detector is the course's :class:`.Classifier` with two outputs (0: real,
1: generated), trained with Adam on real images and one generator's samples. Its
accuracy on held-out images of the *same* generator says how visible that
generator's traces are; on another generator's samples, whether what it learned
generalises (detection work reports that it often does not: a detector learns the
artefacts of the generators it saw).
"""

from __future__ import annotations

import torch

from ..errors import GantutorError
from .classifier import Classifier, fit

REAL, GENERATED = 0, 1


def train_detector(real, fake, epochs: int = 3, seed: int = 0,
                   batch_size: int = 128) -> Classifier:
    """A real-vs-generated classifier trained on ``real`` (label 0) and ``fake``
    (label 1), images (N, C, H, W) in [-1, 1] on one device; seeded."""
    real, fake = torch.as_tensor(real).float(), torch.as_tensor(fake).float()
    if real.shape[1:] != fake.shape[1:] or len(real) == 0 or len(fake) == 0:
        raise GantutorError(f"real and generated images must be non-empty batches of "
                            f"one shape, got {tuple(real.shape)} and "
                            f"{tuple(fake.shape)}")
    x = torch.cat([real, fake.to(real.device)])
    y = torch.cat([torch.full((len(real),), REAL), torch.full((len(fake),), GENERATED)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(tuple(real.shape[1:]), num_classes=2).to(real.device)
        fit(model, x, y.to(real.device), epochs, batch_size=batch_size, seed=seed)
    return model


def detector_accuracy(detector: Classifier, real, fake) -> float:
    """Balanced accuracy: the mean of the share of ``real`` called real and the share
    of ``fake`` called generated (0.5: chance, whatever the two set sizes)."""
    called_real = (detector.predict(real).cpu() == REAL).float().mean()
    called_fake = (detector.predict(fake).cpu() == GENERATED).float().mean()
    return float((called_real + called_fake) / 2)
