"""``gantutor decompress``: the original bytes of a ``gantutor compress`` file,
checked against the SHA-256 in its header. Inputs and outputs as for
``gantutor compress`` (- for standard input or output)."""

from __future__ import annotations

import argparse
import time

from ..errors import GantutorError
from .compress import STDIO, check_paths, read_input, report, warn_if_slow, write_output


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="file written by `gantutor compress`; - reads "
                                 "standard input")
    p.add_argument("-o", "--output", required=True,
                   help="where to write the original bytes; - writes standard output")
    p.add_argument("--force", action="store_true",
                   help="overwrite OUTPUT if it exists")


def run(args) -> int:
    from ..compression.codec import decompress, read_header

    check_paths(args, compressing=False)
    blob = read_input(args)
    what = "standard input" if args.input == STDIO else args.input
    header, _ = read_header(blob, what)  # validated before anything is decoded
    warn_if_slow("decompress", header["length"], header["model"], header["settings"])
    t0 = time.perf_counter()
    try:
        data = decompress(blob, what)
    except MemoryError:
        raise GantutorError(f"out of memory decompressing {header['length']:,} "
                            "bytes") from None
    write_output(args, data)
    report(args, f"{args.input} -> {args.output}: {len(data):,} bytes, SHA-256 "
                 f"verified, {time.perf_counter() - t0:.1f} s")
    return 0
