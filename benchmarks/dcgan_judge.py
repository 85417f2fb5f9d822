"""What the pixel judge makes of the course's DCGAN under other training settings.

Notebook 06 trains the course's DCGAN (``gt.runs.DCGAN_RUN``) and asks the
independent pixel judge (``gt.judge``) about 1,000 of its samples; the course's bar
is at least 9 of 10 digits recognised and a mean top-class probability of at least
0.9. The course's run is the DCGAN paper's networks at width 32 with two changes: G
draws its image with a 3x3 convolution (``g_refine``) and D judges the whole digit
through a fully connected head (``d_head``), trained with the hinge loss for 3,000
steps. This script measures how it got there: the ``paper`` row is the paper's
networks (1,500 steps, the binary cross-entropy), and every other variant trains
them from the same initial weights on the same data (the course's members half) with
one or two things changed, and prints the judge's verdict for each. The paper's
discriminator adds up, with one linear layer, what each 10x10 patch looks like; the
``d_head`` variants give it a 3x3 stage and a fully connected hidden layer before the
logit (``build_gan(..., d_head=256)``). Three more columns say where the samples
differ from real digits, with held-out real digits as the first row:

- ``centre``: how far each image's centre of ink lies from the real digits' mean
  centre (root mean square, pixels); MNIST placed every digit by its centre of mass;
- ``re-centred``: the judge's mean top-class probability after shifting every image
  so its centre of ink sits there (``gt.metrics.recentre``);
- ``nearest``: the median distance to the nearest training image (pixel space).

Run it as:

    python benchmarks/dcgan_judge.py              # every variant, ~65 min on 2 cores
    python benchmarks/dcgan_judge.py --variants course paper hinge
    python benchmarks/dcgan_judge.py --scale 0.1  # every run 10x shorter

The last line is ``key=value`` pairs: each variant's mean top-class probability.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gantutor as gt  # noqa: E402

# The DCGAN paper's networks at width 32, trained as the course trained them before
# its run gained g_refine, d_head and the hinge loss: the base of every variant but
# "course".
PAPER = gt.runs.CourseRun(
    model="dcgan", seed=0, build=dict(width=32),
    train=dict(batch_size=64, lr=4e-4, lr_decay=0.5, log_every=25, snapshot_every=250),
    full_steps=1500)

# name: (what changes, build_gan keyword arguments, TrainConfig changes, steps factor)
VARIANTS = {
    "course": ("the course's run (gt.runs.DCGAN_RUN)", {}, {}, 1.0),
    "paper": ("the paper's networks, 1,500 steps", {}, {}, 1.0),
    "longer": ("twice the steps", {}, {}, 2.0),
    "lr_2e-4_longer": ("lr 2e-4 (DCGAN's), twice the steps", {}, {"lr": 2e-4}, 2.0),
    "batch_128": ("batch 128", {}, {"batch_size": 128}, 1.0),
    "width_64": ("width 64, lr 2e-4", {"width": 64}, {"lr": 2e-4}, 1.0),
    "label_smoothing": ("one-sided label smoothing 0.1", {},
                        {"label_smoothing": 0.1}, 1.0),
    "r1": ("R1 penalty, gamma 1", {}, {"r1_weight": 1.0}, 1.0),
    "spectral_norm": ("spectral norm in D, lr 2e-4", {"spectral_norm": True},
                      {"lr": 2e-4}, 1.0),
    "hinge": ("hinge loss", {}, {"loss": "hinge"}, 1.0),
    "hinge_4x": ("hinge loss, four times the steps", {}, {"loss": "hinge"}, 4.0),
    "ttur": ("lr 1e-4 for G, 4e-4 for D (TTUR)", {}, {"lr": 1e-4, "lr_d": 4e-4}, 1.0),
    "d_width_64": ("D of width 64 (4x the parameters)", {"d_width": 64}, {}, 1.0),
    "d_head": ("D judges the whole digit (d_head 256)", {"d_head": 256}, {}, 1.0),
    "d_head_hinge": ("d_head 256, hinge loss", {"d_head": 256}, {"loss": "hinge"},
                     1.0),
    "d_head_hinge_2x": ("d_head 256, hinge loss, twice the steps", {"d_head": 256},
                        {"loss": "hinge"}, 2.0),
    "refine_d_head_hinge": ("G draws with a 3x3 conv, d_head 256, hinge",
                            {"g_refine": True, "d_head": 256}, {"loss": "hinge"}, 1.0),
}


def diagnose(x, members, judge, centre) -> dict:
    """The judge's verdict on images ``x`` and where they differ from real digits."""
    verdict = gt.judge.judge_samples(judge, x)
    com = gt.metrics.centre_of_mass(x)
    spread = float(((com - centre) ** 2).sum(dim=1).mean().sqrt())
    moved = gt.judge.judge_samples(judge, gt.metrics.recentre(x, centre.tolist()))
    nearest, _ = gt.metrics.nearest_neighbours(x, members.x)
    return {"classes": verdict.classes_recognised, "mean_top": verdict.mean_top_prob,
            "passes": verdict.passes(), "centre": spread,
            "recentred": moved.mean_top_prob, "nearest": float(nearest.median())}


def run_variant(name: str, members, judge, device, centre, scale: float = 1.0) -> dict:
    """Train one variant from its base run's initial weights; the judge's verdict on
    1,000 samples (noise seed 2, as notebook 06 draws them)."""
    label, build, train, factor = VARIANTS[name]
    run = gt.runs.DCGAN_RUN if name == "course" else PAPER
    build = {**run.build, **build}
    G, D = gt.build_gan(run.model, members.shape, seed=run.seed, **build)
    steps = max(1, round(run.full_steps * factor * scale))
    cfg = replace(run.config(device), steps=steps, snapshot_every=steps, **train)
    start = time.perf_counter()
    gt.train_gan(G.to(device), D.to(device), members, cfg)
    seconds = time.perf_counter() - start
    x = gt.sample(G, 1000, seed=2)
    return {"variant": name, "label": label, "steps": steps, "seconds": seconds,
            **diagnose(x, members, judge, centre)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                   default=list(VARIANTS))
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every run's steps by this (for a quick look)")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    if not args.scale > 0:
        p.error(f"--scale must be > 0, got {args.scale}")
    device = gt.env.resolve_device(args.device)
    members, held_out = gt.runs.course_data(device)
    judge = gt.judge.get_pixel_judge(members.name)
    real = held_out.x[:1000].cpu()
    centre = gt.metrics.centre_of_mass(real).mean(dim=0)
    rows = [{"variant": "real", "label": "held-out real digits (reference)",
             "steps": 0, "seconds": 0.0,
             **diagnose(real, members, judge, centre)}]
    rows += [run_variant(name, members, judge, device, centre, args.scale)
             for name in args.variants]
    print(f"{'variant':<20}{'what changes':<44}{'steps':>7}{'s':>6}"
          f"{'classes':>9}{'mean top':>10}  bar   {'centre':>6}{'re-centred':>11}"
          f"{'nearest':>8}")
    for r in rows:
        print(f"{r['variant']:<20}{r['label']:<44}{r['steps']:>7,}{r['seconds']:>6.0f}"
              f"{r['classes']:>6}/10{r['mean_top']:>10.3f}  "
              f"{'meets' if r['passes'] else 'below'}{r['centre']:>7.2f}"
              f"{r['recentred']:>11.3f}{r['nearest']:>8.2f}")
    rows = rows[1:]
    print(" ".join(f"{r['variant']}={r['mean_top']:.3f}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
