"""Sanity check of precision/recall/density/coverage against the published values.

Naeem et al. (2020) report, for real and fake both drawn from N(0, I) in 1000-D,
10,000 vs 10,000 samples and k = 5: precision 0.477, recall 0.471, density 1.056,
coverage 0.974. Same distribution, so E[density] = 1 and E[coverage] = 1 - C(N-1, k)
/ C(N-1+M, k) exactly; the published run is one draw. This script draws its own
(seeded, ``--seeds`` of them) and prints each value next to the published one, the
difference, and the time; with several seeds, also the mean and standard deviation
across draws. It exits with status 1 if the mean of any value is further than 0.02
from the published one (density, whose draws spread by about 0.05 in 1000-D, can miss
for that reason alone: its exact expectation is printed too).

    python benchmarks/prdc_sanity.py [--device auto] [--seed 0] [--seeds 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantutor import metrics  # noqa: E402
from gantutor.env import resolve_device  # noqa: E402

PUBLISHED = {"precision": 0.477, "recall": 0.471, "density": 1.056, "coverage": 0.974}
N, DIM, K, TOLERANCE = 10_000, 1000, 5, 0.02


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=1, help="number of draws")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    print(f"N(0, I) in {DIM}-D, {N:,} real vs {N:,} fake, k={K}, on {device}; "
          f"expected (closed form): density 1.000, coverage "
          f"{metrics.expected_coverage(N, N, K):.4f}")
    draws = []
    for seed in range(args.seed, args.seed + args.seeds):
        gen = torch.Generator(device).manual_seed(seed)
        real = torch.randn(N, DIM, generator=gen, device=device)
        fake = torch.randn(N, DIM, generator=gen, device=device)
        t0 = time.perf_counter()
        values = metrics.prdc(real, fake, k=K)
        seconds = time.perf_counter() - t0
        draws.append(values)
        print(f"seed {seed}: " + " ".join(f"{k} {v:.4f}" for k, v in values.items())
              + f"  ({seconds:.1f} s)")
    ok = True
    for name, published in PUBLISHED.items():
        vals = [d[name] for d in draws]
        mean = statistics.fmean(vals)
        spread = f" ± {statistics.stdev(vals):.4f} (std of {len(vals)} draws)" \
            if len(vals) > 1 else ""
        diff = mean - published
        ok &= abs(diff) <= TOLERANCE
        print(f"{name:>9}: {mean:.4f}{spread}  published {published:.3f}  "
              f"difference {diff:+.4f}")
    means = {k: statistics.fmean(d[k] for d in draws) for k in PUBLISHED}
    print(" ".join(f"{k}={v:.4f}" for k, v in means.items())
          + f" n={N} dim={DIM} k={K} draws={len(draws)} within_0.02={ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
