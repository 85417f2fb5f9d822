"""Sanity check of precision/recall/density/coverage against the published values.

Naeem et al. (2020) report, for real and fake both drawn from N(0, I) in 1000-D,
10,000 vs 10,000 samples and k = 5: precision 0.477, recall 0.471, density 1.056,
coverage 0.974. Same distribution, so E[density] = 1 and E[coverage] = 1 - C(N-1, k)
/ C(N-1+M, k) exactly; the published run is one draw. This script draws its own
(seeded) and prints each value next to the published one, the difference, and the
time; it exits with status 1 if any value is further than 0.02 away.

    python benchmarks/prdc_sanity.py [--device auto] [--seed 0]
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    gen = torch.Generator(device).manual_seed(args.seed)
    real = torch.randn(N, DIM, generator=gen, device=device)
    fake = torch.randn(N, DIM, generator=gen, device=device)
    t0 = time.perf_counter()
    values = metrics.prdc(real, fake, k=K)
    seconds = time.perf_counter() - t0
    print(f"N(0, I) in {DIM}-D, {N:,} real vs {N:,} fake, k={K}, seed {args.seed}, "
          f"{device}: {seconds:.1f} s")
    print(f"expected (closed form): density 1.000, coverage "
          f"{metrics.expected_coverage(N, N, K):.3f}")
    ok = True
    for name, published in PUBLISHED.items():
        diff = values[name] - published
        ok &= abs(diff) <= TOLERANCE
        print(f"{name:>9}: {values[name]:.4f}  published {published:.3f}  "
              f"difference {diff:+.4f}")
    print(" ".join(f"{k}={v:.4f}" for k, v in values.items())
          + f" n={N} dim={DIM} k={K} within_0.02={ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
