"""Entropy coding with constriction's range coder, and the gantutor container format.

A model's probabilities become bytes here. The cost of coding a sequence is, ideally,

    L = -sum_t log2 p(x_t | x_<t)  bits,

and a range coder gets within a few bytes of it. Every model in gantutor hands this
module *integer* frequencies (or probabilities that are exact multiples of 2**-12),
never raw floats, so the encoder and the decoder feed constriction identical numbers.

The container wraps the coded bytes with everything decoding depends on::

    magic  b"\\x89GTZ"        4 bytes (the 0x89 catches text-mode mangling, as in PNG)
    format version           1 byte
    header length            4 bytes, big-endian
    header                   UTF-8 JSON: model, settings, original length and SHA-256,
                             library versions, machine fingerprint where it matters
    header CRC-32            4 bytes
    payload length           8 bytes, big-endian
    payload                  the range coder's 32-bit words, little-endian
    payload CRC-32           4 bytes

:func:`unpack` rejects a truncated, corrupted or foreign file with a
``CorruptFileError`` before any decoding starts.
"""

from __future__ import annotations

import json
import math
import numbers
import struct
import zlib

import numpy as np

from ..errors import CorruptFileError, GantutorError

MAGIC = b"\x89GTZ"
CONTAINER_FORMAT = 1  # the container's layout; a change to it or to the header's
# fields (see codec.check_header) needs a new number, which older readers refuse
PROB_BITS = 12  # binary probabilities are integers p in 1..4095, meaning p / 4096
PROB_ONE = 1 << PROB_BITS


def code_length_bits(p_actual) -> float:
    """Ideal code length of a sequence: L = -sum_t log2 p_t, in bits.

    ``p_actual[t]`` is the probability the model gave to the symbol that occurred.
    """
    p = np.asarray(p_actual, dtype=np.float64)
    return float(-np.log2(p).sum())


def binary_code_length_bits(p1, bits) -> float:
    """-sum log2 p(bit) for 12-bit probabilities ``p1`` (of a 1) and the bits seen."""
    p1 = np.asarray(p1, dtype=np.float64) / PROB_ONE
    b = np.asarray(bits, dtype=bool)
    return code_length_bits(np.where(b, p1, 1.0 - p1))


def entropy_bits(p) -> float:
    """H(p) = -sum_x p(x) log2 p(x): the shortest average code length, in bits."""
    p = np.asarray(p, dtype=np.float64)
    nz = p > 0
    return float(-(p[nz] * np.log2(p[nz])).sum())


def cross_entropy_bits(p, q) -> float:
    """H(p, q) = -sum_x p(x) log2 q(x): the average code length when data from p is
    coded with a code built for q. Never below H(p)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    nz = p > 0
    return float(-(p[nz] * np.log2(q[nz])).sum())


def kl_bits(p, q) -> float:
    """KL(p || q) = H(p, q) - H(p): the bits wasted per symbol by the wrong model."""
    return cross_entropy_bits(p, q) - entropy_bits(p)


def sequence_code_length(probs, symbols):
    """-sum_t log2 probs[t, symbols[t]] for a table of probabilities (T, K) and the
    symbols that occurred (T,): the bits an entropy coder needs for the sequence."""
    import torch

    probs = torch.as_tensor(probs)
    symbols = torch.as_tensor(symbols)
    return -torch.log2(probs[torch.arange(len(symbols)), symbols]).sum()


# ---------------------------------------------- arithmetic coding, for the idea


def arithmetic_encode(message, probs, trace=None) -> str:
    """Exact arithmetic coding with fractions (the idea; the package codes with
    constriction). Each symbol narrows [low, low + width) to its share of the
    interval, so the final width is prod_t p(x_t); the code is the shortest binary
    fraction 0.b1b2... whose whole dyadic interval lies inside, about
    -log2(width) + 2 bits. ``probs`` maps symbol -> probability (exact fractions
    from ``fractions.Fraction`` or decimal strings); ``trace`` (a list) receives
    (symbol, low, width) after each step."""
    from fractions import Fraction

    probs = {s: Fraction(v) for s, v in probs.items()}
    low, width = Fraction(0), Fraction(1)
    for x in message:
        below = sum((v for s, v in probs.items() if s < x), Fraction(0))
        low, width = low + width * below, width * probs[x]
        if trace is not None:
            trace.append((x, low, width))
    bits, k = "", 0
    while True:  # the shortest k-bit fraction c / 2**k with [c, c+1) / 2**k inside
        k += 1
        c = -(-low * 2**k // 1)  # ceil(low * 2**k)
        if Fraction(c + 1, 2**k) <= low + width:
            bits = format(int(c), f"0{k}b")
            return bits


def arithmetic_decode(bits: str, probs, n: int) -> list:
    """Invert :func:`arithmetic_encode`: find which symbol's share holds the code
    value, n times."""
    from fractions import Fraction

    probs = {s: Fraction(v) for s, v in sorted(probs.items())}
    value = Fraction(int(bits, 2), 2 ** len(bits)) if bits else Fraction(0)
    low, width, out = Fraction(0), Fraction(1), []
    for _ in range(n):
        cum = low
        for s, v in probs.items():
            if value < cum + width * v:
                out.append(s)
                low, width = cum, width * v
                break
            cum += width * v
    return out


def constriction_version() -> str:
    """The installed constriction version (its package metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("constriction")
    except PackageNotFoundError:
        return "unknown"


def _stream():
    """constriction's ``stream`` namespace (attributes of a Rust extension, not
    importable modules)."""
    import constriction

    return constriction.stream


# ------------------------------------------------------------------- binary symbols

_BINARY_MODELS: list = []
_BITS_PER_CALL = 1 << 20  # bits given to constriction per call (a 16 MB table)


def binary_models() -> list:
    """One concrete constriction model per 12-bit probability: ``models[p]`` codes
    1 with probability p/4096 (index 0 is unused). Built once, ~4,000 small objects;
    a decoder then pays ~0.3 microseconds per bit instead of building a model."""
    if not _BINARY_MODELS:
        Categorical = _stream().model.Categorical
        _BINARY_MODELS.append(None)
        for p in range(1, PROB_ONE):
            probs = np.array([PROB_ONE - p, p], dtype=np.float64)
            _BINARY_MODELS.append(Categorical(probs, perfect=False))
    return _BINARY_MODELS


def encode_bits(bits, p1) -> bytes:
    """Range-code a sequence of bits, bit t being 1 with probability p1[t]/4096.

    The bits go to constriction a million at a time, each slice with a probability
    table of shape (n, 2).
    """
    stream = _stream()
    p1, bits = np.asarray(p1), np.asarray(bits)
    if p1.shape != bits.shape:
        raise ValueError(f"{len(bits)} bits but {len(p1)} probabilities")
    if len(bits) and (p1.min() < 1 or p1.max() > PROB_ONE - 1):
        raise ValueError("binary probabilities must be integers in 1..4095")
    enc = stream.queue.RangeEncoder()
    family = stream.model.Categorical(perfect=False)
    # in slices, to bound the table's memory; the coded bits are those of one call
    for i in range(0, len(bits), _BITS_PER_CALL):
        p = p1[i: i + _BITS_PER_CALL].astype(np.float64)
        table = np.stack([PROB_ONE - p, p], axis=1)  # (n, 2): P(0), P(1)
        enc.encode(bits[i: i + _BITS_PER_CALL].astype(np.int32), family, table)
    return words_to_bytes(enc.get_compressed())


def bit_decoder(payload: bytes):
    """A function ``next_bit(p1) -> bit`` reading bits coded by :func:`encode_bits`."""
    dec = _stream().queue.RangeDecoder(bytes_to_words(payload))
    models = binary_models()
    decode = dec.decode

    def next_bit(p1: int) -> int:
        return decode(models[p1])

    return next_bit


# ------------------------------------------------------------ categorical symbols


class SymbolEncoder:
    """Range-codes symbols with integer frequencies, a batch per call, in order.

    Frequencies are integers >= 1 (one row of K per symbol); constriction normalises
    them exactly, so a decoder given the same integers reproduces the same model on
    any machine. The range coder is first-in-first-out: :class:`SymbolDecoder` must
    be asked for the same batches in the same order.
    """

    def __init__(self):
        stream = _stream()
        self._enc = stream.queue.RangeEncoder()
        self._family = stream.model.Categorical(perfect=False)

    def encode(self, symbols, freqs) -> None:
        symbols = np.asarray(symbols, dtype=np.int32).reshape(-1)
        if len(symbols):
            table = np.asarray(freqs, dtype=np.float64).reshape(len(symbols), -1)
            self._enc.encode(symbols, self._family, table)

    def payload(self) -> bytes:
        return words_to_bytes(self._enc.get_compressed())


def encode_symbols(symbols, freqs) -> bytes:
    """Range-code ``symbols[t]`` with integer frequencies ``freqs[t]`` (shape (n, K))
    in one call; see :class:`SymbolEncoder`."""
    enc = SymbolEncoder()
    enc.encode(symbols, freqs)
    return enc.payload()


class SymbolDecoder:
    """Decodes symbols coded by :func:`encode_symbols`, a batch at a time."""

    def __init__(self, payload: bytes):
        stream = _stream()
        self._dec = stream.queue.RangeDecoder(bytes_to_words(payload))
        self._family = stream.model.Categorical(perfect=False)

    def decode(self, freqs) -> np.ndarray:
        """Decode ``len(freqs)`` symbols, one per row of integer frequencies."""
        table = np.asarray(freqs, dtype=np.float64)
        table = table.reshape(-1, table.shape[-1])
        return self._dec.decode(self._family, table)


def _iid_model(freqs):
    freqs = np.asarray(freqs, dtype=np.float64).reshape(-1)
    if not len(freqs) or freqs.min() < 1 or (freqs != np.round(freqs)).any():
        raise ValueError("frequencies must be integers >= 1")
    return _stream().model.Categorical(freqs, perfect=False)


def encode_iid(symbols, freqs) -> bytes:
    """Range-code symbols that all follow one model, given by integer frequencies
    ``freqs`` (shape (K,), each >= 1) of the symbols 0..K-1: one model object for
    the whole sequence instead of an (n, K) table."""
    symbols = np.asarray(symbols, dtype=np.int32).reshape(-1)
    enc = _stream().queue.RangeEncoder()
    if len(symbols):
        enc.encode(symbols, _iid_model(freqs))
    return words_to_bytes(enc.get_compressed())


def decode_iid(payload: bytes, count: int, freqs) -> np.ndarray:
    """Decode ``count`` symbols coded by :func:`encode_iid` with the same ``freqs``."""
    if count == 0:
        return np.zeros(0, dtype=np.int32)
    dec = _stream().queue.RangeDecoder(bytes_to_words(payload))
    return dec.decode(_iid_model(freqs), count)


def words_to_bytes(words) -> bytes:
    """constriction's 32-bit words as little-endian bytes."""
    return np.asarray(words, dtype="<u4").tobytes()


def bytes_to_words(payload: bytes) -> np.ndarray:
    if len(payload) % 4:
        raise CorruptFileError("the coded data is not a whole number of 32-bit words: "
                               "the file is truncated or corrupted")
    return np.frombuffer(payload, dtype="<u4").astype(np.uint32)


# -------------------------------------------------------------------- container


def pack(header: dict, payload: bytes) -> bytes:
    """Container bytes for ``header`` (JSON-serialisable) and ``payload``."""
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return b"".join([
        MAGIC, bytes([CONTAINER_FORMAT]), struct.pack(">I", len(head)), head,
        struct.pack(">I", zlib.crc32(head)), struct.pack(">Q", len(payload)), payload,
        struct.pack(">I", zlib.crc32(payload)),
    ])


def container_overhead(header: dict) -> int:
    """Bytes the container adds around the payload for this header."""
    return len(pack(header, b""))


def _no_constant(name: str):
    """Refuses NaN and Infinity, which Python's json accepts but JSON has not."""
    raise ValueError(f"{name} is not JSON")


def unpack(blob: bytes, what: str = "the input") -> tuple[dict, bytes]:
    """Check and split container bytes into (header, payload)."""
    if len(blob) < len(MAGIC) + 1 or blob[:len(MAGIC)] != MAGIC:
        raise CorruptFileError(
            f"{what} is not a gantutor compressed file (no gantutor magic number at "
            "the start). Decompress only files written by `gantutor compress`."
        )
    version = blob[len(MAGIC)]
    if version != CONTAINER_FORMAT:
        raise GantutorError(
            f"{what} uses container format version {version}, this gantutor reads "
            f"version {CONTAINER_FORMAT}. Use the gantutor version that wrote it."
        )
    pos = len(MAGIC) + 1
    truncated = CorruptFileError(f"{what} is truncated (it ends inside the "
                                 "container).")
    if len(blob) < pos + 4:
        raise truncated
    (n_head,) = struct.unpack_from(">I", blob, pos)
    pos += 4
    if len(blob) < pos + n_head + 12:
        raise truncated
    head = blob[pos: pos + n_head]
    crc_head, n_pay = struct.unpack_from(">IQ", blob, pos + n_head)
    pos += n_head + 12
    if len(blob) < pos + n_pay + 4:
        raise truncated
    payload = blob[pos: pos + n_pay]
    (crc_pay,) = struct.unpack_from(">I", blob, pos + n_pay)
    if pos + n_pay + 4 != len(blob):
        raise CorruptFileError(
            f"{what} has {len(blob) - pos - n_pay - 4:,} unexpected bytes after the "
            "end of the compressed data: it was corrupted or concatenated."
        )
    if zlib.crc32(head) != crc_head:
        raise CorruptFileError(f"{what}: the header checksum does not match; the file "
                               "is corrupted.")
    if zlib.crc32(payload) != crc_pay:
        raise CorruptFileError(f"{what}: the checksum of the coded data does not "
                               "match; the file is corrupted.")
    try:
        header = json.loads(head.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError also covers integers of more than 4,300 digits; RecursionError,
        # arrays nested thousands deep
        raise CorruptFileError(f"{what}: the header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise CorruptFileError(f"{what}: the header is not a JSON object.")
    return header, payload


def is_int(value, lo: int, hi: int) -> bool:
    """True for an integer in lo..hi (Python or numpy; not a bool, a float or a
    string): the test every integer field of a container header passes."""
    return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
            and lo <= value <= hi)


def bits_per_symbol(n_bytes: int, n_symbols: int) -> float:
    """8 * bytes / symbols (0 for an empty input), e.g. bits per character."""
    return 8.0 * n_bytes / n_symbols if n_symbols else math.nan


# ------------------------------------- binary arithmetic coding, carry-less


class BitEncoder:
    """A carry-less binary arithmetic coder (the one of lpaq and PAQ8), 32 bits.

    The interval [x1, x2] is split at x1 + (x2 - x1) / 4096 * p: the lower part
    (with the split point) for a 1, the upper for a 0, so a bit of probability q
    shrinks the interval by about q and costs about -log2 q bits. When x1 and x2
    agree on their leading byte, that byte is final and is written out. Integer
    arithmetic only: the context mixer's compiled encoder (:mod:`.textfast`) does
    the same and writes the same bytes.
    """

    def __init__(self):
        self.x1, self.x2, self.out = 0, 0xFFFFFFFF, bytearray()

    def encode(self, bit: int, p: int) -> None:
        """Code ``bit``, 1 with probability p/4096 (p in 1..4095)."""
        xmid = self.x1 + ((self.x2 - self.x1) >> 12) * p
        if bit:
            self.x2 = xmid
        else:
            self.x1 = xmid + 1
        while not (self.x1 ^ self.x2) & 0xFF000000:
            self.out.append(self.x2 >> 24)
            self.x1 = (self.x1 << 8) & 0xFFFFFFFF
            self.x2 = ((self.x2 << 8) & 0xFFFFFFFF) | 255

    def finish(self) -> bytes:
        """The coded bytes; x1 lies in the final interval, so it ends them."""
        return bytes(self.out) + self.x1.to_bytes(4, "big")


class BitDecoder:
    """Decodes :class:`BitEncoder`'s bytes; ``decode(p)`` returns the next bit.
    Bytes past the end read as 0."""

    def __init__(self, payload: bytes):
        self.data, self.pos = bytes(payload), 4
        self.x1, self.x2 = 0, 0xFFFFFFFF
        self.x = int.from_bytes(self.data[:4].ljust(4, b"\0"), "big")

    def decode(self, p: int) -> int:
        xmid = self.x1 + ((self.x2 - self.x1) >> 12) * p
        bit = 1 if self.x <= xmid else 0
        if bit:
            self.x2 = xmid
        else:
            self.x1 = xmid + 1
        while not (self.x1 ^ self.x2) & 0xFF000000:
            nxt = self.data[self.pos] if self.pos < len(self.data) else 0
            self.pos += 1
            self.x1 = (self.x1 << 8) & 0xFFFFFFFF
            self.x2 = ((self.x2 << 8) & 0xFFFFFFFF) | 255
            self.x = ((self.x << 8) & 0xFFFFFFFF) | nxt
        return bit
