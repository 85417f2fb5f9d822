"""The two-part code of a byte GRU: first the model, then the data coded with it.

L = L(model) + L(data | model). The model part is the GRU's weights quantised to int8
(one float32 scale per tensor) and compressed by the context mixer
(:func:`.codec.compress`); the data part is -sum log2 p under the quantised model,
range-coded byte by byte. Notebook 03 compares it with the prequential code of
:mod:`.textnet`, which sends no weights at all.

This module sits above both :mod:`.textnet` (the model) and :mod:`.codec` (the
container whose ``gru`` model dispatches to :mod:`.textnet`), so neither imports the
other's way back.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import torch
from torch import nn

from . import coder
from .codec import compress, decompress
from .textnet import (
    PrequentialConfig,
    _code_block,
    _replay,
    gru_code_bits,
    new_model,
    num_parameters,
    single_thread,
    train_on,
)


def quantise_weights(model: nn.Module) -> tuple[bytes, list[float]]:
    """Every tensor as int8 values v with w ≈ v * scale, scale = max|w| / 127.

    Returns the int8 bytes (tensor after tensor) and the scales (float32 each).
    """
    raw, scales = bytearray(), []
    for p in model.parameters():
        w = p.detach().double()
        scale = float(np.float32(w.abs().max().item() / 127 or 1.0))
        raw += torch.round(w / scale).clamp(-127, 127).to(torch.int8).numpy().tobytes()
        scales.append(scale)
    return bytes(raw), scales


def load_quantised(model: nn.Module, raw: bytes, scales: list[float]) -> nn.Module:
    """Set ``model``'s weights to the dequantised values v * scale."""
    pos = 0
    with torch.no_grad():
        for p, scale in zip(model.parameters(), scales):
            v = np.frombuffer(raw, np.int8, p.numel(), pos).astype(np.float32)
            p.copy_(torch.from_numpy(v).reshape(p.shape) * np.float32(scale))
            pos += p.numel()
    return model.eval()


@single_thread
def two_part_code_length(data: bytes, cfg: PrequentialConfig | None = None,
                         steps: int | None = None) -> dict:
    """Train on all of ``data``, quantise, and measure both parts of the code:
    model bits (the int8 weights compressed by the context-mixing coder, plus 32
    bits per scale) and data bits (-sum log2 p with the quantised model)."""
    cfg = cfg or PrequentialConfig()
    model = train_on(new_model(cfg), data, cfg.steps if steps is None else steps, cfg,
                     cfg.seed)
    raw, scales = quantise_weights(model)
    load_quantised(model, raw, scales)
    model_bits = 8.0 * len(compress(raw)) + 32.0 * len(scales)
    return {"model_bits": model_bits, "data_bits": gru_code_bits(model, data),
            "parameters": num_parameters(model), "model": model}


@single_thread
def two_part_encode(data: bytes, cfg: PrequentialConfig | None = None,
                    steps: int | None = None) -> tuple[bytes, dict]:
    """The two-part code as real bytes: train on ``data``, quantise, then write
    [weights length][weights, compressed by the context mixer][scales, float32]
    [data range-coded byte by byte with the quantised model]. Returns the payload
    and {"model_bytes", "data_bytes", "data_bits"}."""
    cfg = cfg or PrequentialConfig()
    model = train_on(new_model(cfg), data, cfg.steps if steps is None else steps, cfg,
                     cfg.seed)
    raw, scales = quantise_weights(model)
    load_quantised(model, raw, scales)
    weights = compress(raw) + struct.pack(f"<{len(scales)}f", *scales)
    rows: list = []
    _code_block(model, b"", len(data), _replay(data, rows))
    enc = coder.SymbolEncoder()
    if rows:
        freqs = np.stack(rows)
        enc.encode(list(data), freqs)
        picked = freqs[np.arange(len(data)), list(data)]
        data_bits = float(-np.log2(picked / freqs.sum(1)).sum())
    else:
        data_bits = 0.0
    coded = enc.payload()
    payload = struct.pack("<I", len(weights)) + weights + coded
    return payload, {"model_bytes": 4 + len(weights), "data_bytes": len(coded),
                     "data_bits": data_bits}


@single_thread
def two_part_decode(payload: bytes, n: int,
                    cfg: PrequentialConfig | None = None) -> bytes:
    """Decode :func:`two_part_encode`: rebuild the quantised model from the weights
    in the payload (no training), then decode the bytes one by one."""
    cfg = cfg or PrequentialConfig()
    (n_weights,) = struct.unpack_from("<I", payload, 0)
    model = new_model(cfg)
    n_scales = len(list(model.parameters()))
    blob = payload[4: 4 + n_weights - 4 * n_scales]
    scales = struct.unpack_from(f"<{n_scales}f", payload, 4 + len(blob))
    load_quantised(model, decompress(blob), list(scales))
    dec = coder.SymbolDecoder(payload[4 + n_weights:])
    return _code_block(model, b"", n, lambda freqs: int(dec.decode(freqs[None])[0]))


def two_part_bits(num_params: int, bits_per_param: float, data_nats: float) -> float:
    """L = num_params * bits_per_param + data_nats / ln 2: model bits plus data bits."""
    return num_params * bits_per_param + data_nats / math.log(2)
