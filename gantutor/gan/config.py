"""What a training run can be told: :class:`TrainConfig`, the model and loss names,
and the settings each dataset starts from.

Standard library only: the command line builds its options from these definitions
without importing torch.
"""

from __future__ import annotations

import math
import numbers
import re
import typing
from dataclasses import dataclass, field, fields

from ..errors import GantutorError

MODELS = ("mlp", "dcgan")  # architectures of gantutor.gan.models.build_gan
# the keys of gantutor.gan.losses.LOSSES, which maps each to its two loss functions
LOSS_NAMES = ("nonsaturating", "minimax", "hinge", "wasserstein")
# the devices a run can be told to use; whether one exists is checked when it starts
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")
DEVICES = "auto, cpu, cuda, cuda:N or mps"


@dataclass(frozen=True)
class Bounds:
    """The numbers a setting accepts: finite, from ``low`` to ``high`` (None: no
    limit), each end included unless ``open_low`` / ``open_high`` says otherwise."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def __str__(self) -> str:  # e.g. ">= 1", "> 0", "in [0, 1)", "from 1 to 64"
        low, high = (f"{x:,}" if x is not None else "" for x in (self.low, self.high))
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {low}"
        if self.low is None:
            return f"{'<' if self.open_high else '<='} {high}"
        if not (self.open_low or self.open_high):
            return f"from {low} to {high}"
        return (f"in {'(' if self.open_low else '['}{low}, {high}"
                f"{')' if self.open_high else ']'}")

    def problem(self, value) -> str | None:
        """Why ``value`` is outside ("must be >= 1, got 0"), or None if it is in."""
        # refuses NaN (which compares false) and infinities; an int of any size is
        # finite (math.isfinite would overflow on one past float's range)
        inside = isinstance(value, numbers.Integral) or math.isfinite(value)
        if inside and self.low is not None:
            inside = value > self.low if self.open_low else value >= self.low
        if inside and self.high is not None:
            inside = value < self.high if self.open_high else value <= self.high
        return None if inside else f"must be {self}, got {shown(value)}"


SEED_RANGE = Bounds(0, 2**32 - 1)  # what every random-number generator here accepts


def shown(value, limit: int = 40) -> str:
    """``repr(value)``, shortened in the middle when it is long (an error message
    stays one readable line whatever was typed)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]}...{text[-limit // 4:]} ({len(text)} characters)"


def setting(default, help: str, bounds: Bounds | None = None):
    """A TrainConfig field: its default, one line of help (the command line's) and,
    for a number, the values it accepts (each item's, for a tuple)."""
    return field(default=default, metadata={"help": help, "bounds": bounds})


def value_problem(kind, value, bounds: Bounds | None = None) -> str | None:
    """Why ``value`` is not a valid ``kind`` (bool, int, float or str) within
    ``bounds``, or None if it is. NumPy numbers count as numbers, bools do not."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        words = {int: "a whole number", float: "a number", bool: "True or False",
                 str: "a string"}
        return f"must be {words.get(kind, kind.__name__)}, got {shown(value)}"
    return bounds.problem(value) if bounds is not None else None


def device_problem(value: str) -> str | None:
    """Why ``value`` does not name a device a run can be told to use, or None."""
    if isinstance(value, str) and DEVICE_PATTERN.fullmatch(value):
        return None
    return f"must be {DEVICES}, got {shown(value)}"


def field_problem(f, kind, value) -> str | None:
    """Why ``value`` does not fit TrainConfig field ``f`` of type ``kind``, as a
    phrase that starts with the field's name; None if it fits."""
    bounds = f.metadata.get("bounds")
    args = typing.get_args(kind)
    if type(None) in args:  # X | None
        if value is None:
            return None
        kind = next(t for t in args if t is not type(None))
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, (tuple, list)) or len(value) != len(args):
            problem = f"must be {len(args)} numbers, got {shown(value)}"
        else:
            problem = next(filter(None, (value_problem(t, v, bounds)
                                         for t, v in zip(args, value))), None)
    else:
        problem = value_problem(kind, value, bounds)
    if problem is None and f.name == "loss" and value not in LOSS_NAMES:
        return f"unknown loss {shown(value)}: choose one of {', '.join(LOSS_NAMES)}"
    if problem is None and f.name == "device":
        problem = device_problem(value)
    return None if problem is None else f"{f.name} {problem}"


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved in every checkpoint).

    Every value is checked when the config is made: a wrong one raises a
    GantutorError naming the setting, what it accepts and what it got."""

    steps: int = setting(
        2000, "generator updates in total (a resumed run continues up to it)",
        Bounds(0, 10**9))
    batch_size: int = setting(64, "samples per batch, for real and for fake",
                              Bounds(1, 10**6))
    lr: float = setting(2e-4, "Adam learning rate of the generator",
                        Bounds(0, open_low=True))
    lr_d: float | None = setting(
        None, "Adam learning rate of the discriminator (None: = lr)",
        Bounds(0, open_low=True))
    betas: tuple[float, float] = setting((0.5, 0.999), "Adam betas, as in DCGAN",
                                         Bounds(0, 1, open_high=True))
    lr_decay: float = setting(
        0.0, "both learning rates fall linearly to 0 over this last fraction of the "
             "steps (0: constant; see lr_scale)", Bounds(0, 1))
    loss: str = setting("nonsaturating", "nonsaturating, minimax, hinge or wasserstein")
    d_steps: int = setting(
        1, "discriminator updates per generator update (5 for WGAN-GP)",
        Bounds(1, 100))
    label_smoothing: float = setting(
        0.0, "one-sided: real targets 1 - this (minimax losses)",
        Bounds(0, 1, open_high=True))
    gp_weight: float = setting(
        0.0, "λ of the WGAN-GP gradient penalty (10 in the paper)", Bounds(0))
    r1_weight: float = setting(0.0, "γ of the R1 penalty; the loss adds γ/2 · R1",
                               Bounds(0))
    seed: int = setting(
        0, "seeds the noise, the batch order and the fixed snapshot noise", SEED_RANGE)
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
        50, "read losses back from the device every this many steps", Bounds(1))
    snapshot_every: int = setting(
        0, "sample grid from the fixed noise every k steps (0: off)", Bounds(0))
    checkpoint_every: int = setting(
        500, "write checkpoint.pt every k steps when out is given (a multiple of "
             "log_every)", Bounds(1))
    n_fixed: int = setting(64, "number of fixed noise vectors for snapshots",
                           Bounds(1, 10_000))
    progress: bool = setting(True, "show a tqdm progress bar")

    def __post_init__(self):
        if isinstance(self.betas, list):
            self.betas = tuple(self.betas)
        self.validate()

    def validate(self) -> None:
        """Raises a GantutorError naming every wrong setting. It runs when a config
        is made; run it again after changing a field by assignment."""
        problems = self.problems()
        if problems:
            raise GantutorError("invalid training settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with these settings, one phrase each (empty if nothing)."""
        hints = typing.get_type_hints(type(self))
        problems = []
        for f in fields(self):
            problem = field_problem(f, hints[f.name], getattr(self, f.name))
            if problem is not None:
                problems.append(problem)
        if problems:  # the checks below assume each value is of its type
            return problems
        if self.checkpoint_every % self.log_every:
            problems.append(f"checkpoint_every ({self.checkpoint_every}) must be a "
                            f"multiple of log_every ({self.log_every})")
        if self.label_smoothing and self.loss not in ("nonsaturating", "minimax"):
            problems.append("label smoothing applies to the minimax losses only")
        return problems

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
