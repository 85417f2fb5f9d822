"""JPEG and WebP through Pillow: pixels in and out, and the header rule."""

import numpy as np
import pytest
import torch

import gantutor as gt
from gantutor import imagecodec as ic
from gantutor.errors import GantutorError

needs_webp = pytest.mark.skipif(not ic.webp_available(),
                                reason="this Pillow has no WebP support")


@pytest.fixture(scope="module")
def digits():
    return gt.load_dataset("digits", "test").x[:20]


@pytest.fixture(scope="module")
def strokes():
    """28x28 test images with MNIST-like strokes: a dark field with bright bars."""
    x = -torch.ones(6, 1, 28, 28)
    for i in range(6):
        x[i, 0, 4 + i:20 + i, 10 + i:14 + i] = 1.0
        x[i, 0, 12, 5:23] = 0.5
    return x


def test_uint8_conversion_round_trips_the_256_levels():
    levels = torch.arange(256, dtype=torch.float32) / 127.5 - 1
    x = levels.view(1, 1, 16, 16)
    a = ic.to_uint8(x)
    assert a.dtype == np.uint8 and a.shape == (1, 16, 16)
    assert a.flatten().tolist() == list(range(256))
    assert torch.equal(ic.from_uint8(a), x)
    rgb = torch.rand(2, 3, 4, 4) * 2 - 1
    assert ic.to_uint8(rgb).shape == (2, 4, 4, 3)
    assert ic.from_uint8(ic.to_uint8(rgb)).shape == (2, 3, 4, 4)
    with pytest.raises(GantutorError, match="expected images"):
        ic.to_uint8(torch.zeros(2, 2, 4, 4))


def test_jpeg_header_ends_after_the_start_of_scan_segment(strokes):
    img = ic.to_uint8(strokes)[0]
    data = ic.encode_image(img, "JPEG", 10)
    n = ic.jpeg_header_length(data)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    sos = data.rfind(b"\xff\xda", 0, n)
    assert sos > 0 and sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big") == n
    header, n_data = ic.split_header(data, "JPEG")
    assert len(header) + n_data == len(data)


def test_jpeg_headers_are_identical_within_a_set_at_one_quality(strokes):
    for q in (1, 50):
        coded = ic.pillow_code(strokes, "JPEG", q)
        assert len(coded.headers) == 1
        files = [ic.encode_image(im, "JPEG", q) for im in ic.to_uint8(strokes)]
        assert coded.set_bytes == len(coded.headers[0]) + sum(
            len(f) - len(coded.headers[0]) for f in files)
        assert (coded.file_bytes <= np.array([len(f) for f in files])).all()
        assert (coded.file_bytes > coded.data_bytes).all()


def test_fitted_huffman_tables_decode_to_the_same_pixels(strokes):
    img = ic.to_uint8(strokes)[2]
    plain = ic.encode_image(img, "JPEG", 20)
    fitted = ic.encode_image(img, "JPEG", 20, optimize=True)
    assert plain != fitted
    assert np.array_equal(ic.decode_image(plain), ic.decode_image(fitted))


def test_higher_quality_costs_more_and_decodes_closer(strokes):
    low, high = ic.pillow_code(strokes, "JPEG", 1), ic.pillow_code(strokes, "JPEG", 95)
    assert high.set_bytes > low.set_bytes
    assert float(gt.metrics.psnr(high.decoded, strokes).mean()) > \
        float(gt.metrics.psnr(low.decoded, strokes).mean()) + 5
    assert high.decoded.shape == strokes.shape


def test_8x8_digits_go_through_jpeg(digits):
    coded = ic.pillow_code(digits, "JPEG", 50)
    assert coded.decoded.shape == digits.shape
    assert len(coded.headers) == 1


@needs_webp
def test_webp_split_leaves_out_only_the_riff_length(strokes):
    data = ic.encode_image(ic.to_uint8(strokes)[0], "WEBP", 10)
    header, n_data = ic.webp_split(data)
    assert len(header) + n_data == len(data) - 4
    assert header.startswith(b"RIFF") and header.endswith(b"VP8 ")
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    coded = ic.pillow_code(strokes, "WEBP", 10)
    assert len(coded.headers) == 1  # the same tags for every image
    assert (coded.file_bytes == coded.data_bytes + 16).all()


def test_damaged_or_foreign_files_are_refused():
    with pytest.raises(GantutorError, match="not a JPEG"):
        ic.jpeg_header_length(b"GIF89a")
    with pytest.raises(GantutorError, match="no start-of-scan"):
        ic.jpeg_header_length(b"\xff\xd8\xff\xe0\x00\x04ab")
    with pytest.raises(GantutorError, match="not a WebP"):
        ic.webp_split(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(GantutorError, match="unknown format"):
        ic.encode_image(np.zeros((8, 8), np.uint8), "GIF", 10)
