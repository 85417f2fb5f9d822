"""Compression you can measure: model probabilities to real bytes, and back.

``compress(data)`` runs a model over the bytes, range-codes them with the model's
probabilities and wraps the result in a container (see :mod:`.coder`) that
records the model, its settings, the original length and SHA-256, and the versions
decoding depends on. ``decompress(blob)`` checks the header against its schema
(:func:`check_header`) before anything is allocated or run, refuses anything it
cannot decode exactly, and checks the SHA-256 of what it decoded.

Models:

- ``cm`` (default): the context-mixing byte model of :mod:`.textmodel`, a
  small network trained online while it reads, compiled by numba
  (:mod:`.textfast`) and arithmetic-coded. Integer arithmetic: a file decodes on
  any machine whose gantutor has the same model version (the header records it).
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
import re

import numpy as np

from ..errors import CorruptFileError, GantutorError
from . import coder
from .files import check_output, read_file, write_file
from .textmodel import (
    MODEL_VERSION,
    CMConfig,
    byte_costs,
    table_bits_for,
    table_bits_limit,
)

TEXT_MODELS = ("cm", "gru")
# Every bit the context mixer codes costs at least -log2(4095/4096) bits and every
# byte the GRU codes at least -log2(65537/65792), so one byte of coded data holds at
# most ~2,840 bytes of the original: a larger length in a header is a lie.
MAX_BYTES_PER_PAYLOAD_BYTE = 4096
# The GRU's training, which decoding repeats, may cost this many multiply-adds plus
# GRU_MACS_PER_BYTE per byte of the original (the defaults on 1 MiB need ~1.7e12).
GRU_MACS_BASE = 2 * 10**12
GRU_MACS_PER_BYTE = 10**6
_MACS_PER_SECOND = 3e9  # the GRU's training on one CPU core, measured; for messages
# Speed and peak memory of coding on one core, measured (README, "Speed and memory")
CM_BYTES_PER_SECOND = 50_000  # 60-150 KB/s each way, slower on a busy machine
GRU_BYTES_PER_SECOND = 2_000  # the defaults, training not included
MEMORY_BASE = 200 << 20  # Python, numpy, numba and the model's tables (64 MB)
MEMORY_PER_BYTE = 20  # the data, the coded data and the bits' probabilities
TORCH_MEMORY = 450 << 20  # --model gru imports torch
WARN_BYTES = 4 << 20  # the course compresses at most ~1 MiB
WARN_SECONDS = 600
_COMMON_FIELDS = {"model", "sha256", "versions"}
_FIELDS = {"cm": _COMMON_FIELDS | {"length", "settings", "model_version"},
           "gru": _COMMON_FIELDS | {"length", "settings", "machine"},
           "pixels": _COMMON_FIELDS | {"n", "layout", "weights_bytes"}}
_NO_FIT = ("{what}: the coded data do not decode with the model its header describes "
           "(the decoder met bits that no symbol could have produced). The file is "
           "corrupted, or this machine computes the model differently from the one "
           "that compressed it.")


def _version() -> str:
    from .. import __version__

    return __version__


def _cm_config(settings: dict, n: int) -> CMConfig:
    """The context mixer's settings for ``n`` bytes; refuses tables larger than
    ``n`` bytes can use (they would only cost memory)."""
    cfg = CMConfig.from_dict(settings)
    limit = table_bits_limit(n)
    if cfg.table_bits > limit:
        raise GantutorError(f"table_bits={cfg.table_bits} is more than {n:,} bytes "
                            f"can use (at most {limit})")
    return cfg


def _gru_config(settings: dict, n: int):
    """The GRU's settings for ``n`` bytes; refuses training that would cost more
    than GRU_MACS_BASE + GRU_MACS_PER_BYTE * n multiply-adds."""
    from . import textnet

    cfg = textnet.PrequentialConfig.from_dict(settings)
    macs, most = textnet.training_macs(cfg, n), GRU_MACS_BASE + GRU_MACS_PER_BYTE * n
    if macs > most:
        raise GantutorError(
            f"these GRU settings train with about {macs:.2g} multiply-adds (about "
            f"{_duration(macs / _MACS_PER_SECOND)} on one core); {n:,} bytes may use "
            f"at most {most:.2g}: use fewer steps, a smaller network or a larger "
            "first_block")
    return cfg


def expected_cost(n: int, model: str = "cm", settings: dict | None = None
                  ) -> tuple[float, float]:
    """Rough (seconds, bytes of memory) to compress or decompress ``n`` bytes on one
    core, from measurements (see the README); the GRU's from its training cost."""
    memory = MEMORY_BASE + MEMORY_PER_BYTE * n
    if model == "gru":
        from . import textnet

        cfg = textnet.PrequentialConfig.from_dict(settings or {})
        macs = textnet.training_macs(cfg, n)
        return (macs / _MACS_PER_SECOND + n / GRU_BYTES_PER_SECOND,
                memory + TORCH_MEMORY)
    return n / CM_BYTES_PER_SECOND, memory


def slow_warning(n: int, model: str = "cm", settings: dict | None = None) -> str | None:
    """A warning for inputs far beyond what the course needs (more than WARN_BYTES,
    or more than WARN_SECONDS expected), with the time and memory to expect."""
    seconds, memory = expected_cost(n, model, settings)
    if n <= WARN_BYTES and seconds <= WARN_SECONDS:
        return None
    return (f"{n / 2**20:,.1f} MiB with model {model} is far more than the course "
            f"needs, and coding it is slow: expect about "
            f"{_duration(seconds)} and {memory / 2**30:,.1f} GiB of memory "
            "(Ctrl-C stops it and leaves no output)")


def _duration(seconds: float) -> str:
    """A rough duration in words: "40 seconds", "12 minutes", "3.5 hours"."""
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def _encode_cm(data: bytes, settings: dict, stats: dict | None
               ) -> tuple[dict, bytes]:
    from .textfast import FastMixer

    cfg = _cm_config({"table_bits": table_bits_for(len(data)), **settings}, len(data))
    model = FastMixer(cfg, len(data))
    if stats is None:
        return ({"settings": cfg.to_dict(), "model_version": MODEL_VERSION},
                model.encode(data))
    payload, p1 = model.encode(data, record=True)
    if stats is not None:
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        stats.update(ideal_bits=coder.binary_code_length_bits(p1, bits),
                     costs=byte_costs(p1, data), model=model)
    return {"settings": cfg.to_dict(), "model_version": MODEL_VERSION}, payload


def _decode_cm(payload: bytes, n: int, header: dict) -> bytes:
    from .textfast import FastMixer

    cfg = _cm_config(header["settings"], n)
    return FastMixer(cfg, n).decode(payload, n)


def _encode_gru(data: bytes, settings: dict, stats: dict | None
                ) -> tuple[dict, bytes]:
    from . import textnet

    cfg = _gru_config(settings, len(data))
    payload, blocks = textnet.prequential_encode(data, cfg)
    if stats is not None:
        stats.update(ideal_bits=sum(b["bits"] for b in blocks), blocks=blocks)
    extra = {"settings": cfg.to_dict(), "machine": textnet.machine_fingerprint()}
    return extra, payload


def _decode_gru(payload: bytes, n: int, header: dict) -> bytes:
    from . import textnet

    textnet.check_fingerprint(header["machine"])
    cfg = _gru_config(header["settings"], n)
    return textnet.prequential_decode(payload, n, cfg)


_CODECS = {"cm": (_encode_cm, _decode_cm), "gru": (_encode_gru, _decode_gru)}


def compress(data: bytes, model: str = "cm", stats: dict | None = None,
             **settings) -> bytes:
    """Compress ``data`` with ``model`` ("cm" or "gru"); returns container bytes.

    ``settings`` override the model's defaults (:class:`~.textmodel.CMConfig`
    or :class:`~.textnet.PrequentialConfig` fields); settings that
    :func:`decompress` would refuse for data of this length are refused first. A
    ``stats`` dict receives ``ideal_bits`` (-sum log2 p of the data under the model)
    and, for "cm", ``costs`` (bits of each byte) and ``model`` (the model after
    reading the data).
    """
    data = bytes(data)
    if not isinstance(model, str) or model not in _CODECS:
        raise GantutorError(f"unknown model {model!r}: choose one of "
                            f"{', '.join(TEXT_MODELS)}")
    extra, payload = _CODECS[model][0](data, settings, stats)
    header = {"model": model, "length": len(data),
              "sha256": hashlib.sha256(data).hexdigest(),
              "versions": {"gantutor": _version(),
                           "constriction": coder.constriction_version()},
              **extra}
    return coder.pack(header, payload)


# ------------------------------------------------------------ the header's schema


def _check_fields(header: dict, what: str) -> str:
    """The fields every container has, and no unknown ones; returns the model."""
    model = header.get("model")
    if not isinstance(model, str) or model not in _FIELDS:
        raise GantutorError(
            f"{what} was written with model {_show(model)}, which this gantutor does "
            f"not know ({', '.join(TEXT_MODELS)}, or images); upgrade gantutor.")
    if model == "cm" and not coder.is_int(header.get("model_version"),
                                          MODEL_VERSION, MODEL_VERSION):
        wrote = header.get("versions")
        wrote = wrote.get("gantutor") if isinstance(wrote, dict) else None
        raise GantutorError(
            f"{what} was written by gantutor {_show(wrote)} with context-mixing model "
            f"version {_show(header.get('model_version', 1))}; this gantutor decodes "
            f"version {MODEL_VERSION} only. Decompress it with the gantutor that "
            "wrote it.")
    missing, unknown = _FIELDS[model] - set(header), set(header) - _FIELDS[model]
    if missing:
        raise CorruptFileError(f"{what}: the header lacks "
                               f"{', '.join(sorted(missing))}.")
    if unknown:
        raise GantutorError(f"{what}: the header has fields this gantutor does not "
                            f"know ({_show(sorted(unknown))}): it was "
                            "written by a newer gantutor, or altered.")
    digest, versions = header["sha256"], header["versions"]
    if not (isinstance(digest, str) and len(digest) == 64
            and set(digest) <= set("0123456789abcdef")):
        raise CorruptFileError(f"{what}: the header's SHA-256 is not 64 hex digits.")
    if not (isinstance(versions, dict) and set(versions) == {"gantutor", "constriction"}
            and all(isinstance(v, str) and _VERSION.fullmatch(v)
                    for v in versions.values())):
        raise CorruptFileError(f"{what}: the header's versions are not the gantutor "
                               "and constriction version strings.")
    wrote, have = versions["constriction"], coder.constriction_version()
    # constriction 0.x may change how it quantises probabilities between minor
    # versions; within one minor version the coded bits are the same. The context
    # mixer codes with its own arithmetic coder and does not depend on it.
    if model != "cm" and wrote.split(".")[:2] != have.split(".")[:2]:
        raise GantutorError(
            f"{what} was coded with constriction {wrote}, this machine has {have}. "
            f"Decoding needs the same version: pip install 'constriction=={wrote}'.")
    return model


# a version string as packaging writes it (PEP 440 and local labels); anything else,
# such as control characters, is refused rather than echoed into a message
_VERSION = re.compile(r"[0-9A-Za-z.+!_-]{1,64}")


def _show(value) -> str:
    """repr(value), cut to 40 characters: a crafted header may hold anything."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more than 4,300 digits
        text = "a huge integer"
    return text if len(text) <= 40 else text[:37] + "..."


def check_header(header: dict, payload: bytes, what: str = "the input") -> dict:
    """Validate a text container's header against its schema before anything is
    allocated or run: exactly the known fields, each of the right type and range,
    settings :func:`compress` can produce, and an original length the payload can
    hold (which bounds the time and memory of decoding). Returns the header."""
    model = _check_fields(header, what)
    if model == "pixels":
        raise CorruptFileError(f"{what} holds images written by compress_images; "
                               "decode it with gantutor.codec.decompress_images.")
    n, most = header["length"], MAX_BYTES_PER_PAYLOAD_BYTE * (len(payload) + 16)
    if not coder.is_int(n, 0, most):
        raise CorruptFileError(
            f"{what}: the original length in the header ({_show(n)}) is not an integer "
            f"0..{most:,}, the most {len(payload):,} bytes of coded data can hold.")
    try:
        if model == "cm":
            _complete(header["settings"], CMConfig)
            _cm_config(header["settings"], n)
        else:
            _check_gru_header(header, len(payload), n)
    except CorruptFileError:
        raise
    except GantutorError as err:
        raise CorruptFileError(f"{what}: {err}.") from None
    return header


def _complete(settings, config_class) -> None:
    """A header's settings hold every field of ``config_class``, and no other."""
    fields = set(config_class.__dataclass_fields__)
    if not isinstance(settings, dict) or set(settings) != fields:
        raise GantutorError(f"the model's settings are not the fields "
                            f"{', '.join(sorted(fields))}")


def _check_gru_header(header: dict, n_payload: int, n: int) -> None:
    from . import textnet

    _complete(header["settings"], textnet.PrequentialConfig)
    cfg = _gru_config(header["settings"], n)
    if min(cfg.first_block, n) > n_payload + 64:
        raise GantutorError(f"the first block ({min(cfg.first_block, n):,} bytes) is "
                            "sent at 8 bits a byte, but the coded data has only "
                            f"{n_payload:,} bytes")
    machine, keys = header["machine"], set(textnet.machine_fingerprint())
    if not (isinstance(machine, dict) and set(machine) == keys and all(
            isinstance(v, (str, int)) and not isinstance(v, bool)
            and len(str(v)) <= 64 for v in machine.values())):
        raise GantutorError(f"the machine fingerprint is not the fields "
                            f"{', '.join(sorted(keys))}")


def read_header(blob: bytes, what: str = "the input") -> tuple[dict, bytes]:
    """Unpack container bytes and validate the header (:func:`check_header`)."""
    header, payload = coder.unpack(bytes(blob), what)
    return check_header(header, payload, what), payload


def decompress(blob: bytes, what: str = "the input") -> bytes:
    """Decode container bytes written by :func:`compress`; checks the header first,
    then the length and SHA-256 of what it decoded."""
    header, payload = read_header(blob, what)
    n = header["length"]
    try:
        data = _CODECS[header["model"]][1](payload, n, header)
    except (AssertionError, ValueError, RuntimeError):  # raised by constriction
        raise CorruptFileError(_NO_FIT.format(what=what)) from None
    if len(data) != n or hashlib.sha256(data).hexdigest() != header["sha256"]:
        raise CorruptFileError(
            f"{what}: the decoded data does not match the SHA-256 recorded at "
            "compression time. The file is corrupted, or this machine computes the "
            "model differently from the one that compressed it."
        )
    return data


def compress_file(src, dst, model: str = "cm", **settings) -> dict:
    """Compress file ``src`` into ``dst`` (see :func:`write_file`); returns sizes."""
    check_output(dst)  # before the work, not after it
    data = read_file(src)
    blob = compress(data, model, **settings)
    write_file(dst, blob, like=src)
    return {"original": len(data), "compressed": len(blob)}


def decompress_file(src, dst) -> dict:
    """Decompress ``src`` into ``dst``; ``dst`` is written only if everything checks."""
    check_output(dst)
    blob = read_file(src)
    data = decompress(blob, what=str(src))
    write_file(dst, data, like=src)
    return {"compressed": len(blob), "original": len(data)}


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
    first = max([22] + [len(name) + 2 for name in rows])
    lines = [f"{unit:<{first}}" + "".join(f"{m:>{width}}" for m in methods)]
    for name, (n, sizes) in rows.items():
        cells = "".join(f"{8 * sizes[m] / n:>{width}.3f}" if m in sizes else
                        f"{'':>{width}}" for m in methods)
        lines.append(f"{name:<{first}}" + cells)
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
    if not coder.is_int(levels, 2, 256):
        raise GantutorError(f"levels must be an integer 2..256, not {_show(levels)}")
    if images.ndim != 3 or not images.size or images.max() >= levels:
        raise GantutorError(f"images must be (N, H, W) integers below {levels}")
    cfg = cfg or pixelmodel.PixelConfig()
    if not coder.is_int(cfg.radius, 1, 32) or not coder.is_int(cfg.hidden, 1, 4096):
        raise GantutorError("the pixel model needs radius 1..32 and hidden 1..4096")
    n, height, width = images.shape
    pixelmodel.check_size(n, cfg.radius, height, width, levels, cfg.hidden)
    model = pixelmodel.train_pixel_model(images, levels, cfg, device, on_step)
    qmodel = pixelmodel.quantise_model(model, images)
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
    if _check_fields(header, what) != "pixels":
        raise CorruptFileError(f"{what} does not hold images (model "
                               f"{_show(header['model'])}); use decompress()")
    n, n_w, layout = header["n"], header["weights_bytes"], header["layout"]
    try:
        pixelmodel.check_layout(layout)
        if not coder.is_int(n, 1, pixelmodel.MAX_PIXELS):
            raise GantutorError(f"the number of images {_show(n)} is not 1.."
                                f"{pixelmodel.MAX_PIXELS:,}")
        if not coder.is_int(n_w, 0, len(payload)):
            raise GantutorError("the length of the model's weights is not 0.."
                                f"{len(payload):,}")
        pixelmodel.check_size(n, layout["radius"], layout["height"], layout["width"],
                              layout["levels"], layout["shapes"][0][1])
    except GantutorError as err:
        raise CorruptFileError(f"{what}: {err}.") from None
    raw = decompress(payload[:n_w], what + " (model weights)")
    try:
        qmodel = pixelmodel.IntPixelModel.from_bytes(raw, layout)
    except GantutorError as err:
        raise CorruptFileError(f"{what}: {err}.") from None
    try:
        images = pixelmodel.decode_images(payload[n_w:], qmodel, n)
    except (AssertionError, ValueError, RuntimeError):  # raised by constriction
        raise CorruptFileError(_NO_FIT.format(what=what)) from None
    if hashlib.sha256(images.tobytes()).hexdigest() != header["sha256"]:
        raise CorruptFileError(f"{what}: the decoded images do not match the SHA-256 "
                               "recorded at compression time.")
    return images
