"""``gantutor sample``: draw samples from a checkpoint into a .png grid or a .npy."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GantutorError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="checkpoint.pt written by gantutor train")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, type=Path,
                   help="output file: .png for a grid, .npy for an (N, C, H, W) "
                        "float32 array in [-1, 1]")
    p.add_argument("--label", type=int, default=None,
                   help="class to draw from (conditional models only)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the noise")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def run(args) -> int:
    import numpy as np

    from .. import plot
    from ..checkpoint import atomic_write
    from ..gan.restore import load_generator
    from ..gan.train import sample

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise GantutorError(f"--out must end in .png or .npy, not {args.out.name!r}")
    if args.n < 1:
        raise GantutorError("--n must be at least 1")
    G = load_generator(args.checkpoint, args.device)
    if args.label is not None:
        if not G.num_classes:
            raise GantutorError("--label needs a conditional model (train with "
                                "--conditional)")
        if not 0 <= args.label < G.num_classes:
            raise GantutorError(f"--label must be in 0..{G.num_classes - 1}")
    x = sample(G, args.n, y=args.label, seed=args.seed)
    if suffix == ".npy":
        arr = x.numpy().astype(np.float32)

        def write(tmp):
            with open(tmp, "wb") as f:
                np.save(f, arr)

        atomic_write(args.out, write)
    elif x.dim() == 2:
        raise GantutorError("2-D mixture samples are points, not images: use .npy")
    else:
        plot.save_image_grid(x, args.out)
    print(f"wrote {args.n} samples of shape {tuple(x.shape[1:])} to {args.out}")
    return 0
