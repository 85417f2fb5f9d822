"""A small corpus of kinds of bytes, the usual compressors, and what each part of
the context mixer buys.

``corpus()`` gathers English prose, classical Chinese (UTF-8), Python source, machine
code and Python's pydoc text: the last three from files every Python installation
has, the first two from the course's data folder (skipped, with the reason, where
they are missing). ``other_compressors()`` lists gzip, bz2, xz and, where installed,
zstd, brotli and PPMd (pyppmd). ``ablation()`` codes one input with the context mixer
growing one lever at a time and reports the bits each lever saved.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import sys
import sysconfig
from dataclasses import replace
from pathlib import Path

from .textmodel import CMConfig, table_bits_for

SOURCE_BYTES = 150_000
MACHINE_BYTES = 80_000


def _data_dirs(root) -> list[Path]:
    """Where the course's data may be: ``root``, $GANTUTOR_DATA, ~/.cache/gantutor."""
    dirs = [Path(root).expanduser()] if root else []
    if os.environ.get("GANTUTOR_DATA"):
        dirs.append(Path(os.environ["GANTUTOR_DATA"]).expanduser())
    return dirs + [Path.home() / ".cache" / "gantutor"]


def _course_text(name: str, root) -> bytes | None:
    for base in _data_dirs(root):
        path = base / "text" / name
        if path.is_file():
            return path.read_bytes()
    return None


def python_source(n: int = SOURCE_BYTES) -> bytes:
    """The first ``n`` bytes of the standard library's json and email packages
    (their .py files in sorted order)."""
    import email
    import json

    parts = []
    for package in (json, email):
        folder = Path(package.__file__).parent
        parts += [p.read_bytes() for p in sorted(folder.glob("*.py"))]
    return b"".join(parts)[:n]


def _elf_text(path: Path) -> bytes:
    """The .text section (machine code) of a 64-bit little-endian ELF file, or b""."""
    raw = path.read_bytes()
    if raw[:6] != b"\x7fELF\x02\x01":
        return b""
    shoff, = struct.unpack_from("<Q", raw, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", raw, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", raw, shoff + i * shentsize)
                for i in range(shnum)]
    names = sections[shstrndx][4]  # offset of the section-name strings
    for name, _, _, _, offset, size in sections:
        if raw[names + name: names + name + 6] == b".text\0":
            return raw[offset: offset + size]
    return b""


def machine_code(n: int = MACHINE_BYTES) -> tuple[bytes, str]:
    """``n`` bytes of machine code: the start of the .text section of the Python
    executable, or of the libpython it loads when the executable is a small
    launcher; elsewhere (not ELF) the middle of the executable. Returns (bytes,
    where they came from)."""
    exe = Path(sys.executable).resolve()
    libdir, lib = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var(
        "LDLIBRARY")
    candidates = [exe] + ([Path(libdir) / lib] if libdir and lib else [])
    for path in candidates:
        if path.is_file():
            text = _elf_text(path)
            if len(text) >= n:
                return text[:n], f"{path.name} .text"
    raw = exe.read_bytes()
    mid = max(0, len(raw) // 2 - n // 2)
    return raw[mid: mid + n], exe.name


def pydoc_text() -> bytes:
    """Every topic of ``pydoc_data.topics``, in key order, UTF-8."""
    from pydoc_data.topics import topics

    return "".join(topics[k] for k in sorted(topics)).encode("utf-8")


def corpus(root=None, fraction: float = 1.0) -> tuple[dict, dict]:
    """({name: bytes}, {name: why it is missing}). ``fraction`` < 1 keeps the first
    part of every input (a quick run)."""
    found, missing = {}, {}
    for name, file in (("English (alice29.txt)", "alice29.txt"),
                       ("classical Chinese (chuci.txt)", "chuci.txt")):
        raw = _course_text(file, root)
        if raw is None:
            missing[name] = (f"text/{file} not found in "
                             f"{', '.join(str(d) for d in _data_dirs(root))}")
        else:
            found[name] = raw
    found["Python source (json, email)"] = python_source()
    code, origin = machine_code()
    found[f"machine code ({origin})"] = code
    found["pydoc_data.topics"] = pydoc_text()
    if fraction < 1:
        found = {k: v[: max(1, int(len(v) * fraction))] for k, v in found.items()}
    return found, missing


def other_compressors() -> tuple[dict, dict]:
    """({name: compress function}, {name: why it is unavailable}): gzip -9, bz2 -9,
    xz -9e, and zstd -19, brotli -q 11 and PPMd (orders 6 and 8) where installed."""
    found = {"gzip -9": lambda d: gzip.compress(d, compresslevel=9, mtime=0),
             "bz2 -9": lambda d: bz2.compress(d, compresslevel=9),
             "xz -9e": lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME)}
    missing = {}
    try:
        import zstandard

        found["zstd -19"] = zstandard.ZstdCompressor(level=19).compress
    except ImportError:
        missing["zstd"] = "pip install zstandard"
    try:
        import brotli

        found["brotli -q 11"] = lambda d: brotli.compress(d, quality=11, lgwin=24)
    except ImportError:
        missing["brotli"] = "pip install brotli"
    try:
        import pyppmd

        for order in (6, 8):
            found[f"PPMd o{order}"] = (lambda d, o=order: pyppmd.compress(
                d, max_order=o, mem_size=256 << 20))
    except ImportError:
        missing["PPMd"] = "pip install pyppmd (or gantutor[bench])"
    return found, missing


# the levers of the context mixer, in the order the ablation adds them
LEVERS = ("orders 2-4", "orders 6, 8", "word", "match", "apm", "sparse", "column",
          "utf8", "mix2")


def lever_config(levers, n_bytes: int) -> CMConfig:
    """The context mixer with only ``levers`` (names from LEVERS) switched on; with
    no order lever, order 1 alone."""
    orders = ((1, 2, 3, 4) if "orders 2-4" in levers else (1,)) + \
        ((6, 8) if "orders 6, 8" in levers else ())
    flags = {f: f in levers for f in LEVERS[2:]}
    return replace(CMConfig(), orders=orders, table_bits=table_bits_for(n_bytes),
                   **flags)


def ablation(data: bytes, levers=LEVERS) -> list[dict]:
    """Code ``data`` with order 1 alone, then with each lever of ``levers`` added in
    turn. Rows: lever, bits per byte (ideal code length), bits saved per byte by
    that lever."""
    import numpy as np

    from .coder import binary_code_length_bits
    from .textfast import FastMixer

    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    rows, on, before = [], [], None
    for lever in ("order 1 alone",) + tuple(levers):
        if lever in LEVERS:
            on.append(lever)
        cfg = lever_config(on, len(data))
        p1 = FastMixer(cfg, len(data)).probabilities(data)
        bpb = binary_code_length_bits(p1, bits) / max(len(data), 1)
        rows.append({"lever": lever, "bits_per_byte": bpb,
                     "saved": 0.0 if before is None else before - bpb})
        before = bpb
    return rows


def ablation_table(results: dict) -> str:
    """A text table of :func:`ablation` results ({input name: rows}): one row per
    lever, one column per input, each cell the change in bits per byte when that
    lever is added (the first row: bits per byte with order 1 alone; the last: with
    every lever)."""
    names = list(results)
    short = [n.split(" (")[0] for n in names]  # "English (alice29.txt)": "English"
    width = max(12, *(len(n) + 2 for n in short))
    levers = [r["lever"] for r in next(iter(results.values()))]
    lines = [f"{'bits/byte':<16}" + "".join(f"{n:>{width}}" for n in short)]
    for i, lever in enumerate(levers):
        cells = [results[n][i]["bits_per_byte"] if i == 0 else -results[n][i]["saved"]
                 for n in names]
        label = lever if i == 0 else f"+ {lever}"
        lines.append(f"{label:<16}" + "".join(
            f"{c:>{width}.3f}" if i == 0 else f"{c:>+{width}.3f}" for c in cells))
    lines.append(f"{'all levers':<16}" + "".join(
        f"{results[n][-1]['bits_per_byte']:>{width}.3f}" for n in names))
    return "\n".join(lines)


def compare(inputs: dict, others: dict | None = None) -> dict:
    """Compress and decompress every input with gantutor (timed, checked) and with
    ``others`` (default: :func:`other_compressors`). {name: {"n", "sizes" (whole
    files, bytes), "roundtrip", "compress_s", "decompress_s", "cpu_s"}}."""
    import time

    from .codec import compress, decompress

    others = other_compressors()[0] if others is None else others
    out = {}
    for name, raw in inputs.items():
        t0, c0 = time.perf_counter(), time.process_time()
        blob = compress(raw)
        t1, c1 = time.perf_counter(), time.process_time()
        back = decompress(blob)
        t2, c2 = time.perf_counter(), time.process_time()
        sizes = {"gantutor": len(blob)}
        sizes.update({k: len(f(raw)) for k, f in others.items()})
        out[name] = {"n": len(raw), "sizes": sizes, "roundtrip": back == raw,
                     "compress_s": t1 - t0, "decompress_s": t2 - t1,
                     "cpu_s": (c1 - c0, c2 - c1)}
    return out


def worst_ratio(results: dict) -> float:
    """gantutor's size over the best other compressor's, the largest over the
    inputs of :func:`compare`'s results (below 1: smallest on every input)."""
    return max(r["sizes"]["gantutor"] / min(v for k, v in r["sizes"].items()
                                            if k != "gantutor")
               for r in results.values())
