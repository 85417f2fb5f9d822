"""``gantutor evaluate``: how good is a generator, and does it give its data away?

Which real images play which part:

* reference: a seeded random subset of the images the generator was trained on
  (the checkpoint records the split, and the part kept by ``gantutor train
  --holdout``), as many as generated samples (``--n``, fewer if the data is smaller);
* membership inference: those training images ("members") against images the
  generator never saw: the part held out with ``--holdout``, else the other split
  (the test split for a generator trained on the training split) when it can be
  found; otherwise it is not measurable and reported as nan, with the reason;
* ``--real``: two disjoint seeded halves of the real split stand for reference and
  "generated"; the membership attack then asks whether the second half reveals
  which images of the first are which (it cannot: 0.5 is the attack's chance level).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..dataset_names import DATASETS, MIXTURE_DATASETS
from ..errors import DataNotFoundError, GantutorError
from ..gan.config import SEED_RANGE, Bounds
from . import options

if TYPE_CHECKING:  # torch is imported when a command runs, not for --help
    import torch


def configure(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--checkpoint", type=Path,
                      help="checkpoint.pt of a `gantutor train` run")
    p.epilog = ("Reference: n real images the generator was trained on. Membership "
                "inference: those against images it never saw (the part kept out by "
                "`gantutor train --holdout`, else the other split). The last line "
                "sums up: fd=... precision=... recall=... density=... coverage=... "
                "classifier_score=... mia_auc=... (nan: not measurable, reason "
                "printed above it).")
    what.add_argument("--real", action="store_true",
                      help="evaluate real images against other real images of the "
                           "same split (the best a generator can do)")
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="dataset of the real images; when omitted, the one the "
                        "checkpoint was trained on")
    p.add_argument("--split", choices=("auto", "train", "test"), default=None,
                   help="split of the real images; when omitted, the one the "
                        "checkpoint records, else auto (training split if present, "
                        "else test)")
    p.add_argument("--n", type=options.number(int, Bounds(2, 1_000_000)),
                   default=10_000,
                   help="generated samples and real reference images; both are "
                        "reduced when there are fewer training images")
    p.add_argument("--k", type=options.number(int, Bounds(1, 100)), default=5,
                   help="neighbours for precision, recall, density and coverage")
    p.add_argument("--seed", type=options.number(int, SEED_RANGE), default=0,
                   help="seed of the generated samples and of the real subsets")
    p.add_argument("--device", type=options.device, default="auto",
                   help="auto picks CUDA, then Apple MPS, then CPU")
    p.add_argument("--data-dir", default=None,
                   help="folder with IDX files (default: $GANTUTOR_DATA, then "
                        "~/.cache/gantutor)")


def _subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    import torch

    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x[order[:n].to(x.device)]


def _other_split(name: str, split: str, root):
    from ..data import load_dataset

    other = {"train": "test", "test": "train"}[split]
    try:
        return load_dataset(name, other, root=root, download=False)
    except DataNotFoundError:
        return None


def _real_vs_real(args, name):
    from ..data import load_dataset

    data = load_dataset(name, args.split or "auto", root=args.data_dir)
    pool = _subset(data.x, len(data), args.seed)
    half = len(pool) // 2
    n = min(args.n, half)
    real, fake = pool[:n], pool[half:half + n]
    q = n // 2
    notes = [f"--real: 'generated' = {n:,} real {data.split} images, disjoint from "
             f"the {n:,} reference images; membership queries = the reference's two "
             f"halves ({q:,} each), neither seen by the stand-in: 0.5 is chance"]
    return data, real, fake, real[:q], real[q:2 * q], None, notes


def _from_checkpoint(args, name, state, G, device):
    from ..data import holdout_split, load_dataset
    from ..gan.train import sample

    notes = []
    split = args.split or state.get("data_split")
    if split is None:
        split = "auto"
        notes.append("the checkpoint does not record its training split: assuming "
                     "--split auto (what `gantutor train` uses by default)")
    data = load_dataset(name, split, root=args.data_dir)
    if tuple(G.shape) != tuple(data.shape):
        raise GantutorError(f"{args.checkpoint} makes {tuple(G.shape)} samples, but "
                            f"{name} images are {tuple(data.shape)}; give the "
                            "--dataset it was trained on")
    part = state.get("data_part")
    if part and args.split in (None, data.split):
        members, held = holdout_split(data, part["fraction"], part["seed"])
        notes.append(f"training images: the kept {1 - part['fraction']:.0%} of the "
                     f"{data.split} split ({len(members):,}); held out from training: "
                     f"the other {len(held):,} (seed {part['seed']})")
    else:
        members, held = data, _other_split(name, data.split, args.data_dir)
        if held is None:
            notes.append(f"membership inference not measured: the generator was "
                         f"trained on the whole {data.split} split and no other split "
                         "was found; train with --holdout 0.5 to keep a part unseen")
        else:
            notes.append(f"training images: the {data.split} split "
                         f"({len(members):,}); held out: the {held.split} split "
                         f"({len(held):,})")
    n = min(args.n, len(members))
    if n < args.n:
        notes.append(f"--n {args.n:,} reduced to {n:,}: the training images number "
                     f"{len(members):,}")
    fake = sample(G, n, seed=args.seed, device=device)
    real = _subset(members.x, n, args.seed)
    if held is None:
        return data, real, fake, None, None, None, notes
    m = min(n, len(held.x))
    return (data, real, fake, _subset(members.x, m, args.seed + 1),
            _subset(held.x, m, args.seed + 1), members.x, notes)


def run(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..data import dataset_report, load_dataset
    from ..env import resolve_device
    from ..evaluation.classifier import get_classifier
    from ..evaluation.report import evaluate_images, evaluate_mixture
    from ..gan.restore import EVALUATE_KEYS, check_keys, network
    from ..gan.train import sample

    if args.n < args.k + 1:
        raise GantutorError(f"--n {args.n} is too small: it needs more than --k "
                            f"{args.k} samples (10,000 is the usual size)")
    device = resolve_device(args.device)
    t0 = time.perf_counter()
    state = G = None
    if args.checkpoint is not None:  # read and checked before any real work
        state = load_checkpoint(args.checkpoint)
        check_keys(state, args.checkpoint, EVALUATE_KEYS)
        G = network(state, "G", args.checkpoint).to(device)
    name = args.dataset or (state or {}).get("dataset")
    if name is None:
        raise GantutorError("say which data to compare with: --dataset NAME")
    if state is not None and state.get("dataset") not in (None, name):
        raise GantutorError(f"{args.checkpoint} was trained on {state['dataset']}, "
                            f"not {name}; drop --dataset or give the right one")
    if name in MIXTURE_DATASETS:
        mixture = load_dataset(name, "train")
        if G is not None and tuple(G.shape) != tuple(mixture.shape):
            raise GantutorError(f"{args.checkpoint} makes {tuple(G.shape)} samples, "
                                f"not 2-D points; give the --dataset it was trained "
                                "on")
        if args.real:
            fake = load_dataset(name, "test").x[:args.n]
        else:
            fake = sample(G, args.n, seed=args.seed, device=device)
        result = evaluate_mixture(fake, mixture)
        print(result.table())
        print(result.line())
        return 0
    classifier = get_classifier(name, device)
    if args.real:
        data, real, fake, members, held, training, notes = _real_vs_real(args, name)
    else:
        data, real, fake, members, held, training, notes = _from_checkpoint(
            args, name, state, G, device)
    print(dataset_report(data))
    result = evaluate_images(fake, real, classifier, members, held, k=args.k,
                             dataset=name, training=training)
    result.notes = notes + [f"measured in {time.perf_counter() - t0:.0f} s on "
                            f"{device}"]
    print(result.table())
    print(result.line())
    return 0
