"""What a training step costs and how fast it runs: FLOPs, bytes, steps per second.

- :func:`step_cost` counts one real step of ``train_gan``: the floating-point
  operations of its matrix products and convolutions (PyTorch's ``FlopCounterMode``),
  the bytes every operation reads and writes, and the number of operations (each one a
  kernel launch on a GPU).
- :func:`gan_step_flops` is the same FLOP count for an MLP GAN, from a formula;
  :func:`roofline_seconds` and :func:`ring_allreduce_bytes` are the two other
  formulas of scaling: the least time a step can take, and what averaging the
  gradients over N processes sends.
- :func:`steps_per_second` times ``train_gan`` or one of the two baseline loops below
  on the same model, batch and data: :func:`reference_loop` is written the way the
  PyTorch DCGAN tutorial writes it; :func:`minimal_loop` is ``train_gan``'s own
  algorithm with nothing else (no history, no checks, no progress bar).
- :func:`peak_tflops` knows the dense bf16 matrix peak of common GPUs, to say what
  fraction of its device a run achieves.
"""

from __future__ import annotations

import dataclasses
import math
import time
from copy import deepcopy

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from ..data import Batches
from ..env import resolve_device
from ..errors import GantutorError
from ..gan import steps
from ..gan.config import TrainConfig
from ..gan.losses import get_losses
from ..gan.train import adam, precision, train_gan

# Dense (no sparsity) bf16 tensor-core peaks in TFLOPS from NVIDIA's datasheets; fp16
# for GPUs without bf16 (T4, V100). First match of the name wins.
PEAK_TFLOPS = (
    ("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0),
    ("L40S", 362.0), ("L4", 121.0), ("T4", 65.0), ("V100", 125.0),
)


def peak_tflops_for(name: str) -> float | None:
    """The dense bf16 matrix peak in TFLOPS of the GPU called ``name``, or None."""
    return next((peak for key, peak in PEAK_TFLOPS if key in name), None)


def peak_tflops(device) -> float | None:
    """The dense bf16 matrix peak of a CUDA device in TFLOPS, or None if unknown."""
    device = resolve_device(device)
    if device.type != "cuda":
        return None
    return peak_tflops_for(torch.cuda.get_device_name(device))


def device_name(device) -> str:
    """A short name for the device: the GPU's name, or ``cpu-<N>threads``."""
    device = resolve_device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device).replace(" ", "-")
    return f"{device.type}-{torch.get_num_threads()}threads"


# ------------------------------------------------------------------ counting a step


@dataclasses.dataclass
class StepCost:
    """One training step, counted while it ran."""

    flops: int  # 2 x multiply-adds in matrix products and convolutions
    bytes: int  # bytes read and written, if no operation found its inputs in cache
    #             (each operation reads its inputs, writes what it changes or creates)
    ops: int  # operations run (on a GPU, each one a kernel launch)

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved."""
        return self.flops / self.bytes


_NO_TRAFFIC = ("empty", "detach", "alias", "lift_fresh", "set_", "_local_scalar_dense")


class _TrafficCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts operations and their bytes: tensors read, written in place, created."""

    def __init__(self):
        super().__init__()
        self.bytes = 0
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view or func.__name__.startswith(_NO_TRAFFIC):
            return out
        schema = func._schema
        given = dict(zip((a.name for a in schema.arguments), args)) | kwargs
        written = [given.get(a.name) for a in schema.arguments
                   if a.alias_info is not None and a.alias_info.is_write]
        outs = out if isinstance(out, (tuple, list)) else (out,)
        created = [o for r, o in zip(schema.returns, outs) if r.alias_info is None]
        self.bytes += _nbytes((args, kwargs)) + _nbytes(written) + _nbytes(created)
        self.ops += 1
        return out


def _nbytes(tree) -> int:
    leaves = torch.utils._pytree.tree_leaves(tree)
    return sum(t.numel() * t.element_size() for t in leaves
               if isinstance(t, torch.Tensor))


def _count(G, D, data, cfg: TrainConfig) -> tuple[int, int, int]:
    from torch.utils.flop_counter import FlopCounterMode

    flops = FlopCounterMode(display=False)
    traffic = _TrafficCounter()
    G, D = deepcopy(G), deepcopy(D)  # the learner's networks stay untrained
    with flops, traffic:
        train_gan(G, D, data, cfg)
    return flops.get_total_flops(), traffic.bytes, traffic.ops


def step_cost(G, D, data, cfg: TrainConfig | None = None) -> StepCost:
    """Count one step of ``train_gan(G, D, data, cfg)`` (on copies of G and D).

    The step is the difference between a 3-step and a 2-step run, which cancels the
    set-up and the first step's extra work (Adam creates its state then).
    ``cfg.compile`` is ignored: a compiled step cannot be counted operation by
    operation (fusing operations is precisely what saves its bytes).
    """
    cfg = dataclasses.replace(cfg or TrainConfig(), compile=False, progress=False,
                              log_every=1000, checkpoint_every=1000, snapshot_every=0)
    three = _count(G, D, data, dataclasses.replace(cfg, steps=3))
    two = _count(G, D, data, dataclasses.replace(cfg, steps=2))
    return StepCost(*(a - b for a, b in zip(three, two)))


def gan_step_flops(batch_size: int, g_layers, d_layers, pack: int = 1) -> int:
    """FLOPs of one ``train_gan`` step of an MLP GAN with layers [(n_in, n_out), ...].

    A linear layer n_in -> n_out costs F = 2·B·n_in·n_out in the forward pass, F for
    the gradient of its weights and F for the gradient of its input. The step runs
    G forward; D forward and backward on real and on fake (no input gradient for D's
    first layer: the data need none); D forward and backward on the fakes again with
    D's weights frozen (input gradients only); G backward (no gradient for the noise):

        FLOPs = 3·F_G - F_G1 + 8·F_D - 2·F_D1

    where F_G, F_D are whole forward passes and F_G1, F_D1 their first layers. A
    packed D (PacGAN) sees B / pack rows.
    """
    f_g = [2 * batch_size * n_in * n_out for n_in, n_out in g_layers]
    f_d = [2 * (batch_size // pack) * n_in * n_out for n_in, n_out in d_layers]
    return 3 * sum(f_g) - f_g[0] + 8 * sum(f_d) - 2 * f_d[0]


def linear_layers(net: nn.Module) -> list[tuple[int, int]]:
    """[(n_in, n_out), ...] of the network's linear layers, in order."""
    return [(m.in_features, m.out_features) for m in net.modules()
            if isinstance(m, nn.Linear)]


def mlp_step_flops(G, D, batch_size: int) -> int:
    """:func:`gan_step_flops` for the networks G and D themselves."""
    g_layers, d_layers = linear_layers(G), linear_layers(D)
    if not g_layers or not d_layers:
        raise GantutorError("mlp_step_flops needs networks of nn.Linear layers")
    return gan_step_flops(batch_size, g_layers, d_layers, getattr(D, "pack", 1))


def roofline_seconds(flops: float, bytes_moved: float, peak_flops: float,
                     bandwidth: float) -> float:
    """The least time a step can take: max(FLOPs / peak, bytes / bandwidth).

    Compute and memory traffic overlap, so the slower of the two sets the pace: the
    step is compute-bound when FLOPs / bytes exceeds peak / bandwidth.
    """
    return max(flops / peak_flops, bytes_moved / bandwidth)


def ring_allreduce_bytes(n_bytes: float, world_size: int) -> float:
    """Bytes each process sends to average ``n_bytes`` of gradients over N processes
    with a ring all-reduce (as NCCL and gloo do): 2·(N - 1)/N · n_bytes.

    Half of it reduce-scatters (each process ends with the sum of one N-th), half
    all-gathers (every process receives every summed N-th).
    """
    return 2 * (world_size - 1) / world_size * n_bytes


# ------------------------------------------------------------------ timing


def synchronize(device) -> None:
    """Wait until the device has finished its queued work (timing needs this)."""
    device = resolve_device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def steps_per_second(run, G, D, data, cfg: TrainConfig, warmup_windows: int = 1,
                     best: bool = False) -> float:
    """Steps per second of ``run(G, D, data, cfg, on_step=...)``.

    ``run`` is ``train_gan``, :func:`reference_loop` or :func:`minimal_loop`. The clock
    is read (after the device has finished) every ``cfg.log_every`` steps; the first
    ``warmup_windows`` windows (set-up, compilation, caches) are not counted.
    ``best=True`` returns the rate of the fastest window instead of the average: on a
    shared machine, the least disturbed measurement (as ``timeit`` advises).
    """
    if warmup_windows < 1 or cfg.steps < (warmup_windows + 1) * cfg.log_every:
        raise GantutorError("steps_per_second needs warmup_windows >= 1 and steps >= "
                            "(warmup_windows + 1) * log_every")
    device = resolve_device(cfg.device)
    ticks = []

    def tick(step, *_):
        synchronize(device)
        ticks.append((step, time.perf_counter()))

    run(G, D, data, dataclasses.replace(cfg, progress=False), on_step=tick)
    ticks = ticks[warmup_windows - 1:]
    if best:
        pairs = zip(ticks, ticks[1:])
        return max((s1 - s0) / (t1 - t0) for (s0, t0), (s1, t1) in pairs)
    (s0, t0), (s1, t1) = ticks[0], ticks[-1]
    return (s1 - s0) / (t1 - t0)


def reference_loop(G, D, data, cfg: TrainConfig, on_step=None) -> None:
    """The training loop as the PyTorch DCGAN tutorial writes it.

    A DataLoader over a TensorDataset on the CPU (batches copied to the device),
    ``nn.Sigmoid`` + ``nn.BCELoss``, D's real and fake losses back-propagated
    separately, the fake batch reused for G's step without freezing D, default Adam,
    and ``.item()`` on five statistics every step. Same networks, batch and data as
    ``train_gan``; ``on_step(step)`` every ``cfg.log_every`` steps.
    """
    # the tutorial's naive step, copied on purpose (not gantutor.gan.steps.gan_update)
    from torch.utils.data import DataLoader, TensorDataset

    device = resolve_device(cfg.device)
    G.to(device).train()
    D.to(device).train()
    net_d = nn.Sequential(D, nn.Sigmoid())
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d or cfg.lr, betas=cfg.betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
    loader = DataLoader(TensorDataset(data.x.cpu(), data.y.cpu()),
                        batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(cfg.seed))
    g_losses, d_losses, step = [], [], 0
    while step < cfg.steps:
        for x, _ in loader:
            real = x.to(device)
            b = real.size(0)
            net_d.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            output = net_d(real).view(-1)
            err_d_real = criterion(output, label)
            err_d_real.backward()
            d_x = output.mean().item()
            noise = torch.randn(b, G.z_dim, device=device)
            fake = G(noise)
            label.fill_(0.0)
            output = net_d(fake.detach()).view(-1)
            err_d_fake = criterion(output, label)
            err_d_fake.backward()
            d_g_z1 = output.mean().item()
            err_d = err_d_real + err_d_fake
            opt_d.step()
            G.zero_grad()
            label.fill_(1.0)
            output = net_d(fake).view(-1)
            err_g = criterion(output, label)
            err_g.backward()
            d_g_z2 = output.mean().item()
            opt_g.step()
            g_losses.append(err_g.item())
            d_losses.append(err_d.item())
            del d_x, d_g_z1, d_g_z2  # the tutorial prints these every 50 steps
            step += 1
            if on_step is not None and step % cfg.log_every == 0:
                on_step(step)
            if step == cfg.steps:
                return


def minimal_loop(G, D, data, cfg: TrainConfig, on_step=None) -> None:
    """``train_gan``'s algorithm and nothing else: the baseline for its overhead.

    Data on the device, index-slice batches and noise from one seeded generator,
    train_gan's step (:func:`gantutor.gan.steps.gan_update`: logit losses, the fake
    batch reused, D frozen in G's step), fused Adam, optional bf16 autocast and
    channels-last, as ``train_gan`` does; no loss accumulation, NaN check, progress
    bar, history or checkpoints. With the same seed it computes exactly what
    ``train_gan`` computes. ``on_step(step)`` every ``cfg.log_every``.
    """
    if cfg.d_steps != 1 or cfg.gp_weight or cfg.r1_weight or cfg.compile \
            or cfg.label_smoothing or cfg.lr_decay or getattr(G, "num_classes", 0):
        raise GantutorError("minimal_loop covers the plain unconditional GAN only "
                            "(d_steps=1, no penalties, smoothing, lr decay or "
                            "compile)")
    device = resolve_device(cfg.device)
    d_loss_fn, g_loss_fn = get_losses(cfg.loss)
    G.to(device).train()
    D.to(device).train()
    x_all, y_all = data.x.to(device), data.y.to(device)
    if cfg.channels_last and x_all.dim() == 4:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
        x_all = x_all.contiguous(memory_format=torch.channels_last)
    gen = torch.Generator(device).manual_seed(cfg.seed)
    batches = Batches(x_all, y_all, batch_size=cfg.batch_size, generator=gen)
    opt_g = adam(G.parameters(), cfg.lr, cfg.betas, device)
    opt_d = adam(D.parameters(), cfg.lr_d or cfg.lr, cfg.betas, device)
    autocast = precision(device, cfg.amp)
    for step in range(1, cfg.steps + 1):
        with autocast:
            x_real, _ = batches.next()
            z = torch.randn(cfg.batch_size, G.z_dim, device=device, generator=gen)
            steps.gan_update(G, D, opt_g, opt_d, d_loss_fn, g_loss_fn, x_real, z)
        if on_step is not None and step % cfg.log_every == 0:
            on_step(step)


# ------------------------------------------------------------------ sweeps

REFERENCE = "reference"  # a variant that runs reference_loop instead of train_gan


def throughput(model: str, data, batch_sizes, variants: dict,
               samples_per_window: int = 2048, windows: int = 2,
               device="auto") -> list[dict]:
    """Samples per second of every variant at every batch size, on this machine.

    ``variants`` maps a name to ``TrainConfig`` settings for ``train_gan`` (e.g.
    ``{"amp": True}``), or to :data:`REFERENCE` for :func:`reference_loop`. Each
    measurement builds fresh networks, runs one warm-up window and ``windows`` timed
    windows of about ``samples_per_window`` samples, and keeps the fastest window.
    A ``compile`` variant that cannot compile on this machine is reported in one line
    and measured as nan.
    """
    from ..gan.models import build_gan

    device = resolve_device(device)
    rows = []
    for batch_size in batch_sizes:
        log_every = max(1, samples_per_window // batch_size)
        for name, settings in variants.items():
            reference = settings == REFERENCE
            torch.manual_seed(0)
            G, D = build_gan(model, data.shape)
            cfg = TrainConfig(steps=(windows + 1) * log_every, batch_size=batch_size,
                              log_every=log_every, checkpoint_every=log_every,
                              device=str(device), **({} if reference else settings))
            try:
                rate = steps_per_second(reference_loop if reference else train_gan,
                                        G, D, data, cfg, best=True)
            except _compile_failures() as err:  # e.g. no C++ compiler for a CPU
                print(f"{name} could not run here: {str(err).splitlines()[0][:200]}")
                rate = math.nan
            rows.append({"model": model, "variant": name, "batch_size": batch_size,
                         "steps_per_s": rate, "samples_per_s": rate * batch_size})
    return rows


def _compile_failures() -> tuple:
    try:
        from torch._dynamo.exc import BackendCompilerFailed
    except ImportError:  # pragma: no cover
        return ()
    return (BackendCompilerFailed,)


def throughput_table(rows: list[dict]) -> str:
    """Samples per second as text: one line per model and variant, one column per
    batch size."""
    sizes = sorted({r["batch_size"] for r in rows})
    keys = list(dict.fromkeys((r["model"], r["variant"]) for r in rows))
    width = max([len("variant")] + [len(variant) for _, variant in keys])
    lines = [f"{'model':6} {'variant':{width}}" + "".join(f"{'B=' + str(b):>9}"
                                                         for b in sizes)]
    for model, variant in keys:
        rate = {r["batch_size"]: r["samples_per_s"] for r in rows
                if (r["model"], r["variant"]) == (model, variant)}
        cells = "".join(f"{rate[b]:9.0f}" if b in rate else f"{'':>9}" for b in sizes)
        lines.append(f"{model:6} {variant:{width}}{cells}")
    return "\n".join(lines)


def plot_throughput(rows: list, title=None):
    """Samples per second against batch size (log-log), one panel per model and one
    line per variant; ``rows`` as returned by :func:`throughput`."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.4),
                             squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == model]
        for variant in dict.fromkeys(r["variant"] for r in mine):
            pts = sorted((r["batch_size"], r["samples_per_s"]) for r in mine
                         if r["variant"] == variant)
            ax.plot(*zip(*pts), "o-", label=variant)
        ax.set_xscale("log", base=2)
        sizes = sorted({r["batch_size"] for r in mine})
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples / s")
        ax.set_title(model)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
