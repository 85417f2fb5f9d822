"""What a training run can be told: :class:`TrainConfig`, the model and loss names,
and the settings each dataset starts from.

Standard library only: the command line builds its options from these definitions
without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..errors import GantutorError

MODELS = ("mlp", "dcgan")  # architectures of gantutor.gan.models.build_gan
# the keys of gantutor.gan.losses.LOSSES, which maps each to its two loss functions
LOSS_NAMES = ("nonsaturating", "minimax", "hinge", "wasserstein")


def setting(default, help: str):
    """A TrainConfig field: its default and one line of help (the command line's)."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved in every checkpoint)."""

    steps: int = setting(
        2000, "generator updates in total (a resumed run continues up to it)")
    batch_size: int = setting(64, "samples per batch, for real and for fake")
    lr: float = setting(2e-4, "Adam learning rate of the generator")
    lr_d: float | None = setting(
        None, "Adam learning rate of the discriminator (None: = lr)")
    betas: tuple[float, float] = setting((0.5, 0.999), "Adam betas, as in DCGAN")
    lr_decay: float = setting(
        0.0, "both learning rates fall linearly to 0 over this last fraction of the "
             "steps (0: constant; see lr_scale)")
    loss: str = setting("nonsaturating", "nonsaturating, minimax, hinge or wasserstein")
    d_steps: int = setting(
        1, "discriminator updates per generator update (5 for WGAN-GP)")
    label_smoothing: float = setting(
        0.0, "one-sided: real targets 1 - this (minimax losses)")
    gp_weight: float = setting(
        0.0, "λ of the WGAN-GP gradient penalty (10 in the paper)")
    r1_weight: float = setting(0.0, "γ of the R1 penalty; the loss adds γ/2 · R1")
    seed: int = setting(
        0, "seeds the noise, the batch order and the fixed snapshot noise")
    device: str = setting(
        "auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    amp: bool = setting(False, "bf16 autocast where the device supports it")
    channels_last: bool = setting(
        False, "channels-last memory format for convolutional nets")
    compile: bool = setting(
        False, "torch.compile both networks (fresh fakes for the G step)")
    ddp: bool = setting(
        False, "DistributedDataParallel over torchrun's processes; batch_size is "
               "then the global batch, split evenly over the processes")
    log_every: int = setting(
        50, "read losses back from the device every this many steps")
    snapshot_every: int = setting(
        0, "sample grid from the fixed noise every k steps (0: off)")
    checkpoint_every: int = setting(
        500, "write checkpoint.pt every k steps when out is given")
    n_fixed: int = setting(64, "number of fixed noise vectors for snapshots")
    progress: bool = setting(True, "show a tqdm progress bar")

    def __post_init__(self):
        self.betas = tuple(self.betas)
        problems = []
        if self.steps < 0:
            problems.append("steps must be >= 0")
        if self.batch_size < 1:
            problems.append("batch_size must be >= 1")
        if not self.lr > 0 or (self.lr_d is not None and not self.lr_d > 0):
            problems.append("learning rates must be > 0")
        if self.d_steps < 1 or self.log_every < 1:
            problems.append("d_steps and log_every must be >= 1")
        if self.checkpoint_every % self.log_every:
            problems.append("checkpoint_every must be a multiple of log_every")
        if not 0 <= self.lr_decay <= 1:
            problems.append("lr_decay must be in [0, 1]")
        if not 0 <= self.label_smoothing < 1:
            problems.append("label_smoothing must be in [0, 1)")
        if self.label_smoothing and self.loss not in ("nonsaturating", "minimax"):
            problems.append("label smoothing applies to the minimax losses only")
        if problems:
            raise GantutorError("invalid training settings: " + "; ".join(problems))
        if self.loss not in LOSS_NAMES:
            raise GantutorError(f"unknown loss {self.loss!r}: choose one of "
                                f"{', '.join(LOSS_NAMES)}")

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# What a run on each dataset starts from when it is not told otherwise (the command
# line's defaults): the model, and the TrainConfig settings that differ from the
# class's defaults, chosen so that a 2-core CPU gives good samples in a few minutes.
DATASET_DEFAULTS = {
    "digits": {"model": "mlp", "steps": 6000},
    "mnist": {"model": "mlp", "steps": 25000},
    "fashion-mnist": {"model": "mlp", "steps": 25000},
    "ring": {"model": "mlp", "steps": 4000, "batch_size": 128, "lr": 1e-3},
    "grid": {"model": "mlp", "steps": 4000, "batch_size": 128, "lr": 1e-3},
}
