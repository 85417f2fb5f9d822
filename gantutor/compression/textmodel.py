"""A byte model that learns while it reads: context mixing, trained online.

The model predicts each byte one bit at a time, most significant bit first, so by
the chain rule p(byte) = prod_i p(b_i | b_<i, past bytes). For each bit it asks
several *context models* (the last 1, 2, 3, 4 and 6 bytes, the current word, the
current and previous word, and a match model that predicts the byte that followed
the last occurrence of the last 6 bytes) for a probability, turns each into a logit
``stretch(p) = ln(p / (1 - p))`` and mixes them with a small neural network, one
logistic unit whose weight vector is chosen by the bits of the current byte seen so
far and the match length:

    p = squash(sum_i w_i * stretch(p_i)),   squash(x) = 1 / (1 + e^-x).

After the bit y is known, every part takes one step of online gradient descent on the
log-loss -log p(y): the weights move by ``w_i += lr * (y - p) * stretch(p_i)`` and each
context's probability moves toward y by 1/(n + 1.5), n being how often that context
has been seen. Two adaptive probability maps (secondary estimation) then refine p
given the partial byte and the previous byte. This is the PAQ family of compressors
(Mahoney 2002-2007) in a few hundred lines.

Every number is an integer: probabilities in 1/4096 (mixer) and 1/65536 (counters),
logits in 1/256, weights in 1/65536. Integer arithmetic is exact on every machine,
so an encoder and a decoder anywhere compute bit-identical probabilities.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import GantutorError
from .coder import is_int

# squash(x) = 4096 / (1 + e^(-x/256)) at x = -4096, -3968, ..., 4096 (every 128/256 =
# 0.5 nats), rounded. Written out so every machine interpolates the same integers.
_SQUASH_KNOTS = (
    1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
    2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090,
    4092, 4094, 4095,
)
_M64 = (1 << 64) - 1


def _squash_int(x: int) -> int:
    """squash(x) = 4096 / (1 + e^(-x/256)), x clipped to +-2047, by interpolation."""
    x = max(-2047, min(2047, x))
    w = x & 127
    i = (x >> 7) + 16
    return (_SQUASH_KNOTS[i] * (128 - w) + _SQUASH_KNOTS[i + 1] * w + 64) >> 7


SQUASH = [_squash_int(x) for x in range(-2048, 2048)]  # SQUASH[x + 2048]
STRETCH = [0] * 4096  # STRETCH[p] = ln(p / (1 - p)) * 256, the inverse of squash
_lo = 0
for _x in range(-2047, 2048):
    _v = _squash_int(_x)
    for _p in range(_lo, _v + 1):
        STRETCH[_p] = _x
    _lo = _v + 1
for _p in range(_lo, 4096):
    STRETCH[_p] = 2047
# 1/(n + 1.5) in 1/65536: a counter seen n times moves this far toward the bit.
RECIPROCAL = [131072 // (2 * n + 3) for n in range(1024)]


def hash64(x: int, salt: int) -> int:
    """A 64-bit multiplicative hash of a context (Python's hash() is salted per run)."""
    return ((x + 1) * 0x9E3779B97F4A7C15 + salt * 0x632BE59BD9B4E019) & _M64


_INT_FIELDS = (("table_bits", 10, 24), ("limit", 1, 255), ("lr", 1, 64),
               ("init_weight", 0, 65536))


@dataclass(frozen=True)
class CMConfig:
    """Settings of the context-mixing model; saved in every compressed file."""

    orders: tuple[int, ...] = (1, 2, 3, 4, 6)  # context lengths in bytes (1..8)
    word: bool = True  # two word contexts: this word; this word and the one before
    match: bool = True  # match model over the longest recent repeat
    apm: bool = True  # two secondary estimation stages after the mixer
    table_bits: int = 22  # each context table holds 2**table_bits counters (10..24)
    limit: int = 127  # a counter adapts by 1/(n + 1.5) until n reaches this
    lr: int = 4  # mixer learning rate, in 1/16 of 2**-6 (4: 2**-8 per unit logit)
    init_weight: int = 6554  # starting mixer weight of every input, in 1/65536

    def __post_init__(self):
        # every field is checked for type as well as range: the values may come from
        # a file's header, and the model's integer arithmetic needs Python ints
        orders = self.orders
        if isinstance(orders, (str, bytes, dict)) or not hasattr(orders, "__iter__"):
            orders = None
        else:
            orders = tuple(orders)
        problems = []
        if not orders or not all(is_int(o, 1, 8) for o in orders):
            problems.append("orders must be a list of 1..8 bytes")
        elif len(set(orders)) != len(orders):
            problems.append("orders must be distinct")
        for name in ("word", "match", "apm"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                problems.append(f"{name} must be true or false")
        for name, lo, hi in _INT_FIELDS:
            if not is_int(getattr(self, name), lo, hi):
                problems.append(f"{name} must be an integer {lo}..{hi}")
        if problems:
            raise GantutorError("invalid context-mixing settings: "
                                + "; ".join(problems))
        object.__setattr__(self, "orders", tuple(int(o) for o in orders))
        for name in ("word", "match", "apm"):
            object.__setattr__(self, name, bool(getattr(self, name)))
        for name, _, _ in _INT_FIELDS:
            object.__setattr__(self, name, int(getattr(self, name)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["orders"] = list(self.orders)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CMConfig:
        if not isinstance(d, dict):
            raise GantutorError("invalid context-mixing settings: not a dictionary")
        names = set(cls.__dataclass_fields__)
        unknown = set(d) - names
        if unknown:
            raise GantutorError(f"unknown context-mixing settings {sorted(unknown)}: "
                                "the file was written by a newer gantutor")
        return cls(**d)


def table_bits_for(n_bytes: int) -> int:
    """Table size that fits the input: about 8 counters per bit coded, 2**16..2**22."""
    return max(16, min(22, (8 * max(n_bytes, 1)).bit_length() + 3))


def table_bits_limit(n_bytes: int) -> int:
    """The largest table a file of ``n_bytes`` may use: 8 counters per bit coded
    (each bit touches one counter per context, so more cannot help), at least 2**16,
    at most 2**24. Bounds the memory of coding by the length of the data."""
    return max(16, min(24, (8 * max(n_bytes, 1)).bit_length() + 3))


class ContextMixer:
    """The online byte model. :meth:`run` codes, decodes or samples bytes.

    The model keeps learning from every byte it sees, so calling :meth:`run` again
    continues from everything seen before (that is how :func:`generate_bytes` writes
    text in the style of what the model has read).
    """

    def __init__(self, cfg: CMConfig | None = None):
        self.cfg = cfg = cfg or CMConfig()
        size = 1 << cfg.table_bits
        n_ctx = len(cfg.orders) + 2 * cfg.word
        self.n_inputs = n_ctx + 3  # contexts, order 0, match, bias
        self.prob = [array("H", [32768]) * size for _ in range(n_ctx)]  # P(1), 1/65536
        self.count = [array("B", [0]) * size for _ in range(n_ctx)]
        self.prob0 = array("H", [32768]) * 256  # order 0, by partial byte
        self.count0 = array("B", [0]) * 256
        self.weights = [[cfg.init_weight] * self.n_inputs for _ in range(1024)]
        self.match_table = array("i", [0]) * (1 << min(cfg.table_bits, 20))
        self.match_prob = array("i", [32768 << 10]) * 64  # P(1) << 10 | count
        row = array("i", [SQUASH[max(-2047, min(2047, (b - 16) * 128)) + 2048] * 16
                          for b in range(33)])
        self.apm1 = row * 256  # by partial byte: 33 interpolation knots each
        self.apm2 = row * 65536  # by partial byte and previous byte
        self.buf = bytearray()
        self.hist = 0  # the last 8 bytes as one integer
        self.word = 0  # hash of the letters of the current word
        self.word1 = 0  # hash of the previous word
        self.match_len = 0
        self.match_ptr = 0

    def _context_hashes(self) -> list[int]:
        shift = 64 - self.cfg.table_bits
        hs = [hash64(self.hist & ((1 << (8 * o)) - 1), o) >> shift
              for o in self.cfg.orders]
        if self.cfg.word:
            hs.append(hash64(self.word, 11) >> shift)
            hs.append(hash64(self.word ^ (self.word1 * 0x2F0F3), 12) >> shift)
        return hs

    def _after_byte(self, byte: int) -> None:
        """Update the byte-level state: history, word hashes, match model."""
        buf = self.buf
        buf.append(byte)
        i = len(buf) - 1
        self.hist = ((self.hist << 8) | byte) & _M64
        if self.cfg.word:
            ch = byte | 32
            if 97 <= ch <= 122:  # a letter, either case
                self.word = (self.word * 0x3F1 + ch) & 0xFFFFFFFF
            elif self.word:
                self.word1, self.word = self.word, 0
        if not self.cfg.match:
            return
        # the match model follows its pointer while the prediction keeps coming true
        if self.match_len and buf[self.match_ptr] == byte:
            self.match_len = min(self.match_len + 1, 65535)
            self.match_ptr += 1
        else:
            self.match_len = 0
        if i < 5:
            return
        # where the last 6 bytes occurred before
        h = hash64(self.hist & 0xFFFFFFFFFFFF, 99) >> (64 - min(self.cfg.table_bits,
                                                                20))
        if self.match_len == 0:
            ptr = self.match_table[h]
            n = 0
            while ptr and n < 32 and n < ptr and buf[ptr - 1 - n] == buf[i - n]:
                n += 1  # length of the repeat, counted backwards, at most 32
            self.match_len, self.match_ptr = n, (ptr if n else 0)
        self.match_table[h] = i + 1

    def run(self, n_bytes: int, next_bit) -> bytes:
        """Predict ``n_bytes`` bytes bit by bit; returns them.

        For every bit the model calls ``next_bit(p)`` with p = 4096 * P(bit = 1), an
        integer in 1..4095, and learns from the bit it returns: the encoder returns the
        data's bit (and records p), the decoder returns the bit it decodes with p, a
        sampler returns a random bit drawn with p.

        One long body on purpose: the tables live in local variables and nothing is
        called per bit, because in pure Python each call per bit costs speed.
        """
        cfg = self.cfg
        mask = (1 << cfg.table_bits) - 1
        prob, count, prob0, count0 = self.prob, self.count, self.prob0, self.count0
        weights, apm1, apm2 = self.weights, self.apm1, self.apm2
        match_prob = self.match_prob
        stretch, squash, recip = STRETCH, SQUASH, RECIPROCAL
        limit, lr, use_apm = cfg.limit, cfg.lr, cfg.apm
        ctx = range(len(prob))
        inputs = range(self.n_inputs)
        start = len(self.buf)
        for _ in range(n_bytes):
            hs = self._context_hashes()
            # the byte the match model expects, with a leading 1 (0: no prediction)
            expected = (self.buf[self.match_ptr] | 256) if self.match_len else 0
            mlen = self.match_len
            msel = 0 if mlen == 0 else (1 if mlen < 16 else (2 if mlen < 32 else 3))
            mbucket = 2 * min(mlen, 15)
            c1 = (self.hist & 255) << 8
            c0 = 1  # the bits of this byte seen so far, after a leading 1
            for j in range(7, -1, -1):
                idx = [(hs[k] + c0 * 0x9E3779B1) & mask for k in ctx]
                st = [stretch[prob[k][idx[k]] >> 4] for k in ctx]
                st.append(stretch[prob0[c0] >> 4])
                if expected and (expected >> (j + 1)) == c0:
                    mi = mbucket + ((expected >> j) & 1)
                    st.append(stretch[match_prob[mi] >> 14])
                else:
                    mi = -1
                    st.append(0)
                st.append(256)  # bias input
                w = weights[c0 + 256 * msel]
                dot = 0
                for k in inputs:
                    dot += w[k] * st[k]
                dot = max(-2047, min(2047, dot >> 16))
                p_mix = squash[dot + 2048]
                if use_apm:  # interpolate two adaptive maps of the mixer's logit
                    s = dot + 2048
                    wt = s & 127
                    a1 = c0 * 33 + (s >> 7)
                    a2 = (c0 | c1) * 33 + (s >> 7)
                    p = (2 * p_mix + ((apm1[a1] * (128 - wt) + apm1[a1 + 1] * wt) >> 11)
                         + ((apm2[a2] * (128 - wt) + apm2[a2 + 1] * wt) >> 11) + 2) >> 2
                else:
                    p = p_mix
                p = 1 if p < 1 else (4095 if p > 4095 else p)
                bit = next_bit(p)
                # --- learn from the bit: one gradient step on -log p(bit) everywhere
                err = ((bit << 12) - p_mix) * lr
                for k in inputs:
                    w[k] += (st[k] * err) >> 14
                target = bit << 16
                if use_apm:
                    if wt >= 64:
                        a1 += 1
                        a2 += 1
                    apm1[a1] += (target - apm1[a1]) >> 6
                    apm2[a2] += (target - apm2[a2]) >> 6
                for k in ctx:
                    t, c, ix = prob[k], count[k], idx[k]
                    n = c[ix]
                    pv = t[ix] + (((target - t[ix]) * recip[n]) >> 16)
                    t[ix] = 65535 if pv > 65535 else pv
                    if n < limit:
                        c[ix] = n + 1
                n = count0[c0]
                pv = prob0[c0] + (((target - prob0[c0]) * recip[n]) >> 16)
                prob0[c0] = 65535 if pv > 65535 else pv
                if n < limit:
                    count0[c0] = n + 1
                if mi >= 0:
                    v = match_prob[mi]
                    n, pv = v & 1023, v >> 10
                    pv += ((target - pv) * recip[n]) >> 16
                    match_prob[mi] = (pv << 10) | (n + 1 if n < 1023 else n)
                c0 = (c0 << 1) | bit
            self._after_byte(c0 & 255)
        return bytes(self.buf[start:])


def model_probabilities(data: bytes, cfg: CMConfig | None = None,
                        model: ContextMixer | None = None) -> np.ndarray:
    """The 12-bit probability of a 1 that the model gave to every bit of ``data``."""
    model = model or ContextMixer(cfg)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tolist()
    probs = array("H")
    record, following = probs.append, iter(bits).__next__

    def next_bit(p: int) -> int:
        record(p)
        return following()

    model.run(len(data), next_bit)
    return np.frombuffer(probs, dtype=np.uint16).copy()


def generate_bytes(model: ContextMixer, n_bytes: int, seed: int = 0) -> bytes:
    """Generate ``n_bytes`` bytes by drawing every bit from the model's own p.

    This is what the decoder does when it is fed random coded bits: sampling from a
    compressor's model and decoding noise are the same operation.
    """
    rng = random.Random(seed)
    draw = rng.getrandbits

    def next_bit(p: int) -> int:
        return 1 if draw(12) < p else 0

    return model.run(n_bytes, next_bit)


def decode(payload: bytes, n_bytes: int, cfg: CMConfig, partial: bool = False) -> bytes:
    """Decode ``n_bytes`` from a range-coded payload with a fresh model ``cfg``.

    Only a decoder whose model computes every probability exactly as the encoder's
    did gets the data back; anything else decodes garbage from the first difference,
    and usually soon reaches coded bits that no symbol could have produced, where
    constriction stops. Then ``partial=True`` returns the bytes decoded until there;
    otherwise the error propagates.
    """
    from .coder import bit_decoder

    model = ContextMixer(cfg)
    try:
        return model.run(n_bytes, bit_decoder(payload))
    except (AssertionError, ValueError, RuntimeError):
        if not partial:
            raise
        return bytes(model.buf)


def byte_costs(p1, data: bytes) -> np.ndarray:
    """The cost of each byte, -sum over its 8 bits of log2 p(bit), from the model's
    12-bit probabilities ``p1`` (one per bit)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    p = np.asarray(p1, dtype=np.float64) / 4096
    cost = -np.log2(np.where(bits == 1, p, 1 - p))
    return cost.reshape(-1, 8).sum(axis=1)


def logistic_mix_step(w, stretched, bit: int, lr: float):
    """The mixer in floating point: one prediction and one gradient step.

        p = sigmoid(w · s),   w <- w + lr * (bit - p) * s

    (s: the inputs' logits stretch(p_i)). ``bit - p`` times s is minus the gradient of
    the log-loss -log p(bit) with respect to w. Returns (p, new w).
    :class:`ContextMixer` does the same in integers.
    """
    import torch

    w, stretched = torch.as_tensor(w), torch.as_tensor(stretched)
    p = torch.sigmoid(w @ stretched)
    return p, w + lr * (bit - p) * stretched
