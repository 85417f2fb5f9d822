"""Does generated data help a classifier with few labels? Notebook 09's grid, whole.

Notebook 09 runs a smaller version (10 labelled images per class, shorter training)
to stay inside a lab period; this script runs the full grid on the same data (the
course's members half as the labelled pool, the held-out half as the test set), with
the same judge and the same conditions, and prints the same tables:

    python benchmarks/augmentation.py                         # 10 and 100 per class
    python benchmarks/augmentation.py --per-class 10 100 --seeds 0 1 2 3 4
    python benchmarks/augmentation.py --gan-steps 2000 --gan-lr 6e-4  # notebook's

The defaults are the notebook's earlier full settings: classifiers of 600 steps,
conditional GANs of 5,000 steps at lr 2e-4 on the few labels and 8,000 on all of
them; the notebook trains its few-label cGANs 2,000 steps at lr 6e-4, which gave
samples of the same kind (label agreement, copies) on the setting measured.

Roughly 20 CPU-minutes at the defaults, estimated from per-step costs (each
conditional GAN on the few labels is the bulk). The last line is ``key=value``
pairs: per setting, the mean paired difference to "real only" in points for each
condition that adds images.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gantutor as gt  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, nargs="+", default=[10, 100])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=600, help="classifier steps")
    p.add_argument("--gan-steps", type=int, default=5000,
                   help="steps of each conditional GAN trained on the few labels")
    p.add_argument("--gan-lr", type=float, default=2e-4,
                   help="their Adam learning rate (notebook 09: 6e-4 for 2,000 steps)")
    p.add_argument("--cgan-steps", type=int, default=8000,
                   help="steps of the conditional GAN trained on every label")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)

    start = time.perf_counter()
    device = gt.env.resolve_device(args.device)
    gt.env.seed_everything(0)
    pool, test = gt.runs.course_data(device)
    cfg = gt.augment.AugmentConfig(
        per_class=args.per_class, seeds=args.seeds, steps=args.steps,
        gan_steps=args.gan_steps, gan_lr=args.gan_lr,
        max_shift=2 if pool.shape[-1] >= 28 else 1)
    G_c, D_c = gt.build_gan("mlp", pool.shape, num_classes=pool.num_classes, seed=0)
    gt.train_or_reuse("nb09-cgan", G_c, D_c, pool,
                      gt.TrainConfig(steps=args.cgan_steps, seed=0, progress=False,
                                     device=str(device)))
    judge = gt.augment.train_cnn(pool.x, pool.y, pool.num_classes, cfg, seed=0)
    print(f"judge: test accuracy {gt.augment.test_accuracy(judge, test.x, test.y):.1%}"
          f", on its own training images "
          f"{gt.augment.test_accuracy(judge, pool.x, pool.y):.1%}")
    results = gt.augment.augmentation_experiment(pool, test, cfg, G_all=G_c,
                                                 judge=judge)
    summary = gt.augment.summarise_accuracy(results)
    print(f"test accuracy on {len(test):,} test images; {len(cfg.seeds)} seeds; "
          f"{cfg.steps} classifier steps; cGANs: {cfg.gan_steps} steps on the few "
          f"labels, {args.cgan_steps} on all")
    print(gt.augment.format_summary(summary))
    print(gt.augment.format_novelty(summary))
    print(gt.augment.verdicts(summary))
    print(f"wall time {time.perf_counter() - start:.0f} s")
    print(" ".join(f"n{s.per_class}_{s.condition.split('+ ')[-1].replace(' ', '_')}"
                   f"={s.diff_mean * 100:+.1f}".replace("(", "").replace(")", "")
                   for s in summary if s.condition != gt.augment.CONDITIONS[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
