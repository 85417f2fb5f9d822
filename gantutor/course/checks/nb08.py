"""The exercise checks of notebook 08, generative compression.

The uniform quantiser, a bin's code length, and the bits per pixel of a set.
"""

import math

import torch

from ...compression import latentcode, ratedistortion
from .core import Case, Mistake, Spec, exercise, seeded


def _quantiser_cases() -> list[Case]:
    g = seeded(8)
    return [Case("z = 8 values of N(0, 1), step 0.5", torch.randn(8, generator=g), 0.5),
            Case("z = 3 latents of 4 dimensions, step 0.2",
                 torch.randn(3, 4, generator=g), 0.2),
            Case("z = [-2.9, -0.6, 0.3, 1.2, 4.4], step 2",
                 torch.tensor([-2.9, -0.6, 0.3, 1.2, 4.4]), 2.0)]


@exercise
def uniform_quantiser():
    """Checks ``fn(z, step)``: the reconstruction of the uniform quantiser,
    ẑ = Δ · round(z / Δ), the multiple of the step nearest to z."""
    return Spec(
        reference=latentcode.uniform_quantiser,
        cases=_quantiser_cases,
        mistakes=[
            Mistake(lambda z, s: s * torch.floor(z / s), "torch.floor always rounds "
                    "down, which moves every value down by half a step on average; "
                    "round to the nearest multiple with torch.round."),
            Mistake(lambda z, s: torch.round(z / s), "these are the integer symbols "
                    "round(z / Δ) that the coder sends; the decoder's value is the "
                    "symbol times the step."),
            Mistake(lambda z, s: s * torch.round(z), "you rounded z itself to whole "
                    "numbers; divide by the step first, then round, then multiply."),
            Mistake(lambda z, s: torch.round(z * s) / s, "multiplication and division "
                    "are swapped: divide z by the step before rounding, multiply "
                    "after."),
        ],
    )


def _normal_cdf(t):
    return torch.special.ndtr(t)


def _bin_cases() -> list[Case]:
    k = torch.arange(-3, 4, dtype=torch.float64)
    return [Case("symbols k = −3..3 with step 0.5", k, 0.5),
            Case("symbols k = −3..3 with step 2 (coarse bins)", k, 2.0),
            Case("symbols k = [0, 10, −25] with step 0.1",
                 torch.tensor([0.0, 10.0, -25.0], dtype=torch.float64), 0.1)]


def _bits_from_density(k, step):
    log_density = -0.5 * (k * step) ** 2 - 0.5 * math.log(2 * math.pi)
    return -log_density / math.log(2)


@exercise
def bin_code_length():
    """Checks ``fn(k, step)``: the ideal code length in bits of each symbol k when
    (z − μ)/σ ~ N(0, 1) is quantised with step Δ,

        −log2 P(k),   P(k) = Φ((k + ½) Δ) − Φ((k − ½) Δ),

    Φ the standard normal CDF (``torch.special.ndtr``)."""
    return Spec(
        reference=lambda k, step: -torch.log2(latentcode.symbol_probability(k, step)),
        cases=_bin_cases,
        mistakes=[
            Mistake(_bits_from_density, "this is −log2 of the density at the bin's "
                    "centre, not of a probability; the probability of bin k is the "
                    "mass between its edges, Φ((k + ½)Δ) − Φ((k − ½)Δ)."),
            Mistake(lambda k, s: _bits_from_density(k, s) - math.log2(s), "density × "
                    "width approximates the bin's mass only when the bins are "
                    "narrow; take the exact mass Φ((k + ½)Δ) − Φ((k − ½)Δ)."),
            Mistake(lambda k, s: -torch.log(_normal_cdf((k + 0.5) * s)
                                             - _normal_cdf((k - 0.5) * s)),
                    "this is in nats (natural log); code lengths in bits use log2."),
            Mistake(lambda k, s: -torch.log2(_normal_cdf(k + 0.5)
                                             - _normal_cdf(k - 0.5)), "the bin "
                    "edges are at (k ± ½) · Δ in units of σ: multiply by the step."),
        ],
    )


def _rate_cases() -> list[Case]:
    return [Case("a JPEG-like set: header 300 bytes, 4 images of 60, 62, 55, 71 data "
                 "bytes, 28x28 pixels", 300, torch.tensor([60.0, 62, 55, 71]), 784),
            Case("header 5 bytes, 3 images of 9, 10, 12 bytes, 8x8 pixels", 5,
                 torch.tensor([9.0, 10, 12]), 64)]


@exercise
def set_bits_per_pixel():
    """Checks ``fn(header_bytes, data_bytes, pixels)``: the rate in bits per pixel of
    N images stored as one set, the shared header counted once,

        bpp = 8 · (header + Σ_i data_i) / (N · pixels),

    with ``data_bytes`` a tensor of the N images' data bytes."""
    def per_file(h, d, p):
        return 8 * (len(d) * h + d.sum()) / (len(d) * p)

    return Spec(
        reference=ratedistortion.set_bits_per_pixel,
        cases=_rate_cases,
        mistakes=[
            Mistake(per_file, "this counts the header once per image: that is the "
                    "one-file-per-image rule; the set rule counts it once in all."),
            Mistake(lambda h, d, p: (h + d.sum()) / (len(d) * p), "this is bytes "
                    "per pixel; a byte is 8 bits."),
            Mistake(lambda h, d, p: 8 * d.sum() / (len(d) * p), "the header is "
                    "missing: the set rule counts it once, not never."),
            Mistake(lambda h, d, p: 8 * (h + d.sum()) / len(d), "this is bits per "
                    "image; divide by the pixels of an image as well."),
        ],
    )
