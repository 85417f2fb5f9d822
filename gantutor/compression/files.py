"""Reading inputs and writing outputs without ever losing a file.

``write_file`` writes complete files or nothing: the bytes go to a new file beside the
target and replace it by a rename at the end, so an error, a full disk or an
interruption never leaves a partial file and never replaces a good one. Every problem
with a path (a folder, a missing folder, a device, a dangling link, a name too long,
no permission, no space) is one ``GantutorError`` line.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from ..errors import GantutorError


def read_file(path) -> bytes:
    """The bytes of the regular file ``path``, or one clear error."""
    path = Path(path)
    try:
        if not path.exists():
            raise GantutorError(f"{path} does not exist")
        if not path.is_file():
            raise GantutorError(f"{path} is a folder, a device or a pipe, not a "
                                "file (- reads standard input)")
        return path.read_bytes()
    except OSError as err:
        raise GantutorError(f"cannot read {path}: {err.strerror or err}") from None


def check_output(path) -> Path:
    """The file that writing to ``path`` replaces or creates (a symbolic link's
    target), after refusing what cannot be written: a folder, something that is not
    a regular file, a link to nowhere, a missing folder."""
    if str(path).endswith(("/", os.sep)):
        raise GantutorError(f"{path} names a folder; give a file name")
    path = Path(path)
    try:
        if path.is_symlink():  # write through the link, to what it points at
            target = Path(os.path.realpath(path))
            if not target.exists():
                raise GantutorError(f"{path} is a symbolic link to {target}, which "
                                    "does not exist; give a file name instead")
            path = target
        if path.is_dir():
            raise GantutorError(f"{path} is a folder; give a file name, e.g. "
                                f"{path / 'out'}")
        if path.exists() and not path.is_file():
            raise GantutorError(f"{path} is not a regular file (a device, pipe or "
                                "socket); give a file, or - for standard output")
        if path.parent.exists() and not path.parent.is_dir():
            raise GantutorError(f"{path.parent} is a file, not a folder")
        if not path.parent.is_dir():
            raise GantutorError(f"the folder {path.parent} does not exist; create it "
                                "first")
    except OSError as err:  # a name too long, a folder we may not search
        raise GantutorError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def write_file(path, data: bytes, like=None) -> None:
    """Write ``data`` to ``path``: complete, or not at all. The bytes go to a new file
    beside the target, are flushed to disk, and the new file is renamed over the
    target, so an error or an interruption never leaves a partial file and never
    replaces a good one.

    Permissions: a replaced file keeps its own (and its owner, where allowed); a new
    file gets those of ``like``, the file it was made from (as gzip does: a
    decompressed program stays executable), or else 0666, limited by the umask. A
    symbolic link is written through: its target is replaced.
    """
    target = check_output(path)
    tmp, replacing = None, target.exists()
    try:
        old = target.stat() if replacing else None
        mode = 0o666
        if like is not None and not replacing and Path(like).is_file():
            mode = Path(like).stat().st_mode & 0o777
        tmp = target.parent / f".{target.name[:64]}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)  # less umask
        with open(fd, "wb") as f:
            if old is not None:
                with contextlib.suppress(OSError):
                    os.fchown(f.fileno(), old.st_uid, old.st_gid)
                os.fchmod(f.fileno(), old.st_mode & 0o777)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as err:
        kept = "; the existing file is unchanged" if replacing else ""
        raise GantutorError(f"cannot write {path}: {err.strerror or err}. Nothing "
                            f"was written{kept}.") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
