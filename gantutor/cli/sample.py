"""``gantutor sample``: draw samples from a checkpoint into a .png grid or a .npy."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from ..errors import GantutorError
from ..gan.config import SEED_RANGE, Bounds
from . import options

MAX_SAMPLES = 100_000  # a 100,000-image .npy of MNIST is 314 MB; more is a mistyping


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="checkpoint.pt written by gantutor train")
    p.add_argument("--n", type=options.number(int, Bounds(1, MAX_SAMPLES)),
                   default=64, help=f"number of samples (1 to {MAX_SAMPLES:,})")
    p.add_argument("--out", required=True, type=Path,
                   help="output file: .png for a grid, .npy for an (N, C, H, W) "
                        "float32 array in [-1, 1]")
    p.add_argument("--force", action="store_true",
                   help="replace OUT if it exists (without it the command refuses)")
    p.add_argument("--label", type=options.number(int, Bounds(0)), default=None,
                   help="class to draw from (conditional models only)")
    p.add_argument("--seed", type=options.number(int, SEED_RANGE), default=0,
                   help="random seed of the noise")
    p.add_argument("--device", type=options.device, default="auto",
                   help="auto, cpu, cuda, cuda:N or mps")


def run(args) -> int:
    import numpy as np

    from .. import plot
    from ..checkpoint import atomic_write
    from ..gan.restore import load_generator
    from ..gan.train import sample

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise GantutorError(f"--out must end in .png or .npy, not {args.out.name!r}")
    options.new_file(args.out, args.force)  # before the checkpoint is read
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

        def write(tmp):  # via bytes: a full disk is then an OSError that says so
            buffer = io.BytesIO()
            np.save(buffer, arr)
            with open(tmp, "wb") as f:
                f.write(buffer.getbuffer())

        atomic_write(args.out, write)
    elif x.dim() == 2:
        raise GantutorError("2-D mixture samples are points, not images: use .npy")
    else:
        plot.save_image_grid(x, args.out)
    print(f"wrote {args.n} samples of shape {tuple(x.shape[1:])} to {args.out}")
    return 0
