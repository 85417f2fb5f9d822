"""What the commands share: option types that refuse a bad value in one line, the
exit statuses, and the rule for output files.

The rule for output files, the same in every command: a command never replaces a
file that it did not write in this run unless ``--force`` is given (``train
--resume`` may replace the files of the run it continues), and it checks this, and
that the place can be written, before it starts any work.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import GantutorError
from ..gan.config import Bounds, device_problem, shown, value_problem

EXIT_ERROR = 2  # every error: a bad option, a missing or corrupt file, a failed run
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def number(kind: type, bounds: Bounds | None = None):
    """An argparse ``type``: the text as ``kind`` (int or float) within ``bounds``,
    else an error that says what the option accepts and what it got."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            words = "a whole number" if kind is int else "a number"
            message = f"expected {words}, got {shown(text)}"
            raise argparse.ArgumentTypeError(message) from None
        problem = value_problem(kind, value, bounds)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = kind.__name__  # argparse's own messages name the type
    return parse


def device(text: str) -> str:
    """An argparse ``type`` for ``--device``; whether it exists here is checked when
    the command starts (:func:`gantutor.env.resolve_device`)."""
    problem = device_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def writable_folder(folder: Path, what: str) -> None:
    """Refuses a folder that could not be made or written in (checked on its
    nearest existing ancestor, so nothing is created by the check)."""
    place = Path(os.path.abspath(folder))
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise GantutorError(f"{what}: {place} is a file, so {folder} cannot be a "
                            "folder; choose another path")
    if not os.access(place, os.W_OK | os.X_OK):
        raise GantutorError(f"{what}: cannot write in {place} (no permission, or a "
                            "read-only file system); choose another path")


def new_file(path: Path, force: bool, what: str = "--out") -> None:
    """Refuses an output file that exists (without ``force``), is a folder, or
    whose folder is missing or cannot be written in."""
    if path.is_dir():
        raise GantutorError(f"{what} {path} is a folder: give a file name in it, "
                            f"e.g. {path / 'samples.png'}")
    if (path.exists() or path.is_symlink()) and not force:
        raise GantutorError(f"{path} exists already: add --force to replace it, or "
                            f"choose another {what}")
    folder = path.parent
    if not folder.is_dir():
        raise GantutorError(f"the folder of {what} {path} does not exist: create "
                            f"{folder} first, or choose another {what}")
    writable_folder(folder, what)
