"""The context mixer of :mod:`.textmodel`, compiled with numba: the same model, fast.

:class:`~.textmodel.ContextMixer` is the readable reference, in plain Python; this
module computes exactly the same integers (tests/test_textmodel_fast.py checks it
bit for bit on random inputs), about twenty times faster. The per-bit work is split
into small compiled functions that LLVM inlines into one loop; every quantity is an
integer held in 64 bits and masked to 32 where it is a hash, so nothing overflows and
every machine computes the same numbers. The arithmetic coder is here too, because
the decoder must decode each bit before the model can predict the next one.

numba caches the compiled code (``cache=True``), keyed on this file. So that a change
elsewhere cannot leave a stale cache, the compiled functions use only constants
defined here; the settings, the lookup tables and :mod:`.textmodel`'s constants come
in at run time (``FastState.params`` and the arrays).

State lives in NumPy arrays (:class:`FastState`), so a model can keep reading after
coding (:meth:`FastMixer.generate`) exactly as the reference does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .textmodel import (
    MATCH_MIN,
    N_APM,
    RECIPROCAL,
    SQUASH,
    STRETCH,
    CMConfig,
    context_count,
    input_count,
    match_table_bits,
)

M32 = 0xFFFFFFFF
# indices into the scalar state vector ``s``
C4, C8, WORD0, WORD1, MLEN, MPTR, POS, LINE0, LINE1, CHR1, CHR2, PART, LEFT = range(13)
MEXP, RNG = 13, 14
N_SCALARS = 16
# flags, from the settings
F_WORD, F_MATCH, F_APM, F_SPARSE, F_COLUMN, F_UTF8, F_MIX2 = (1, 2, 4, 8, 16, 32, 64)

_APM_START = (0, 256 * 33, (256 + 65536) * 33)
_TABLES = (np.array(STRETCH, np.int64), np.array(SQUASH, np.int64),
           np.array(RECIPROCAL, np.int64))


@njit(cache=True)
def mix32(h):
    """A 32-bit integer hash (two multiply-xorshift rounds)."""
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & M32
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & M32
    return h ^ (h >> 16)


@njit(cache=True)
def hash2(a, b):
    """Hash of two 32-bit values."""
    return mix32((mix32(a & M32) * 0x2F0F3 + (b & M32)) & M32)


class FastState:
    """Every array the compiled model reads and writes, for one :class:`CMConfig`."""

    def __init__(self, cfg: CMConfig, capacity: int):
        self.cfg = cfg
        n_ctx, n_in = context_count(cfg), input_count(cfg)
        self.orders = np.array(cfg.orders, np.int64)
        self.flags = np.int64(
            F_WORD * cfg.word + F_MATCH * cfg.match + F_APM * cfg.apm
            + F_SPARSE * cfg.sparse + F_COLUMN * cfg.column + F_UTF8 * cfg.utf8
            + F_MIX2 * cfg.mix2)
        self.params = np.array([cfg.table_bits, cfg.limit, cfg.lr,
                                match_table_bits(cfg), MATCH_MIN, N_APM], np.int64)
        self.t = np.full(1 << cfg.table_bits, 32768 << 10, np.uint32)
        self.p0 = np.full(256, 32768 << 10, np.uint32)
        self.mp = np.full(64, 32768 << 10, np.uint32)
        self.w = np.full((1024 + 256, n_in), cfg.init_weight, np.int64)
        self.wf = np.full((256, 2), 32768, np.int64)
        row = np.array([SQUASH[max(-2047, min(2047, (b - 16) * 128)) + 2048] * 16
                        for b in range(33)], np.int64)
        # the three maps one after another: 256, 65536 and 65536 rows of 33 knots
        self.apm = np.tile(row.astype(np.int32), 256 + 2 * 65536)
        self.mt = np.zeros(1 << match_table_bits(cfg), np.int32)
        self.buf = np.zeros(max(capacity, 1), np.uint8)
        self.s = np.zeros(N_SCALARS, np.int64)
        self.s[RNG] = 0
        self.h = np.zeros(n_ctx + 1, np.int64)  # context hashes, and the APM's
        self.scratch = np.zeros((3, max(n_in, 16)), np.int64)
        byte_contexts(self.orders, self.flags, self.buf, self.s, self.h)

    def grow(self, extra: int) -> None:
        """Room in the history buffer for ``extra`` more bytes."""
        need = int(self.s[POS]) + extra
        if need > len(self.buf):
            buf = np.zeros(max(need, 2 * len(self.buf)), np.uint8)
            buf[: len(self.buf)] = self.buf
            self.buf = buf

    def arrays(self):
        return (self.orders, self.flags, self.params, self.t, self.p0, self.mp,
                self.w, self.wf, self.apm, self.mt, self.buf, self.s, self.h,
                self.scratch) + _TABLES


# ------------------------------------------------------------- byte-level state


@njit(cache=True)
def after_byte(byte, orders, flags, params, buf, mt, s, h):
    """Append ``byte`` to the history; update word, line, character and match state;
    compute the context hashes for the next byte into ``h``."""
    pos = s[POS]
    buf[pos] = byte
    pos += 1
    s[POS] = pos
    s[C8] = ((s[C8] << 8) | (s[C4] >> 24)) & M32
    s[C4] = ((s[C4] << 8) | byte) & M32
    if flags & 1:  # word: letters (either case) and UTF-8 bytes form words
        ch = byte | 32 if byte < 128 else byte
        if (97 <= ch <= 122) or byte >= 128:
            s[WORD0] = (s[WORD0] * 0x3F1 + ch) & M32
        elif s[WORD0]:
            s[WORD1] = s[WORD0]
            s[WORD0] = 0
    if byte == 10:
        s[LINE1] = s[LINE0]
        s[LINE0] = pos
    if byte < 128 or byte >= 192:  # a character starts (or is one ASCII byte)
        if s[PART]:
            s[CHR2] = s[CHR1]
            s[CHR1] = s[PART]
        s[PART] = byte
        s[LEFT] = 0 if byte < 192 else (1 if byte < 224 else (2 if byte < 240 else 3))
        if byte < 128:
            s[CHR2] = s[CHR1]
            s[CHR1] = byte
            s[PART] = 0
    else:
        s[PART] = ((s[PART] << 8) | byte) & M32
        s[LEFT] -= 1
        if s[LEFT] <= 0:
            s[CHR2] = s[CHR1]
            s[CHR1] = s[PART]
            s[PART] = 0
    if flags & 2:
        match_update(byte, params, buf, mt, s)
        s[MEXP] = (buf[s[MPTR]] | 256) if s[MLEN] else 0
    byte_contexts(orders, flags, buf, s, h)


@njit(cache=True)
def match_update(byte, params, buf, mt, s):
    """Follow the match pointer while its prediction comes true; otherwise look up
    where the last MATCH_MIN bytes occurred before."""
    pos = s[POS]
    if s[MLEN] and buf[s[MPTR]] == byte:
        s[MLEN] = min(s[MLEN] + 1, 65535)
        s[MPTR] += 1
    else:
        s[MLEN] = 0
    if pos < params[4]:  # MATCH_MIN
        return
    hm = hash2(s[C4], (s[C8] & 0xFFFF) + 99) >> (32 - params[3])
    if s[MLEN] == 0:
        ptr = mt[hm]
        n = 0
        while ptr and n < 32 and n < ptr and buf[ptr - 1 - n] == buf[pos - 1 - n]:
            n += 1
        s[MLEN] = n
        s[MPTR] = ptr if n else 0
    mt[hm] = pos


@njit(cache=True)
def byte_contexts(orders, flags, buf, s, h):
    """The hash of every context for the next byte, in the reference's order."""
    c4, c8 = s[C4], s[C8]
    k = 0
    for o in orders:
        if o <= 4:
            h[k] = hash2(o, c4 & ((1 << (8 * o)) - 1))
        else:
            h[k] = hash2(hash2(o, c4), c8 & ((1 << (8 * (o - 4))) - 1))
        k += 1
    if flags & 1:
        h[k] = hash2(20, s[WORD0])
        h[k + 1] = hash2(hash2(21, s[WORD0]), s[WORD1])
        k += 2
    if flags & 8:  # sparse: skip the last byte, or two
        h[k] = hash2(30, c4 & 0xFF00)
        h[k + 1] = hash2(31, c4 >> 16)
        h[k + 2] = hash2(32, c4 & 0xFF00FF)
        k += 3
    if flags & 16:  # the byte above in the previous line, and the last byte
        col = s[POS] - s[LINE0]
        above = buf[s[LINE1] + col] if s[LINE1] + col < s[LINE0] else 0
        h[k] = hash2(hash2(40, above), c4 & 0xFF)
        h[k + 1] = hash2(41, above | (min(col, 255) << 8))
        k += 2
    if flags & 32:  # the last two whole characters and the partial one
        h[k] = hash2(hash2(50, s[CHR1]), hash2(s[CHR2], s[PART]))
        k += 1
    if flags & 2:  # the byte the match model expects, and how long the match is
        h[k] = hash2(60, s[MEXP] | (min(s[MLEN], 15) << 9))
        k += 1
    h[k] = hash2(70, c4 & 0xFFFF) & 0xFFFF  # the third APM's row


# ------------------------------------------------------------------ one bit


@njit(cache=True)
def squash_of(x, sq):
    return sq[max(-2047, min(2047, x)) + 2048]


@njit(cache=True)
def find_block(t, pair, check):
    """The 16-counter block of a context: of the two blocks at ``pair``, the one
    holding ``check`` in its first slot; else the less used one, started afresh."""
    if t[pair] == check:
        return pair
    if t[pair + 16] == check:
        return pair + 16
    base = pair if (t[pair + 1] & 1023) <= (t[pair + 17] & 1023) else pair + 16
    t[base] = check
    for i in range(1, 16):
        t[base + i] = 32768 << 10
    return base


@njit(cache=True)
def predict(c0, nib, j, params, flags, t, p0, mp, w, wf, apm, s, h, sc, st_, sq):
    """P(next bit = 1) in 1..4095. ``sc`` rows: 0 the inputs, 1 the slots and
    mixer outputs, 2 the APM slots."""
    n_ctx = w.shape[1] - 3
    tb = params[0]
    st = sc[0]
    if nib == 1:  # a nibble starts: new 16-slot block for every context
        for k in range(n_ctx):
            hh = mix32((h[k] + c0 * 0x6F4F2A35) & M32)
            sc[1, k] = find_block(t, (hh >> (32 - tb)) & ~31, (hh & 255) + 1)
    for k in range(n_ctx):
        st[k] = st_[t[sc[1, k] + nib] >> 14]
    st[n_ctx] = st_[p0[c0] >> 14]
    mlen, expected = s[MLEN], s[MEXP]
    st[n_ctx + 1] = 0
    sc[2, 3] = -1
    if expected and (expected >> (j + 1)) == c0:
        mi = 2 * min(mlen, 15) + ((expected >> j) & 1)
        st[n_ctx + 1] = st_[mp[mi] >> 14]
        sc[2, 3] = mi
    st[n_ctx + 2] = 256
    msel = 0 if mlen == 0 else (1 if mlen < 16 else (2 if mlen < 32 else 3))
    n_in = n_ctx + 3
    row = c0 + 256 * msel
    dot = 0
    for k in range(n_in):
        dot += w[row, k] * st[k]
    dot = max(-2047, min(2047, dot >> 16))
    sc[2, 4] = dot
    if flags & 64:  # a second mixer chosen by the last byte, and a final one
        row2 = 1024 + (s[C4] & 255)
        dot2 = 0
        for k in range(n_in):
            dot2 += w[row2, k] * st[k]
        dot2 = max(-2047, min(2047, dot2 >> 16))
        sc[2, 5] = dot2
        dot = max(-2047, min(2047, (wf[c0, 0] * dot + wf[c0, 1] * dot2) >> 16))
    sc[2, 6] = dot
    p_mix = sq[dot + 2048]
    sc[2, 7] = p_mix
    if not flags & 4:
        return max(1, min(4095, p_mix))
    x = dot + 2048
    wt = x & 127
    sc[2, 8] = wt
    rows = (c0, c0 | ((s[C4] & 255) << 8), (h[n_ctx] + c0 * 0x9E3) & 0xFFFF)
    total = p_mix
    for a in range(params[5]):  # N_APM
        ix = _APM_START[a] + rows[a] * 33 + (x >> 7)
        sc[2, a] = ix
        total += (apm[ix] * (128 - wt) + apm[ix + 1] * wt) >> 11
    return max(1, min(4095, (total + 2) >> 2))


@njit(cache=True)
def update(bit, c0, nib, params, flags, t, p0, mp, w, wf, apm, s, sc, sq, rc):
    """Learn from ``bit``: one gradient step for the mixers, the counters move
    toward the bit, the APM knot nearest the mixer's logit too."""
    n_ctx = w.shape[1] - 3
    limit, lr = params[1], params[2]
    st = sc[0]
    n_in = n_ctx + 3
    mlen = s[MLEN]
    msel = 0 if mlen == 0 else (1 if mlen < 16 else (2 if mlen < 32 else 3))
    row = c0 + 256 * msel
    if flags & 64:
        d1, d2 = sc[2, 4], sc[2, 5]
        errf = ((bit << 12) - sq[sc[2, 6] + 2048]) * lr
        wf[c0, 0] += (d1 * errf) >> 14
        wf[c0, 1] += (d2 * errf) >> 14
        err = ((bit << 12) - sq[d1 + 2048]) * lr
        err2 = ((bit << 12) - sq[d2 + 2048]) * lr
        row2 = 1024 + (s[C4] & 255)
        for k in range(n_in):
            w[row, k] += (st[k] * err) >> 14
            w[row2, k] += (st[k] * err2) >> 14
    else:
        err = ((bit << 12) - sc[2, 7]) * lr
        for k in range(n_in):
            w[row, k] += (st[k] * err) >> 14
    target = bit << 16
    if flags & 4:
        up = 1 if sc[2, 8] >= 64 else 0
        for a in range(params[5]):  # N_APM
            ix = sc[2, a] + up
            apm[ix] += (target - apm[ix]) >> 6
    for k in range(n_ctx):
        ix = sc[1, k] + nib
        t[ix] = counter_step(t[ix], target, limit, rc)
    p0[c0] = counter_step(p0[c0], target, limit, rc)
    mi = sc[2, 3]
    if mi >= 0:
        mp[mi] = counter_step(mp[mi], target, 1023, rc)


@njit(cache=True)
def counter_step(v, target, limit, rc):
    """A counter (P(1) in 1/65536 << 10 | times seen) moved toward ``target`` by
    1/(n + 1.5)."""
    n = v & 1023
    p = v >> 10
    p += ((target - p) * rc[n]) >> 16
    if p > 65535:
        p = 65535
    if n < limit:
        n += 1
    return (p << 10) | n


# ---------------------------------------------------- arithmetic coding, one bit


@njit(cache=True)
def encode_bit(bit, p, cs, out):
    """Carry-less binary arithmetic coding (as :class:`.coder.BitEncoder`):
    ``cs`` holds x1, x2 and the output position."""
    x1, x2 = cs[0], cs[1]
    xmid = x1 + ((x2 - x1) >> 12) * p
    if bit:
        x2 = xmid
    else:
        x1 = xmid + 1
    while ((x1 ^ x2) & 0xFF000000) == 0:
        out[cs[3]] = x2 >> 24
        cs[3] += 1
        x1 = (x1 << 8) & M32
        x2 = ((x2 << 8) & M32) | 255
    cs[0], cs[1] = x1, x2


@njit(cache=True)
def decode_bit(p, cs, inp):
    """The bit :func:`encode_bit` coded with ``p``; ``cs[2]`` is the code value,
    ``cs[4]`` the input position (bytes past the end read as 0)."""
    x1, x2, x = cs[0], cs[1], cs[2]
    xmid = x1 + ((x2 - x1) >> 12) * p
    bit = 1 if x <= xmid else 0
    if bit:
        x2 = xmid
    else:
        x1 = xmid + 1
    while ((x1 ^ x2) & 0xFF000000) == 0:
        x1 = (x1 << 8) & M32
        x2 = ((x2 << 8) & M32) | 255
        nxt = inp[cs[4]] if cs[4] < len(inp) else 0
        cs[4] += 1
        x = ((x << 8) & M32) | nxt
    cs[0], cs[1], cs[2] = x1, x2, x
    return bit


@njit(cache=True)
def draw_bit(p, s):
    """A bit that is 1 with probability p/4096, from a xorshift32 generator."""
    r = s[RNG]
    r ^= (r << 13) & M32
    r ^= r >> 17
    r ^= (r << 5) & M32
    s[RNG] = r
    return 1 if (r >> 20) < p else 0


@njit(cache=True)
def code_byte(mode, byte, cs, inp, out, rec, state):
    """Predict, code and learn the 8 bits of one byte. mode 0: encode ``byte`` into
    ``out``; 1: decode a byte from ``inp``; 2: only learn ``byte``; 3: draw the bits
    from the model. Each bit's p goes to ``rec`` if it is not empty. Returns the
    byte."""
    (orders, flags, params, t, p0, mp, w, wf, apm, mt, buf, s, h, sc,
     st_, sq, rc) = state
    c0 = 1
    nib = 1
    for j in range(7, -1, -1):
        p = predict(c0, nib, j, params, flags, t, p0, mp, w, wf, apm, s, h, sc,
                    st_, sq)
        if len(rec):
            rec[cs[5]] = p
            cs[5] += 1
        if mode == 0:
            bit = (byte >> j) & 1
            encode_bit(bit, p, cs, out)
        elif mode == 1:
            bit = decode_bit(p, cs, inp)
        elif mode == 2:
            bit = (byte >> j) & 1
        else:
            bit = draw_bit(p, s)
        update(bit, c0, nib, params, flags, t, p0, mp, w, wf, apm, s, sc, sq, rc)
        c0 = 2 * c0 + bit
        nib = 1 if j == 4 else 2 * nib + bit
    byte = c0 & 255
    after_byte(byte, orders, flags, params, buf, mt, s, h)
    return byte


@njit(cache=True)
def kernel(mode, data, start, n, out, rec, cs, state):
    """Run the model over bytes start..n-1 (modes as :func:`code_byte`): encode or
    learn ``data``, decode ``data`` (a payload) into ``out``, or draw bytes into
    ``out``. Returns where it stopped: ``n``, or earlier when an encoder's ``out``
    is nearly full."""
    for i in range(start, n):
        if mode == 0:
            if cs[3] + 40 > len(out):  # a byte may take 32 bytes at worst
                return i
            code_byte(0, data[i], cs, data, out, rec, state)
        elif mode == 2:
            code_byte(2, data[i], cs, data, out, rec, state)
        else:
            out[i] = code_byte(mode, 0, cs, data, out, rec, state)
    return n


# ------------------------------------------------------------------ the model


class FastMixer:
    """The compiled model: :meth:`encode`, :meth:`decode`, :meth:`probabilities` and
    :meth:`generate` each continue from everything it has read."""

    def __init__(self, cfg: CMConfig | None = None, capacity: int = 1 << 16):
        self.cfg = cfg or CMConfig()
        self.state = FastState(self.cfg, capacity)

    def _arrays(self, extra: int):
        self.state.grow(extra)
        return self.state.arrays()

    def encode(self, data: bytes, record: bool = False):
        """The coded bits of ``data``: the arithmetic coder's bytes, flushed. With
        ``record``, also each bit's 12-bit P(1): (bytes, probabilities)."""
        arr = np.frombuffer(bytes(data), np.uint8)
        state = self._arrays(len(arr))
        out = np.zeros(len(arr) + (len(arr) >> 3) + 1024, np.uint8)
        rec = np.zeros(8 * len(arr) if record else 0, np.uint16)
        cs = _coder_state()
        i = 0
        while True:
            i = kernel(0, arr, i, len(arr), out, rec, cs, state)
            if i == len(arr):
                break
            out = np.concatenate([out, np.zeros(len(out), np.uint8)])
        x1, end = int(cs[0]), int(cs[3])
        # x1 lies in the final interval, so it decodes every bit
        payload = out[:end].tobytes() + x1.to_bytes(4, "big")
        return (payload, rec) if record else payload

    def decode(self, payload: bytes, n: int) -> bytes:
        """``n`` bytes decoded from :meth:`encode`'s bytes (bytes past the end of
        ``payload`` read as 0: a truncated payload decodes to garbage, which the
        container's SHA-256 catches)."""
        arr = np.frombuffer(bytes(payload), np.uint8)
        cs = _coder_state()
        cs[2] = int.from_bytes(bytes(arr[:4]).ljust(4, b"\0"), "big")
        cs[4] = 4
        out = np.zeros(n, np.uint8)
        kernel(1, arr, 0, n, out, _EMPTY, cs, self._arrays(n))
        return out.tobytes()

    def probabilities(self, data: bytes) -> np.ndarray:
        """Each bit's 12-bit P(1) (8 per byte), learning ``data``."""
        arr = np.frombuffer(bytes(data), np.uint8)
        rec = np.zeros(8 * len(arr), np.uint16)
        kernel(2, arr, 0, len(arr), _EMPTY_BYTES, rec, _coder_state(),
               self._arrays(len(arr)))
        return rec

    def generate(self, n: int, seed: int = 0) -> bytes:
        """``n`` bytes drawn bit by bit from the model (seeded xorshift32)."""
        self.state.s[RNG] = mix32(seed & M32) | 1
        out = np.zeros(n, np.uint8)
        kernel(3, _NO_INPUT, 0, n, out, _EMPTY, _coder_state(), self._arrays(n))
        return out.tobytes()


_EMPTY = np.zeros(0, np.uint16)
_EMPTY_BYTES = np.zeros(0, np.uint8)
_NO_INPUT = np.frombuffer(b"", np.uint8)  # read-only, as the inputs are


def _coder_state() -> np.ndarray:
    """x1, x2, x, output position, input position, bits recorded."""
    return np.array([0, M32, 0, 0, 0, 0], np.int64)
