"""Remedies for mode collapse, as one table of settings, and their evaluation.

Every remedy is a change of the training settings (:class:`~gantutor.TrainConfig`
fields) or of the discriminator (:func:`~gantutor.build_gan` arguments) on top of one
shared set-up for the 2-D mixtures (:data:`BASE_MODEL`, :data:`BASE_TRAIN`).
:func:`run_remedy` trains one and scores it the way VEEGAN and PacGAN do
(:func:`gantutor.evaluation.metrics.mode_coverage` on 2,500 samples);
:func:`coverage_table` repeats that over remedies, mixtures and seeds, and
:func:`format_coverage_table` prints the means next to the published numbers
(:data:`PUBLISHED`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..data import load_dataset
from ..env import seed_everything
from ..errors import GantutorError
from ..evaluation.metrics import mode_coverage
from ..gan.config import TrainConfig
from ..gan.models import build_gan
from ..gan.train import sample, train_gan

N_EVAL = 2500  # samples scored per trained generator, as in VEEGAN and PacGAN


@dataclass(frozen=True)
class Remedy:
    """One row of the table: what changes relative to the shared set-up, and why."""

    label: str  # as printed in the table
    train: dict = field(default_factory=dict)  # TrainConfig fields
    model: dict = field(default_factory=dict)  # build_gan arguments (pack, ...)
    source: str = ""  # the paper it comes from
    steps_scale: int = 1  # trains this many times the shared number of steps


# The shared set-up for the 2-D mixtures: an MLP generator from 2-D noise with ReLU
# and batch norm (as in VEEGAN's and PacGAN's experiments; with LeakyReLU many more
# samples fall between the modes), an MLP discriminator with LeakyReLU, Adam, and a
# learning rate that falls linearly to 0 over the second half of the run (the
# clusters then settle to their width of 0.01 or 0.05).
BASE_MODEL = {"z_dim": 2, "hidden": (128, 128, 128), "g_activation": "relu",
              "batch_norm": True}
BASE_TRAIN = {"batch_size": 256, "lr": 1e-3, "lr_decay": 0.5,
              "loss": "nonsaturating"}
TRAIN_STEPS = 4000  # generator updates per run in the benchmark

REMEDIES = {
    "gan_minimax": Remedy(
        "GAN, minimax (saturating) loss", {"loss": "minimax"},
        source="Goodfellow et al. 2014"),
    "gan": Remedy(
        "GAN, non-saturating loss", {},
        source="Goodfellow et al. 2014"),
    "label_smoothing": Remedy(
        "+ one-sided label smoothing 0.1", {"label_smoothing": 0.1},
        source="Salimans et al. 2016"),
    "hinge": Remedy(
        "hinge loss", {"loss": "hinge"},
        source="Lim & Ye 2017; Miyato et al. 2018"),
    "spectral_norm": Remedy(
        "+ spectral normalisation of D", {}, {"spectral_norm": True},
        source="Miyato et al. 2018"),
    "wgan_gp": Remedy(
        "WGAN-GP (λ = 10, 5 critic steps)",
        {"loss": "wasserstein", "gp_weight": 10.0, "d_steps": 5},
        source="Gulrajani et al. 2017"),
    "r1": Remedy(
        "+ R1 penalty (γ = 0.1)", {"r1_weight": 0.1},
        source="Mescheder et al. 2018"),
    "pacgan2": Remedy(
        "PacGAN2 (D sees 2 samples)", {}, {"pack": 2},
        source="Lin et al. 2018"),
    "pacgan4": Remedy(
        "PacGAN4 (D sees 4 samples)", {}, {"pack": 4},
        source="Lin et al. 2018"),
    "more_compute": Remedy(
        "+ batch 1,024 and 4x the steps", {"batch_size": 1024}, steps_scale=4,
        source="Brock et al. 2019 (larger batches)"),
}

# Published means (modes covered, % high-quality samples) on the same mixtures and
# the same score: PacGAN (Lin et al., NeurIPS 2018) Table 1, means over 10 runs, and
# VEEGAN (Srivastava et al., NeurIPS 2017) Table 1, means over 5 runs.
PUBLISHED = [
    ("PacGAN Table 1", "GAN", {"ring": (6.3, 98.2), "grid": (17.3, 94.8)}),
    ("PacGAN Table 1", "PacGAN2", {"ring": (7.9, 95.6), "grid": (23.8, 91.3)}),
    ("PacGAN Table 1", "PacGAN4", {"ring": (7.8, 95.9), "grid": (24.8, 93.6)}),
    ("VEEGAN Table 1", "GAN", {"ring": (1.0, 99.3), "grid": (3.3, 0.5)}),
    ("VEEGAN Table 1", "Unrolled GAN", {"ring": (7.6, 35.6), "grid": (23.6, 16.0)}),
    ("VEEGAN Table 1", "VEEGAN", {"ring": (8.0, 52.9), "grid": (24.6, 40.0)}),
]


# What the published runs trained for, where their code says it: PacGAN's 2-D
# experiments (github.com/fjxmlzn/PacGAN, synthetic_data_experiments/*/config.py) run
# 400 epochs over 100,000 samples in batches of 100, i.e. 400,000 updates, with a
# 4 x 400 generator and a 3 x 200 maxout discriminator, Adam lr 1e-4, beta1 0.8.
PUBLISHED_COMPUTE = {"PacGAN Table 1": "400,000 x 100"}


def get_remedy(name: str) -> Remedy:
    try:
        return REMEDIES[name]
    except KeyError:
        raise GantutorError(f"unknown remedy {name!r}: choose one of "
                            f"{', '.join(REMEDIES)}") from None


def build(remedy: str, dataset: str, seed: int = 0, steps: int = TRAIN_STEPS,
          device: str = "cpu", **overrides):
    """(G, D, cfg, data) for one remedy on the ``ring`` or ``grid`` mixture.

    ``steps`` is the shared number of generator updates; a remedy with
    ``steps_scale`` k trains k times as many. ``overrides`` replace TrainConfig fields
    (e.g. ``snapshot_every``).
    """
    r = get_remedy(remedy)
    data = load_dataset(dataset)
    if not hasattr(data, "modes"):
        raise GantutorError(f"{dataset!r} is not a 2-D mixture: use ring or grid")
    seed_everything(seed)
    G, D = build_gan("mlp", data.shape, **{**BASE_MODEL, **r.model})
    settings = {**train_settings(remedy, steps), "seed": seed, "device": device,
                "progress": False, "log_every": 100, "checkpoint_every": 100,
                **overrides}
    return G, D, TrainConfig(**settings), data


def train_settings(remedy: str, steps: int = TRAIN_STEPS) -> dict:
    """A remedy's TrainConfig fields: the shared ones, its own, and its number of
    steps (``steps`` times its ``steps_scale``)."""
    r = get_remedy(remedy)
    return {**BASE_TRAIN, **r.train, "steps": steps * r.steps_scale}


def score(G, data, seed: int = 0, n: int = N_EVAL):
    """VEEGAN/PacGAN score of a generator: (modes covered, fraction high-quality)."""
    return mode_coverage(sample(G, n, seed=seed), data.modes, data.std)


def run_remedy(remedy: str, dataset: str, seed: int = 0, steps: int = TRAIN_STEPS,
               device: str = "cpu", keep_samples: bool = False) -> dict:
    """Train one remedy on one mixture with one seed and score it.

    Returns {remedy, dataset, seed, steps, batch_size, modes, hq (percent),
    seconds}, where ``steps`` and ``batch_size`` are those the run trained with;
    with ``keep_samples`` also ``samples``, the 2,500 scored points (to plot them
    without training again).
    """
    G, D, cfg, data = build(remedy, dataset, seed, steps, device)
    t0 = time.perf_counter()
    train_gan(G, D, data, cfg)
    seconds = time.perf_counter() - t0
    points = sample(G, N_EVAL, seed=10_000 + seed)
    result = mode_coverage(points, data.modes, data.std)
    out = {"remedy": remedy, "dataset": dataset, "seed": seed, "steps": cfg.steps,
           "batch_size": cfg.batch_size, "modes": result.modes_covered,
           "hq": 100 * result.high_quality, "seconds": seconds}
    if keep_samples:
        out["samples"] = points
    return out


def _run_job(job):
    import torch

    torch.set_num_threads(1)
    index, args = job
    return index, run_remedy(*args)


def _cost(remedy: str) -> float:
    """A remedy's training cost relative to the shared set-up (for scheduling)."""
    cfg = TrainConfig(**train_settings(remedy, steps=1))
    return cfg.steps * cfg.batch_size / BASE_TRAIN["batch_size"] * cfg.d_steps


def coverage_table(remedies=None, datasets=("ring", "grid"), seeds=(0, 1, 2),
                   steps: int = TRAIN_STEPS, workers: int = 1, device: str = "cpu",
                   on_result=None, keep_samples: bool = False) -> list[dict]:
    """Run every remedy x dataset x seed; returns the per-run results.

    ``workers`` > 1 trains that many runs at once in separate processes (one thread
    each: these networks are too small for several threads to help one run), the
    costliest runs first so that no long run is left alone at the end.
    ``on_result(result)`` is called as each run finishes. The results come back in
    the same order, and with the same numbers, whatever ``workers`` is.
    ``keep_samples``: each result also holds its scored points (see run_remedy).
    """
    remedies = list(remedies or REMEDIES)
    for name in remedies:
        get_remedy(name)
    jobs = [(r, d, s, steps, device, keep_samples)
            for d in datasets for r in remedies for s in seeds]
    if workers <= 1:
        results = []
        for job in jobs:
            results.append(run_remedy(*job))
            if on_result is not None:
                on_result(results[-1])
        return results
    import multiprocessing as mp

    order = sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i][0]))
    done: dict = {}
    with mp.get_context("spawn").Pool(workers) as pool:
        for index, res in pool.imap_unordered(_run_job, [(i, jobs[i]) for i in order]):
            done[index] = res
            if on_result is not None:
                on_result(res)
    return [done[i] for i in range(len(jobs))]


def summarise_coverage(results: list[dict]) -> list[dict]:
    """Means (and sample standard deviations) over seeds, one row per remedy x data."""
    groups: dict = {}
    for r in results:
        groups.setdefault((r["remedy"], r["dataset"]), []).append(r)
    rows = []
    for (remedy, dataset), runs in groups.items():
        modes = [r["modes"] for r in runs]
        hq = [r["hq"] for r in runs]
        rows.append({"remedy": remedy, "dataset": dataset, "runs": len(runs),
                     "steps": runs[0]["steps"], "batch_size": runs[0]["batch_size"],
                     "modes": _mean(modes), "modes_sd": _sd(modes),
                     "hq": _mean(hq), "hq_sd": _sd(hq),
                     "seconds": _mean([r["seconds"] for r in runs])})
    return rows


def _mean(v):
    return sum(v) / len(v)


def _sd(v):
    if len(v) < 2:
        return 0.0
    m = _mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def meets_target(row_ring: dict, row_grid: dict, ring_modes: float = 7.5,
                 grid_modes: float = 23.0, hq: float = 90.0) -> bool:
    """The course's target: ≥ 7.5/8 ring and ≥ 23/25 grid modes, ≥ 90% high-quality."""
    return (row_ring["modes"] >= ring_modes and row_grid["modes"] >= grid_modes
            and row_ring["hq"] >= hq and row_grid["hq"] >= hq)


def best(rows: list[dict]) -> str | None:
    """The best remedy: one that meets the target if any does, then the most modes
    covered on both mixtures (ring share + grid share), then the higher high-quality
    rate; None without a remedy that has both a ring and a grid row."""
    by = {(r["remedy"], r["dataset"]): r for r in rows}
    names = {r["remedy"] for r in rows}
    complete = [n for n in names if (n, "ring") in by and (n, "grid") in by]
    if not complete:
        return None

    def key(n):
        ring, grid = by[(n, "ring")], by[(n, "grid")]
        return (meets_target(ring, grid), ring["modes"] / 8 + grid["modes"] / 25,
                ring["hq"] + grid["hq"])

    return max(sorted(complete), key=key)


def format_coverage_table(rows: list[dict], published: bool = True) -> str:
    """A markdown table: ours (mean ± sd over seeds), then the published rows.

    Each row says what it cost: generator updates x batch size, and for our runs the
    mean training time of one run (one CPU thread each when trained by
    :func:`coverage_table` with workers).
    """
    by = {(r["remedy"], r["dataset"]): r for r in rows}
    order = [n for n in REMEDIES if any(k[0] == n for k in by)]
    lines = ["| method | runs | steps x batch | s per run | ring: modes (of 8) "
             "| ring: % HQ | grid: modes (of 25) | grid: % HQ |",
             "|---|---|---|---|---|---|---|---|"]
    for name in order:
        mine = [by[k] for k in by if k[0] == name]
        runs = max(r["runs"] for r in mine)
        compute = f"{mine[0]['steps']:,} x {mine[0]['batch_size']:,}"
        seconds = f"{_mean([r['seconds'] for r in mine]):.0f}"
        cells = []
        for ds in ("ring", "grid"):
            r = by.get((name, ds))
            cells += (["–", "–"] if r is None else
                      [_mean_sd(r, "modes"), _mean_sd(r, "hq")])
        lines.append(f"| {REMEDIES[name].label} (this course) | {runs} | {compute} | "
                     f"{seconds} | " + " | ".join(cells) + " |")
    if published:
        for source, label, vals in PUBLISHED:
            runs = 10 if source.startswith("PacGAN") else 5
            compute = PUBLISHED_COMPUTE.get(source, "–")
            cells = []
            for ds in ("ring", "grid"):
                m, h = vals[ds]
                cells += [f"{m:g}", f"{h:g}"]
            lines.append(f"| {label} ({source}) | {runs} | {compute} | – | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_sd(row: dict, key: str) -> str:
    """The mean ± sd over the seeds, or the one value of a single run."""
    if row["runs"] < 2:
        return f"{row[key]:.1f}"
    return f"{row[key]:.1f} ± {row[key + '_sd']:.1f}"


def coverage_summary_line(rows: list[dict]) -> str:
    """The benchmark's last line: the best remedy's means on both mixtures."""
    name = best(rows)
    if name is None:
        raise GantutorError("the table needs a ring and a grid row for some remedy")
    by = {(r["remedy"], r["dataset"]): r for r in rows}
    ring, grid = by[(name, "ring")], by[(name, "grid")]
    return (f"ring_best={ring['modes']:.2f} ring_best_hq={ring['hq']:.1f} "
            f"grid_best={grid['modes']:.2f} grid_best_hq={grid['hq']:.1f} "
            f"best={name}")
