"""A byte-level GRU language model, and the two ways to turn it into a code.

The network reads bytes and outputs, after each one, a distribution over the next:
p(x_t | x_<t) = softmax(W h_t), h_t = GRU(embed(x_{t-1}), h_{t-1}).

- **Prequential (online) code** (Blier & Ollivier 2018): the data is cut into blocks of
  doubling size. The first block is sent with the uniform code (8 bits a byte); every
  later block is coded by the model trained on all the blocks before it. The decoder
  decodes a block, trains the same model the same way, decodes the next. No weights
  are ever sent: L_preq = sum_k -log2 p_{theta_k}(block_k).
- **Two-part code**: train on all the data, quantise the weights to 8 bits, send them
  (compressed), then the data coded with them: L = L(weights) + -log2 p_theta(data).

Both give real bytes. They depend on floating-point arithmetic (training and the
GRU), which is exact only on the same software and hardware: the coded file records
:func:`machine_fingerprint` and decoding refuses elsewhere. All coding runs on the CPU.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import platform
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..errors import GantutorError
from . import coder

FREQ_SCALE = 1 << 16  # probabilities become integer frequencies floor(p * 2**16) + 1
_UNIFORM_ROWS = 4096  # the first block is coded this many bytes at a time (8 MB)


def single_thread(fn):
    """Run ``fn`` with one torch thread: the same arithmetic (reduction order) on
    every machine that has the same torch and CPU, whatever its core count, and no
    slow-down from threads that wait on each other on a busy machine."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _threads(1):
            return fn(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class ByteGRU(nn.Module):
    """Embedding -> one GRU layer -> linear head over the 256 byte values."""

    def __init__(self, hidden: int = 128, embed: int = 32):
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(256, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 256)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None):
        """x: (B, T) byte values -> logits (B, T, 256) for the *next* byte, and h."""
        out, h = self.gru(self.embed(x), h)  # (B, T, hidden)
        return self.head(out), h


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


MAX_WINDOW_BYTES = 1 << 17  # bytes in one training step's batch (32 * 128 by default)
_INT_FIELDS = (("hidden", 1, 1024), ("embed", 1, 1024), ("first_block", 1, 1 << 40),
               ("steps", 0, 100_000), ("batch_size", 1, 4096), ("seq_len", 2, 4096),
               ("seed", 0, (1 << 63) - 1))


@dataclass
class PrequentialConfig:
    """The network, its training per block, and the block schedule."""

    hidden: int = 128  # GRU units (1..1024)
    embed: int = 32  # byte embedding size (1..1024)
    first_block: int = 1024  # bytes sent uniformly (8 bits each) before any training
    steps: int = 150  # Adam steps after each block, on all the data so far
    batch_size: int = 32  # windows per step
    seq_len: int = 128  # bytes per window (2..4096; batch_size * seq_len <= 2**17)
    lr: float = 3e-3  # Adam learning rate
    warm_start: bool = True  # keep training the last model (False: a fresh one)
    seed: int = 0

    def __post_init__(self):
        # types as well as ranges: the values may come from a file's header, and the
        # limits keep one training step's memory and a file's training time bounded
        problems = [f"{name} must be an integer {lo:,}..{hi:,}"
                    for name, lo, hi in _INT_FIELDS
                    if not coder.is_int(getattr(self, name), lo, hi)]
        if not problems and self.batch_size * self.seq_len > MAX_WINDOW_BYTES:
            problems.append("batch_size * seq_len must be at most "
                            f"{MAX_WINDOW_BYTES:,}")
        lr = self.lr
        if (not isinstance(lr, numbers.Real) or isinstance(lr, bool)
                or not 0 < lr <= 10):  # also refuses NaN
            problems.append("lr must be a number in (0, 10]")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            problems.append("warm_start must be true or false")
        if problems:
            raise GantutorError("invalid prequential settings: " + "; ".join(problems))
        for name, _, _ in _INT_FIELDS:
            setattr(self, name, int(getattr(self, name)))
        self.warm_start = bool(self.warm_start)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PrequentialConfig:
        if not isinstance(d, dict):
            raise GantutorError("invalid prequential settings: not a dictionary")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise GantutorError(f"unknown GRU settings {sorted(unknown)}")
        return cls(**d)


def block_bounds(n: int, first: int) -> list[tuple[int, int]]:
    """[0, f), [f, 2f), [2f, 4f), ... cut at n: the doubling blocks."""
    bounds, start, end = [], 0, min(first, n)
    while start < n:
        bounds.append((start, end))
        start, end = end, min(2 * end, n)
    return bounds


def training_macs(cfg: PrequentialConfig, n: int) -> int:
    """Multiply-adds of all the training that coding ``n`` bytes takes (and decoding
    repeats): per trained block, steps * batch_size * window length tokens, each
    costing about 3x the forward pass (GRU gates and the 256-way head)."""
    per_token = 3 * cfg.hidden * (cfg.embed + cfg.hidden) + 256 * cfg.hidden
    tokens = sum(cfg.steps * cfg.batch_size * min(cfg.seq_len, start - 1)
                 for k, (start, _) in _block_models(n, cfg) if k and start >= 2)
    return 3 * per_token * tokens


def new_model(cfg: PrequentialConfig) -> ByteGRU:
    torch.manual_seed(cfg.seed)
    return ByteGRU(cfg.hidden, cfg.embed)


@single_thread
def train_on(model: ByteGRU, data: bytes, steps: int, cfg: PrequentialConfig,
             seed: int, on_step=None) -> ByteGRU:
    """``steps`` Adam steps on random windows of ``data``; returns the model.

    The windows come from a generator seeded with ``seed``, so a decoder that calls
    this with the same arguments trains the same network.
    """
    if steps == 0 or len(data) < 2:
        return model
    x_all = torch.tensor(bytearray(data), dtype=torch.long)
    t = min(cfg.seq_len, len(data) - 1)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    for step in range(steps):
        starts = torch.randint(len(data) - t, (cfg.batch_size,), generator=gen)
        idx = starts[:, None] + torch.arange(t + 1)  # (B, T + 1)
        windows = x_all[idx]
        logits, _ = model(windows[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 256),
                                           windows[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step, loss.item() / math.log(2))
    return model.eval()


def frequencies(logits: torch.Tensor) -> np.ndarray:
    """Integer frequencies floor(p * 2**16) + 1 from logits (..., 256)."""
    p = torch.softmax(logits.double(), dim=-1).numpy()
    return np.floor(p * FREQ_SCALE) + 1


def _block_models(n: int, cfg: PrequentialConfig):
    """(block index, (start, end)) for the doubling schedule."""
    return list(enumerate(block_bounds(n, cfg.first_block)))


def _replay(block: bytes, rows: list):
    """The encoder's ``next_byte``: record the frequencies, return the data's byte."""
    following = iter(block).__next__

    def next_byte(freqs):
        rows.append(freqs)
        return following()

    return next_byte


def _code_block(model: ByteGRU, history: bytes, length: int, next_byte) -> bytes:
    """Run the model one byte at a time over a block; ``next_byte(freqs)`` returns
    the byte (the encoder's data byte, or the decoder's decoded one)."""
    with torch.no_grad():
        h = None
        warm = history[-64:]  # the hidden state starts from the last 64 bytes
        prev = torch.tensor([[warm[-1] if warm else 0]])
        if len(warm) > 1:
            _, h = model(torch.tensor([list(warm[:-1])]))
        out = bytearray()
        for _ in range(length):
            logits, h = model(prev, h)
            byte = next_byte(frequencies(logits[0, -1]))
            out.append(byte)
            prev = torch.tensor([[byte]])
    return bytes(out)


@single_thread
def prequential_encode(data: bytes, cfg: PrequentialConfig | None = None,
                       on_block=None, trained: list | None = None
                       ) -> tuple[bytes, list[dict]]:
    """Code ``data`` prequentially; returns the payload and per-block code lengths.

    ``on_block(report)`` is called after each block; ``trained``, a list, receives
    the last model (the one that coded the last block), e.g. to sample from it.
    """
    cfg = cfg or PrequentialConfig()
    enc = coder.SymbolEncoder()
    model, report = new_model(cfg), []
    for k, (start, end) in _block_models(len(data), cfg):
        block = data[start:end]
        if k == 0:  # nothing learned yet: the uniform code, 8 bits per byte
            for i in range(0, len(block), _UNIFORM_ROWS):  # same bits as one call
                part = block[i: i + _UNIFORM_ROWS]
                enc.encode(list(part), np.ones((len(part), 256)))
            bits = 8.0 * len(block)
        else:
            if not cfg.warm_start:
                model = new_model(cfg)
            train_on(model, data[:start], cfg.steps, cfg, cfg.seed + k)
            rows = []
            _code_block(model, data[:start], len(block), _replay(block, rows))
            freqs = np.stack(rows)
            enc.encode(list(block), freqs)
            picked = freqs[np.arange(len(block)), list(block)]
            bits = float(-np.log2(picked / freqs.sum(1)).sum())
        report.append({"start": start, "end": end, "bits": bits})
        if on_block is not None:
            on_block(report[-1])
    if trained is not None:
        trained.append(model)
    return enc.payload(), report


@single_thread
def prequential_decode(payload: bytes, n: int,
                       cfg: PrequentialConfig | None = None) -> bytes:
    """Decode :func:`prequential_encode`'s payload, retraining the model per block."""
    cfg = cfg or PrequentialConfig()
    dec = coder.SymbolDecoder(payload)
    model, out = new_model(cfg), bytearray()
    for k, (start, end) in _block_models(n, cfg):
        if k == 0:
            for i in range(start, end, _UNIFORM_ROWS):
                rows = np.ones((min(_UNIFORM_ROWS, end - i), 256))
                out += bytes(dec.decode(rows).astype(np.uint8))
            continue
        if not cfg.warm_start:
            model = new_model(cfg)
        train_on(model, bytes(out), cfg.steps, cfg, cfg.seed + k)
        out += _code_block(model, bytes(out), end - start,
                           lambda freqs: int(dec.decode(freqs[None])[0]))
    return bytes(out)


# ------------------------------------------------- code lengths without the coder


def gru_code_bits(model: ByteGRU, data: bytes, start: int = 0,
                     end: int | None = None) -> float:
    """-sum log2 p(x_t | x_<t) over data[start:end], in one parallel pass (the
    model reads the 64 bytes before ``start`` first)."""
    end = len(data) if end is None else end
    lo = max(0, start - 64)
    x = torch.tensor(bytearray(data[lo:end]), dtype=torch.long)[None]
    with torch.no_grad():
        logits, _ = model(x[:, :-1])
        logp = torch.log_softmax(logits.double(), -1)[0]
        nll = -logp[torch.arange(len(x[0]) - 1), x[0, 1:]]
    bits = float(nll[start - lo - 1:].sum()) / math.log(2) if start > lo else \
        float(nll.sum()) / math.log(2) + 8.0  # the very first byte: uniform
    return bits


@single_thread
def prequential_code_lengths(data: bytes, cfg: PrequentialConfig | None = None,
                             on_block=None) -> list[dict]:
    """Per-block code lengths of the prequential code (no bytes written): the same
    schedule as :func:`prequential_encode`, measured by :func:`gru_code_bits`."""
    cfg = cfg or PrequentialConfig()
    model, report = new_model(cfg), []
    for k, (start, end) in _block_models(len(data), cfg):
        if k == 0:
            bits = 8.0 * (end - start)
        else:
            if not cfg.warm_start:
                model = new_model(cfg)
            train_on(model, data[:start], cfg.steps, cfg, cfg.seed + k)
            bits = gru_code_bits(model, data, start, end)
        report.append({"start": start, "end": end, "bits": bits})
        if on_block is not None:
            on_block(report[-1])
    return report


# ---------------------------------------------------- machines and generation


def machine_fingerprint() -> dict:
    """What the GRU's floating-point results depend on, as recorded in coded files."""
    cap = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown")()
    return {"torch": torch.__version__, "threads": 1,  # see single_thread
            "cpu_capability": cap, "machine": platform.machine(), "device": "cpu"}


def check_fingerprint(recorded: dict) -> None:
    """Refuse to decode where the arithmetic may differ from the encoder's."""
    here = machine_fingerprint()
    diff = [f"{k}: file {recorded.get(k)!r}, here {here[k]!r}" for k in here
            if recorded.get(k) != here[k]]
    if diff:
        raise GantutorError(
            "this file was coded with a GRU whose floating-point results depend on the "
            "machine, and this machine differs (" + "; ".join(diff) + "). Decode it "
            "where it was made (same torch, CPU and torch.set_num_threads), or use "
            "--model cm, which decodes anywhere."
        )


@single_thread
def continue_bytes(model: ByteGRU, prompt: bytes, n: int, temperature: float = 1.0,
           seed: int = 0) -> bytes:
    """Continue ``prompt`` by ``n`` bytes drawn from the model."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = torch.tensor([list(prompt or b"\n")])
        logits, h = model(x)
        out = bytearray()
        for _ in range(n):
            p = torch.softmax(logits[0, -1].double() / temperature, -1)
            byte = int(torch.multinomial(p, 1, generator=gen))
            out.append(byte)
            logits, h = model(torch.tensor([[byte]]), h)
    return bytes(out)
