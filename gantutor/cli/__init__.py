"""The ``gantutor`` command line (also ``python -m gantutor``).

Each sub-command is the module ``gantutor.cli.<name>`` with ``configure(parser)`` and
``run(args)``. ``main`` builds the parser from :data:`COMMANDS`; every error, a bad
option or a failure while the command runs, is one line on stderr (what was wrong
and what to do) and exit status 2, never a traceback (see :data:`EPILOG`).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from ..errors import GantutorError
from .options import EXIT_ERROR, EXIT_INTERRUPTED

EPILOG = ("Exit status: 0 on success; 2 for every error (a bad option, a missing or "
          "corrupt file, an output that exists, a failed run), explained in one "
          "line on stderr; 130 when interrupted (Ctrl-C). No command replaces a "
          "file it did not write in this run unless --force is given. Set "
          "GANTUTOR_DEBUG=1 to see the traceback of an unexpected error.")

# name -> one-line help. Building the parser imports every command's module, so those
# modules import torch, numpy and matplotlib only inside ``run``: --help stays fast.
COMMANDS = {
    "train": "train a GAN and write samples, curves, checkpoint",
    "sample": "draw samples from a checkpoint into .png or .npy",
    "compress": "compress a file with a model: real bytes",
    "decompress": "decompress a `gantutor compress` file",
    "evaluate": "score a generator: FD, PRDC, privacy",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none (None)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """Reports a usage error in one line, and where the help is, with exit status 2
    like every other error."""

    def error(self, message: str):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {_one_line(message)} (see "
                              f"`{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gantutor",
        description="gantutor: a model is a compressor. Train, sample, evaluate and "
                    "compress with the course's helper package.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=HelpFormatter)
        module = importlib.import_module(f"{__name__}.{name}")
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    """Run one command; returns its exit status (0 after --help)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a usage error already reported
        return done.code
    except KeyboardInterrupt:
        print("gantutor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    name = f"gantutor {args.command}"
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return _interrupted(name, args.command)
    except Exception as err:  # noqa: BLE001 (each kind is reported in one line)
        if _caused_by_ctrl_c(err):  # e.g. an import, interrupted, re-raises it wrapped
            return _interrupted(name, args.command)
        if os.environ.get("GANTUTOR_DEBUG") and not isinstance(err, GantutorError):
            raise
        print(f"{name}: error: {_one_line(describe(err))}", file=sys.stderr)
        return EXIT_ERROR


def _interrupted(name: str, command: str) -> int:
    after = " (a training run continues with --resume)" if command == "train" else ""
    print(f"{name}: interrupted; every file written so far is complete{after}",
          file=sys.stderr)
    return EXIT_INTERRUPTED


def _caused_by_ctrl_c(err: BaseException) -> bool:
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def describe(err: Exception) -> str:
    """What went wrong and what to do, for an error of any kind."""
    if isinstance(err, GantutorError):
        return str(err)
    if isinstance(err, OSError):
        hint = {errno.ENOSPC: "free some space, or write elsewhere",
                errno.EFBIG: "the file size limit (ulimit -f) was reached: raise "
                             "it, or write elsewhere",
                errno.EDQUOT: "the disk quota is full: free some space, or write "
                              "elsewhere",
                errno.EACCES: "check the permissions, or write elsewhere",
                errno.EROFS: "write elsewhere"}.get(err.errno, "check the path")
        where = f": {err.filename}" if err.filename else ""
        return f"{err.strerror or err} ({hint}){where}"
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return ("out of memory: lower --batch-size or --n, or use a smaller model or "
                "another device")
    return (f"unexpected {type(err).__name__}: {err}. This is a bug in gantutor: "
            "rerun with GANTUTOR_DEBUG=1 to see where it happened, and please "
            "report it")


def _one_line(text: str) -> str:
    """``text`` on one line, each very long word (a value or path typed) shortened."""
    return " ".join(word if len(word) < 80 else
                    f"{word[:30]}...{word[-20:]} ({len(word)} characters)"
                    for word in text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
