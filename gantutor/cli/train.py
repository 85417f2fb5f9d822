"""``gantutor train`` and ``gantutor sample``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..errors import GantutorError

# Defaults per dataset, chosen so a 2-core CPU gives good samples in a few minutes.
DATASET_DEFAULTS = {
    "digits": {"model": "mlp", "steps": 6000, "batch_size": 64, "lr": 2e-4},
    "mnist": {"model": "mlp", "steps": 25000, "batch_size": 64, "lr": 2e-4},
    "fashion-mnist": {"model": "mlp", "steps": 25000, "batch_size": 64, "lr": 2e-4},
    "ring": {"model": "mlp", "steps": 4000, "batch_size": 128, "lr": 1e-3},
    "grid": {"model": "mlp", "steps": 4000, "batch_size": 128, "lr": 1e-3},
}


def configure_train(p: argparse.ArgumentParser) -> None:
    from ..data import DATASETS
    from ..gan.losses import LOSSES
    from ..gan.models import MODELS

    p.add_argument("--dataset", default="digits", choices=DATASETS,
                   help="training data; digits ships with scikit-learn and needs no "
                        "network, mnist/fashion-mnist download or read GANTUTOR_DATA")
    p.add_argument("--split", default="auto", choices=("auto", "train", "test"),
                   help="which split to train on; auto takes the training split if "
                        "present, else the test split")
    p.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION",
                   help="keep this seeded fraction of the split out of training, so "
                        "`gantutor evaluate` can test membership inference on it "
                        "(e.g. 0.5; 0 trains on the whole split)")
    p.add_argument("--data-dir", default=None,
                   help="folder with IDX files (default: $GANTUTOR_DATA, then "
                        "~/.cache/gantutor)")
    p.add_argument("--out", required=True, type=Path,
                   help="output folder for samples.png, history.png, history.csv, "
                        "checkpoint.pt")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="mlp: fully connected GAN; dcgan: convolutional GAN "
                        "(default depends on the dataset: mlp)")
    p.add_argument("--loss", choices=tuple(LOSSES), default="nonsaturating",
                   help="GAN loss; nonsaturating is the standard choice")
    p.add_argument("--steps", type=int, default=None,
                   help="generator updates in total (default depends on the dataset)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per batch (default depends on the dataset)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate for both networks (default 2e-4 for "
                        "images, 1e-3 for the 2-D mixtures)")
    p.add_argument("--d-steps", type=int, default=1,
                   help="discriminator updates per generator update")
    p.add_argument("--gp-weight", type=float, default=0.0,
                   help="WGAN-GP gradient penalty weight (10 with --loss wasserstein)")
    p.add_argument("--r1-weight", type=float, default=0.0, help="R1 penalty weight γ")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="one-sided label smoothing: real targets become 1 - this")
    p.add_argument("--spectral-norm", action="store_true",
                   help="spectral normalisation on every discriminator layer")
    p.add_argument("--pack", type=int, default=1,
                   help="PacGAN packing: the discriminator judges this many samples "
                        "at once")
    p.add_argument("--conditional", action="store_true",
                   help="condition both networks on the class label (samples.png "
                        "then shows one row per class; sample with --label K)")
    p.add_argument("--device", default="auto",
                   help="auto picks CUDA, then Apple MPS, then CPU; or cpu, cuda, mps")
    p.add_argument("--amp", action="store_true",
                   help="bf16 autocast where the device has bf16 units (a GPU with "
                        "native bf16, a CPU with AMX or AVX-512 BF16); fp32 elsewhere")
    p.add_argument("--compile", action="store_true", help="torch.compile both networks")
    p.add_argument("--channels-last", action="store_true",
                   help="channels-last memory format (convolutional models)")
    p.add_argument("--ddp", action="store_true",
                   help="train on the processes that `torchrun --nproc_per_node=N -m "
                        "gantutor train --ddp ...` starts (DistributedDataParallel); "
                        "--batch-size is then the global batch; only rank 0 writes")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--log-every", type=int, default=50,
                   help="steps between loss readings (and history rows)")
    p.add_argument("--checkpoint-every", type=int, default=500,
                   help="steps between checkpoints (a multiple of --log-every)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt up to --steps")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_train(args) -> int:
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import plot
    from ..data import dataset_report, holdout_split, load_dataset
    from ..env import resolve_device, seed_everything
    from ..gan import distributed
    from ..gan.models import build_gan, count_parameters
    from ..gan.train import TrainConfig, sample, train_gan

    defaults = DATASET_DEFAULTS[args.dataset]
    model = args.model or defaults["model"]
    device = distributed.init(args.device) if args.ddp else resolve_device(args.device)
    main = distributed.is_main() if args.ddp else True
    say = print if main else (lambda *a, **k: None)  # only rank 0 talks
    seed_everything(args.seed)
    data = load_dataset(args.dataset, split=args.split, root=args.data_dir)
    if args.holdout:  # the held-out part is rebuilt by `gantutor evaluate`
        data, _ = holdout_split(data, args.holdout, seed=0)
    say(dataset_report(data))
    if args.dataset in ("ring", "grid") and model != "mlp":
        raise GantutorError("the 2-D mixtures need --model mlp")
    extra = {"hidden": (128, 128, 128)} if args.dataset in ("ring", "grid") else {}
    G, D = build_gan(model, data.shape, num_classes=data.num_classes if
                     args.conditional else 0, pack=args.pack,
                     spectral_norm=args.spectral_norm, **extra)
    cfg = TrainConfig(
        steps=args.steps if args.steps is not None else defaults["steps"],
        batch_size=args.batch_size or defaults["batch_size"],
        lr=args.lr or defaults["lr"], loss=args.loss, d_steps=args.d_steps,
        gp_weight=args.gp_weight, r1_weight=args.r1_weight,
        label_smoothing=args.label_smoothing, seed=args.seed, device=str(device),
        amp=args.amp, compile=args.compile, log_every=args.log_every,
        checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
        channels_last=args.channels_last, ddp=args.ddp,
    )
    if args.batch_size is None and cfg.batch_size > len(data):
        cfg.batch_size = len(data)
    ckpt = args.out / "checkpoint.pt"
    if ckpt.exists() and not args.resume:
        raise GantutorError(f"{ckpt} exists already: add --resume to continue that "
                            "run, "
                            "or choose another --out folder")
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
    x = sample(G, 64, seed=cfg.seed + 1)
    if x.dim() == 2:
        fig = plot.scatter_2d(sample(G, 2500, seed=cfg.seed + 1), data.modes,
                              title=f"{args.dataset}: 2,500 samples")
        fig.savefig(args.out / "samples.png", dpi=120)
        plt.close(fig)
    elif G.num_classes:  # one row per class, the same noise in each column
        from ..gan.latent import class_sheet

        plot.save_image_grid(class_sheet(G, per_class=8, seed=cfg.seed + 1)[0],
                             args.out / "samples.png", nrow=8)
    else:
        plot.save_image_grid(x, args.out / "samples.png", nrow=8)
    if hist.step:
        fig = plot.history(hist, title=f"{args.dataset}, {model}, {cfg.loss}")
        fig.savefig(args.out / "history.png", dpi=100)
        plt.close(fig)
    hist.to_csv(args.out / "history.csv")
    last = (f"; last D loss {hist.d_loss[-1]:.3f}, G loss {hist.g_loss[-1]:.3f}, "
            f"D(x) {hist.d_real[-1]:.2f}, D(G(z)) {hist.d_fake[-1]:.2f}"
            if hist.step else "")
    print(f"trained to step {cfg.steps} in {seconds:.0f} s{last}")
    print(f"wrote {args.out}/samples.png, history.png, history.csv, checkpoint.pt")
    return 0


def configure_sample(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="checkpoint.pt written by gantutor train")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, type=Path,
                   help="output file: .png for a grid, .npy for an (N, C, H, W) "
                        "float32 "
                        "array in [-1, 1]")
    p.add_argument("--label", type=int, default=None,
                   help="class to draw from (conditional models only)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the noise")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def run_sample(args) -> int:
    from .. import plot
    from ..checkpoint import atomic_write
    from ..gan.train import load_generator, sample

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
