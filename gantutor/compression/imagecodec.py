"""JPEG and WebP through Pillow, with their headers counted two ways.

A 28x28 JPEG file at quality 1 holds a few hundred bytes of header (quantisation and
Huffman tables, frame and scan descriptions) and only tens of bytes of image data, so
how headers are counted decides who wins at low rates. Every size here is reported
under both rules:

* **files**: each image is its own file, as Pillow writes it, headers and all. For
  JPEG it is the smaller of Pillow's two baseline files, with standard Huffman
  tables or with tables fitted to the image (``optimize=True``); both decode to the
  same pixels.
* **set**: the images of a set share one header, counted once; each image adds its
  data bytes. For JPEG (standard Huffman tables, so every image at one quality has
  the very same header) the header is everything up to the end of the start-of-scan
  segment, and the data is the entropy-coded scan and its end-of-image marker, which
  also separates images. For WebP the header is the RIFF and chunk tags (the RIFF
  length is the chunk length + 12, so it need not be stored); the data is the
  chunk's length field and its VP8 payload. Distinct headers are each counted once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import GantutorError

JPEG_QUALITIES = (1, 2, 3, 5, 8, 12, 20, 30, 50, 75, 95)
WEBP_QUALITIES = (0, 5, 10, 20, 35, 50, 75, 95)
FORMATS = ("JPEG", "WEBP")


def webp_available() -> bool:
    """Whether this Pillow was built with WebP support."""
    from PIL import features

    return bool(features.check("webp"))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) in [-1, 1] -> uint8 (N, H, W) for C = 1, (N, H, W, 3) for
    C = 3: v = round((x + 1) · 127.5), clipped to 0..255."""
    x = torch.as_tensor(x).detach().float().cpu()
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise GantutorError(f"expected images (N, 1 or 3, H, W), got {tuple(x.shape)}")
    v = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v[:, 0].numpy() if x.shape[1] == 1 else v.permute(0, 2, 3, 1).numpy()


def from_uint8(a: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> float32 (N, C, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.asarray(a, dtype=np.uint8).copy()).float() / 127.5 - 1.0
    return t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2)


def encode_image(img: np.ndarray, fmt: str, quality: int,
                 optimize: bool = False) -> bytes:
    """One uint8 image (H, W) or (H, W, 3) as a JPEG or lossy WebP file's bytes."""
    from PIL import Image

    fmt = fmt.upper()
    if fmt not in FORMATS:
        raise GantutorError(f"unknown format {fmt!r}: use JPEG or WEBP")
    if fmt == "WEBP" and not webp_available():
        raise GantutorError("this Pillow has no WebP support; compare with JPEG only "
                            "(or install a Pillow wheel, which includes libwebp)")
    buf = io.BytesIO()
    options = {"optimize": True} if optimize and fmt == "JPEG" else {}
    Image.fromarray(img).save(buf, format=fmt, quality=int(quality), **options)
    return buf.getvalue()


def decode_image(data: bytes, mode: str = "L") -> np.ndarray:
    """The pixels of an image file, as uint8 in ``mode`` ("L" grey, "RGB" colour)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert(mode))


def jpeg_header_length(data: bytes) -> int:
    """Bytes before the entropy-coded scan: SOI, then every marker segment up to and
    including the start-of-scan (SOS, 0xFFDA) segment."""
    if data[:2] != b"\xff\xd8":
        raise GantutorError("not a JPEG file (no start-of-image marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise GantutorError(f"damaged JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:
            return pos
    raise GantutorError("damaged JPEG: no start-of-scan segment")


def webp_split(data: bytes) -> tuple[bytes, int]:
    """(shared header, per-image data length) of a WebP file: the header is the tags
    before the image chunk ('RIFF', 'WEBP', any extra chunks, the chunk's tag); the
    data is the chunk's 4-byte length field and its payload (to the end of the file).
    The RIFF length field is left out: it is the file length − 8."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise GantutorError("not a WebP file (no RIFF/WEBP tags)")
    pos = 12
    while pos + 8 <= len(data):
        tag = data[pos:pos + 4]
        if tag in (b"VP8 ", b"VP8L"):
            return data[:4] + data[8:pos + 4], len(data) - (pos + 4)
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        pos += 8 + size + (size & 1)
    raise GantutorError("damaged WebP: no VP8 image chunk")


def split_header(data: bytes, fmt: str) -> tuple[bytes, int]:
    """(header bytes shared by a set, number of per-image data bytes) of one file."""
    if fmt.upper() == "JPEG":
        n = jpeg_header_length(data)
        return data[:n], len(data) - n
    return webp_split(data)


@dataclass
class PillowCoded:
    """A set of images through one format at one quality.

    decoded: (N, C, H, W) in [-1, 1]; file_bytes: (N,) per-image files;
    data_bytes: (N,) per-image data under the set rule; headers: the distinct
    headers of the set (each counted once).
    """

    fmt: str
    quality: int
    decoded: torch.Tensor
    file_bytes: np.ndarray
    data_bytes: np.ndarray
    headers: list

    @property
    def set_bytes(self) -> int:
        """Bytes of the set under the set rule: headers once + every image's data."""
        return int(sum(len(h) for h in self.headers) + self.data_bytes.sum())


def pillow_code(x: torch.Tensor, fmt: str, quality: int) -> PillowCoded:
    """Compress every image of x (N, C, H, W) in [-1, 1] with Pillow, decode it, and
    count its bytes under both rules (see the module's docstring)."""
    fmt = fmt.upper()
    images = to_uint8(x)
    mode = "L" if images.ndim == 3 else "RGB"
    decoded, file_bytes, data_bytes, headers = [], [], [], {}
    for img in images:
        data = encode_image(img, fmt, quality)
        header, n_data = split_header(data, fmt)
        headers.setdefault(header, None)
        data_bytes.append(n_data)
        if fmt == "JPEG":  # same pixels; fitted Huffman tables are usually smaller
            fitted = encode_image(img, fmt, quality, optimize=True)
            file_bytes.append(min(len(data), len(fitted)))
        else:
            file_bytes.append(len(data))
        decoded.append(decode_image(data, mode))
    return PillowCoded(fmt, int(quality), from_uint8(np.stack(decoded)),
                       np.array(file_bytes), np.array(data_bytes), list(headers))
