"""``gantutor compress`` and ``gantutor decompress``: real bytes from a model.

    gantutor compress IN -o OUT          # context-mixing model, any bytes
    gantutor decompress OUT -o IN2       # IN2 is byte-identical to IN

The output file is written only when everything succeeded (atomically), so a failed
or refused run never leaves a half-written or wrong file behind.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import GantutorError


def configure_compress(parser) -> None:
    parser.add_argument("input", type=Path, help="file to compress (any bytes)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="compressed file to write")
    parser.add_argument("--model", default="cm", choices=("cm", "gru"),
                        help="cm: context mixing trained online (integer arithmetic, "
                             "decodes anywhere); gru: a GRU coded prequentially (slow; "
                             "decodes only on a machine that computes identically)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT if it exists")


def configure_decompress(parser) -> None:
    parser.add_argument("input", type=Path, help="file written by `gantutor compress`")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="where to write the original bytes")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT if it exists")


def _check_paths(args) -> None:
    if args.output.exists() and not args.force:
        raise GantutorError(f"{args.output} exists; use --force to overwrite it")
    if args.output.exists() and args.output.resolve() == args.input.resolve():
        raise GantutorError("the output would overwrite the input; choose another -o")


def run_compress(args) -> int:
    from ..compression.codec import compress_file

    _check_paths(args)
    t0 = time.perf_counter()
    sizes = compress_file(args.input, args.output, model=args.model)
    n, m = sizes["original"], sizes["compressed"]
    rate = f"{8 * m / n:.3f} bits/byte" if n else "empty input"
    print(f"{args.input} -> {args.output}: {n:,} -> {m:,} bytes ({rate}, all headers "
          f"counted), model {args.model}, {time.perf_counter() - t0:.1f} s")
    return 0


def run_decompress(args) -> int:
    from ..compression.codec import decompress_file

    _check_paths(args)
    t0 = time.perf_counter()
    sizes = decompress_file(args.input, args.output)
    print(f"{args.input} -> {args.output}: {sizes['original']:,} bytes, SHA-256 "
          f"verified, {time.perf_counter() - t0:.1f} s")
    return 0
