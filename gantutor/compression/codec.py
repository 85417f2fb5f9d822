"""Compression you can measure: model probabilities to real bytes, and back.

``compress(data)`` runs a model over the bytes, range-codes them with the model's
probabilities and wraps the result in a container (see :mod:`.coder`) that
records the model, its settings, the original length and SHA-256, and the versions
decoding depends on. ``decompress(blob)`` refuses anything it cannot decode exactly,
and checks the SHA-256 of what it decoded.

Models:

- ``cm`` (default): the context-mixing byte model of :mod:`.textmodel`, a
  small network trained online while it reads. Integer arithmetic: a file decodes on
  any machine.
- ``gru``: a byte-level GRU coded prequentially (:mod:`.textnet`): trained on
  the blocks already sent, the decoder retrains it the same way. Floating point:
  the file decodes only where torch computes the same numbers (the container records
  the torch version, CPU capability and thread count, and decoding checks them).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write
from ..errors import CorruptFileError, GantutorError
from . import coder
from .textmodel import (
    CMConfig,
    ContextMixer,
    byte_costs,
    model_probabilities,
    table_bits_for,
)

MODELS = ("cm", "gru")
_NO_FIT = ("{what}: the coded data do not decode with the model its header describes "
           "(the decoder met bits that no symbol could have produced). The file is "
           "corrupted, or this machine computes the model differently from the one "
           "that compressed it.")


def _version() -> str:
    from .. import __version__

    return __version__


def _encode_cm(data: bytes, settings: dict, stats: dict) -> tuple[dict, bytes]:
    cfg = CMConfig.from_dict({"table_bits": table_bits_for(len(data)), **settings})
    model = ContextMixer(cfg)
    p1 = model_probabilities(data, model=model)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    stats.update(ideal_bits=coder.binary_code_length_bits(p1, bits),
                 costs=byte_costs(p1, data), model=model)
    return {"settings": cfg.to_dict()}, coder.encode_bits(bits, p1)


def _decode_cm(payload: bytes, n: int, header: dict) -> bytes:
    cfg = CMConfig.from_dict(header["settings"])
    return ContextMixer(cfg).run(n, coder.bit_decoder(payload))


def _encode_gru(data: bytes, settings: dict, stats: dict) -> tuple[dict, bytes]:
    from . import textnet

    cfg = textnet.PrequentialConfig.from_dict(settings)
    payload, blocks = textnet.prequential_encode(data, cfg)
    stats.update(ideal_bits=sum(b["bits"] for b in blocks), blocks=blocks)
    extra = {"settings": cfg.to_dict(), "machine": textnet.machine_fingerprint()}
    return extra, payload


def _decode_gru(payload: bytes, n: int, header: dict) -> bytes:
    from . import textnet

    textnet.check_fingerprint(header.get("machine", {}))
    cfg = textnet.PrequentialConfig.from_dict(header["settings"])
    return textnet.prequential_decode(payload, n, cfg)


_CODECS = {"cm": (_encode_cm, _decode_cm), "gru": (_encode_gru, _decode_gru)}


def compress(data: bytes, model: str = "cm", stats: dict | None = None,
             **settings) -> bytes:
    """Compress ``data`` with ``model`` ("cm" or "gru"); returns container bytes.

    ``settings`` override the model's defaults (:class:`~.textmodel.CMConfig`
    or :class:`~.textnet.PrequentialConfig` fields). A ``stats`` dict
    receives ``ideal_bits`` (-sum log2 p of the data under the model) and, for "cm",
    ``costs`` (bits of each byte) and ``model`` (the model after reading the data).
    """
    data = bytes(data)
    if model not in _CODECS:
        raise GantutorError(f"unknown model {model!r}: choose one of "
                            f"{', '.join(MODELS)}")
    extra, payload = _CODECS[model][0](data, settings, {} if stats is None else stats)
    header = {"model": model, "length": len(data),
              "sha256": hashlib.sha256(data).hexdigest(),
              "versions": {"gantutor": _version(),
                           "constriction": coder.constriction_version()},
              **extra}
    return coder.pack(header, payload)


def _check_versions(header: dict, what: str) -> None:
    wrote = header.get("versions", {}).get("constriction", "unknown")
    have = coder.constriction_version()
    # constriction 0.x may change how it quantises probabilities between minor
    # versions; within one minor version the coded bits are the same.
    if wrote.split(".")[:2] != have.split(".")[:2]:
        raise GantutorError(
            f"{what} was coded with constriction {wrote}, this machine has {have}. "
            f"Decoding needs the same version: pip install 'constriction=={wrote}'."
        )


def decompress(blob: bytes, what: str = "the input") -> bytes:
    """Decode container bytes written by :func:`compress`; checks length and SHA-256."""
    header, payload = coder.unpack(bytes(blob), what)
    try:
        model, n, digest = header["model"], int(header["length"]), header["sha256"]
    except (KeyError, TypeError, ValueError):
        raise CorruptFileError(f"{what}: the header lacks the model, length or "
                               "checksum.") from None
    if model not in _CODECS:
        raise GantutorError(f"{what} was written with model {model!r}, which this "
                            f"gantutor does not know ({', '.join(MODELS)}); upgrade.")
    if n < 0:
        raise CorruptFileError(f"{what}: negative original length in the header.")
    _check_versions(header, what)
    try:
        data = _CODECS[model][1](payload, n, header)
    except (KeyError, TypeError) as err:
        raise CorruptFileError(f"{what}: the header's model settings are incomplete "
                               f"({err}).") from None
    except (AssertionError, ValueError, RuntimeError):  # raised by constriction
        raise CorruptFileError(_NO_FIT.format(what=what)) from None
    if len(data) != n or hashlib.sha256(data).hexdigest() != digest:
        raise CorruptFileError(
            f"{what}: the decoded data does not match the SHA-256 recorded at "
            "compression time. The file is corrupted, or this machine computes the "
            "model differently from the one that compressed it."
        )
    return data


def compress_file(src, dst, model: str = "cm", **settings) -> dict:
    """Compress file ``src`` into ``dst`` (written atomically); returns sizes."""
    data = _read(src)
    blob = compress(data, model, **settings)
    atomic_write(dst, lambda tmp: Path(tmp).write_bytes(blob))
    return {"original": len(data), "compressed": len(blob)}


def decompress_file(src, dst) -> dict:
    """Decompress ``src`` into ``dst``; ``dst`` is written only if everything checks."""
    blob = _read(src)
    data = decompress(blob, what=str(src))
    atomic_write(dst, lambda tmp: Path(tmp).write_bytes(data))
    return {"compressed": len(blob), "original": len(data)}


def _read(path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise GantutorError(f"{path} does not exist or is not a file")
    return path.read_bytes()


# ---------------------------------------------------------------------- baselines


def baseline_sizes(data: bytes) -> dict[str, int]:
    """Compressed sizes with Python's gzip -9, bz2 -9 and lzma (xz) -9, all headers
    included."""
    return {"gzip": len(gzip.compress(data, compresslevel=9, mtime=0)),
            "bz2": len(bz2.compress(data, compresslevel=9)),
            "xz": len(lzma.compress(data, preset=9))}


def bits_per_byte(n_bytes: int, n_symbols: int) -> float:
    """Rate = 8 * compressed bytes / symbols (bits per character for text)."""
    return coder.bits_per_symbol(n_bytes, n_symbols)


def measure_text(raw: bytes, **settings) -> dict:
    """Compress and decompress ``raw`` with gantutor (timed, checked) and the
    baselines. Sizes in bytes, whole files; ``roundtrip`` is True when identical;
    ``stats`` as filled by :func:`compress`."""
    import time

    stats: dict = {}
    t0 = time.perf_counter()
    blob = compress(raw, stats=stats, **settings)
    t1 = time.perf_counter()
    back = decompress(blob)
    t2 = time.perf_counter()
    _, payload = coder.unpack(blob)
    return {"n": len(raw), "sizes": {"gantutor": len(blob), **baseline_sizes(raw)},
            "payload": len(payload), "roundtrip": back == raw, "stats": stats,
            "blob": blob,
            "compress_s": t1 - t0, "decompress_s": t2 - t1}


def first_difference(a: bytes, b: bytes) -> int | None:
    """Index of the first byte where ``a`` and ``b`` differ (None if identical)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def rate_table(rows: dict, unit: str = "bits/char") -> str:
    """A text table of rates: ``rows`` maps a name to (number of symbols, {method:
    bytes}); each cell is 8 * bytes / symbols."""
    methods = list(dict.fromkeys(m for _, sizes in rows.values() for m in sizes))
    width = max(len(m) for m in methods) + 2
    lines = [f"{unit:<22}" + "".join(f"{m:>{width}}" for m in methods)]
    for name, (n, sizes) in rows.items():
        cells = "".join(f"{8 * sizes[m] / n:>{width}.3f}" if m in sizes else
                        f"{'':>{width}}" for m in methods)
        lines.append(f"{name:<22}" + cells)
    return "\n".join(lines)


# ------------------------------------------------------------------------ images


def idx_bytes(images: np.ndarray) -> bytes:
    """Images (N, H, W) uint8 as an IDX3 file (the format MNIST is distributed in)."""
    n, h, w = images.shape
    head = bytes([0, 0, 0x08, 3]) + b"".join(v.to_bytes(4, "big") for v in (n, h, w))
    return head + np.ascontiguousarray(images, dtype=np.uint8).tobytes()


def png_bytes(image: np.ndarray, levels: int = 256) -> bytes:
    """One 8-bit greyscale PNG (Pillow, optimize=True) of an (H, W) image.

    Images with fewer levels (the 17-level digits) are stored as their values 0..16
    in 8-bit pixels, which PNG's filters and deflate are free to exploit.
    """
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(
        out, format="PNG", optimize=True)
    return out.getvalue()


def image_baseline_sizes(images: np.ndarray, levels: int = 256) -> dict[str, int]:
    """Bytes for the same images with the usual tools, all headers included:
    gzip/bz2/xz -9 of the IDX file, one PNG per image (summed), and all images tiled
    into one PNG (rows of at most 100 images)."""
    raw = idx_bytes(images)
    sizes = {f"{k} of IDX": v for k, v in baseline_sizes(raw).items()}
    sizes["PNG, one per image"] = sum(len(png_bytes(im, levels)) for im in images)
    n, h, w = images.shape
    cols = min(n, 100)
    rows = -(-n // cols)
    grid = np.zeros((rows * h, cols * w), dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = im
    sizes["PNG, all in one"] = len(png_bytes(grid, levels))
    return sizes


def compress_images(images: np.ndarray, levels: int, cfg=None, device="cpu",
                    on_step=None) -> tuple[bytes, dict]:
    """Two-part code for images (N, H, W) of integer levels: train the pixel model on
    them, quantise it, send its weights (compressed by the context-mixing coder) and
    then every pixel coded with it. Returns the container and a report of where the
    bytes went."""
    from . import pixelmodel

    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 3 or not len(images) or images.max() >= levels:
        raise GantutorError(f"images must be (N, H, W) integers below {levels}")
    model = pixelmodel.train_pixel_model(images, levels, cfg, device, on_step)
    qmodel = pixelmodel.quantise(model, images)
    raw_weights = qmodel.to_bytes()
    # code with exactly what the decoder will rebuild from the bytes it receives
    qmodel = pixelmodel.IntPixelModel.from_bytes(raw_weights, qmodel.layout())
    weights = compress(raw_weights)
    pixels, ideal = pixelmodel.encode_images(images, qmodel)
    header = {"model": "pixels", "n": len(images), "layout": qmodel.layout(),
              "weights_bytes": len(weights),
              "sha256": hashlib.sha256(images.tobytes()).hexdigest(),
              "versions": {"gantutor": _version(),
                           "constriction": coder.constriction_version()}}
    blob = coder.pack(header, weights + pixels)
    report = {"total": len(blob), "model": len(weights), "pixels": len(pixels),
              "container": len(blob) - len(weights) - len(pixels),
              "ideal_pixel_bits": ideal, "n_pixels": images.size,
              "weights_raw": len(raw_weights), "qmodel": qmodel}
    return blob, report


def decompress_images(blob: bytes, what: str = "the input") -> np.ndarray:
    """Decode :func:`compress_images` output back to the identical images."""
    from . import pixelmodel

    header, payload = coder.unpack(bytes(blob), what)
    if header.get("model") != "pixels":
        raise CorruptFileError(f"{what} does not hold images (model "
                               f"{header.get('model')!r}); use decompress()")
    _check_versions(header, what)
    n_w = int(header["weights_bytes"])
    qmodel = pixelmodel.IntPixelModel.from_bytes(
        decompress(payload[:n_w], what + " (model weights)"), header["layout"])
    try:
        images = pixelmodel.decode_images(payload[n_w:], qmodel, int(header["n"]))
    except (AssertionError, ValueError, RuntimeError):  # raised by constriction
        raise CorruptFileError(_NO_FIT.format(what=what)) from None
    if hashlib.sha256(images.tobytes()).hexdigest() != header["sha256"]:
        raise CorruptFileError(f"{what}: the decoded images do not match the SHA-256 "
                               "recorded at compression time.")
    return images
