"""The pixel model's two-part image code and the GRU's prequential and two-part codes:
real bytes that decode exactly, code lengths that add up, machines that must match."""

import hashlib

import numpy as np
import pytest

from gantutor import codec, coder, data, pixelmodel, textnet, twopart
from gantutor.errors import CorruptFileError, GantutorError

TINY_PIXELS = pixelmodel.PixelConfig(radius=2, hidden=16, steps=30, batch_size=256)
TINY_GRU = textnet.PrequentialConfig(hidden=16, embed=8, first_block=256, steps=5,
                                     batch_size=4, seq_len=16)


@pytest.fixture(scope="module")
def digits():
    ds = data.load_dataset("digits", split="test")
    return pixelmodel.to_levels(ds.x[:40], 17)


def test_levels_round_trip_from_the_dataset_tensors(digits):
    assert digits.dtype == np.uint8 and digits.shape == (40, 8, 8)
    assert digits.max() <= 16 and digits.max() >= 15


def test_exp2_table_is_integer_powers_of_two():
    t = pixelmodel.EXP2
    assert t[0] == 2**20 and t[-1] >= 1 and all(np.diff(t) <= 0)
    # one bit per 64 steps (floor() at each step loses a little, the same everywhere)
    assert t[64] == pytest.approx(2**19, rel=1e-4)
    assert t[640] == pytest.approx(2**10, rel=1e-2)


def test_neighbourhood_is_causal():
    img = np.arange(1, 26, dtype=np.uint8).reshape(1, 5, 5)
    padded = pixelmodel._pad(img, 1)
    neigh = pixelmodel.neighbourhood(padded, 2, 2, 1)[0]
    # above-left, above, above-right, left of pixel (2, 2) = value 13
    assert neigh.tolist() == [7, 8, 9, 12]
    assert pixelmodel.neighbourhood(padded, 0, 0, 1)[0].tolist() == [0, 0, 0, 0]


def test_integer_model_is_close_to_the_float_model_and_ignores_batching(digits):
    import torch

    model = pixelmodel.train_pixel_model(digits, 17, TINY_PIXELS)
    q = pixelmodel.quantise_model(model, digits)
    padded = pixelmodel._pad(digits, 2)
    neigh = pixelmodel.neighbourhood(padded, 4, 3, 2)
    freqs = q.frequencies(neigh, 4, 3)
    assert freqs.shape == (40, 17) and freqs.min() >= 1
    # the same rows one at a time give exactly the same integers
    one_by_one = np.concatenate([q.frequencies(neigh[i:i + 1], 4, 3)
                                 for i in range(40)])
    assert np.array_equal(freqs, one_by_one)
    with torch.no_grad():
        p_float = torch.softmax(model(torch.from_numpy(neigh), torch.full((40,), 4),
                                      torch.full((40,), 3)), 1).numpy()
    p_int = freqs / freqs.sum(1, keepdims=True)
    assert np.abs(p_int - p_float).max() < 0.05


def test_images_round_trip_with_model_counted(digits):
    blob, rep = codec.compress_images(digits, 17, TINY_PIXELS)
    assert rep["total"] == len(blob) == rep["model"] + rep["pixels"] + rep["container"]
    assert rep["pixels"] * 8 >= rep["ideal_pixel_bits"] > 0
    assert np.array_equal(codec.decompress_images(blob), digits)
    with pytest.raises(CorruptFileError):
        codec.decompress_images(blob[:-5])
    with pytest.raises(CorruptFileError, match="does not hold images"):
        codec.decompress_images(codec.compress(b"text"))


def test_bad_images_are_refused():
    with pytest.raises(GantutorError, match="below 17"):
        codec.compress_images(np.full((2, 8, 8), 20, np.uint8), 17, TINY_PIXELS)


def test_idx_bytes_is_the_mnist_file_format_and_baselines_count_everything(digits):
    raw = codec.idx_bytes(digits)
    assert raw[:4] == b"\x00\x00\x08\x03" and len(raw) == 16 + digits.size
    assert np.array_equal(data.parse_idx(raw), digits)
    sizes = codec.image_baseline_sizes(digits, 17)
    assert sizes["PNG, one per image"] > 40 * 60  # a PNG file costs ~60 bytes at least
    assert sizes["PNG, all in one"] < sizes["PNG, one per image"]
    assert {"gzip of IDX", "bz2 of IDX", "xz of IDX"} <= set(sizes)


# ------------------------------------------------------------------ the GRU codes

TEXT = data.load_text("pydoc")[:1500]


def test_blocks_double():
    assert textnet.block_bounds(10, 1) == [(0, 1), (1, 2), (2, 4), (4, 8), (8, 10)]
    assert textnet.block_bounds(0, 4) == []


def test_prequential_round_trip_and_reported_lengths():
    payload, report = textnet.prequential_encode(TEXT, TINY_GRU)
    assert [(r["start"], r["end"]) for r in report] == \
        textnet.block_bounds(len(TEXT), 256)
    assert report[0]["bits"] == 8 * 256  # the first block: 8 bits per byte
    total = sum(r["bits"] for r in report)
    assert total / 8 <= len(payload) <= total / 8 + 16
    assert textnet.prequential_decode(payload, len(TEXT), TINY_GRU) == TEXT
    # the parallel measurement agrees with the stepwise coder to float rounding
    ideal = textnet.prequential_code_lengths(TEXT, TINY_GRU)
    assert sum(r["bits"] for r in ideal) == pytest.approx(total, rel=1e-4)


def test_gru_container_round_trip_and_other_machines_refused(monkeypatch):
    settings = TINY_GRU.to_dict()
    blob = codec.compress(TEXT[:600], model="gru", **settings)
    header, _ = coder.unpack(blob)
    assert header["machine"] == textnet.machine_fingerprint()
    assert codec.decompress(blob) == TEXT[:600]
    monkeypatch.setattr(textnet, "machine_fingerprint",
                        lambda: {**header["machine"], "cpu_capability": "NEON"})
    with pytest.raises(GantutorError, match="cpu_capability"):
        codec.decompress(blob)


def test_two_part_counts_the_weights():
    out = twopart.two_part_code_length(TEXT, TINY_GRU, steps=5)
    assert out["parameters"] == textnet.num_parameters(textnet.new_model(TINY_GRU))
    # int8 weights compressed: a little under 8 bits each, plus the scales
    assert 4 * out["parameters"] < out["model_bits"] < 8.5 * out["parameters"] + 4000
    assert 0 < out["data_bits"] < 8 * len(TEXT) + 8


def test_quantised_weights_round_trip():
    model = textnet.new_model(TINY_GRU)
    raw, scales = twopart.quantise_weights(model)
    copy = twopart.load_quantised(textnet.new_model(TINY_GRU), raw, scales)
    for p, q in zip(model.parameters(), copy.parameters()):
        assert (p - q).abs().max() <= max(scales) / 2 + 1e-7
    assert hashlib.sha256(twopart.quantise_weights(copy)[0]).digest() == \
        hashlib.sha256(raw).digest()


def test_sampling_is_reproducible():
    model = textnet.new_model(TINY_GRU)
    a = textnet.continue_bytes(model, b"def ", 30, seed=1)
    assert len(a) == 30 and a == textnet.continue_bytes(model, b"def ", 30, seed=1)


def test_two_part_code_as_real_bytes_round_trip():
    payload, parts = twopart.two_part_encode(TEXT[:400], TINY_GRU, steps=5)
    assert len(payload) == parts["model_bytes"] + parts["data_bytes"]
    assert parts["data_bits"] / 8 <= parts["data_bytes"] <= parts["data_bits"] / 8 + 16
    assert twopart.two_part_decode(payload, 400, TINY_GRU) == TEXT[:400]
