"""Compression: the range coder, the context-mixing model, the container, the CLI.

Every round trip is exact (byte-identical); every damaged, truncated or foreign file
is refused with a clear error and leaves no output file."""

import bz2
import gzip
import hashlib
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gantutor import coder, textmodel
from gantutor.cli import main
from gantutor.compression.codec import (
    baseline_sizes,
    compress,
    compress_file,
    decompress,
    decompress_file,
)
from gantutor.errors import CorruptFileError, GantutorError

TEXT = (b"It was the best of times, it was the worst of times, it was the age of "
        b"wisdom, it was the age of foolishness, it was the epoch of belief. ") * 6


# ---------------------------------------------------------------- the range coder


def test_code_length_is_minus_sum_log2_p():
    assert coder.code_length_bits([0.5, 0.25, 1.0]) == pytest.approx(3.0)
    assert coder.binary_code_length_bits([2048, 1024], [1, 0]) == pytest.approx(
        1 - math.log2(0.75))


def test_binary_coder_round_trip_and_overhead_of_a_few_bytes():
    rng = np.random.default_rng(0)
    p1 = rng.integers(1, 4096, 20_000)
    bits = (rng.integers(0, 4096, 20_000) < p1).astype(np.int32)
    payload = coder.encode_bits(bits, p1)
    ideal = coder.binary_code_length_bits(p1, bits)
    assert ideal / 8 <= len(payload) <= ideal / 8 + 16
    next_bit = coder.bit_decoder(payload)
    assert [next_bit(int(p)) for p in p1] == bits.tolist()


def test_binary_coder_in_slices_writes_the_bits_of_one_call():
    import constriction

    rng = np.random.default_rng(5)
    n = 2**20 + 12_345  # two slices
    p1 = rng.integers(1, 4096, n).astype(np.uint16)
    bits = (rng.integers(0, 4096, n) < p1).astype(np.uint8)
    stream = constriction.stream
    enc = stream.queue.RangeEncoder()  # the whole table in one call, as before
    p = p1.astype(np.float64)
    enc.encode(bits.astype(np.int32), stream.model.Categorical(perfect=False),
               np.stack([4096 - p, p], axis=1))
    assert coder.encode_bits(bits, p1) == coder.words_to_bytes(enc.get_compressed())


def test_binary_coder_rejects_probabilities_outside_1_to_4095():
    with pytest.raises(ValueError, match="1..4095"):
        coder.encode_bits([0, 1], [0, 2048])
    with pytest.raises(ValueError, match="probabilities"):
        coder.encode_bits([0, 1], [5])


def test_categorical_coder_round_trip_in_batches():
    rng = np.random.default_rng(1)
    freqs = rng.integers(1, 1000, (300, 17))
    symbols = np.array([rng.choice(17, p=f / f.sum()) for f in freqs])
    payload = coder.encode_symbols(symbols, freqs)
    dec = coder.SymbolDecoder(payload)
    got = np.concatenate([dec.decode(freqs[:100]), dec.decode(freqs[100:])])
    assert got.tolist() == symbols.tolist()
    ideal = coder.code_length_bits(freqs[np.arange(300), symbols] / freqs.sum(1))
    assert len(payload) <= ideal / 8 + 16


# -------------------------------------------------------------- the text model


def test_squash_and_stretch_are_inverse_monotone_tables():
    sq, stretch = textmodel.SQUASH, textmodel.STRETCH
    assert all(a <= b for a, b in zip(sq, sq[1:])) and sq[2048] == 2048
    assert all(a <= b for a, b in zip(stretch, stretch[1:]))
    for x in range(-1000, 1001, 7):  # the flat ends of squash lose resolution
        assert abs(stretch[sq[x + 2048]] - x) <= 4
    assert abs(sq[2048 + 256] - 4096 / (1 + math.exp(-1))) < 2  # squash(1 nat)


def test_model_probabilities_one_per_bit_and_learning_helps():
    p1 = textmodel.model_probabilities(TEXT, textmodel.CMConfig(table_bits=16))
    assert p1.shape == (8 * len(TEXT),) and p1.min() >= 1 and p1.max() <= 4095
    bits = np.unpackbits(np.frombuffer(TEXT, np.uint8))
    first, last = len(TEXT) // 6 * 8, 5 * len(TEXT) // 6 * 8
    # the text repeats: the model must pay far less for the last copy than the first
    assert coder.binary_code_length_bits(p1[last:], bits[last:]) < \
        0.2 * coder.binary_code_length_bits(p1[:first], bits[:first])


def test_model_is_deterministic_and_sampling_continues_the_model():
    cfg = textmodel.CMConfig(table_bits=16)
    a = textmodel.model_probabilities(TEXT, cfg)
    b = textmodel.model_probabilities(TEXT, cfg)
    assert np.array_equal(a, b)
    m1, m2 = textmodel.ContextMixer(cfg), textmodel.ContextMixer(cfg)
    textmodel.model_probabilities(TEXT, model=m1)
    textmodel.model_probabilities(TEXT, model=m2)
    s1 = textmodel.generate_bytes(m1, 200, seed=3)
    assert len(s1) == 200 and s1 == textmodel.generate_bytes(m2, 200, seed=3)
    assert s1.count(b" ") > 10  # it learned that this text has words


@pytest.mark.parametrize("bad", [{"orders": []}, {"orders": [1, 1]}, {"orders": [9]},
                                 {"table_bits": 40}, {"lr": 0}, {"limit": 300}])
def test_model_settings_are_validated(bad):
    with pytest.raises(GantutorError, match="invalid context-mixing settings"):
        textmodel.CMConfig(**bad)


def test_settings_round_trip_and_unknown_settings_refused():
    cfg = textmodel.CMConfig(orders=(1, 3), word=False)
    assert textmodel.CMConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(GantutorError, match="newer gantutor"):
        textmodel.CMConfig.from_dict({**cfg.to_dict(), "layers": 3})


# ------------------------------------------------------- compress / decompress


@pytest.mark.parametrize("data", [
    b"", b"\x00", b"a", b"\xff", bytes(range(256)), "naïve café ☕\n".encode(),
    b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xfe\xff",  # not valid UTF-8
    TEXT,
], ids=["empty", "zero-byte", "one-letter", "0xff", "all-bytes", "utf8", "not-utf8",
        "text"])
def test_round_trip_is_byte_identical(data):
    blob = compress(data)
    assert decompress(blob) == data


def test_round_trip_random_binary_and_each_model_option():
    data = np.random.default_rng(2).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    assert decompress(compress(data)) == data
    for opts in ({"word": False}, {"match": False, "apm": False}, {"orders": [2]}):
        assert decompress(compress(TEXT, **opts)) == TEXT


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_round_trip_property_any_bytes(data):
    assert decompress(compress(data)) == data


@settings(max_examples=15, deadline=None)
@given(st.text(max_size=200))
def test_round_trip_property_any_text(text):
    data = text.encode("utf-8")
    assert decompress(compress(data)) == data


def test_text_compresses_better_than_gzip_and_incompressible_data_costs_little():
    import pydoc_data.topics

    text = "".join(pydoc_data.topics.topics[k]
                   for k in sorted(pydoc_data.topics.topics)).encode()[:10_000]
    blob = compress(text)  # header (~300 bytes) included
    assert len(blob) < baseline_sizes(text)["gzip"]
    noise = np.random.default_rng(3).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    assert len(compress(noise)) < 1.05 * len(noise) + 400  # 400: the header


def test_baselines_are_the_standard_modules():
    sizes = baseline_sizes(TEXT)
    assert sizes["gzip"] == len(gzip.compress(TEXT, 9, mtime=0))
    assert sizes["bz2"] == len(bz2.compress(TEXT, 9))
    assert set(sizes) == {"gzip", "bz2", "xz"}


def test_container_records_what_decoding_depends_on():
    header, _ = coder.unpack(compress(TEXT))
    assert header["model"] == "cm" and header["length"] == len(TEXT)
    assert header["sha256"] == hashlib.sha256(TEXT).hexdigest()
    assert header["settings"] == textmodel.CMConfig(
        table_bits=header["settings"]["table_bits"]).to_dict()
    assert header["model_version"] == textmodel.MODEL_VERSION
    assert set(header["versions"]) == {"gantutor", "constriction"}


# ---------------------------------------------------------- damaged containers


def blob_and_parts():
    blob = compress(TEXT)
    (n_head,) = struct.unpack_from(">I", blob, 5)
    return blob, 9 + n_head  # blob, offset of the header CRC


def test_every_truncation_is_refused():
    blob, _ = blob_and_parts()
    for cut in list(range(0, 40)) + list(range(40, len(blob), 13)) + [len(blob) - 1]:
        with pytest.raises(CorruptFileError):
            decompress(blob[:cut])


def test_every_corrupted_byte_is_refused():
    blob, _ = blob_and_parts()
    rng = np.random.default_rng(4)
    for pos in list(range(len(blob))):
        damaged = bytearray(blob)
        damaged[pos] ^= int(rng.integers(1, 256))
        with pytest.raises(GantutorError):
            decompress(bytes(damaged))


@pytest.mark.parametrize("foreign", [
    b"", b"hello world", gzip.compress(TEXT), bz2.compress(TEXT),
    b"\x89PNG\r\n\x1a\n" + bytes(100), b"\x89GTZ",
])
def test_foreign_files_are_refused(foreign):
    with pytest.raises(CorruptFileError):
        decompress(foreign)


def test_trailing_bytes_and_newer_format_are_refused():
    blob = compress(b"abc")
    with pytest.raises(CorruptFileError, match="unexpected bytes"):
        decompress(blob + b"\x00")
    newer = blob[:4] + bytes([coder.CONTAINER_FORMAT + 1]) + blob[5:]
    with pytest.raises(GantutorError, match="format version"):
        decompress(newer)


def test_a_header_that_lies_about_the_data_is_caught_by_the_checksum():
    header, payload = coder.unpack(compress(TEXT))
    header["settings"]["lr"] += 1  # the decoder's model differs by one tiny step
    with pytest.raises(CorruptFileError, match="SHA-256|do not decode"):
        decompress(coder.pack(header, payload))


def test_another_constriction_version_is_refused_where_it_codes(monkeypatch):
    # the context mixer codes with its own arithmetic coder: any constriction will do
    blob = compress(TEXT)
    header, payload = coder.unpack(blob)
    monkeypatch.setattr(coder, "constriction_version", lambda: "0.9.1")
    assert decompress(blob) == TEXT
    gru = {k: v for k, v in header.items() if k != "model_version"}
    gru.update(model="gru", machine={})
    with pytest.raises(GantutorError, match="constriction"):
        decompress(coder.pack(gru, payload))


def test_a_file_of_another_model_version_is_refused_in_one_line():
    header, payload = coder.unpack(compress(TEXT))
    for version in (1, textmodel.MODEL_VERSION + 1, None):
        old = dict(header, model_version=version)
        if version is None:
            del old["model_version"]  # files of gantutor's first model had none
        with pytest.raises(GantutorError) as err:
            decompress(coder.pack(old, payload))
        message = str(err.value)
        assert "\n" not in message and "model version" in message
        assert f"decodes version {textmodel.MODEL_VERSION} only" in message


def test_unknown_model_in_header_is_refused():
    header, payload = coder.unpack(compress(b"abc"))
    header["model"] = "transformer-xl"
    with pytest.raises(GantutorError, match="does not know"):
        decompress(coder.pack(header, payload))


# ---------------------------------------------------------------- files and CLI


def test_files_round_trip_and_failed_decompress_writes_nothing(tmp_path):
    src, packed, back = tmp_path / "in.bin", tmp_path / "x.gtz", tmp_path / "out.bin"
    src.write_bytes(TEXT)
    sizes = compress_file(src, packed)
    assert sizes == {"original": len(TEXT), "compressed": packed.stat().st_size}
    decompress_file(packed, back)
    assert back.read_bytes() == TEXT
    packed.write_bytes(packed.read_bytes()[:-3])
    with pytest.raises(CorruptFileError):
        decompress_file(packed, tmp_path / "never.bin")
    assert not (tmp_path / "never.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.bin", "out.bin", "x.gtz"]


def test_cli_round_trip(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_bytes(TEXT + b"\xff\xfe")
    assert main(["compress", str(src), "-o", str(tmp_path / "c.gtz")]) == 0
    assert "bits/byte" in capsys.readouterr().out
    assert main(["decompress", str(tmp_path / "c.gtz"), "-o",
                 str(tmp_path / "back.txt")]) == 0
    assert "SHA-256 verified" in capsys.readouterr().out
    assert (tmp_path / "back.txt").read_bytes() == src.read_bytes()


def test_cli_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, capsys):
    foreign = tmp_path / "notes.txt"
    foreign.write_text("just some text, not compressed")
    assert main(["decompress", str(foreign), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "not a gantutor compressed file" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert main(["compress", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compress", str(foreign), "-o", str(foreign)]) == 2
    assert "exists" in capsys.readouterr().err
    assert foreign.read_text() == "just some text, not compressed"


# ------------------------------------------------- the ideas, in small functions


def test_entropy_cross_entropy_and_kl():
    p, q = [0.5, 0.25, 0.125, 0.125], [0.25] * 4
    assert coder.entropy_bits(p) == pytest.approx(1.75)
    assert coder.cross_entropy_bits(p, q) == pytest.approx(2.0)
    assert coder.kl_bits(p, q) == pytest.approx(0.25)
    assert coder.kl_bits(p, p) == pytest.approx(0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcd"), max_size=40))
def test_arithmetic_coder_round_trip_within_two_bits(message):
    probs = {"a": "1/2", "b": "1/4", "c": "1/8", "d": "1/8"}
    bits = coder.arithmetic_encode(message, probs)
    assert coder.arithmetic_decode(bits, probs, len(message)) == message
    ideal = sum(-math.log2(eval(probs[x])) for x in message)  # noqa: S307
    assert len(bits) <= ideal + 2


def test_a_decoder_one_step_off_decodes_garbage_after_the_first_difference():
    from dataclasses import replace

    from gantutor.compression.codec import first_difference

    cfg = textmodel.CMConfig(table_bits=16)
    p1 = textmodel.model_probabilities(TEXT, cfg)
    payload = coder.encode_bits(np.unpackbits(np.frombuffer(TEXT, np.uint8)), p1)
    assert textmodel.decode(payload, len(TEXT), cfg) == TEXT
    wrong = textmodel.decode(payload, len(TEXT), replace(cfg, lr=cfg.lr + 1),
                             partial=True)
    k = first_difference(wrong, TEXT)
    assert k is not None and k < len(TEXT) // 2
    assert first_difference(b"abc", b"abd") == 2
    assert first_difference(b"ab", b"ab") is None
    assert first_difference(b"ab", b"abc") == 2


def test_logistic_mix_step_is_a_gradient_step_on_the_log_loss():
    import torch

    w = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    s = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float64)
    p, w_new = textmodel.logistic_mix_step(w.detach(), s, 1, 0.1)
    loss = -torch.log(torch.sigmoid(w @ s))  # -log p(bit = 1)
    loss.backward()
    assert torch.allclose(w_new, w.detach() - 0.1 * w.grad)
    assert float(p) == pytest.approx(float(torch.sigmoid(w.detach() @ s)))


def test_compress_reports_ideal_length_costs_and_the_trained_model():
    stats = {}
    blob = compress(TEXT, stats=stats)
    _, payload = coder.unpack(blob)
    assert stats["ideal_bits"] / 8 <= len(payload) <= stats["ideal_bits"] / 8 + 8
    assert stats["costs"].shape == (len(TEXT),)
    assert stats["costs"].sum() == pytest.approx(stats["ideal_bits"])
    assert len(textmodel.generate_bytes(stats["model"], 50)) == 50
