"""``gantutor compress``: real bytes from a model.

    gantutor compress IN -o OUT          # context-mixing model, any bytes
    gantutor decompress OUT -o IN2       # IN2 is byte-identical to IN
    gantutor compress - -o - < IN > OUT  # -: standard input or output

An output file is written only when everything succeeded: to a new file beside it,
renamed over it at the end, so a failed, refused or interrupted run leaves no partial
file and never replaces a good one. An existing output needs --force and keeps its
permissions; a new one gets the input file's (as gzip does), limited by the umask. An
output that is a symbolic link is written through: the file it points to is replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from ..errors import GantutorError

# gantutor.compression.codec.TEXT_MODELS, written here so that --help needs no numpy
# (tests/test_cli.py checks that the two agree)
TEXT_MODELS = ("cm", "gru")
STDIO = "-"  # as a file name: standard input or standard output


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="file to compress (any bytes); - reads standard input")
    p.add_argument("-o", "--output", required=True,
                   help="compressed file to write; - writes standard output")
    p.add_argument("--model", default="cm", choices=TEXT_MODELS,
                   help="cm: context mixing trained online (integer arithmetic, "
                        "decodes anywhere); gru: a GRU coded prequentially (slow; "
                        "decodes only on a machine that computes identically)")
    p.add_argument("--force", action="store_true",
                   help="overwrite OUTPUT if it exists")


def check_paths(args, compressing: bool) -> None:
    """Refuse, before any work, an output that cannot or may not be written: one
    that exists (without --force), is the input, is not a writable file; compressed
    data for a terminal or from one; a closed standard input or output."""
    from ..compression.files import check_output

    if args.input == STDIO:
        stdin = _standard("stdin")
        if not compressing and stdin.isatty():
            raise GantutorError("compressed data cannot be typed: give a file, or "
                                "redirect standard input (< file.gtz)")
    if args.output == STDIO:
        if compressing and _standard("stdout").isatty():
            raise GantutorError("compressed data is not written to a terminal: "
                                "redirect standard output (> file.gtz) or give -o FILE")
        return
    out = check_output(args.output)
    if out.exists() and not args.force:
        raise GantutorError(f"{args.output} exists; use --force to overwrite it")
    if out.exists() and args.input != STDIO and _same_file(args.input, out):
        raise GantutorError("the output would overwrite the input; choose another -o")


def _standard(name: str):
    """sys.stdin or sys.stdout; Python sets them to None when they are closed."""
    stream = getattr(sys, name)
    if stream is None:
        raise GantutorError(f"standard {name[3:]}put is closed; give a file instead "
                            "of -")
    return stream


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def read_input(args) -> bytes:
    """The input's bytes: the file, or all of standard input for -."""
    from ..compression.files import read_file

    if args.input != STDIO:
        return read_file(args.input)
    try:
        return _standard("stdin").buffer.read()
    except OSError as err:
        raise GantutorError(f"cannot read standard input: {err.strerror}") from None


def write_output(args, data: bytes) -> None:
    """Write ``data`` to the output file (complete or not at all), or to standard
    output for -."""
    from ..compression.files import write_file

    if args.output != STDIO:
        write_file(args.output, data, like=None if args.input == STDIO else args.input)
        return
    try:
        stdout = _standard("stdout").buffer
        stdout.write(data)
        stdout.flush()
    except OSError as err:  # a closed pipe, a full disk
        # what is still buffered would fail again when Python exits
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise GantutorError(f"cannot write standard output: {err.strerror or err}; "
                            "what was written is incomplete") from None


def warn_if_slow(command: str, n: int, model: str, settings: dict | None) -> None:
    """One line on stderr before a long run: what to expect of it."""
    from ..compression.codec import slow_warning

    warning = slow_warning(n, model, settings)
    if warning:
        print(f"gantutor {command}: warning: {warning}", file=sys.stderr, flush=True)


def report(args, line: str) -> None:
    """The summary line: on stdout, or on stderr when stdout carries the data."""
    print(line, file=sys.stderr if args.output == STDIO else sys.stdout)


def run(args) -> int:
    from ..compression.codec import compress

    check_paths(args, compressing=True)
    data = read_input(args)
    warn_if_slow("compress", len(data), args.model, None)
    t0 = time.perf_counter()
    try:
        blob = compress(data, model=args.model)
    except MemoryError:
        raise GantutorError(f"out of memory compressing {len(data):,} bytes; "
                            "compress a smaller file") from None
    write_output(args, blob)
    n, m = len(data), len(blob)
    rate = f"{8 * m / n:.3f} bits/byte" if n else "empty input"
    report(args, f"{args.input} -> {args.output}: {n:,} -> {m:,} bytes ({rate}, all "
                 f"headers counted), model {args.model}, "
                 f"{time.perf_counter() - t0:.1f} s")
    return 0
