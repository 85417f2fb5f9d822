"""Checkpoints: written atomically, read with ``weights_only=True``, validated.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (nothing
that needs pickle's arbitrary-code loading), with a ``format`` tag and the versions
that wrote it. Writing goes to a temporary file in the same folder which then replaces
the old checkpoint in one ``os.replace``: a crash mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

from .errors import CorruptFileError, GantutorError

FORMAT = "gantutor-checkpoint"
FORMAT_VERSION = 1


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(tmp_path)`` then move the finished file onto ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Save ``state`` (plus format tag and versions) to ``path`` atomically."""
    from . import __version__

    full = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "versions": {"gantutor": __version__, "torch": str(torch.__version__)},
            **state}
    atomic_write(path, lambda tmp: torch.save(full, tmp))


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load and validate a gantutor checkpoint; clear errors for anything else."""
    path = Path(path)
    if not path.is_file():
        raise GantutorError(f"checkpoint {path} does not exist; train first with "
                            "`gantutor train --out FOLDER`, which writes "
                            "FOLDER/checkpoint.pt")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError,
            ValueError, OSError) as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        why = [ln for ln in lines if "error:" in ln.lower()] or lines or [repr(err)]
        first = why[0]
        raise CorruptFileError(
            f"{path} is not a readable gantutor checkpoint ({first[:160]}). It may be "
            "truncated or another kind of file; train again or point to checkpoint.pt."
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CorruptFileError(
            f"{path} is a PyTorch file but not a gantutor checkpoint.")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise GantutorError(
            f"{path} was written by a newer gantutor; upgrade gantutor.")
    return state


def load_state(module: torch.nn.Module, state_dict: dict, what: str, path) -> None:
    """``module.load_state_dict`` with an error that says which model did not match."""
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as err:
        detail = str(err).splitlines()[0]
        raise GantutorError(
            f"{path}: the {what} in this checkpoint does not fit the model being "
            f"trained ({detail[:200]}). It was written for another --model, --dataset "
            "or size; use a fresh --out folder or the same settings."
        ) from None
