"""The course's two trained generators, defined once.

Notebook 05 trains the MLP GAN and notebook 06 the DCGAN; notebooks 07 and 09 (and
later ones) study the same generators. Each is defined here once (networks, seed,
settings, data), so every notebook that asks for it gets the same run: the first
one trains it and keeps it under the cache folder (:mod:`gantutor.gan.cache`), the
later ones load it in a second.

Both train on the *members*: half of the digits, split off with a fixed seed
(:func:`course_data`). The other half is never shown to them, so notebook 07 can ask
whether a generator remembers its training images.

    members, held_out = gt.runs.course_data(device)
    G, D, hist = gt.runs.course_gan("mlp", members, device)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data import holdout_split, load_or_digits
from ..env import budget
from ..errors import GantutorError
from ..gan.cache import train_or_reuse
from ..gan.config import TrainConfig
from ..gan.models import build_gan

HELD_OUT_FRACTION, SPLIT_SEED = 0.5, 0


def course_data(device="cpu"):
    """(members, held_out): MNIST (or the bundled 8x8 digits offline), halved."""
    data = load_or_digits("mnist", device=device)
    return holdout_split(data, HELD_OUT_FRACTION, seed=SPLIT_SEED)


@dataclass(frozen=True)
class CourseRun:
    """One generator of the course: how it is built and trained."""

    model: str
    seed: int  # of the initial weights
    build: dict = field(default_factory=dict)  # build_gan's keyword arguments
    train: dict = field(default_factory=dict)  # TrainConfig's, steps excepted
    full_steps: int = 4000
    fast_steps: int = 300

    def config(self, device) -> TrainConfig:
        steps = budget(full=self.full_steps, fast=self.fast_steps)
        return TrainConfig(steps=steps, device=str(device), progress=False,
                           **self.train)


# Notebook 05's MLP GAN: the classic networks (100-256-512-784, 784-512-256-1). A
# larger learning rate than DCGAN's 2e-4 reaches digits in fewer steps, and a linear
# fall to 0 over the second half settles both networks: on 1,000 samples the pixel
# judge recognises 9 of 10 classes with mean top-class probability 0.915 after
# 10,000 steps (about 4 CPU-minutes at 1 thread); with lr 2e-4 and no decay, 7
# classes and 0.842 at 4,000 steps.
MLP_RUN = CourseRun(
    model="mlp", seed=0,
    train=dict(batch_size=64, lr=5e-4, lr_decay=0.5, log_every=50,
               snapshot_every=1000),
    full_steps=10000, fast_steps=300,
)


# Notebook 06's DCGAN: the DCGAN paper's networks at width 32 with two changes that
# let the pixel judge read its samples as surely as the MLP GAN's. G draws the image
# with a 3x3 convolution from 32 full-size feature maps (``g_refine``), and D judges
# the whole digit through a fully connected head (``d_head``) instead of adding up
# what each 10x10 patch looks like; the hinge loss, and a learning rate of 4e-4 that
# falls linearly to 0 over the second half of the steps. benchmarks/dcgan_judge.py
# measures each change: the paper's networks stay between 0.82 and 0.88 in mean
# top-class probability; this run reaches 0.915 with every class recognised.
DCGAN_RUN = CourseRun(
    model="dcgan", seed=0, build=dict(width=32, g_refine=True, d_head=256),
    train=dict(batch_size=64, lr=4e-4, lr_decay=0.5, loss="hinge", log_every=25,
               snapshot_every=500),
    full_steps=3000, fast_steps=40,
)

RUNS = {"mlp": MLP_RUN, "dcgan": DCGAN_RUN}


def course_gan(name: str, data, device="cpu", on_step=None, retrain: bool = False,
               verbose: bool = True):
    """(G, D, history) of the course's ``name`` run ("mlp" or "dcgan") on ``data``
    (the members of :func:`course_data`): loaded from the cache when that very run
    finished before, trained (and cached) otherwise."""
    if name not in RUNS:
        raise GantutorError(f"no course run {name!r}; the course's runs are "
                            f"{', '.join(RUNS)}")
    run = RUNS[name]
    G, D = build_gan(run.model, data.shape, seed=run.seed, **run.build)
    history = train_or_reuse(f"course-{name}", G, D, data, run.config(device),
                             on_step=on_step, retrain=retrain, verbose=verbose)
    return G, D, history
