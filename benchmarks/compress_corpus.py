"""gantutor's context mixer against the usual compressors, on a corpus of kinds.

One run over English prose (alice29.txt), classical Chinese (chuci.txt), Python
source (150 kB of the standard library's json and email packages), machine code
(80 kB of the Python executable's, or libpython's, .text section) and Python's
pydoc_data.topics text. The first two come from the course's data folder (--data,
$GANTUTOR_DATA or ~/.cache/gantutor) and are skipped, with a line, where missing.
Compared with gzip, bz2, xz and, where installed, zstd, brotli and PPMd (pyppmd;
``pip install gantutor[bench]``). Every gantutor size is the whole file (header,
checksums, coder flush); it is decompressed and checked.

    python benchmarks/compress_corpus.py                 # the whole corpus
    python benchmarks/compress_corpus.py --fraction 0.1  # the first 10% of each

Prints bits per byte per input per compressor, then the last line
``worst_ratio_vs_best_other=<x> kB_per_s=<x>``: gantutor's size over the best other
compressor's, the largest over the inputs (below 1: gantutor is the smallest on
every input), and gantutor's speed in kB/s over the whole corpus, the slower of
compressing and decompressing (wall time, numba's compilation excluded; the line
before gives the CPU time, which a busy machine does not inflate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantutor.compression import codec, corpus  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with text/alice29.txt, text/chuci.txt")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="code only this fraction of each input (quick runs)")
    args = parser.parse_args(argv)
    inputs, missing = corpus.corpus(args.data, args.fraction)
    others, unavailable = corpus.other_compressors()
    for name, why in {**missing, **unavailable}.items():
        print(f"skipped {name}: {why}")
    codec.decompress(codec.compress(b"warm up: compile or load numba's code"))

    results = corpus.compare(inputs, others)
    rows = {name: (r["n"], r["sizes"]) for name, r in results.items()}
    ratios = {name: r["sizes"]["gantutor"] / min(v for k, v in r["sizes"].items()
                                                 if k != "gantutor")
              for name, r in results.items()}
    seconds = {"compress": sum(r["compress_s"] for r in results.values()),
               "decompress": sum(r["decompress_s"] for r in results.values())}
    cpu = {"compress": sum(r["cpu_s"][0] for r in results.values()),
           "decompress": sum(r["cpu_s"][1] for r in results.values())}
    total = sum(r["n"] for r in results.values())
    ok = all(r["roundtrip"] for r in results.values())
    print()
    print(codec.rate_table(rows, unit="bits/byte"))
    print()
    for name, r in ratios.items():
        print(f"{name:<40} {rows[name][0]:>9,} bytes   gantutor / best other = "
              f"{r:.3f}")
    print(f"compress {seconds['compress']:.1f} s, decompress "
          f"{seconds['decompress']:.1f} s for {total:,} bytes; round trips "
          f"{'byte-identical' if ok else 'DIFFERENT'}")
    print(f"CPU time: compress {cpu['compress']:.1f} s, decompress "
          f"{cpu['decompress']:.1f} s ({total / max(cpu.values()) / 1000:.1f} kB/s; "
          "wall time is longer on a busy machine)")
    speed = total / max(seconds.values()) / 1000
    print(f"worst_ratio_vs_best_other={max(ratios.values()):.3f} "
          f"kB_per_s={speed:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
