"""The GAN training loop: ``train_gan(G, D, data, cfg)`` returns the history.

The loop knows nothing about the networks' insides. Per generator update it takes
``d_steps`` discriminator steps on detached fakes, then one generator step (both from
:mod:`gantutor.gan.steps`). It is written to keep the device busy: the data sits on
the device whole, batches are index slices, noise is drawn on the device, and the
losses stay *on the device*, read back only every ``log_every`` steps (one host
synchronisation per ``log_every`` steps, not per step). With ``ddp=True`` it runs on
several processes through DistributedDataParallel (see :mod:`gantutor.gan.distributed`).
"""

from __future__ import annotations

import contextlib
import csv
import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..checkpoint import (
    count_non_finite,
    load_checkpoint,
    load_state,
    remove_leftover_temporaries,
    save_checkpoint,
)
from ..data import Batches
from ..env import bf16_supported, resolve_device
from ..errors import GantutorError
from . import distributed, restore, steps
from .config import TrainConfig
from .losses import get_losses, gradient_penalty, r1_penalty
from .restore import load_discriminator, load_generator  # noqa: F401 (gt. names)

# the files a run writes in its folder (their temporaries are cleaned up on start)
RUN_FILES = ("checkpoint.pt", "history.csv", "samples.png", "history.png")


def _import_cpp_extension_quietly() -> None:
    """Import ``torch.utils.cpp_extension`` with its logger held at ERROR.

    torch.compile's CPU backend imports it. On import it looks for a CUDA toolkit and,
    where one is installed (``nvcc`` on the PATH) but no GPU can be used, logs "No
    CUDA runtime is found, using CUDA_HOME=..." to stderr: true, harmless for CPU
    code, and a stray warning in the learner's notebook output. Only that module's
    logger, only during its import; every other warning still shows.
    """
    import logging
    import sys

    if "torch.utils.cpp_extension" in sys.modules:
        return
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import torch.utils.cpp_extension  # noqa: F401
    finally:
        logger.setLevel(level)


@dataclass
class History:
    """What a run measured, one entry per ``log_every`` steps (means over the window).

    d_real / d_fake are the mean of D(x) = sigmoid(logit) on real and fake batches.
    ``snapshots`` holds (step, images) from the fixed noise, on the CPU.
    """

    step: list = field(default_factory=list)
    d_loss: list = field(default_factory=list)
    g_loss: list = field(default_factory=list)
    d_real: list = field(default_factory=list)
    d_fake: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)

    COLUMNS = ("step", "d_loss", "g_loss", "d_real", "d_fake")

    def as_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in self.COLUMNS}

    def append(self, step: int, values) -> None:
        self.step.append(step)
        for name, v in zip(self.COLUMNS[1:], values):
            getattr(self, name).append(float(v))

    def to_csv(self, path) -> None:
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(self.COLUMNS)
                for row in zip(*(getattr(self, k) for k in self.COLUMNS)):
                    w.writerow([row[0]] + [f"{v:.6g}" for v in row[1:]])

        from ..checkpoint import atomic_write

        atomic_write(path, write)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**{k: list(d.get(k, [])) for k in cls.COLUMNS})


class NonFiniteLossError(GantutorError):
    """A loss, weight or optimiser state became NaN or infinite; the run stops and
    the last checkpoint with finite values is kept."""


def precision(device: torch.device, amp: bool):
    """The context the training steps run in: bf16 autocast where ``amp`` asks for it
    and the device has bf16 units, else one that changes nothing."""
    if amp and bf16_supported(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def sample(G, n: int, y=None, seed: int = 0, batch_size: int = 1000,
           device=None) -> torch.Tensor:
    """n samples from G in eval mode, reproducible from ``seed``; float32 on the CPU."""
    device = device or next(G.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    was_training = G.training
    G.eval()
    out = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            z = torch.randn(b, G.z_dim, device=device, generator=gen)
            if G.num_classes:
                if y is None:
                    yb = torch.randint(G.num_classes, (b,), device=device,
                                       generator=gen)
                else:
                    yb = torch.as_tensor(y, device=device).long()
                    yb = yb.expand(b) if yb.dim() == 0 else yb[start:start + b]
                out.append(G(z, yb).float().cpu())
            else:
                out.append(G(z).float().cpu())
    G.train(was_training)
    return torch.cat(out)


def train_gan(G, D, data, cfg: TrainConfig | None = None, out: str | Path | None = None,
              on_step: Callable | None = None, resume: bool | str | Path = False,
              ) -> History:
    """Train generator ``G`` against discriminator ``D`` on ``data``; return history.

    data: an ImageData/MixtureData (or any object with ``.x`` and ``.y`` tensors).
    out: folder for ``checkpoint.pt`` (checksummed, atomically written every
        ``checkpoint_every`` steps and at the end, only while every weight and
        optimiser state is finite); None writes nothing.
    on_step: called as ``on_step(step, history)`` every ``log_every`` steps (live
        plots; on the main process only).
    resume: True resumes from ``out/checkpoint.pt`` (an error if there is none); a
        path resumes from that file. The resumed run continues exactly as the
        uninterrupted one would; a checkpoint already past ``cfg.steps`` is refused.
    """
    from tqdm.auto import tqdm

    cfg = cfg or TrainConfig()
    run = _Run(G, D, data, cfg, out, resume)  # device, data, noise, optimisers, DDP
    G.train()
    D.train()
    with tqdm(total=cfg.steps, initial=run.start, desc="training", unit="step",
              disable=not (cfg.progress and run.main), dynamic_ncols=True) as bar:
        for step in range(run.start, cfg.steps):
            run.set_learning_rates(step)
            with run.precision:
                # discriminator: minimise d_loss on real vs detached fakes
                for _ in range(cfg.d_steps):
                    loss_d, d_real, d_fake, x_fake, y_fake = run.d_step()
                # generator: minimise g_loss on D's verdict of fresh (or reused) fakes
                if not run.reuse_fakes:
                    x_fake, y_fake = run.fresh_fakes()
                loss_g = run.g_step(x_fake, y_fake)
            run.window.add(loss_d, loss_g, d_real, d_fake)
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                values = run.end_window(done)  # NaN check, history, checkpoint
                bar.set_postfix(d_loss=f"{values[0]:.3f}", g_loss=f"{values[1]:.3f}",
                                D_x=f"{values[2]:.2f}", D_Gz=f"{values[3]:.2f}")
                if on_step is not None and run.main:
                    on_step(done, run.history)
            bar.update(1)
    if run.start == cfg.steps and run.ckpt_path is not None \
            and not run.ckpt_path.exists():  # nothing was left to train: write one
        run.checkpoint(run.start)
    return run.history


class _Run:
    """One training run's state and parts: its device, data, noise, optimisers, the
    networks as they run (DDP, compile), the log window and the checkpoints."""

    def __init__(self, G, D, data, cfg: TrainConfig, out, resume):
        self.G, self.D, self.data, self.cfg = G, D, data, cfg
        self.device = (distributed.init(cfg.device) if cfg.ddp
                       else resolve_device(cfg.device))
        self.main = not cfg.ddp or distributed.is_main()  # it writes and reports
        self.conditional = getattr(G, "num_classes", 0) > 0
        d_loss, self.g_loss = get_losses(cfg.loss)
        self.d_loss = (functools.partial(d_loss, smooth=cfg.label_smoothing)
                       if cfg.label_smoothing else d_loss)
        x_all, y_all = self._to_device()
        self.gen = torch.Generator(self.device).manual_seed(cfg.seed)
        # rows [lo, hi) of every global batch (of data and of noise) are this process's
        self.lo, self.hi = (distributed.shard_bounds(cfg.batch_size) if cfg.ddp
                            else (0, cfg.batch_size))
        sharded = cfg.ddp and distributed.world_size() > 1
        self.batches = (distributed.ShardedBatches if sharded else Batches)(
            x_all, y_all, batch_size=cfg.batch_size, generator=self.gen)
        self.fixed_z = torch.randn(
            cfg.n_fixed, G.z_dim, device=self.device,
            generator=torch.Generator(self.device).manual_seed(cfg.seed + 1))
        self.fixed_y = (torch.arange(cfg.n_fixed, device=self.device) % G.num_classes
                        if self.conditional else None)
        self.opt_g = adam(G.parameters(), cfg.lr, cfg.betas, self.device)
        self.opt_d = adam(D.parameters(), cfg.lr_d or cfg.lr, cfg.betas, self.device)
        self.history, self.start = History(), 0
        self.ckpt_path = Path(out) / "checkpoint.pt" if out is not None else None
        self.kept = None  # the step of the finite checkpoint in ckpt_path, if any
        if out is not None and self.main:  # what a kill mid-write left behind
            remove_leftover_temporaries(out, RUN_FILES)
        self._resume(resume)
        self._wrap()
        self.penalties = self._penalties()
        self.window = _LogWindow()
        self.precision = precision(self.device, cfg.amp)

    def _to_device(self):
        """Both networks and the whole data on the device (channels-last if asked)."""
        G, D, device = self.G, self.D, self.device
        G.to(device)
        D.to(device)
        x_all = self.data.x.to(device)
        y_all = self.data.y.to(device)
        if self.cfg.channels_last and x_all.dim() == 4:
            G.to(memory_format=torch.channels_last)
            D.to(memory_format=torch.channels_last)
            x_all = x_all.contiguous(memory_format=torch.channels_last)
        return x_all, y_all

    def _resume(self, resume) -> None:
        """Continue from a checkpoint: weights, optimisers, noise, batches, history."""
        if resume in (False, None):
            return
        if resume is True:
            if self.ckpt_path is None:
                raise GantutorError("resume=True needs out, the folder of the run to "
                                    "continue")
            path = self.ckpt_path
            if not path.exists():
                raise GantutorError(
                    f"there is no checkpoint {path} to resume from: check the folder, "
                    "or start a new run there without --resume (resume=False)")
        else:
            path = Path(resume)
        state = load_checkpoint(path, map_location=self.device)
        restore.check_keys(state, path, restore.RESUME_KEYS)
        step = restore.checkpoint_step(state, path, self.cfg.steps)
        history = restore.history_columns(state["history"], History.COLUMNS, path)
        load_state(self.G, state["G"], "generator", path)
        load_state(self.D, state["D"], "discriminator", path)
        restore.check_finite(list(state["G"].values()) + list(state["D"].values()),
                             "networks", path, "it cannot be resumed")
        restore.load_optimiser(self.opt_g, state["opt_g"], "generator's optimiser",
                               path)
        restore.load_optimiser(self.opt_d, state["opt_d"],
                               "discriminator's optimiser", path)
        restore.load_rng(self.gen, state["rng"], path)
        restore.load_batches(self.batches, state["batches"], path)
        self.history = History.from_dict(history)
        self.start = step
        if path == self.ckpt_path:
            self.kept = step

    def _wrap(self) -> None:
        """The networks as the steps call them: each in its own DDP, which averages
        its gradients, and/or compiled."""
        cfg = self.cfg
        self.G_run, self.D_run = self.G, self.D
        if cfg.ddp:
            self.G_run = distributed.wrap(self.G, self.device)
            self.D_run = distributed.wrap(self.D, self.device)
        if cfg.compile:
            _import_cpp_extension_quietly()
            self.G_run = torch.compile(self.G_run)
            self.D_run = torch.compile(self.D_run)
        # D in the generator step: the plain module with frozen weights (no gradients
        # to compute or to average), or under compile the compiled one, never toggled.
        self.D_g = self.D_run if cfg.compile else self.D
        # Without compile, the fake batch made for the D step is reused for the G step
        # and D's weights are frozen during it; under compile both are avoided (known
        # pitfalls).
        self.reuse_fakes = cfg.d_steps == 1 and not cfg.compile

    def _penalties(self) -> list:
        """The D loss's extra terms, each a function of (x_real, x_fake, y_real)."""
        cfg, D_run, gen = self.cfg, self.D_run, self.gen
        terms = []
        if cfg.gp_weight:  # λ · E[(‖∇D(x̂)‖ - 1)²]
            terms.append(lambda x_real, x_fake, y: cfg.gp_weight * gradient_penalty(
                D_run, x_real, x_fake, y, gen))
        if cfg.r1_weight:  # γ/2 · E[‖∇D(x)‖²]
            terms.append(lambda x_real, x_fake, y: 0.5 * cfg.r1_weight * r1_penalty(
                D_run, x_real, y))
        return terms

    def noise(self):
        """z (and class labels for a conditional G): this process's rows of a global
        batch drawn from the run's generator."""
        B = self.cfg.batch_size
        z = torch.randn(B, self.G.z_dim, device=self.device, generator=self.gen)
        y = (torch.randint(self.G.num_classes, (B,), device=self.device,
                           generator=self.gen) if self.conditional else None)
        if (self.lo, self.hi) != (0, B):  # DDP: a slice of the global batch
            z, y = z[self.lo:self.hi], (None if y is None else y[self.lo:self.hi])
        return z, y

    def fresh_fakes(self):
        """A fake batch attached to G, and its labels (None if unconditional)."""
        z, y_fake = self.noise()
        return self.G_run(z, *steps.label_args(y_fake)), y_fake

    def d_step(self):
        """One discriminator update on the next real batch and a fake batch; returns
        (loss_d, d_real, d_fake, x_fake, y_fake), x_fake attached to G only when the
        generator step reuses it."""
        x_real, y_real = self.batches.next()
        if self.reuse_fakes:
            x_fake, y_fake = self.fresh_fakes()
        else:
            with torch.no_grad():
                x_fake, y_fake = self.fresh_fakes()
        loss_d, d_real, d_fake = steps.d_update(
            self.D_run, self.opt_d, self.d_loss, x_real, x_fake.detach(),
            y_real if self.conditional else None, y_fake, penalties=self.penalties)
        return loss_d, d_real, d_fake, x_fake, y_fake

    def g_step(self, x_fake, y_fake):
        """One generator update on fakes attached to G; returns the G loss."""
        return steps.g_update(self.D_g, self.opt_g, self.g_loss, x_fake, y_fake,
                            frozen=None if self.cfg.compile else self.D)

    def set_learning_rates(self, step: int) -> None:
        """Both learning rates times lr_scale at ``step`` (with lr_decay only)."""
        cfg = self.cfg
        if not cfg.lr_decay:
            return
        scale = lr_scale(step, cfg.steps, cfg.lr_decay)
        for opt, lr in ((self.opt_g, cfg.lr), (self.opt_d, cfg.lr_d or cfg.lr)):
            for group in opt.param_groups:
                group["lr"] = lr * scale

    def end_window(self, done: int) -> list:
        """Close the log window after step ``done``: the NaN check, the history, and
        a snapshot and a checkpoint when due; returns the window's means."""
        cfg = self.cfg
        values, bad_step = self.window.reduce(done, cfg.steps + 1, cfg.ddp)
        if bad_step <= cfg.steps:
            raise self.non_finite(f"a loss became NaN or infinite at step {bad_step}")
        self.history.append(done, values)
        if self.main and cfg.snapshot_every and (done % cfg.snapshot_every == 0
                                                 or done == cfg.steps):
            self.history.snapshots.append(
                (done, _snapshot(self.G, self.fixed_z, self.fixed_y)))
        if self.ckpt_path is not None and (done % cfg.checkpoint_every == 0
                                           or done == cfg.steps):
            self.checkpoint(done)
        return values

    def non_finite(self, what: str) -> NonFiniteLossError:
        """The error that stops a diverged run: what broke, the checkpoint kept."""
        if self.ckpt_path is None:
            kept = ""
        elif self.kept is None:
            kept = "; no checkpoint was kept (none had been written with finite values)"
        else:
            kept = (f"; the last checkpoint with finite values, step {self.kept}, is "
                    f"kept in {self.ckpt_path}")
        return NonFiniteLossError(
            f"{what}{kept}. Likely fixes: lower --lr (e.g. halve it), use --loss "
            "nonsaturating or hinge, or add a gradient penalty; bf16 autocast can "
            "also overflow.")

    def checkpoint(self, step: int) -> None:
        """Write ``checkpoint.pt`` (checksummed, atomically; on the main process
        only), if every weight and optimiser state is finite; else stop the run."""
        G, D = self.G, self.D
        if self.cfg.ddp:  # batch norm running statistics: the mean over the processes
            distributed.average_buffers(G)
            distributed.average_buffers(D)
        values = [*G.state_dict().values(), *D.state_dict().values(),
                  *(v for opt in (self.opt_g, self.opt_d)
                    for kept in opt.state.values() for v in kept.values()
                    if isinstance(v, torch.Tensor))]
        bad = count_non_finite(values).float()
        if self.cfg.ddp:  # every process stops, or none
            bad = distributed.mean_over_ranks(bad.to(self.device))
        if bad.item() > 0:
            raise self.non_finite(
                f"the weights or optimiser states held NaN or infinite values at step "
                f"{step} (the losses logged before it were finite), so that "
                "checkpoint was not written")
        if self.main:
            self._save(step)
        self.kept = step

    def _save(self, step: int) -> None:
        G, D = self.G, self.D
        save_checkpoint(self.ckpt_path, {
            "G": G.state_dict(), "D": D.state_dict(),
            "G_spec": getattr(G, "spec", None), "D_spec": getattr(D, "spec", None),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "config": asdict(self.cfg), "step": step,
            "history": self.history.as_dict(),
            "rng": self.gen.get_state(), "batches": self.batches.state_dict(),
            "dataset": getattr(self.data, "name", None),
            # what trained G: for evaluate
            "data_split": getattr(self.data, "split", None),
            "data_part": getattr(self.data, "part", None),
        })


class _LogWindow:
    """Per step: d_loss, g_loss and D's logits on the real and the fake batch, kept
    on the device as they are and reduced once per window, so that a step does no
    logging work of its own."""

    def __init__(self):
        self.rows = []

    def add(self, loss_d, loss_g, d_real, d_fake) -> None:
        self.rows.append((loss_d.detach(), loss_g.detach(), d_real.detach(),
                          d_fake.detach()))

    def reduce(self, done: int, none_bad: int, ddp: bool) -> tuple[list, int]:
        """The means of d_loss, g_loss, D(x), D(G(z)) over the window that ends at
        step ``done``, and the first step whose losses are not finite (``none_bad``
        if none); with DDP, over all processes. One host synchronisation."""
        n_acc = len(self.rows)
        columns = [torch.stack(c).float() for c in zip(*self.rows)]
        self.rows.clear()
        # rows: d_loss, g_loss, D(x), D(G(z)) of every step in the window
        rows = torch.stack([columns[0], columns[1],
                            torch.sigmoid(columns[2]).mean(1),
                            torch.sigmoid(columns[3]).mean(1)], dim=1)
        bad = ~torch.isfinite(rows[:, :2]).all(1)  # steps whose losses broke
        steps_done = torch.arange(done - n_acc + 1, done + 1, device=rows.device)
        first_bad = torch.where(bad, steps_done, none_bad).min()
        mean = rows.mean(0)
        if ddp:  # the history holds means over all processes
            mean = distributed.mean_over_ranks(mean)
            first_bad = distributed.min_over_ranks(first_bad)
        return mean.tolist(), int(first_bad)


def lr_scale(step: int, steps: int, decay: float) -> float:
    """Learning-rate factor at ``step`` (0-based) of ``steps``: 1, then a linear fall
    to 0 over the last ``decay`` fraction, min(1, (steps − step) / (decay · steps))."""
    if decay <= 0:
        return 1.0
    return min(1.0, (steps - step) / (decay * steps))


def adam(params, lr: float, betas, device: torch.device) -> torch.optim.Adam:
    """Adam, in its fused one-kernel form where this PyTorch has it for the device."""
    params = list(params)
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, lr=lr, betas=betas)


def _snapshot(G, fixed_z, fixed_y) -> torch.Tensor:
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = G(fixed_z) if fixed_y is None else G(fixed_z, fixed_y)
    G.train(was_training)
    return x.float().cpu()
