"""The compiled context mixer (textfast) computes exactly what the readable Python
reference (textmodel.ContextMixer) computes: the same coded bytes, bit for bit."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gantutor import coder, textmodel
from gantutor.compression import corpus, textfast

SMALL = textmodel.CMConfig(table_bits=12)  # small tables: many blocks are replaced
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.binary(max_size=160),
       levers=st.sets(st.sampled_from(textmodel._FLAGS)),
       orders=st.sets(st.integers(1, 8), min_size=1, max_size=4))
def test_fast_and_reference_encoders_write_the_same_bytes(data, levers, orders):
    cfg = replace(SMALL, orders=tuple(sorted(orders)),
                  **{f: f in levers for f in textmodel._FLAGS})
    payload = textfast.FastMixer(cfg).encode(data)
    assert payload == textmodel.encode(data, cfg)
    assert textfast.FastMixer(cfg).decode(payload, len(data)) == data


@SETTINGS
@given(data=st.lists(st.sampled_from([b"ab", b"\xe6\xa5\x9a", b"\n", b" ", b"\x00",
                                      b"\xff\xfe", b"def f(x):"]),
                     max_size=60).map(b"".join))
def test_repetitive_and_utf8_inputs_agree_too(data):
    # repeats exercise the match model, lines the column contexts
    assert textfast.FastMixer(SMALL).encode(data) == textmodel.encode(data, SMALL)


def test_a_slice_of_real_text_and_code_agree_bit_for_bit_and_round_trip():
    cfg = textmodel.CMConfig(table_bits=16)
    for data in (corpus.pydoc_text()[:1000], corpus.python_source(800)):
        fast = textfast.FastMixer(cfg)
        payload, p1 = fast.encode(data, record=True)
        assert payload == textmodel.encode(data, cfg)
        assert textfast.FastMixer(cfg).decode(payload, len(data)) == data
        # the coder spends what the model's probabilities say, plus a few bytes
        bits = coder.binary_code_length_bits(
            p1, np.unpackbits(np.frombuffer(data, np.uint8)))
        assert bits / 8 <= len(payload) <= bits / 8 + 8
    assert (p1 == textmodel.model_probabilities(data, cfg)).all()
    assert textmodel.decode_arithmetic(payload, len(data), cfg) == data


def test_sampling_continues_the_model_identically():
    cfg = textmodel.CMConfig(table_bits=14)
    text = b"the cat sat on the mat. " * 20
    fast, ref = textfast.FastMixer(cfg), textmodel.ContextMixer(cfg)
    fast.probabilities(text)
    textmodel.model_probabilities(text, model=ref)
    a = textmodel.generate_bytes(fast, 120, seed=5)
    assert a == textmodel.generate_bytes(ref, 120, seed=5)
    assert a != textmodel.generate_bytes(textfast.FastMixer(cfg), 120, seed=5)


def test_python_bit_coder_round_trips_and_a_wrong_model_decodes_garbage():
    enc = coder.BitEncoder()
    bits, probs = [1, 0, 0, 1, 1, 1, 0] * 50, [4000, 100, 2048, 1, 4095, 3000, 7] * 50
    for b, p in zip(bits, probs):
        enc.encode(b, p)
    payload = enc.finish()
    dec = coder.BitDecoder(payload)
    assert [dec.decode(p) for p in probs] == bits
    other = coder.BitDecoder(payload)
    assert [other.decode(2048) for _ in probs] != bits


@pytest.mark.parametrize("n", [0, 1, 7])
def test_tiny_inputs(n):
    data = bytes(range(n))
    payload = textfast.FastMixer(SMALL).encode(data)
    assert payload == textmodel.encode(data, SMALL) and len(payload) >= 4
    assert textfast.FastMixer(SMALL).decode(payload, n) == data
