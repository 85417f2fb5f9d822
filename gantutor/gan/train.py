"""The GAN training loop: ``train_gan(G, D, data, cfg)`` returns the history.

The loop knows nothing about the networks' insides. Per generator update it takes
``d_steps`` discriminator steps on detached fakes, then one generator step. It is
written to keep the device busy: the data sits on the device whole, batches are index
slices, noise is drawn on the device, and the losses stay *on the device*, read
back only every ``log_every`` steps (one host synchronisation per ``log_every`` steps,
not per step). With ``ddp=True`` it runs on several processes through
DistributedDataParallel (see :mod:`gantutor.gan.distributed`).
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..checkpoint import load_checkpoint, load_state, save_checkpoint
from ..data import Batches
from ..env import bf16_supported, resolve_device
from ..errors import GantutorError
from . import distributed
from .config import TrainConfig
from .losses import get_losses, gradient_penalty, r1_penalty


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
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def _autocast(device: torch.device, enabled: bool):
    if enabled and bf16_supported(device):
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
    out: folder for ``checkpoint.pt`` (atomically written every ``checkpoint_every``
        steps and at the end); None writes nothing.
    on_step: called as ``on_step(step, history)`` every ``log_every`` steps (live
        plots; on the main process only).
    resume: True resumes from ``out/checkpoint.pt`` if it exists; a path resumes from
        that file. The resumed run continues exactly as the uninterrupted one would.
    """
    cfg = cfg or TrainConfig()
    device = distributed.init(cfg.device) if cfg.ddp else resolve_device(cfg.device)
    main = not cfg.ddp or distributed.is_main()  # the process that writes and reports
    conditional = getattr(G, "num_classes", 0) > 0
    d_loss_fn, g_loss_fn = get_losses(cfg.loss)
    d_kwargs = {"smooth": cfg.label_smoothing} if cfg.label_smoothing else {}
    G.to(device)
    D.to(device)
    x_all = data.x.to(device)
    y_all = data.y.to(device)
    if cfg.channels_last and x_all.dim() == 4:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
        x_all = x_all.contiguous(memory_format=torch.channels_last)

    gen = torch.Generator(device).manual_seed(cfg.seed)
    # rows [lo, hi) of every global batch (of data and of noise) are this process's
    B = cfg.batch_size
    lo, hi = distributed.shard_bounds(B) if cfg.ddp else (0, B)
    sharded = cfg.ddp and distributed.world_size() > 1
    batches = (distributed.ShardedBatches if sharded else Batches)(
        x_all, y_all, batch_size=cfg.batch_size, generator=gen)
    fixed_z = torch.randn(cfg.n_fixed, G.z_dim, device=device,
                          generator=torch.Generator(device).manual_seed(cfg.seed + 1))
    fixed_y = (torch.arange(cfg.n_fixed, device=device) % G.num_classes
               if conditional else None)
    opt_g = adam(G.parameters(), cfg.lr, cfg.betas, device)
    opt_d = adam(D.parameters(), cfg.lr_d or cfg.lr, cfg.betas, device)
    history = History()
    start = 0

    ckpt_path = Path(out) / "checkpoint.pt" if out is not None else None
    resume_path = None
    if resume is True and ckpt_path is not None and ckpt_path.exists():
        resume_path = ckpt_path
    elif resume not in (False, True, None):
        resume_path = Path(resume)
    if resume_path is not None:
        state = load_checkpoint(resume_path, map_location=device)
        load_state(G, state["G"], "generator", resume_path)
        load_state(D, state["D"], "discriminator", resume_path)
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["rng"].cpu())
        batches.load_state_dict(state["batches"])
        history = History.from_dict(state["history"])
        start = state["step"]

    def checkpoint(step: int) -> None:
        if cfg.ddp:  # batch norm running statistics: the mean over the processes
            distributed.average_buffers(G)
            distributed.average_buffers(D)
        if not main:
            return
        save_checkpoint(ckpt_path, {
            "G": G.state_dict(), "D": D.state_dict(),
            "G_spec": getattr(G, "spec", None), "D_spec": getattr(D, "spec", None),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "config": asdict(cfg), "step": step, "history": history.as_dict(),
            "rng": gen.get_state(), "batches": batches.state_dict(),
            "dataset": getattr(data, "name", None),
            "data_split": getattr(data, "split", None),  # what trained G: for evaluate
            "data_part": getattr(data, "part", None),
        })

    G_run, D_run = G, D
    if cfg.ddp:  # each network in its own DDP, which averages its gradients
        G_run, D_run = distributed.wrap(G, device), distributed.wrap(D, device)
    if cfg.compile:
        G_run, D_run = torch.compile(G_run), torch.compile(D_run)
    # D in the generator step: the plain module with frozen weights (no gradients to
    # compute or to average), or under compile the compiled one, never toggled.
    D_g = D_run if cfg.compile else D
    # Without compile, the fake batch made for the D step is reused for the G step and
    # D's weights are frozen during it; under compile both are avoided (known pitfalls).
    reuse_fakes = cfg.d_steps == 1 and not cfg.compile
    # the log window: per step, d_loss, g_loss and D's logits on the real and the fake
    # batch, kept on the device as they are and reduced once per window, so that a
    # step does no logging work of its own
    window = []
    whole_batch = (lo, hi) == (0, B)

    def noise():
        z = torch.randn(B, G.z_dim, device=device, generator=gen)
        y = (torch.randint(G.num_classes, (B,), device=device, generator=gen)
             if conditional else None)
        if not whole_batch:  # this process's rows of the global batch
            z, y = z[lo:hi], (None if y is None else y[lo:hi])
        return z, y

    def cond(y):  # extra positional argument for conditional networks
        return (y,) if conditional else ()

    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.steps, initial=start, disable=not (cfg.progress and main),
               desc="training", unit="step", dynamic_ncols=True)
    G.train()
    D.train()
    lr_d = cfg.lr_d or cfg.lr
    for step in range(start, cfg.steps):
        if cfg.lr_decay:
            scale = lr_scale(step, cfg.steps, cfg.lr_decay)
            for opt, lr in ((opt_g, cfg.lr), (opt_d, lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * scale
        with _autocast(device, cfg.amp):
            # ---- discriminator: minimise d_loss on real vs detached fakes
            for _ in range(cfg.d_steps):
                x_real, y_real = batches.next()
                z, y_fake = noise()
                if reuse_fakes:
                    x_fake = G_run(z, *cond(y_fake))
                    x_fake_d = x_fake.detach()
                else:
                    with torch.no_grad():
                        x_fake_d = G_run(z, *cond(y_fake))
                d_real = D_run(x_real, *cond(y_real))
                d_fake = D_run(x_fake_d, *cond(y_fake))
                loss_d = d_loss_fn(d_real, d_fake, **d_kwargs)
                if cfg.gp_weight:
                    loss_d = loss_d + cfg.gp_weight * gradient_penalty(
                        D_run, x_real, x_fake_d, y_real if conditional else None, gen)
                if cfg.r1_weight:
                    loss_d = loss_d + 0.5 * cfg.r1_weight * r1_penalty(
                        D_run, x_real, y_real if conditional else None)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            # ---- generator: minimise g_loss on D's verdict of fresh (or reused) fakes
            if not reuse_fakes:
                z, y_fake = noise()
                x_fake = G_run(z, *cond(y_fake))
            if not cfg.compile:
                D.requires_grad_(False)  # no weight gradients for D in the G step
            loss_g = g_loss_fn(D_g(x_fake, *cond(y_fake)))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if not cfg.compile:
                D.requires_grad_(True)
        window.append((loss_d.detach(), loss_g.detach(), d_real.detach(),
                       d_fake.detach()))
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            # one host synchronisation per log window; rows: d_loss, g_loss, D(x),
            # D(G(z)) of every step in the window
            n_acc = len(window)
            columns = [torch.stack(c).float() for c in zip(*window)]
            rows = torch.stack([columns[0], columns[1],
                                torch.sigmoid(columns[2]).mean(1),
                                torch.sigmoid(columns[3]).mean(1)], dim=1)
            bad = ~torch.isfinite(rows[:, :2]).all(1)  # steps whose losses broke
            steps_done = torch.arange(done - n_acc + 1, done + 1, device=device)
            first_bad = torch.where(bad, steps_done, cfg.steps + 1).min()
            mean = rows.mean(0)
            if cfg.ddp:  # the history holds means over all processes
                mean = distributed.mean_over_ranks(mean)
                first_bad = distributed.min_over_ranks(first_bad)
            values = mean.tolist()
            bad_step = int(first_bad)
            if bad_step <= cfg.steps:
                bar.close()
                kept = (f"; the last good checkpoint is kept in {ckpt_path}"
                        if ckpt_path is not None and ckpt_path.exists() else "")
                raise NonFiniteLossError(
                    f"a loss became NaN or infinite at step {bad_step}{kept}. Likely "
                    "fixes: lower --lr (e.g. halve it), use --loss nonsaturating or "
                    "hinge, or add a gradient penalty; bf16 autocast can also overflow."
                )
            history.append(done, values)
            window.clear()
            if main and cfg.snapshot_every and (done % cfg.snapshot_every == 0
                                       or done == cfg.steps):
                history.snapshots.append((done, _snapshot(G, fixed_z, fixed_y)))
            bar.set_postfix(d_loss=f"{values[0]:.3f}", g_loss=f"{values[1]:.3f}",
                            D_x=f"{values[2]:.2f}", D_Gz=f"{values[3]:.2f}")
            if ckpt_path is not None and (done % cfg.checkpoint_every == 0
                                          or done == cfg.steps):
                checkpoint(done)
            if on_step is not None and main:
                on_step(done, history)
        bar.update(1)
    bar.close()
    if ckpt_path is not None and start == cfg.steps and not ckpt_path.exists():
        checkpoint(start)
    return history


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


def load_generator(path, device="cpu"):
    """Rebuild the generator of a checkpoint, with its weights, in eval mode."""
    from .models import from_spec

    state = load_checkpoint(path, map_location="cpu")
    if not state.get("G_spec"):
        raise GantutorError(f"{path} holds no generator description; it cannot be "
                            "sampled from")
    G = from_spec(state["G_spec"])
    load_state(G, state["G"], "generator", path)
    return G.to(resolve_device(device)).eval()


def load_discriminator(path, device="cpu"):
    """Rebuild the discriminator of a checkpoint, with its weights, in eval mode."""
    from .models import from_spec

    state = load_checkpoint(path, map_location="cpu")
    D = from_spec(state["D_spec"])
    load_state(D, state["D"], "discriminator", path)
    return D.to(resolve_device(device)).eval()

