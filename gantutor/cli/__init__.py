"""The ``gantutor`` command line (also ``python -m gantutor``).

Each sub-command lives in a module with ``configure(parser)`` and ``run(args)``;
``main`` builds the parser from the list below and turns every ``GantutorError`` into
one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import GantutorError

# (name, module, one-line help). Modules are imported only when their command runs,
# except for building --help, so `gantutor sample` does not pay for scikit-learn.
COMMANDS = [
    ("train", "gantutor.cli.train",
     "train a GAN and write samples, curves, checkpoint"),
    ("sample", "gantutor.cli.train",
     "draw samples from a checkpoint into .png or .npy"),
    ("compress", "gantutor.cli.compress", "compress a file with a model: real bytes"),
    ("decompress", "gantutor.cli.compress", "decompress a `gantutor compress` file"),
    ("evaluate", "gantutor.cli.evaluate", "score a generator: FD, PRDC, privacy"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantutor",
        description="gantutor: a model is a compressor. Train, sample, evaluate and "
                    "compress with the course's helper package.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        mod = importlib.import_module(module)
        getattr(mod, f"configure_{name}")(p)
        p.set_defaults(_run=getattr(mod, f"run_{name}"))
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
              "complete; "
              "a training run continues with --resume.", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
