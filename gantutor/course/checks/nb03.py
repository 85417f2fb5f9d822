"""The exercise checks of notebook 03, the shortest program.

The prequential blocks and a two-part code's length.
"""

import math

from ...compression import textnet, twopart
from .core import Case, Mistake, Spec, exercise


def _block_cases() -> list[Case]:
    return [Case("n = 4,096 bytes, first block 1,024 (ends on a boundary)", 4096, 1024),
            Case("n = 300 bytes, first block 1,024 (all in the first block)", 300,
                 1024),
            Case("n = 10 bytes, first block 1 byte", 10, 1),
            Case("n = 5,000 bytes, first block 1,024", 5000, 1024)]


def _blocks_uncut(n, first):
    out, start, end = [], 0, first
    while start < n:
        out.append((start, end))
        start, end = end, 2 * end
    return out


def _blocks_size_doubles_from_start(n, first):
    out, start, size = [], 0, first
    while start < n:
        out.append((start, min(start + size, n)))
        start, size = start + size, 2 * size
    return out


@exercise
def doubling_blocks():
    """Checks ``fn(n, first)``: the prequential schedule as a list of (start, end)
    pairs, [0, f), [f, 2f), [2f, 4f), [4f, 8f), ..., the last block cut at n: each
    block is as long as everything before it."""
    return Spec(
        reference=textnet.block_bounds,
        cases=_block_cases,
        mistakes=[
            Mistake(_blocks_uncut, "the last block runs past the end of the data: "
                    "cut it at n with min(end, n)."),
            Mistake(_blocks_size_doubles_from_start, "the sizes f, 2f, 4f, ... give "
                    "ends f, 3f, 7f; the schedule doubles the *end*: [f, 2f), "
                    "[2f, 4f), so each block is as long as all the data before it."),
        ],
    )


def _two_part_cases() -> list[Case]:
    return [Case("1,000 parameters at 8 bits, data 5,000 nats", 1000, 8.0, 5000.0),
            Case("17,344 parameters at 6.5 bits, data 123,456.7 nats", 17344, 6.5,
                 123456.7),
            Case("no parameters (a fixed code), data 693.1 nats", 0, 8.0, 693.1)]


@exercise
def two_part_bits():
    """Checks ``fn(num_params, bits_per_param, data_nats)``: the length of a two-part
    code in bits, the model's weights plus the data's log-loss converted to bits,

        L = num_params · bits_per_param + data_nats / ln 2."""
    return Spec(
        reference=twopart.two_part_bits,
        cases=_two_part_cases,
        mistakes=[
            Mistake(lambda n, b, d: n * b + d, "the data's log-loss is in nats; "
                    "divide by ln 2 to get bits before adding."),
            Mistake(lambda n, b, d: d / math.log(2), "the model's bits are missing: "
                    "a two-part code must send the weights too."),
            Mistake(lambda n, b, d: n * b + d * math.log(2), "nats to bits divides "
                    "by ln 2 (1 bit = ln 2 nats), it does not multiply."),
            Mistake(lambda n, b, d: n * b / 8 + d / math.log(2), "num_params · "
                    "bits_per_param is already in bits; dividing by 8 gives bytes."),
        ],
    )
