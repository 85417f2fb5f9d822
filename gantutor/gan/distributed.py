"""Training on several processes with PyTorch's own engine: torch.distributed and DDP.

Launch one process per GPU (or a few on a CPU) with torchrun::

    torchrun --nproc_per_node=N -m gantutor train --ddp ...

or from Python with :func:`spawn`, or call ``train_gan(..., TrainConfig(ddp=True))``
inside a script that torchrun started. How ``train_gan`` splits the work:

- ``batch_size`` is the *global* batch B; each of the N processes (ranks) computes
  B / N samples, and each network is wrapped in its own DistributedDataParallel,
  which averages the gradients of every backward pass over the ranks.
- Every rank draws the same shuffled order of the data and the same global noise from
  one seeded generator and keeps its own slice of each (rank r takes rows
  r·B/N ... (r+1)·B/N - 1): the ranks see disjoint shards, whose union is exactly the
  batch one process would see. A run on N processes follows the trajectory of a run on
  one, up to float rounding (and batch norm, whose statistics are over B / N samples),
  and a checkpoint resumes on any number of processes.
- Batch norm buffers are not broadcast at each forward (``broadcast_buffers=False``:
  the discriminator step calls D twice before one backward, which buffer broadcasting
  breaks); running statistics are averaged over the ranks before each checkpoint.
- Only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist

from ..data import Batches
from ..env import resolve_device
from ..errors import GantutorError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def is_initialized() -> bool:
    """True inside a process group (torchrun, :func:`spawn` or init_process_group)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's index in the group, 0 ... world_size - 1 (0 when alone)."""
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    """Number of processes training together (1 when alone)."""
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """True on the one process that writes files and shows progress (rank 0)."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """True when torchrun's environment variables say where the group meets."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def init(device: str | torch.device = "auto") -> torch.device:
    """Join the process group (once) and return the device of this rank.

    The group is the one already initialised, or the one torchrun describes in the
    environment: NCCL for CUDA, gloo for CPUs. On CUDA, rank r uses GPU ``LOCAL_RANK``.
    """
    dev = resolve_device(device)
    if dev.type == "mps":
        raise GantutorError("DDP does not support Apple MPS devices: use --device cpu")
    if not is_initialized():
        if not launched_by_torchrun():
            raise GantutorError(
                "DDP needs several processes: launch with `torchrun --nproc_per_node=N "
                "-m gantutor train --ddp ...`, or from Python with "
                "gantutor.gan.distributed.spawn(fn, nprocs=N)"
            )
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda" and dev.index is None:
        local = int(os.environ.get("LOCAL_RANK", rank()))
        dev = torch.device("cuda", local % torch.cuda.device_count())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    elif dist.get_backend() == "nccl":
        raise GantutorError("the process group uses NCCL, which needs CUDA tensors; "
                            "use --device cuda (or a gloo group for CPUs)")
    return dev


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` in its own DistributedDataParallel (buffers not broadcast)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # newer PyTorch names the option forward_sync_buffers (buffers still synced once)
    if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters:
        return DDP(module, device_ids=ids, forward_sync_buffers=False)
    return DDP(module, device_ids=ids, broadcast_buffers=False)


def shard_bounds(global_batch: int) -> tuple[int, int]:
    """Rows [lo, hi) of a global batch that this rank computes."""
    n = world_size()
    if global_batch % n:
        raise GantutorError(f"the batch size {global_batch} must be divisible by the "
                            f"number of processes ({n}): each computes batch / {n}")
    local = global_batch // n
    return rank() * local, (rank() + 1) * local


class ShardedBatches(Batches):
    """Global batches in a shuffled order shared by all ranks; each keeps its slice.

    The order and position are those of :class:`Batches` over the whole data, so the
    state is the same on every rank and valid for any number of ranks.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int,
                 generator: torch.Generator):
        index = torch.arange(tensors[0].shape[0], device=tensors[0].device)
        super().__init__(index, batch_size=batch_size, generator=generator)
        self.data = tensors
        self.lo, self.hi = shard_bounds(batch_size)

    def next(self) -> tuple[torch.Tensor, ...]:
        (idx,) = super().next()
        idx = idx[self.lo:self.hi]  # (B,) -> (B / N,): this rank's shard
        return tuple(t[idx] for t in self.data)


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """The average of ``t`` over all ranks (``t`` itself when alone)."""
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t)
        t /= world_size()
    return t


def min_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """The minimum of ``t`` over all ranks (``t`` itself when alone)."""
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return t


def average_buffers(module: torch.nn.Module) -> None:
    """Average floating-point buffers (batch norm running statistics) over ranks."""
    if world_size() == 1:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= world_size()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_rank(rank_: int, nprocs: int, backend: str, port: int, threads: int, fn,
              args, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank_),
                      WORLD_SIZE=str(nprocs), LOCAL_RANK=str(rank_))
    torch.set_num_threads(threads)
    dist.init_process_group(backend, rank=rank_, world_size=nprocs)
    try:
        results[rank_] = fn(*args)
        dist.barrier()  # all done before any process tears the group down
    finally:
        dist.destroy_process_group()


def spawn(fn, nprocs: int = 2, args: tuple = (), backend: str | None = None) -> list:
    """Run ``fn(*args)`` in ``nprocs`` new processes joined in one group; return the
    list of what ``fn`` returned on each rank.

    ``fn`` must be importable (defined in a module, not in a notebook). backend: None
    picks NCCL when every rank can have its own GPU, else gloo (CPU).
    """
    import torch.multiprocessing as mp

    if nprocs < 1:
        raise GantutorError("nprocs must be at least 1")
    if backend is None:
        backend = ("nccl" if torch.cuda.is_available()
                   and torch.cuda.device_count() >= nprocs else "gloo")
    threads = max(1, (os.cpu_count() or 1) // nprocs)
    with mp.get_context("spawn").Manager() as manager:
        results = manager.dict()
        mp.spawn(_run_rank, nprocs=nprocs, join=True,
                 args=(nprocs, backend, _free_port(), threads, fn, args, results))
        return [results.get(r) for r in range(nprocs)]


def torchrun(nprocs: int, *args: str, timeout: float = 1800):
    """Run ``torchrun --standalone --nproc_per_node=nprocs -m gantutor <args>`` and
    print what rank 0 prints. Runs ``python -m torch.distributed.run`` (which is what
    the ``torchrun`` command is) with this Python, so it works inside notebooks too;
    ``--standalone`` picks a free port, so runs at the same time do not collide.
    Returns the finished process; a failure raises GantutorError with the reason.
    """
    import re
    import shlex
    import subprocess
    import sys

    launch = ["--standalone", f"--nproc_per_node={nprocs}", "-m", "gantutor", *args]
    print("$ torchrun " + shlex.join(launch))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", *launch],
                          capture_output=True, text=True, timeout=timeout)
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        # the processes' own error lines say more than torchrun's summary
        reasons = [line for line in proc.stderr.splitlines()
                   if re.match(r"(gantutor \w+: error|[\w.]*(Error|Exception)\b)", line)
                   and "ChildFailedError" not in line]
        detail = "\n".join(dict.fromkeys(reasons)) or proc.stderr.strip()[-1500:]
        raise GantutorError(f"torchrun exited with status {proc.returncode}: {detail}")
    return proc


def weight_difference(checkpoint_a, checkpoint_b) -> float:
    """The largest absolute difference between the weights of G and D in two
    checkpoints (0.0 when identical)."""
    from ..checkpoint import load_checkpoint

    a, b = load_checkpoint(checkpoint_a), load_checkpoint(checkpoint_b)
    return max((a[net][k].float() - b[net][k].float()).abs().max().item()
               for net in ("G", "D") for k in a[net])
