"""Crafted container headers: every one is refused with one clear error before
anything is allocated or run, or decodes exactly; settings the encoder cannot
produce are refused on both sides."""

import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gantutor import codec, coder, pixelmodel, textmodel, textnet
from gantutor.cli import main
from gantutor.errors import CorruptFileError, GantutorError

TEXT = b"It was the best of times, it was the worst of times. " * 4
TINY_GRU = textnet.PrequentialConfig(hidden=8, embed=4, first_block=64, steps=2,
                                     batch_size=2, seq_len=8)


@pytest.fixture(scope="module")
def cm_parts():
    return coder.unpack(codec.compress(TEXT))


@pytest.fixture(scope="module")
def gru_parts():
    return coder.unpack(codec.compress(TEXT[:100], model="gru", **TINY_GRU.to_dict()))


def with_settings(header, **changes):
    return {**header, "settings": {**header["settings"], **changes}}


# The crafted headers of issue 18 (tracebacks, a hang, 2.1 GB) and their neighbours.
CM_CASES = {
    "length=inf": lambda h: {**h, "length": float("inf")},
    "length=nan": lambda h: {**h, "length": float("nan")},
    "length float": lambda h: {**h, "length": float(h["length"])},
    "length string": lambda h: {**h, "length": str(h["length"])},
    "length true": lambda h: {**h, "length": True},
    "length -1": lambda h: {**h, "length": -1},
    "length 10**30": lambda h: {**h, "length": 10**30},
    "length beyond payload": lambda h: {**h, "length": 10**8},
    "model=['cm']": lambda h: {**h, "model": ["cm"]},
    "model None": lambda h: {**h, "model": None},
    "model unknown": lambda h: {**h, "model": "transformer-xl"},
    "model pixels": lambda h: {**h, "model": "pixels"},
    "versions='x'": lambda h: {**h, "versions": "x"},
    "versions constriction 5": lambda h: {**h, "versions": {"constriction": 5}},
    "versions lacks gantutor": lambda h: {**h, "versions": {
        "constriction": h["versions"]["constriction"]}},
    "sha256 int": lambda h: {**h, "sha256": 5},
    "sha256 short": lambda h: {**h, "sha256": "ab"},
    "no sha256": lambda h: {k: v for k, v in h.items() if k != "sha256"},
    "unknown field": lambda h: {**h, "mode": 420},
    "settings list": lambda h: {**h, "settings": [1, 2]},
    "settings missing a field": lambda h: {**h, "settings": {
        k: v for k, v in h["settings"].items() if k != "lr"}},
    "settings extra field": lambda h: with_settings(h, layers=3),
    "table_bits=26": lambda h: with_settings(h, table_bits=26),
    "table_bits beyond the data": lambda h: with_settings(h, table_bits=22),
    "table_bits float": lambda h: with_settings(h, table_bits=16.0),
    "orders string": lambda h: with_settings(h, orders="123"),
    "orders nested": lambda h: with_settings(h, orders=[[1]]),
    "orders empty": lambda h: with_settings(h, orders=[]),
    "lr float": lambda h: with_settings(h, lr=4.5),
    "limit 0": lambda h: with_settings(h, limit=0),
    "word string": lambda h: with_settings(h, word="yes"),
    "init_weight huge": lambda h: with_settings(h, init_weight=2**70),
}

GRU_CASES = {
    "machine='x'": lambda h: {**h, "machine": "x"},
    "machine lacks a field": lambda h: {**h, "machine": {
        k: v for k, v in h["machine"].items() if k != "torch"}},
    "machine value list": lambda h: {**h, "machine": {**h["machine"], "torch": [1]}},
    "no machine": lambda h: {k: v for k, v in h.items() if k != "machine"},
    "steps 10**9, first_block 1": lambda h: with_settings(h, steps=10**9,
                                                          first_block=1),
    "training beyond the budget": lambda h: with_settings(
        h, steps=100_000, first_block=1, hidden=1024, batch_size=32, seq_len=128),
    "hidden 10**6": lambda h: with_settings(h, hidden=10**6),
    "window 2**20 bytes": lambda h: with_settings(h, batch_size=4096, seq_len=256),
    "lr -1": lambda h: with_settings(h, lr=-1),
    "lr string": lambda h: with_settings(h, lr="0.1"),
    "warm_start 1": lambda h: with_settings(h, warm_start=1),
    "seed -1": lambda h: with_settings(h, seed=-1),
    "first block longer than the payload": lambda h: {
        **with_settings(h, first_block=10**6), "length": 200_000},
}


def refused_quickly(blob):
    t0 = time.perf_counter()
    with pytest.raises(GantutorError) as err:
        codec.decompress(blob)
    assert time.perf_counter() - t0 < 5, "validation must come before the work"
    assert len(str(err.value).splitlines()) == 1
    return str(err.value)


@pytest.mark.parametrize("case", CM_CASES)
def test_crafted_cm_headers_are_refused_in_one_line(cm_parts, case):
    header, payload = cm_parts
    refused_quickly(coder.pack(CM_CASES[case](header), payload))


@pytest.mark.parametrize("case", GRU_CASES)
def test_crafted_gru_headers_are_refused_in_one_line(gru_parts, case):
    header, payload = gru_parts
    refused_quickly(coder.pack(GRU_CASES[case](header), payload))


def test_messages_name_the_problem(cm_parts, gru_parts):
    header, payload = cm_parts
    assert "not valid JSON" in refused_quickly(
        coder.pack(CM_CASES["length=inf"](header), payload))
    assert "at most 16" in refused_quickly(
        coder.pack(CM_CASES["table_bits beyond the data"](header), payload))
    assert "decompress_images" in refused_quickly(
        coder.pack({k: v for k, v in header.items()
                    if k not in ("length", "settings", "model_version")}
                   | {"model": "pixels", "n": 1, "layout": {}, "weights_bytes": 0},
                   payload))
    gheader, gpayload = gru_parts
    assert "steps must be an integer 0..100,000" in refused_quickly(
        coder.pack(GRU_CASES["steps 10**9, first_block 1"](gheader), gpayload))
    assert "multiply-adds" in refused_quickly(
        coder.pack(GRU_CASES["training beyond the budget"](gheader), gpayload))


def test_the_unmodified_headers_decode(cm_parts, gru_parts):
    for header, payload, data in (*cm_parts, TEXT), (*gru_parts, TEXT[:100]):
        assert codec.decompress(coder.pack(header, payload)) == data


def test_json_the_standard_does_not_allow_is_refused(cm_parts):
    header, payload = cm_parts
    good = coder.pack(header, payload)
    n_head = int.from_bytes(good[5:9], "big")
    head = good[9: 9 + n_head]
    for bad in (head.replace(b'"length":', b'"length":NaN,"x":'),
                b"[" * 100_000 + b"]" * 100_000,  # nested past the recursion limit
                b'{"length": 1' + b"0" * 5000 + b"}"):  # an int of 5,001 digits
        blob = good[:5] + len(bad).to_bytes(4, "big") + bad + \
            zlib.crc32(bad).to_bytes(4, "big") + good[9 + n_head + 4:]
        with pytest.raises(CorruptFileError, match="not valid JSON"):
            codec.decompress(blob)


def test_the_cli_gives_one_line_and_no_file_for_a_crafted_header(
        tmp_path, capsys, gru_parts):
    header, payload = gru_parts
    src = tmp_path / "crafted.gtz"
    src.write_bytes(coder.pack(GRU_CASES["steps 10**9, first_block 1"](header),
                               payload))
    assert main(["decompress", str(src), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "steps must be" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crafted.gtz"]


# ------------------------------------------------------ any crafted header at all

JSON = st.recursive(
    st.none() | st.booleans() | st.text(max_size=6)
    | st.integers(-(2**70), 2**70) | st.sampled_from([0, 1, 2, 16, 17, 10**9])
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def near(value):
    """Values like ``value``: what a careful forger would try first."""
    if isinstance(value, bool):
        return st.sampled_from([not value, int(value), str(value).lower()])
    if isinstance(value, int):
        return (st.integers(value - 3, value + 3) | st.just(float(value))
                | st.sampled_from([0, -1, 2 * value, 2**31, 2**63, 10**9]))
    if isinstance(value, float):
        return st.floats(0, 2 * value + 1) | st.just(-value)
    if isinstance(value, list):
        return st.lists(st.integers(0, 9), max_size=9)
    if isinstance(value, str):
        return st.sampled_from(["", value[:-1], value + "0", value.upper()])
    return JSON


def mutate(data, header: dict, nested=("settings",)) -> dict:
    """One random change: a field replaced, removed or added, at the top or in one
    of the ``nested`` dictionaries."""
    where = data.draw(st.sampled_from([None, *nested]), label="where")
    target = dict(header if where is None else header[where])
    action = data.draw(st.sampled_from(["replace", "remove", "add"]), label="action")
    if action == "add":
        target[data.draw(st.text(max_size=6), label="new key")] = data.draw(JSON)
    elif target:
        key = data.draw(st.sampled_from(sorted(target)), label="key")
        if action == "remove":
            del target[key]
        else:
            target[key] = data.draw(JSON | near(target[key]), label="value")
    return target if where is None else {**header, where: target}


SMALL = b"abcabcabd" * 3
PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def small_cm():
    return coder.unpack(codec.compress(SMALL))


@pytest.fixture(scope="module")
def small_gru():
    return coder.unpack(codec.compress(SMALL, model="gru", **TINY_GRU.to_dict()))


def check_or_refuse(header: dict, payload: bytes):
    """The checked header, or None after a one-line refusal."""
    try:
        return codec.check_header(header, payload)
    except GantutorError as err:
        assert len(str(err).splitlines()) == 1
        return None


@PROPERTY
@given(data=st.data())
def test_any_crafted_cm_header_is_refused_or_decodes_exactly(small_cm, data):
    header, payload = small_cm
    crafted = mutate(data, header)
    checked = check_or_refuse(crafted, payload)
    event("refused" if checked is None else "accepted")
    if checked is None:
        return
    n = checked["length"]
    assert n <= codec.MAX_BYTES_PER_PAYLOAD_BYTE * (len(payload) + 16)
    if n <= 1000:  # longer ones are within bounds but slow to decode
        try:
            assert codec.decompress(coder.pack(crafted, payload)) == SMALL
        except GantutorError as err:  # decoded, and the SHA-256 caught the change
            assert len(str(err).splitlines()) == 1


@PROPERTY
@given(data=st.data())
def test_any_crafted_gru_header_is_refused_or_within_bounds(small_gru, data):
    header, payload = small_gru
    crafted = mutate(data, header, nested=("settings", "machine", "versions"))
    checked = check_or_refuse(crafted, payload)
    event("refused" if checked is None else "accepted")
    if checked is None:
        return
    cfg = textnet.PrequentialConfig.from_dict(checked["settings"])
    n = checked["length"]
    assert n <= codec.MAX_BYTES_PER_PAYLOAD_BYTE * (len(payload) + 16)
    assert textnet.training_macs(cfg, n) <= (codec.GRU_MACS_BASE
                                             + codec.GRU_MACS_PER_BYTE * n)
    assert min(cfg.first_block, n) <= len(payload) + 64


# --------------------------------------------- the encoder refuses the same things


def test_compress_refuses_what_decompress_would():
    with pytest.raises(GantutorError, match=f"more than {len(TEXT)} bytes can use"):
        codec.compress(TEXT, table_bits=20)
    t0 = time.perf_counter()
    with pytest.raises(GantutorError, match="multiply-adds"):
        codec.compress(TEXT, model="gru", steps=100_000, first_block=1)
    assert time.perf_counter() - t0 < 5  # refused before training
    with pytest.raises(GantutorError, match="unknown model"):
        codec.compress(TEXT, model=["cm"])
    assert codec.decompress(codec.compress(TEXT, table_bits=16)) == TEXT


@pytest.mark.parametrize("bad", [
    {"orders": "123"}, {"orders": 3}, {"orders": [1.5]}, {"orders": [True]},
    {"table_bits": 25}, {"table_bits": 16.0}, {"lr": 4.0}, {"word": "no"},
    {"init_weight": -1}, {"limit": None}])
def test_context_mixing_settings_check_types(bad):
    with pytest.raises(GantutorError, match="invalid context-mixing settings"):
        textmodel.CMConfig(**bad)


def test_context_mixing_settings_accept_numpy_values_as_plain_ones():
    cfg = textmodel.CMConfig(orders=np.array([1, 2]), table_bits=np.int64(16),
                             word=np.bool_(False))
    assert cfg == textmodel.CMConfig(orders=(1, 2), table_bits=16, word=False)
    assert type(cfg.table_bits) is int and type(cfg.word) is bool


@pytest.mark.parametrize("bad", [
    {"hidden": 0}, {"hidden": 2000}, {"embed": 1.0}, {"first_block": 0},
    {"steps": -1}, {"steps": 10**6}, {"batch_size": 0}, {"seq_len": 1},
    {"batch_size": 1024, "seq_len": 1024}, {"lr": 0}, {"lr": float("nan")},
    {"lr": True}, {"warm_start": "yes"}, {"seed": -1}, {"seed": 2**64}])
def test_prequential_settings_check_types_and_ranges(bad):
    with pytest.raises(GantutorError, match="invalid prequential settings"):
        textnet.PrequentialConfig(**bad)


def test_training_cost_follows_the_block_schedule():
    cfg = textnet.PrequentialConfig(hidden=4, embed=2, first_block=4, steps=3,
                                    batch_size=2, seq_len=5)
    per_token = 3 * 4 * (2 + 4) + 256 * 4
    # blocks [0,4) [4,8) [8,10): training before the 2nd and 3rd on 4 and 8 bytes
    tokens = 3 * 2 * min(5, 3) + 3 * 2 * min(5, 7)
    assert textnet.training_macs(cfg, 10) == 3 * per_token * tokens
    assert textnet.training_macs(cfg, 4) == 0


# ----------------------------------------------------------------- image files


@pytest.fixture(scope="module")
def image_parts():
    rng = np.random.default_rng(0)
    images = (rng.random((3, 6, 6)) < 0.3).astype(np.uint8)
    cfg = pixelmodel.PixelConfig(radius=1, hidden=4, steps=3, batch_size=16)
    blob, _ = codec.compress_images(images, 2, cfg)
    return images, *coder.unpack(blob)


IMAGE_CASES = {
    "n 10**9": lambda h: {**h, "n": 10**9},
    "n string": lambda h: {**h, "n": "3"},
    "weights_bytes beyond": lambda h: {**h, "weights_bytes": 10**6},
    "layout list": lambda h: {**h, "layout": []},
    "radius 0": lambda h: {**h, "layout": {**h["layout"], "radius": 0}},
    "height 10**5": lambda h: {**h, "layout": {**h["layout"], "height": 10**5}},
    "levels 1000": lambda h: {**h, "layout": {**h["layout"], "levels": 1000}},
    "hidden 10**4": lambda h: {**h, "layout": {**h["layout"], "shapes": [
        [h["layout"]["shapes"][0][0], 10**4], [10**4, 10**4], [10**4, 2]]}},
    "shapes float": lambda h: {**h, "layout": {**h["layout"], "shapes": [
        [float(v) for v in row] for row in h["layout"]["shapes"]]}},
    "shifts short": lambda h: {**h, "layout": {**h["layout"], "shifts": [1]}},
    "out_mult -1": lambda h: {**h, "layout": {**h["layout"], "out_mult": -1}},
    "too many pixels": lambda h: {**h, "n": 2**20, "layout": {
        **h["layout"], "height": 1024, "width": 1024}},
    "unknown field": lambda h: {**h, "length": 3},
}


@pytest.mark.parametrize("case", IMAGE_CASES)
def test_crafted_image_headers_are_refused_in_one_line(image_parts, case):
    _, header, payload = image_parts
    with pytest.raises(GantutorError) as err:
        codec.decompress_images(coder.pack(IMAGE_CASES[case](header), payload))
    assert len(str(err.value).splitlines()) == 1


def test_image_round_trip_and_too_many_images_refused_before_training(image_parts):
    images, header, payload = image_parts
    assert (codec.decompress_images(coder.pack(header, payload)) == images).all()
    big = pixelmodel.PixelConfig(hidden=4096)
    with pytest.raises(GantutorError, match="too many"):
        codec.compress_images(np.zeros((1000, 28, 28), np.uint8), 2, big)
    with pytest.raises(GantutorError, match="too many"):
        pixelmodel.check_size(2**20, 3, 1024, 1024, 2, 128)
    with pytest.raises(GantutorError, match="levels"):
        codec.compress_images(images, 1000)
