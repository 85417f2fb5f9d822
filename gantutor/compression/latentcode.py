"""Quantised latents as bytes: a fitted prior, a uniform quantiser, entropy coding.

A latent z (d numbers) is sent in three steps, each one function here:

1. standardise it with a Gaussian prior fitted to training latents,
   u = (z − μ) / σ (:class:`GaussianPrior`, :func:`fit_prior`);
2. quantise with a uniform step Δ: the integer symbols q = round(u / Δ)
   (:func:`quantise`); the decoder's latent is ẑ = μ + σ Δ q (:func:`dequantise`);
3. code the symbols under the discretised Gaussian they follow,
   P(k) = Φ((k + ½)Δ) − Φ((k − ½)Δ) (:func:`symbol_probability`), which costs ideally
   −Σ log2 P(q_j) bits (:func:`latent_code_bits`) and really the bytes that the
   package's range coder (:mod:`.coder`) writes (:func:`encode_latent_symbols`).

:func:`code_latents` does all three for a set of latents, decodes the bytes again,
checks that every symbol came back, and counts the bytes both ways: one stream for
the whole set, and one file per image. The prior's 2d numbers belong to the codec,
like the decoder's weights, and are not counted in either.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import GantutorError

# A one-image file holds one byte naming the quantisation step, then the coded bytes.
FILE_HEADER_BYTES = 1
# A whole-set stream holds the step (1 byte) and the number of images (4 bytes), once.
SET_HEADER_BYTES = 5
# Symbols are clamped to ±ceil(TAILS / Δ): beyond TAILS prior standard deviations.
TAILS = 6.0
# Quantisation steps (in prior standard deviations) from coarse to fine.
QUANT_STEPS = (4.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.35, 0.25, 0.1, 0.03, 0.01)


@dataclass
class GaussianPrior:
    """Independent Gaussians N(mean_j, std_j²), one per latent dimension (d,)."""

    mean: torch.Tensor
    std: torch.Tensor


def fit_prior(z: torch.Tensor) -> GaussianPrior:
    """The per-dimension mean and standard deviation of latents z (N, d)."""
    z = torch.as_tensor(z).detach().double().cpu()
    if z.dim() != 2 or len(z) < 2:
        raise GantutorError(f"fit_prior needs latents of shape (N >= 2, d), got "
                            f"{tuple(z.shape)}")
    return GaussianPrior(z.mean(0), z.std(0).clamp_min(1e-6))


def symbol_bound(step: float) -> int:
    """Largest |symbol|: K = ceil(TAILS / Δ), i.e. TAILS prior standard deviations."""
    if not step > 0:
        raise GantutorError(f"the quantisation step must be > 0, got {step}")
    return math.ceil(TAILS / step)


def uniform_quantiser(z: torch.Tensor, step: float) -> torch.Tensor:
    """The uniform quantiser's reconstruction ẑ = Δ · round(z / Δ): the nearest
    multiple of the step."""
    return step * torch.round(z / step)


def quantise(z: torch.Tensor, prior: GaussianPrior, step: float) -> torch.Tensor:
    """Integer symbols q = round((z − μ) / (σ Δ)), clamped to ±K (int64, like z)."""
    K = symbol_bound(step)
    u = (torch.as_tensor(z).detach().double().cpu() - prior.mean) / prior.std
    return torch.round(u / step).clamp(-K, K).long()


def dequantise(q: torch.Tensor, prior: GaussianPrior, step: float) -> torch.Tensor:
    """The decoded latent ẑ = μ + σ Δ q (float32)."""
    return (prior.mean + prior.std * step * torch.as_tensor(q).double()).float()


def symbol_probability(k: torch.Tensor, step: float) -> torch.Tensor:
    """P(q = k) when (z − μ)/σ ~ N(0, 1) is quantised with step Δ:

        P(k) = Φ((k + ½) Δ) − Φ((k − ½) Δ)

    (the coder's model also clips the tails beyond ±K and gives every symbol at least
    its smallest probability; the difference is far below a bit per image).
    """
    k = torch.as_tensor(k, dtype=torch.float64)
    upper = torch.special.ndtr((k + 0.5) * step)
    lower = torch.special.ndtr((k - 0.5) * step)
    return upper - lower


def latent_code_bits(q: torch.Tensor, step: float) -> torch.Tensor:
    """Ideal code length of each row of symbols, −Σ_j log2 P(q_j) bits, shape (N,)."""
    q = torch.as_tensor(q)
    return -torch.log2(symbol_probability(q, step)).reshape(len(q), -1).sum(1)


# --------------------------------------------------------------- entropy coding
# Symbols (d per image) are coded i.i.d. under the discretised Gaussian above, turned
# into integer frequencies so that encoder and decoder hand the range coder
# (gantutor.compression.coder, constriction's) exactly the same model.

TOTAL_FREQ_BITS = 20  # frequencies sum to about 2**20; every symbol gets at least 1


@functools.lru_cache(maxsize=64)
def _frequencies(step: float) -> np.ndarray:
    K = symbol_bound(step)
    p = symbol_probability(torch.arange(-K, K + 1), step).numpy()
    return np.maximum(1, np.round(p * 2**TOTAL_FREQ_BITS)).astype(np.int64)


def symbol_frequencies(step: float) -> np.ndarray:
    """Integer frequencies of the symbols −K..K: max(1, round(P(k) · 2^20))."""
    return _frequencies(float(step)).copy()


def encode_latent_symbols(symbols, step: float) -> bytes:
    """Range-code integer symbols in −K..K (any shape, read row-major) into bytes."""
    from . import coder

    s = np.asarray(symbols).reshape(-1)
    K = symbol_bound(step)
    if s.size and (s.min() < -K or s.max() > K):
        raise GantutorError(f"symbols must lie in [-{K}, {K}] for step {step}; "
                            "use quantise(), which clamps them")
    return coder.encode_iid(s + K, _frequencies(float(step)))


def decode_latent_symbols(payload: bytes, count: int, step: float) -> np.ndarray:
    """Decode ``count`` symbols (int64) from the bytes of
    :func:`encode_latent_symbols`."""
    from . import coder

    K = symbol_bound(step)
    return coder.decode_iid(payload, count, _frequencies(float(step))) \
        .astype(np.int64) - K


@dataclass
class CodedLatents:
    """A set of N latents after coding at one step, with every byte counted.

    symbols: (N, d) as decoded from the bytes; z_hat: (N, d) the decoded latents;
    set_bytes: one stream for the whole set plus its SET_HEADER_BYTES;
    file_bytes: (N,) one file per image (FILE_HEADER_BYTES + the coded bytes, whole
    32-bit words);
    ideal_bits: (N,) −Σ log2 P(q) for comparison with what the coder wrote.
    """

    step: float
    symbols: torch.Tensor
    z_hat: torch.Tensor
    set_bytes: int
    file_bytes: np.ndarray
    ideal_bits: torch.Tensor


def code_latents(z: torch.Tensor, prior: GaussianPrior, step: float) -> CodedLatents:
    """Quantise, range-code (as one stream and as one file per image), decode the bytes
    again, and check that every symbol came back; ẑ is built from the decoded symbols.
    """
    q = quantise(z, prior, step)
    n, d = q.shape
    stream = encode_latent_symbols(q.numpy(), step)
    decoded = decode_latent_symbols(stream, n * d, step).reshape(n, d)
    if not np.array_equal(decoded, q.numpy()):
        raise GantutorError("the range coder did not return the symbols it was given; "
                            "this is a bug, please report it")
    file_bytes = np.empty(n, dtype=np.int64)
    for i in range(n):
        payload = encode_latent_symbols(q[i].numpy(), step)
        if not np.array_equal(decode_latent_symbols(payload, d, step), q[i].numpy()):
            raise GantutorError(f"image {i} did not decode to its symbols; this is a "
                                "bug, please report it")
        file_bytes[i] = FILE_HEADER_BYTES + len(payload)
    symbols = torch.from_numpy(decoded)
    return CodedLatents(step, symbols, dequantise(symbols, prior, step),
                        SET_HEADER_BYTES + len(stream), file_bytes,
                        latent_code_bits(symbols, step))
