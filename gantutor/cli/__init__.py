"""The ``gantutor`` command line (also ``python -m gantutor``).

Each sub-command is the module ``gantutor.cli.<name>`` with ``configure(parser)`` and
``run(args)``. ``main`` builds the parser from :data:`COMMANDS` and turns every
``GantutorError`` into one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import GantutorError

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantutor",
        description="gantutor: a model is a compressor. Train, sample, evaluate and "
                    "compress with the course's helper package.",
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args._run(args)
    except GantutorError as err:
        print(f"gantutor {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gantutor {args.command}: interrupted. Files written so far are "
              "complete; a training run continues with --resume.", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
