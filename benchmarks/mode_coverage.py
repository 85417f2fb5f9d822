"""Mode coverage on the 8-mode ring and the 25-mode grid: the plain GAN and each remedy.

Trains every remedy of ``gantutor.course.remedies.REMEDIES`` on both 2-D mixtures for
each seed, scores each generator as VEEGAN and PacGAN do (2,500 samples; a sample is
high-quality when it lies within 3 standard deviations of its nearest mode; a mode is
covered when some high-quality sample is nearest to it), and prints the means over
seeds next to the published numbers (PacGAN Table 1, VEEGAN Table 1). The whole
table trains for over 40 minutes of CPU time; notebook 06 runs one seed of the rows
that cost about as much as the plain GAN, and points here for the rest.

    python benchmarks/mode_coverage.py                  # all remedies, seeds 0 1 2
    python benchmarks/mode_coverage.py --workers 2      # two runs at a time
    python benchmarks/mode_coverage.py --remedies gan pacgan4 --seeds 0 1 2 3 4

The last line is ``ring_best=<modes> ring_best_hq=<percent> grid_best=<modes>
grid_best_hq=<percent> best=<remedy>``: the means of the remedy that covers the
most modes on both mixtures (ties: the higher high-quality rate).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantutor import remedies  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--remedies", nargs="+", default=list(remedies.REMEDIES),
                        choices=list(remedies.REMEDIES), metavar="NAME",
                        help=f"which rows (default all: {' '.join(remedies.REMEDIES)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="one run per seed and mixture (default 0 1 2)")
    parser.add_argument("--steps", type=int, default=remedies.TRAIN_STEPS,
                        help="generator updates per run")
    parser.add_argument("--workers", type=int, default=1,
                        help="runs trained at once, one process and thread each")
    parser.add_argument("--device", default="cpu",
                        help="cpu (default: these networks are tiny), cuda or auto")
    args = parser.parse_args(argv)

    s = remedies.BASE_TRAIN
    print(f"{len(args.remedies)} remedies x 2 mixtures x {len(args.seeds)} seeds, "
          f"{args.steps} steps of batch {s['batch_size']} each (Adam lr {s['lr']}, "
          f"falling to 0 over the last {s['lr_decay']:.0%}); scored on "
          f"{remedies.N_EVAL:,} samples", flush=True)
    for name in args.remedies:
        own = remedies.train_settings(name, args.steps)
        if (own["steps"], own["batch_size"]) != (args.steps, s["batch_size"]):
            print(f"  except {name}: {own['steps']} steps of batch {own['batch_size']}",
                  flush=True)

    def report(r):
        print(f"  {r['dataset']:<4} {r['remedy']:<16} seed {r['seed']}: "
              f"{r['modes']:>2} modes, {r['hq']:5.1f}% high-quality "
              f"({r['seconds']:.0f} s)", flush=True)

    t0 = time.perf_counter()
    results = remedies.coverage_table(args.remedies, seeds=args.seeds,
                                      steps=args.steps, workers=args.workers,
                                      device=args.device, on_result=report)
    seconds = time.perf_counter() - t0
    rows = remedies.summarise_coverage(results)
    print()
    print(remedies.format_coverage_table(rows))
    print(f"\n{len(results)} runs in {seconds:.0f} s")
    ring = {r["remedy"]: r for r in rows if r["dataset"] == "ring"}
    grid = {r["remedy"]: r for r in rows if r["dataset"] == "grid"}
    hits = [n for n in ring if n in grid and remedies.meets_target(ring[n], grid[n])]
    print("remedies meeting the target (>= 7.5/8 ring and >= 23/25 grid modes, "
          f">= 90% high-quality on both): {', '.join(hits) if hits else 'none'}")
    print(remedies.coverage_summary_line(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
