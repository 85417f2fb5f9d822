"""Checkpoints: checksummed, written atomically, read with ``weights_only=True``.

A checkpoint holds a plain dict of tensors, numbers, strings, lists and dicts (nothing
that needs pickle's arbitrary-code loading), with a ``format`` tag and the versions
that wrote it. On disk it is a small header followed by the ``torch.save`` bytes::

    CHECKPOINT_MAGIC (20 bytes) | SHA-256 of the rest (32) | rest:
        format (2 bytes, big-endian) | payload length (8) | payload (torch.save)

The SHA-256 covers everything after it, so one changed or missing byte anywhere is
found on load, before a single tensor is read. Writing goes to a temporary file in the
same folder which then replaces the old checkpoint in one ``os.replace``: a crash
mid-write leaves the previous checkpoint intact, and the temporary file left by a
kill is removed by the next run (:func:`remove_leftover_temporaries`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import tempfile
from pathlib import Path

import torch

from .errors import CorruptFileError, GantutorError

FORMAT = "gantutor-checkpoint"
# 1: a bare torch.save file (gantutor 0.1.0); 2: header with a SHA-256 checksum
CHECKPOINT_FORMAT = 2
CHECKPOINT_MAGIC = b"GANTUTOR CHECKPOINT\n"
_DIGEST = hashlib.sha256().digest_size
_FIELDS = struct.Struct(">HQ")  # format, payload length
_HEADER = len(CHECKPOINT_MAGIC) + _DIGEST + _FIELDS.size
_ZIP = b"PK\x03\x04"  # how a torch.save file (format 1) begins
# the random part of a tempfile.mkstemp name: 8 of [a-z0-9_]
_TEMP_NAME = r"\.{name}\.[a-z0-9_]{{8}}\.tmp"
RETRAIN = "train again with `gantutor train --out NEW_FOLDER`"
ANOTHER_COPY = f"use another copy of it, or {RETRAIN}"


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


def remove_leftover_temporaries(folder: str | Path, names) -> list[Path]:
    """Delete the temporary files that :func:`atomic_write` leaves behind when it is
    killed mid-write: ``.NAME.XXXXXXXX.tmp`` in ``folder`` for each NAME in
    ``names``, and nothing else. Returns the files removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile("|".join(_TEMP_NAME.format(name=re.escape(n)) for n in names))
    removed = []
    for entry in folder.iterdir():
        if pattern.fullmatch(entry.name) and entry.is_file() \
                and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Save ``state`` (plus format tag and versions) to ``path``, with its SHA-256,
    atomically."""
    from . import __version__

    full = {"format": FORMAT, "format_version": CHECKPOINT_FORMAT,
            "versions": {"gantutor": __version__, "torch": str(torch.__version__)},
            **state}
    buffer = io.BytesIO()
    torch.save(full, buffer)
    payload = buffer.getvalue()
    rest = _FIELDS.pack(CHECKPOINT_FORMAT, len(payload)) + payload
    data = CHECKPOINT_MAGIC + hashlib.sha256(rest).digest() + rest
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a gantutor checkpoint after verifying its checksum; one clear
    :class:`~gantutor.errors.GantutorError` for anything else."""
    path = Path(path)
    if path.is_dir():
        raise GantutorError(f"{path} is a folder; point to the checkpoint.pt in it")
    if not path.is_file():
        raise GantutorError(f"checkpoint {path} does not exist; train first with "
                            "`gantutor train --out FOLDER`, which writes "
                            "FOLDER/checkpoint.pt")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise GantutorError(f"cannot read {path}: {err.strerror or err}") from None
    if data.startswith(_ZIP):
        raise _unverifiable(path, data)
    payload = _verified_payload(path, data)
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location,
                           weights_only=True)
    except Exception as err:  # noqa: BLE001 - the unpickler fails in many ways
        # (KeyError, IndexError, struct.error, ...) on bytes that are not its format
        raise _unreadable(path, f"its checksum is right but its content cannot be "
                                f"read ({_first_line(err)})", RETRAIN) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _unreadable(path, "it has the header but holds something else", RETRAIN)
    return state


def _unreadable(path: Path, why: str, todo: str) -> CorruptFileError:
    return CorruptFileError(f"{path} is not a readable gantutor checkpoint: {why}; "
                            f"{todo}")


def _verified_payload(path: Path, data: bytes) -> bytes:
    """The torch.save bytes of ``data``, after checking its header and checksum."""
    if not data.startswith(CHECKPOINT_MAGIC):
        magic = CHECKPOINT_MAGIC
        close = sum(a == b for a, b in zip(data[:len(magic)], magic))
        if close >= len(magic) - 2:  # a byte or two of the header changed
            raise _unreadable(path, "its header is damaged", ANOTHER_COPY)
        raise _unreadable(path, "it does not begin with the checkpoint header",
                          "point to the checkpoint.pt that `gantutor train` wrote")
    if len(data) < _HEADER:
        raise _unreadable(path, f"it is truncated ({len(data)} bytes, shorter than "
                                "the checkpoint header)", ANOTHER_COPY)
    start = len(CHECKPOINT_MAGIC)
    digest, rest = data[start:start + _DIGEST], data[start + _DIGEST:]
    version, length = _FIELDS.unpack_from(rest)
    if hashlib.sha256(rest).digest() != digest:
        why = (f"truncated: {len(rest) - _FIELDS.size:,} of {length:,} bytes"
               if len(rest) - _FIELDS.size < length else
               "its SHA-256 checksum does not match its content")
        raise _unreadable(path, f"it is damaged ({why}), changed or cut short "
                                "after it was written", ANOTHER_COPY)
    if version > CHECKPOINT_FORMAT:
        raise GantutorError(f"{path} was written by a newer gantutor (checkpoint "
                            f"format {version}; this one reads {CHECKPOINT_FORMAT}); "
                            "upgrade gantutor")
    if version < CHECKPOINT_FORMAT or length != len(rest) - _FIELDS.size:
        raise _unreadable(path, f"its header is inconsistent (format {version}, "
                                f"{length:,} bytes)", ANOTHER_COPY)
    return rest[_FIELDS.size:]


def _unverifiable(path: Path, data: bytes) -> GantutorError:
    """The error for a bare torch.save file: a format-1 checkpoint or another file."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure means: not ours, not readable
        state = None
    if isinstance(state, dict) and state.get("format") == FORMAT:
        versions = state.get("versions")
        wrote = (f", written by gantutor {versions.get('gantutor')}"
                 if isinstance(versions, dict) else "")
        return GantutorError(
            f"{path} is a checkpoint of an earlier gantutor (format "
            f"{state.get('format_version')}{wrote}) that carries no checksum, so this "
            f"version cannot verify it: {RETRAIN}, or use it with the gantutor that "
            "wrote it")
    return CorruptFileError(f"{path} is a PyTorch file but not a gantutor checkpoint; "
                            "point to the checkpoint.pt that `gantutor train` wrote")


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    why = [ln for ln in lines if "error:" in ln.lower()] or lines or [repr(err)]
    return why[0][:160]


def count_non_finite(tensors) -> torch.Tensor:
    """How many values of the floating-point ``tensors`` are NaN or infinite, as a
    0-d int64 tensor on their device (read it back once: one synchronisation)."""
    counts = [(~torch.isfinite(t)).sum() for t in tensors if t.is_floating_point()]
    if not counts:
        return torch.zeros((), dtype=torch.int64)
    return torch.stack([c.to(counts[0].device) for c in counts]).sum()


def load_state(module: torch.nn.Module, state_dict: dict, what: str, path) -> None:
    """``module.load_state_dict`` with an error that says which model did not match."""
    try:
        module.load_state_dict(state_dict)
    except (RuntimeError, TypeError, AttributeError) as err:
        # the first line is "Error(s) in loading state_dict for X:", the next says which
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
        raise GantutorError(
            f"{path}: the {what} in this checkpoint does not fit the model being "
            f"trained ({detail[:200]}). It was written for another --model, --dataset "
            "or size; use a fresh --out folder or the same settings."
        ) from None
