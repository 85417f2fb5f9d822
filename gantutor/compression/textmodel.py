"""A byte model that learns while it reads: context mixing, trained online.

The model predicts each byte one bit at a time, most significant bit first, so by
the chain rule p(byte) = prod_i p(b_i | b_<i, past bytes). For each bit it asks
several *context models* (the last 1, 2, 3, 4, 6 and 8 bytes, the current word, the
current and previous word, sparse contexts that skip a byte or two, the byte above in
the previous line, the last two UTF-8 characters, and the byte a match model expects:
the one that followed the last occurrence of the last 6 bytes) for a probability,
turns each into a logit ``stretch(p) = ln(p / (1 - p))`` and mixes them with a small
neural network: two logistic units, one whose weight vector is chosen by the bits of
the current byte seen so far and the match length, one chosen by the last byte, and a
final unit that mixes the two:

    p = squash(sum_i w_i * stretch(p_i)),   squash(x) = 1 / (1 + e^-x).

After the bit y is known, every part takes one step of online gradient descent on the
log-loss -log p(y): the weights move by ``w_i += lr * (y - p) * stretch(p_i)`` and each
context's probability moves toward y by 1/(n + 1.5), n being how often that context
has been seen. Three adaptive probability maps (secondary estimation) then refine p
given the partial byte, the previous byte and the two before. This is the PAQ family of
compressors (Mahoney 2002-2007) in a few hundred lines.

Every number is an integer: probabilities in 1/4096 (mixer) and 1/65536 (counters),
logits in 1/256, weights in 1/65536, hashes in 32 bits. Integer arithmetic is exact on
every machine, so an encoder and a decoder anywhere compute bit-identical
probabilities. :class:`ContextMixer` is the readable reference in plain Python;
:mod:`.textfast` computes the same integers compiled, and the codec uses it.
"""

from __future__ import annotations

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
M32 = 0xFFFFFFFF
MODEL_VERSION = 2  # the model's arithmetic; a file says which version wrote it
MATCH_MIN = 6  # the match model looks up where the last 6 bytes occurred before
N_APM = 3  # adaptive probability maps after the mixer


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
COUNTER_START = 32768 << 10  # a counter: P(1) in 1/65536, shifted 10, | times seen


def mix32(h: int) -> int:
    """A 32-bit integer hash (two multiply-xorshift rounds). Python's hash() is
    salted per run; this one is the same everywhere."""
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & M32
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & M32
    return h ^ (h >> 16)


def hash2(a: int, b: int) -> int:
    """Hash of two 32-bit values."""
    return mix32((mix32(a & M32) * 0x2F0F3 + (b & M32)) & M32)


def counter_step(v: int, target: int, limit: int) -> int:
    """Move a counter's P(1) toward ``target`` (0 or 65536) by 1/(n + 1.5) and
    count the visit, up to ``limit``: the running average of the bits it saw."""
    n, p = v & 1023, v >> 10
    p = min(65535, p + (((target - p) * RECIPROCAL[n]) >> 16))
    return (p << 10) | (n + 1 if n < limit else n)


_INT_FIELDS = (("table_bits", 10, 24), ("limit", 1, 255), ("lr", 1, 64),
               ("init_weight", 0, 65536))
_FLAGS = ("word", "match", "apm", "sparse", "column", "utf8", "mix2")


@dataclass(frozen=True)
class CMConfig:
    """Settings of the context-mixing model; saved in every compressed file."""

    orders: tuple[int, ...] = (1, 2, 3, 4, 6, 8)  # context lengths in bytes (1..8)
    word: bool = True  # two word contexts: this word; this word and the one before
    match: bool = True  # match model over the longest recent repeat
    apm: bool = True  # three secondary estimation stages after the mixer
    sparse: bool = True  # three contexts that skip the last byte (binary records)
    column: bool = True  # two contexts of the byte above in the previous line
    utf8: bool = True  # one context of the last two whole UTF-8 characters
    mix2: bool = True  # a second mixer chosen by the last byte, and a final mixer
    table_bits: int = 24  # the contexts' table holds 2**table_bits counters (10..24)
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
        for name in _FLAGS:
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                problems.append(f"{name} must be true or false")
        for name, lo, hi in _INT_FIELDS:
            if not is_int(getattr(self, name), lo, hi):
                problems.append(f"{name} must be an integer {lo}..{hi}")
        if problems:
            raise GantutorError("invalid context-mixing settings: "
                                + "; ".join(problems))
        object.__setattr__(self, "orders", tuple(int(o) for o in orders))
        for name in _FLAGS:
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


def context_count(cfg: CMConfig) -> int:
    """How many hashed contexts (each with its table of counters) ``cfg`` uses."""
    return (len(cfg.orders) + 2 * cfg.word + 3 * cfg.sparse + 2 * cfg.column
            + cfg.utf8 + cfg.match)


def input_count(cfg: CMConfig) -> int:
    """The mixer's inputs: the contexts, order 0, the match model and a bias."""
    return context_count(cfg) + 3


def match_table_bits(cfg: CMConfig) -> int:
    return min(cfg.table_bits, 20)


def table_bits_for(n_bytes: int) -> int:
    """Table size that fits the input: about 8 counters per bit coded, 2**16..2**24
    (64 MB)."""
    return max(16, min(24, (8 * max(n_bytes, 1)).bit_length() + 3))


def table_bits_limit(n_bytes: int) -> int:
    """The largest table a file of ``n_bytes`` may use: 8 counters per bit coded
    (each bit touches one counter per context, so more cannot help), at least 2**16,
    at most 2**24. Bounds the memory of coding by the length of the data."""
    return max(16, min(24, (8 * max(n_bytes, 1)).bit_length() + 3))


def _clip(x: int) -> int:
    return max(-2047, min(2047, x))


class ContextMixer:
    """The online byte model, in plain Python: the reference. :meth:`run` codes,
    decodes or samples bytes. :class:`~.textfast.FastMixer` computes the same
    integers, compiled.

    The model keeps learning from every byte it sees, so calling :meth:`run` again
    continues from everything seen before (that is how :func:`generate_bytes` writes
    text in the style of what the model has read).
    """

    def __init__(self, cfg: CMConfig | None = None):
        self.cfg = cfg = cfg or CMConfig()
        size = 1 << cfg.table_bits
        self.n_inputs = input_count(cfg)
        # one table of counters for all contexts, in blocks of 16 (one per nibble)
        self.table = array("I", [COUNTER_START]) * size
        self.order0 = array("I", [COUNTER_START]) * 256  # by partial byte
        self.match_prob = array("I", [COUNTER_START]) * 64  # by length, expected bit
        # mixer weights in 1/65536: 1024 sets chosen by partial byte and match
        # length, then 256 chosen by the last byte (mix2)
        self.weights = [[cfg.init_weight] * self.n_inputs for _ in range(1024 + 256)]
        self.final = [[32768, 32768] for _ in range(256)]  # mix2: the two mixers' mix
        row = array("i", [SQUASH[_clip((b - 16) * 128) + 2048] * 16
                          for b in range(33)])
        # by partial byte; with the last byte; with a hash of the last two
        self.apms = [row * 256, row * 65536, row * 65536]  # 33 knots per row
        self.match_table = array("i", [0]) * (1 << match_table_bits(cfg))
        self.buf = bytearray()
        self.c4 = self.c8 = 0  # the last 4 bytes, and the 4 before them
        self.word0 = self.word1 = 0  # hashes of this word and the one before
        self.line0 = self.line1 = 0  # where this line and the one before start
        self.chr1 = self.chr2 = 0  # the last two whole characters (UTF-8 bytes)
        self.part = self.left = 0  # the character being read, bytes still to come
        self.match_len = self.match_ptr = self.expected = 0
        self.hashes = self._context_hashes()

    def _context_hashes(self) -> list[int]:
        """A 32-bit hash of every context of the next byte, then the APM's row."""
        cfg, c4, c8 = self.cfg, self.c4, self.c8
        hs = [hash2(o, c4 & ((1 << (8 * o)) - 1)) if o <= 4 else
              hash2(hash2(o, c4), c8 & ((1 << (8 * (o - 4))) - 1))
              for o in cfg.orders]
        if cfg.word:
            hs += [hash2(20, self.word0), hash2(hash2(21, self.word0), self.word1)]
        if cfg.sparse:  # skip the last byte, or two
            hs += [hash2(30, c4 & 0xFF00), hash2(31, c4 >> 16),
                   hash2(32, c4 & 0xFF00FF)]
        if cfg.column:  # the byte above in the previous line
            col = len(self.buf) - self.line0
            above = (self.buf[self.line1 + col] if self.line1 + col < self.line0
                     else 0)
            hs += [hash2(hash2(40, above), c4 & 0xFF),
                   hash2(41, above | (min(col, 255) << 8))]
        if cfg.utf8:
            hs.append(hash2(hash2(50, self.chr1), hash2(self.chr2, self.part)))
        if cfg.match:  # the byte the match model expects, and the match's length
            hs.append(hash2(60, self.expected | (min(self.match_len, 15) << 9)))
        hs.append(hash2(70, c4 & 0xFFFF) & 0xFFFF)
        return hs

    def _after_byte(self, byte: int) -> None:
        """Update the byte-level state, then the contexts of the next byte."""
        buf = self.buf
        buf.append(byte)
        self.c8 = ((self.c8 << 8) | (self.c4 >> 24)) & M32
        self.c4 = ((self.c4 << 8) | byte) & M32
        if self.cfg.word:  # letters (either case) and UTF-8 bytes make words
            ch = byte | 32 if byte < 128 else byte
            if 97 <= ch <= 122 or byte >= 128:
                self.word0 = (self.word0 * 0x3F1 + ch) & M32
            elif self.word0:
                self.word1, self.word0 = self.word0, 0
        if byte == 10:
            self.line1, self.line0 = self.line0, len(buf)
        self._utf8(byte)
        if self.cfg.match:
            self._match(byte)
            self.expected = (buf[self.match_ptr] | 256) if self.match_len else 0
        self.hashes = self._context_hashes()

    def _utf8(self, byte: int) -> None:
        """Track whole characters: a lead byte starts one, continuations extend it."""
        if byte < 128 or byte >= 192:
            if self.part:  # an unfinished character ends here
                self.chr2, self.chr1 = self.chr1, self.part
            self.part = byte
            self.left = 0 if byte < 192 else 1 if byte < 224 else 2 if byte < 240 else 3
            if byte < 128:
                self.chr2, self.chr1, self.part = self.chr1, byte, 0
        else:
            self.part = ((self.part << 8) | byte) & M32
            self.left -= 1
            if self.left <= 0:
                self.chr2, self.chr1, self.part = self.chr1, self.part, 0

    def _match(self, byte: int) -> None:
        """Follow the match pointer while its prediction comes true; otherwise look
        up where the last MATCH_MIN bytes occurred before."""
        buf, pos = self.buf, len(self.buf)
        if self.match_len and buf[self.match_ptr] == byte:
            self.match_len = min(self.match_len + 1, 65535)
            self.match_ptr += 1
        else:
            self.match_len = 0
        if pos < MATCH_MIN:
            return
        h = hash2(self.c4, (self.c8 & 0xFFFF) + 99) >> (32 - match_table_bits(self.cfg))
        if self.match_len == 0:
            ptr, n = self.match_table[h], 0
            while ptr and n < 32 and n < ptr and buf[ptr - 1 - n] == buf[pos - 1 - n]:
                n += 1  # length of the repeat, counted backwards, at most 32
            self.match_len, self.match_ptr = n, (ptr if n else 0)
        self.match_table[h] = pos

    def _block(self, k: int, c0: int, shift: int) -> int:
        """Where context ``k``'s 16 counters for this nibble start. The hash picks
        two neighbouring blocks; each block's first slot holds 8 bits of the hash
        that owns it. If neither holds this context's, the less used block (fewer
        visits of its first counter) is given to it, its counters started afresh."""
        hh = mix32((self.hashes[k] + c0 * 0x6F4F2A35) & M32)
        pair, check, table = (hh >> shift) & ~31, (hh & 255) + 1, self.table
        for base in (pair, pair + 16):
            if table[base] == check:
                return base
        base = pair if (table[pair + 1] & 1023) <= (table[pair + 17] & 1023) \
            else pair + 16
        table[base] = check
        table[base + 1: base + 16] = array("I", [COUNTER_START]) * 15
        return base

    def run(self, n_bytes: int, next_bit) -> bytes:
        """Predict ``n_bytes`` bytes bit by bit; returns them.

        For every bit the model calls ``next_bit(p)`` with p = 4096 * P(bit = 1), an
        integer in 1..4095, and learns from the bit it returns: the encoder returns the
        data's bit (and records p), the decoder returns the bit it decodes with p, a
        sampler returns a random bit drawn with p.

        One long body on purpose, the tables in local variables: it is the
        readable reference, and each call per bit costs pure Python speed.
        """
        cfg = self.cfg
        n_ctx, shift, lr = context_count(cfg), 32 - cfg.table_bits, cfg.lr
        table, order0, match_prob = self.table, self.order0, self.match_prob
        stretch, squash = STRETCH, SQUASH
        start = len(self.buf)
        for _ in range(n_bytes):
            hs, c1 = self.hashes, self.c4 & 255
            mlen, expected = self.match_len, self.expected
            msel = 0 if mlen == 0 else (1 if mlen < 16 else (2 if mlen < 32 else 3))
            c0 = nib = 1  # the bits of this byte (nibble) so far, after a leading 1
            for j in range(7, -1, -1):
                if nib == 1:  # a nibble starts: a block of 16 counters per context
                    base = [self._block(k, c0, shift) for k in range(n_ctx)]
                slots = [b + nib for b in base]
                st = [stretch[table[i] >> 14] for i in slots]
                st.append(stretch[order0[c0] >> 14])
                mi = -1
                if expected and (expected >> (j + 1)) == c0:
                    mi = 2 * min(mlen, 15) + ((expected >> j) & 1)
                st.append(stretch[match_prob[mi] >> 14] if mi >= 0 else 0)
                st.append(256)  # bias input
                w1 = self.weights[c0 + 256 * msel]
                dot1 = dot = _clip(sum(a * b for a, b in zip(w1, st)) >> 16)
                if cfg.mix2:  # a second mixer chosen by the last byte, then mix both
                    w2, fw = self.weights[1024 + c1], self.final[c0]
                    dot2 = _clip(sum(a * b for a, b in zip(w2, st)) >> 16)
                    dot = _clip((fw[0] * dot1 + fw[1] * dot2) >> 16)
                p_mix = p = squash[dot + 2048]
                if cfg.apm:  # interpolate three adaptive maps of the mixer's logit
                    x = dot + 2048
                    wt = x & 127
                    rows = (c0, c0 | (c1 << 8), (hs[n_ctx] + c0 * 0x9E3) & 0xFFFF)
                    ixs = [r * 33 + (x >> 7) for r in rows]
                    p += sum((apm[i] * (128 - wt) + apm[i + 1] * wt) >> 11
                             for apm, i in zip(self.apms, ixs))
                    p = (p + 2) >> 2
                p = max(1, min(4095, p))
                bit = next_bit(p)
                # --- learn from the bit: one gradient step on -log p(bit) everywhere
                if cfg.mix2:
                    err = ((bit << 12) - p_mix) * lr
                    fw[0] += (dot1 * err) >> 14
                    fw[1] += (dot2 * err) >> 14
                    err2 = ((bit << 12) - squash[dot2 + 2048]) * lr
                    for k in range(n_ctx + 3):
                        w2[k] += (st[k] * err2) >> 14
                err = ((bit << 12) - squash[dot1 + 2048]) * lr
                for k in range(n_ctx + 3):
                    w1[k] += (st[k] * err) >> 14
                target = bit << 16
                if cfg.apm:
                    up = 1 if wt >= 64 else 0
                    for apm, i in zip(self.apms, ixs):
                        apm[i + up] += (target - apm[i + up]) >> 6
                for i in slots:
                    table[i] = counter_step(table[i], target, cfg.limit)
                order0[c0] = counter_step(order0[c0], target, cfg.limit)
                if mi >= 0:
                    match_prob[mi] = counter_step(match_prob[mi], target, 1023)
                c0, nib = 2 * c0 + bit, (1 if j == 4 else 2 * nib + bit)
            self._after_byte(c0 & 255)
        return bytes(self.buf[start:])


def model_probabilities(data: bytes, cfg: CMConfig | None = None,
                        model=None) -> np.ndarray:
    """The 12-bit probability of a 1 that the model gave to every bit of ``data``.

    ``model``: a :class:`ContextMixer` or a :class:`~.textfast.FastMixer` (the
    same numbers, compiled) to continue; by default a new :class:`ContextMixer`.
    """
    model = model or ContextMixer(cfg)
    if not isinstance(model, ContextMixer):
        return model.probabilities(data)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tolist()
    probs = array("H")
    record, following = probs.append, iter(bits).__next__

    def next_bit(p: int) -> int:
        record(p)
        return following()

    model.run(len(data), next_bit)
    return np.frombuffer(probs, dtype=np.uint16).copy()


def xorshift_bits(seed: int):
    """``draw(p)``: a bit that is 1 with probability p/4096, from a xorshift32
    generator seeded with ``seed`` (the compiled model draws the same bits)."""
    state = [mix32(seed & M32) | 1]

    def draw(p: int) -> int:
        r = state[0]
        r ^= (r << 13) & M32
        r ^= r >> 17
        r ^= (r << 5) & M32
        state[0] = r
        return 1 if (r >> 20) < p else 0

    return draw


def generate_bytes(model, n_bytes: int, seed: int = 0) -> bytes:
    """Generate ``n_bytes`` bytes by drawing every bit from the model's own p.

    This is what the decoder does when it is fed random coded bits: sampling from a
    compressor's model and decoding noise are the same operation. ``model``: a
    :class:`ContextMixer` or a :class:`~.textfast.FastMixer` (the same bytes).
    """
    if not isinstance(model, ContextMixer):
        return model.generate(n_bytes, seed)
    return model.run(n_bytes, xorshift_bits(seed))


def encode(data: bytes, cfg: CMConfig | None = None) -> bytes:
    """The reference encoder: the model's bits, arithmetic-coded
    (:class:`.coder.BitEncoder`). :meth:`.textfast.FastMixer.encode` writes the
    same bytes."""
    from .coder import BitEncoder

    enc = BitEncoder()
    bits = iter(np.unpackbits(np.frombuffer(bytes(data), np.uint8)).tolist())

    def next_bit(p: int) -> int:
        bit = next(bits)
        enc.encode(bit, p)
        return bit

    ContextMixer(cfg).run(len(data), next_bit)
    return enc.finish()


def decode_arithmetic(payload: bytes, n_bytes: int, cfg: CMConfig | None = None
                      ) -> bytes:
    """The reference decoder of :func:`encode`'s bytes."""
    from .coder import BitDecoder

    return ContextMixer(cfg).run(n_bytes, BitDecoder(payload).decode)


def decode(payload: bytes, n_bytes: int, cfg: CMConfig, partial: bool = False) -> bytes:
    """Decode ``n_bytes`` from a payload range-coded by constriction
    (:func:`.coder.encode_bits`) with a fresh model ``cfg``.

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
