"""Where the code runs: device choice, seeds, the notebook budget, Colab detection,
the cache folder."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

FAST_ENV = "GANTUTOR_FAST"
CACHE_ENV = "GANTUTOR_CACHE"


def cache_dir() -> Path:
    """Where trained helpers are kept between runs and notebooks: ``$GANTUTOR_CACHE``
    if set, else ``~/.cache/gantutor``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gantutor"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into CUDA, then Apple MPS, then CPU; check that a CUDA or MPS
    device asked for by name exists here (a GantutorError if not)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    from .errors import GantutorError

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise GantutorError(f"{device!r} is not a device: use auto, cpu, cuda, "
                            "cuda:N or mps") from None
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if dev.type == "cuda" and (dev.index or 0) >= count:
        have = (f"{count} CUDA devices (cuda:0 to cuda:{count - 1})" if count
                else "no CUDA device")
        raise GantutorError(f"device {device!r} was asked for but this machine has "
                            f"{have}; use --device auto (or cpu)")
    if dev.type == "mps" and not _mps_available():
        raise GantutorError(f"device {device!r} was asked for but Apple MPS is not "
                            "available here; use --device auto (or cpu)")
    return dev


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices): a run repeats on one machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def is_fast() -> bool:
    """True when ``GANTUTOR_FAST`` is set to a true value (CI and nbval runs)."""
    return os.environ.get(FAST_ENV, "").strip().lower() not in ("", "0", "false", "no")


def budget(full, fast):
    """The full-run value, or the fast-run value when ``GANTUTOR_FAST=1``.

    One call replaces every ``if FAST: ... else: ...`` block in the notebooks::

        steps = gt.budget(full=3000, fast=150)
    """
    return fast if is_fast() else full


def on_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is worth using on this device."""
    if device.type == "cuda":  # native bf16 only (a T4 would emulate it, slowly)
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # PyTorch before 2.3
            return torch.cuda.is_bf16_supported()
    if device.type == "cpu":  # bf16 matrix units (AMX) or bf16 vector instructions
        return (_cpu_has("_is_amx_tile_supported")
                or _cpu_has("_is_avx512_bf16_supported"))
    return False


def _cpu_has(check: str) -> bool:
    try:
        return bool(getattr(torch.cpu, check)())
    except (AttributeError, RuntimeError):  # an older PyTorch cannot tell: assume not
        return False
