"""``gantutor decompress``: the original bytes of a ``gantutor compress`` file,
checked against the SHA-256 in its header."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .compress import check_paths


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="file written by `gantutor compress`")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="where to write the original bytes")
    p.add_argument("--force", action="store_true",
                   help="overwrite OUTPUT if it exists")


def run(args) -> int:
    from ..compression.codec import decompress_file

    check_paths(args)
    t0 = time.perf_counter()
    sizes = decompress_file(args.input, args.output)
    print(f"{args.input} -> {args.output}: {sizes['original']:,} bytes, SHA-256 "
          f"verified, {time.perf_counter() - t0:.1f} s")
    return 0
