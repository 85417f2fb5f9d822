"""``gantutor compress``: real bytes from a model.

    gantutor compress IN -o OUT          # context-mixing model, any bytes
    gantutor decompress OUT -o IN2       # IN2 is byte-identical to IN

The output file is written only when everything succeeded (atomically), so a failed
or refused run never leaves a half-written or wrong file behind.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import GantutorError

# gantutor.compression.codec.MODELS, written here so that --help needs no numpy
# (tests/test_cli.py checks that the two agree)
MODELS = ("cm", "gru")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="file to compress (any bytes)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="compressed file to write")
    p.add_argument("--model", default="cm", choices=MODELS,
                   help="cm: context mixing trained online (integer arithmetic, "
                        "decodes anywhere); gru: a GRU coded prequentially (slow; "
                        "decodes only on a machine that computes identically)")
    p.add_argument("--force", action="store_true",
                   help="overwrite OUTPUT if it exists")


def check_paths(args) -> None:
    """Refuses to overwrite an existing output without --force, or the input."""
    if args.output.exists() and not args.force:
        raise GantutorError(f"{args.output} exists; use --force to overwrite it")
    if args.output.exists() and args.output.resolve() == args.input.resolve():
        raise GantutorError("the output would overwrite the input; choose another -o")


def run(args) -> int:
    from ..compression.codec import compress_file

    check_paths(args)
    t0 = time.perf_counter()
    sizes = compress_file(args.input, args.output, model=args.model)
    n, m = sizes["original"], sizes["compressed"]
    rate = f"{8 * m / n:.3f} bits/byte" if n else "empty input"
    print(f"{args.input} -> {args.output}: {n:,} -> {m:,} bytes ({rate}, all headers "
          f"counted), model {args.model}, {time.perf_counter() - t0:.1f} s")
    return 0
