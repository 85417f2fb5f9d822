"""``gantutor train``: train a GAN and write samples, curves and a checkpoint.

The training settings are :class:`~gantutor.gan.config.TrainConfig`'s fields, one
option each, with the field's default and help; a dataset's own defaults
(:data:`~gantutor.gan.config.DATASET_DEFAULTS`) apply to the options not given.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import typing
from dataclasses import fields
from pathlib import Path

from ..dataset_names import DATASETS, MIXTURE_DATASETS
from ..errors import GantutorError
from ..gan.config import DATASET_DEFAULTS, LOSS_NAMES, MODELS, Bounds, TrainConfig
from . import options

# TrainConfig fields that are not options: progress is --no-progress, and the
# command line writes no snapshots (they are kept in memory, for notebooks).
NOT_OPTIONS = ("progress", "snapshot_every", "n_fixed")
CHOICES = {"loss": LOSS_NAMES}
# what a run writes into --out; it replaces none that it did not write itself unless
# --force is given (or --resume, for the files of the run it continues)
OUTPUTS = ("samples.png", "history.png", "history.csv", "checkpoint.pt")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", choices=DATASETS,
                   help="training data; digits ships with scikit-learn and needs no "
                        "network, mnist/fashion-mnist download or read GANTUTOR_DATA")
    p.add_argument("--split", default="auto", choices=("auto", "train", "test"),
                   help="which split to train on; auto takes the training split if "
                        "present, else the test split")
    p.add_argument("--holdout", default=0.0, metavar="FRACTION",
                   type=options.number(float, Bounds(0, 1, open_high=True)),
                   help="keep this seeded fraction of the split out of training, so "
                        "`gantutor evaluate` can test membership inference on it "
                        "(e.g. 0.5; 0 trains on the whole split)")
    p.add_argument("--data-dir", default=None,
                   help="folder with IDX files (default: $GANTUTOR_DATA, then "
                        "~/.cache/gantutor)")
    p.add_argument("--out", required=True, type=Path,
                   help="output folder (made if missing) for samples.png, "
                        "history.png, history.csv, checkpoint.pt")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="mlp: fully connected GAN; dcgan: convolutional GAN "
                        f"(default: {per_dataset('model')})")
    p.add_argument("--conditional", action="store_true",
                   help="condition both networks on the class label (samples.png "
                        "then shows one row per class; sample with --label K)")
    p.add_argument("--spectral-norm", action="store_true",
                   help="spectral normalisation on every discriminator layer")
    p.add_argument("--pack", type=options.number(int, Bounds(1, 64)), default=1,
                   help="PacGAN packing: the discriminator judges this many samples "
                        "at once (1 to 64; it must divide the batch size)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt up to --steps")
    p.add_argument("--force", action="store_true",
                   help="replace samples.png, history.png, history.csv and "
                        "checkpoint.pt if OUT holds them already (without it the "
                        "run refuses to start)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_train_options(p.add_argument_group(
        "training settings", "TrainConfig's fields. With --ddp, start the processes "
        "with `torchrun --nproc_per_node=N -m gantutor train --ddp ...`; only rank 0 "
        "writes files."))


def add_train_options(p) -> None:
    """One option per TrainConfig field (except NOT_OPTIONS), with its help.

    The default is the field's, or None for a setting that some dataset changes
    (the run then takes the dataset's value); the help then lists the values.
    """
    hints = typing.get_type_hints(TrainConfig)
    changed = {name for row in DATASET_DEFAULTS.values() for name in row}
    for f in fields(TrainConfig):
        if f.name in NOT_OPTIONS:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"].replace("%", "%%")
        if f.metadata.get("bounds") is not None:  # what the option accepts
            help_text += f"; {f.metadata['bounds']}"
        kind = hints[f.name]
        if kind is bool:  # such fields default to False: the flag switches them on
            p.add_argument(flag, action="store_true", help=help_text)
            continue
        default = f.default
        if f.name in changed:
            default = None
            help_text += f" (default: {per_dataset(f.name, f.default)})"
        p.add_argument(flag, default=default, help=help_text,
                       choices=CHOICES.get(f.name), **option_type(f, kind))


def option_type(f, kind) -> dict:
    """argparse's ``type`` (and ``nargs``) for TrainConfig field ``f``: it refuses,
    in one line, a value outside the field's bounds."""
    item_types = typing.get_args(kind)
    if typing.get_origin(kind) is tuple:  # e.g. --betas 0.5 0.999
        return {"type": options.number(item_types[0], f.metadata["bounds"]),
                "nargs": len(item_types)}
    if item_types:  # X | None takes an X
        kind = next(t for t in item_types if t is not type(None))
    if f.name == "device":
        return {"type": options.device}
    if kind in (int, float):
        return {"type": options.number(kind, f.metadata["bounds"])}
    return {"type": kind}


def per_dataset(name: str, fallback=None) -> str:
    """A setting's default per dataset, e.g. "128 for ring, grid; 64 for digits"."""
    groups: dict = {}
    for dataset, row in DATASET_DEFAULTS.items():
        groups.setdefault(row.get(name, fallback), []).append(dataset)
    if len(groups) == 1:
        return str(next(iter(groups)))
    return "; ".join(f"{v} for {', '.join(names)}" for v, names in groups.items())


def train_config(args, device) -> TrainConfig:
    """The options given, else the dataset's defaults, else TrainConfig's."""
    settings = {k: v for k, v in DATASET_DEFAULTS[args.dataset].items()
                if k != "model"}
    for f in fields(TrainConfig):
        value = getattr(args, f.name, None)  # None: not given, or a field's default
        if f.name not in NOT_OPTIONS and value is not None:
            settings[f.name] = value
    settings.update(device=str(device), progress=not args.no_progress)
    return TrainConfig(**settings)


def run(args) -> int:
    if not args.ddp:
        return _train(args)
    from ..gan import distributed

    try:
        code = _train(args)
        # every process has finished (rank 0 writes its files after training): none
        # tears the group down while another may still be using it
        if distributed.is_initialized():
            distributed.dist.barrier()
        return code
    finally:
        if distributed.is_initialized():
            distributed.dist.destroy_process_group()


def _train(args) -> int:
    from ..data import dataset_report, holdout_split, load_dataset
    from ..env import resolve_device, seed_everything
    from ..gan import distributed
    from ..gan.models import build_gan, count_parameters
    from ..gan.train import train_gan

    # everything that can be checked without the data, before any slow work
    check_out(args)
    cfg = train_config(args, args.device)
    model = args.model
    if model is None:
        model = DATASET_DEFAULTS[args.dataset]["model"]
    mixture = args.dataset in MIXTURE_DATASETS
    if mixture and model != "mlp":
        raise GantutorError("the 2-D mixtures need --model mlp")
    if mixture and args.holdout:
        raise GantutorError("--holdout applies to image datasets; the 2-D mixtures "
                            "can be sampled afresh instead")
    device = distributed.init(args.device) if args.ddp else resolve_device(args.device)
    main = distributed.is_main() if args.ddp else True
    say = print if main else (lambda *a, **k: None)  # only rank 0 talks
    seed_everything(args.seed)
    data = load_dataset(args.dataset, split=args.split, root=args.data_dir)
    if args.holdout:  # the held-out part is rebuilt by `gantutor evaluate`
        data, _ = holdout_split(data, args.holdout, seed=0)
    say(dataset_report(data))
    cfg = dataclasses.replace(cfg, device=str(device))
    if args.batch_size is None and cfg.batch_size > len(data):
        cfg.batch_size = len(data)
    if cfg.batch_size > len(data):
        raise GantutorError(f"--batch-size {cfg.batch_size:,} is larger than the "
                            f"dataset ({len(data):,} samples): lower it")
    if cfg.batch_size % args.pack:
        raise GantutorError(f"--pack {args.pack} must divide the batch size "
                            f"{cfg.batch_size}: change --pack or --batch-size")
    extra = {"hidden": (128, 128, 128)} if mixture else {}
    G, D = build_gan(model, data.shape, num_classes=data.num_classes if
                     args.conditional else 0, pack=args.pack,
                     spectral_norm=args.spectral_norm, **extra)
    n = distributed.world_size()
    where = (f"{n} process{'es' if n > 1 else ''} ({device.type})" if args.ddp
             else str(device))
    say(f"model: {model}, G {count_parameters(G):,} and D {count_parameters(D):,} "
        f"parameters; loss {cfg.loss}; {cfg.steps} steps of batch {cfg.batch_size} "
        f"on {where}")
    t0 = time.perf_counter()
    hist = train_gan(G, D, data, cfg, out=args.out, resume=args.resume)
    seconds = time.perf_counter() - t0
    if not main:
        return 0
    _write_figures(args, G, hist, data, model, cfg)
    hist.to_csv(args.out / "history.csv")
    last = (f"; last D loss {hist.d_loss[-1]:.3f}, G loss {hist.g_loss[-1]:.3f}, "
            f"D(x) {hist.d_real[-1]:.2f}, D(G(z)) {hist.d_fake[-1]:.2f}"
            if hist.step else "")
    print(f"trained to step {cfg.steps} in {seconds:.0f} s{last}")
    print(f"wrote {args.out}/samples.png, history.png, history.csv, checkpoint.pt")
    return 0


def check_out(args) -> None:
    """Refuses, before any work, an --out that is a file or cannot be written, or
    one that holds files this run would replace without --force or --resume."""
    out = args.out
    if out.exists() and not out.is_dir():
        raise GantutorError(f"--out {out} is a file; give a folder (it is made if "
                            "missing), e.g. runs/digits")
    options.writable_folder(out, "--out")
    folders = [name for name in OUTPUTS if (out / name).is_dir()]
    if folders:
        raise GantutorError(f"{out / folders[0]} is a folder, where this run writes "
                            "a file: move it, or choose another --out folder")
    if args.resume and (out / "checkpoint.pt").is_file():
        return  # the run continued owns the files it wrote
    existing = [name for name in OUTPUTS
                if (out / name).exists() or (out / name).is_symlink()]
    if not existing or args.force:
        return
    if "checkpoint.pt" in existing:
        raise GantutorError(f"{out / 'checkpoint.pt'} exists already: add --resume "
                            "to continue that run, --force to start a new one over "
                            "it, or choose another --out folder")
    raise GantutorError(f"{out} holds {', '.join(existing)} already, which this run "
                        "would replace: add --force to replace them, or choose "
                        "another --out folder")


def _write_figures(args, G, hist, data, model: str, cfg: TrainConfig) -> None:
    """samples.png (points, a grid, or one row per class) and history.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import plot
    from ..checkpoint import atomic_write
    from ..gan.train import sample

    def save(fig, name: str, dpi: int) -> None:  # whole or not at all, like the rest
        atomic_write(args.out / name,
                     lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
        plt.close(fig)

    x = sample(G, 64, seed=cfg.seed + 1)
    if x.dim() == 2:
        fig = plot.scatter_2d(sample(G, 2500, seed=cfg.seed + 1), data.modes,
                              title=f"{args.dataset}: 2,500 samples")
        save(fig, "samples.png", dpi=120)
    elif G.num_classes:  # one row per class, the same noise in each column
        from ..gan.latent import class_sheet

        plot.save_image_grid(class_sheet(G, per_class=8, seed=cfg.seed + 1)[0],
                             args.out / "samples.png", nrow=8)
    else:
        plot.save_image_grid(x, args.out / "samples.png", nrow=8)
    if hist.step:
        fig = plot.history(hist, title=f"{args.dataset}, {model}, {cfg.loss}")
        save(fig, "history.png", dpi=100)
