"""Latents as bytes: the fitted prior, the uniform quantiser, the discretised
Gaussian, and entropy coding with the package's range coder, every byte counted."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gantutor import coder
from gantutor import latentcode as lc
from gantutor.errors import GantutorError


def standard(d):
    return lc.GaussianPrior(torch.zeros(d, dtype=torch.float64),
                            torch.ones(d, dtype=torch.float64))


# ------------------------------------------------------------ coder.encode_iid


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=60),
       st.lists(st.integers(1, 1000), min_size=7, max_size=7))
def test_iid_coding_round_trips_any_symbols_and_frequencies(symbols, freqs):
    payload = coder.encode_iid(symbols, freqs)
    assert len(payload) % 4 == 0
    decoded = coder.decode_iid(payload, len(symbols), freqs)
    assert decoded.tolist() == symbols


def test_iid_coding_costs_what_the_frequencies_say():
    freqs = np.array([1, 2, 5, 24])  # P = 1/32, 2/32, 5/32, 24/32
    symbols = np.random.default_rng(0).choice(4, 4000, p=freqs / freqs.sum())
    ideal = -np.log2(freqs[symbols] / freqs.sum()).sum()
    real = 8 * len(coder.encode_iid(symbols, freqs))
    assert ideal <= real <= ideal + 64


def test_iid_coding_rejects_frequencies_that_are_not_positive_integers():
    for bad in ([0, 3], [1.5, 2], []):
        with pytest.raises(ValueError, match="integers >= 1"):
            coder.encode_iid([0], bad)


# --------------------------------------------------------- prior, quantisation


def test_fit_prior_is_the_mean_and_standard_deviation_per_dimension():
    z = torch.tensor([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    prior = lc.fit_prior(z)
    assert torch.allclose(prior.mean, torch.tensor([2.0, 10.0], dtype=torch.float64))
    assert prior.std[0] == pytest.approx(2.0)
    assert prior.std[1] > 0  # a constant dimension gets a tiny, positive std
    with pytest.raises(GantutorError, match="latents of shape"):
        lc.fit_prior(torch.zeros(1, 3))


@pytest.mark.parametrize("step", [0.05, 0.5, 2.0])
def test_quantisation_error_is_at_most_half_a_step_in_prior_units(step):
    prior = lc.GaussianPrior(torch.tensor([1.0, -2.0], dtype=torch.float64),
                             torch.tensor([0.5, 3.0], dtype=torch.float64))
    z = prior.mean + prior.std * torch.randn(500, 2, dtype=torch.float64).clamp(-5, 5)
    q = lc.quantise(z, prior, step)
    assert q.dtype == torch.int64
    z_hat = lc.dequantise(q, prior, step).double()
    err = ((z_hat - z) / prior.std).abs()
    assert float(err.max()) <= step / 2 + 1e-6


def test_symbols_are_clamped_to_the_bound():
    prior = standard(1)
    step = 1.0
    K = lc.symbol_bound(step)
    assert K == math.ceil(lc.TAILS / step)
    q = lc.quantise(torch.tensor([[100.0], [-100.0], [0.4]]), prior, step)
    assert q.flatten().tolist() == [K, -K, 0]
    with pytest.raises(GantutorError, match="step must be > 0"):
        lc.symbol_bound(0.0)


def test_symbol_probability_is_the_gaussian_mass_of_the_bin():
    step = 0.7
    for k in (-3, 0, 2):
        phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
        expected = phi((k + 0.5) * step) - phi((k - 0.5) * step)
        assert float(lc.symbol_probability(k, step)) == pytest.approx(expected)
    K = lc.symbol_bound(step)
    total = lc.symbol_probability(torch.arange(-K, K + 1), step).sum()
    assert float(total) == pytest.approx(1.0, abs=1e-8)


def test_code_length_is_minus_log2_of_the_probabilities_summed_per_image():
    q = torch.tensor([[0, 1, -1], [2, 0, 0]])
    bits = lc.latent_code_bits(q, 1.0)
    p = lc.symbol_probability(q, 1.0)
    assert bits.shape == (2,)
    assert torch.allclose(bits, -torch.log2(p).sum(1))


def test_frequencies_follow_the_probabilities_and_are_never_zero():
    f = lc.symbol_frequencies(0.01)
    assert f.min() >= 1 and len(f) == 2 * lc.symbol_bound(0.01) + 1
    p = lc.symbol_probability(torch.arange(-3, 4), 0.5).numpy()
    f = lc.symbol_frequencies(0.5)
    K = lc.symbol_bound(0.5)
    assert np.allclose(f[K - 3:K + 4] / 2**lc.TOTAL_FREQ_BITS, p, atol=1e-6)


# ------------------------------------------------------------ entropy coding


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([0.05, 0.3, 1.0, 3.0]), st.integers(0, 40), st.integers(0, 99))
def test_symbols_round_trip_through_the_coder(step, n, seed):
    K = lc.symbol_bound(step)
    rng = np.random.default_rng(seed)
    symbols = np.clip(np.round(rng.normal(0, 1 / step, n)), -K, K).astype(np.int64)
    symbols[:1] = K if n else symbols[:1]  # the extreme symbol decodes too
    payload = lc.encode_latent_symbols(symbols, step)
    assert np.array_equal(lc.decode_latent_symbols(payload, n, step), symbols)


def test_out_of_range_symbols_are_refused():
    with pytest.raises(GantutorError, match="quantise"):
        lc.encode_latent_symbols(np.array([lc.symbol_bound(1.0) + 1]), 1.0)


def test_code_latents_counts_every_byte_and_decodes_exactly():
    torch.manual_seed(1)
    z = torch.randn(50, 8)
    prior = lc.fit_prior(z)
    for step in (2.0, 0.5, 0.05):
        coded = lc.code_latents(z, prior, step)
        q = lc.quantise(z, prior, step)
        assert torch.equal(coded.symbols, q)  # decoded from the bytes
        assert torch.allclose(coded.z_hat, lc.dequantise(q, prior, step))
        payload = lc.encode_latent_symbols(q.numpy(), step)
        assert coded.set_bytes == lc.SET_HEADER_BYTES + len(payload)
        for i in (0, 17, 49):
            one = lc.encode_latent_symbols(q[i].numpy(), step)
            assert coded.file_bytes[i] == lc.FILE_HEADER_BYTES + len(one)
            assert (coded.file_bytes[i] - lc.FILE_HEADER_BYTES) % 4 == 0
        # the range coder stays within a few words of the ideal code length
        ideal_bytes = float(coded.ideal_bits.sum()) / 8
        assert ideal_bytes - 1 <= len(payload) <= ideal_bytes + 12
        assert (coded.file_bytes >= coded.ideal_bits.numpy() / 8).all()


def test_coarser_steps_cost_fewer_bytes():
    z = torch.randn(40, 6, generator=torch.Generator().manual_seed(2))
    prior = lc.fit_prior(z)
    sizes = [lc.code_latents(z, prior, s).set_bytes for s in (0.02, 0.2, 1.0, 4.0)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 2 * sizes[-1]
