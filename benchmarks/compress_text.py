"""Text compression: gantutor's context-mixing model against gzip, bz2 and xz.

Compresses FILE with ``gantutor.compression.codec`` (the default model), decompresses
it, checks that the result is byte-identical, and compresses the same bytes with
Python's gzip -9, bz2 -9 and lzma (xz) -9. Every size is a whole file: headers,
checksums and the coder's final word are counted. Rates are bits per character (byte)
of FILE.

    python benchmarks/compress_text.py ../shared/data/text/alice29.txt
    python benchmarks/compress_text.py pydoc      # Python's pydoc_data.topics text

The last line is ``bpc gantutor=<x> gzip=<x> bz2=<x> xz=<x> roundtrip=<ok|FAIL>
seconds=<x>``, seconds being gantutor's compress plus decompress wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantutor import codec, coder, data, textmodel  # noqa: E402
from gantutor.compression import textfast  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a file, or 'pydoc' for Python's topics text")
    args = parser.parse_args(argv)
    if args.file == "pydoc":
        raw = data.load_text("pydoc")
    else:
        raw = Path(args.file).read_bytes()
    n = len(raw)
    print(f"{args.file}: {n:,} bytes")

    t0 = time.perf_counter()
    blob = codec.compress(raw)
    t1 = time.perf_counter()
    back = codec.decompress(blob)
    t2 = time.perf_counter()
    ok = back == raw
    header, payload = coder.unpack(blob)

    # the ideal code length of the same model, to show the range coder's overhead
    cfg = textmodel.CMConfig.from_dict(header["settings"])
    p1 = textfast.FastMixer(cfg, n).probabilities(raw)
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    ideal = coder.binary_code_length_bits(p1, bits)

    sizes = {"gantutor": len(blob), **codec.baseline_sizes(raw)}
    rate = {k: codec.bits_per_byte(v, n) for k, v in sizes.items()}
    print(f"\n{'method':<10} {'bytes':>9} {'bits/char':>10}")
    for k, v in sizes.items():
        print(f"{k:<10} {v:>9,} {rate[k]:>10.3f}")
    print(f"\ngantutor in detail: -sum log2 p = {ideal / 8:,.0f} bytes "
          f"({ideal / n:.4f} bits/char); range-coded payload {len(payload):,} bytes "
          f"(+{len(payload) - ideal / 8:.1f} bytes of coder overhead); container "
          f"{len(blob) - len(payload):,} bytes (header with settings, lengths, "
          "checksums)")
    print(f"compress {t1 - t0:.1f} s, decompress {t2 - t1:.1f} s, round trip "
          f"{'byte-identical' if ok else 'DIFFERENT'}")
    print(f"bpc gantutor={rate['gantutor']:.3f} gzip={rate['gzip']:.3f} "
          f"bz2={rate['bz2']:.3f} xz={rate['xz']:.3f} "
          f"roundtrip={'ok' if ok else 'FAIL'} seconds={t2 - t0:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
