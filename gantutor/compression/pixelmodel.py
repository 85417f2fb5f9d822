"""An autoregressive pixel model: each pixel predicted from the pixels before it.

Pixels are visited in raster order. For pixel (r, c) the model sees its causal
neighbourhood (the R rows above, 2R + 1 wide, and the R pixels to its left; pixels
outside the image count as 0) and where it is (one-hot row and column), and outputs a
distribution over the pixel's L grey levels with a small MLP:

    p(x_rc | x_<rc) = softmax(MLP(neighbourhood, r, c)),
    -log2 p(image) = -sum_rc log2 p(x_rc | x_<rc)   bits.

It is trained by minimising exactly that (the cross-entropy), then *quantised*: the
weights become 8-bit integers, activations 12-bit integers, and the softmax an
integer table of powers of two. Integer arithmetic is exact, so the encoder (which
sees every pixel at once) and the decoder (which must go pixel by pixel) compute the
same frequencies on any machine. The weights are sent too, compressed by the
context-mixing coder: a two-part code, model bits + data bits.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..errors import GantutorError
from . import coder

ACT_MAX = 4095  # activations are integers in 0..4095 (12 bits)
PEAK_FREQ_BITS = 20  # the most likely level gets frequency 2**20
_STEPS_PER_BIT = 64  # the exp table works in 1/64 of a bit
# 2**(-1/64) * 2**32, rounded: the table below is built from it by integer arithmetic
_HALF_STEP = 4248701447


def _exp2_table() -> np.ndarray:
    """EXP2[k] = floor(2**20 * 2**(-k/64)) for k = 0, 1, ... while >= 1 (integers)."""
    out, v = [], 1 << (PEAK_FREQ_BITS + 32)
    while (v >> 32) >= 1:
        out.append(v >> 32)
        v = (v * _HALF_STEP) >> 32
    return np.array(out, dtype=np.int64)


EXP2 = _exp2_table()


@dataclass
class PixelConfig:
    """The pixel model and its training."""

    radius: int = 3  # neighbourhood: R rows above (2R + 1 wide), R pixels to the left
    hidden: int = 128  # units in each of the two hidden layers
    steps: int = 3000  # Adam steps
    batch_size: int = 4096  # (image, pixel) pairs per step
    lr: float = 2e-3  # Adam learning rate (cosine decay to 0)
    seed: int = 0  # initial weights and batch order

    def to_dict(self) -> dict:
        return asdict(self)


def to_levels(x: torch.Tensor, levels: int) -> np.ndarray:
    """Images in [-1, 1] (N, 1, H, W) back to integer grey levels 0..levels-1, uint8."""
    v = torch.round((x.detach().float().cpu() + 1) * (levels - 1) / 2)
    return v.clamp(0, levels - 1).squeeze(1).numpy().astype(np.uint8)


def levels_of(data) -> int:
    """Number of grey levels of a gantutor image dataset: 256 (MNIST), 17 (digits)."""
    return 17 if data.name == "digits" else 256


def _pad(images: np.ndarray, radius: int) -> np.ndarray:
    """(N, H, W) -> (N, H + R, W + 2R), zeros above and at both sides."""
    return np.pad(images, ((0, 0), (radius, 0), (radius, radius)))


def neighbourhood(padded: np.ndarray, r: int, c: int, radius: int) -> np.ndarray:
    """The causal neighbours of pixel (r, c) of every image: (N, R(2R+1) + R)."""
    above = padded[:, r: r + radius, c: c + 2 * radius + 1].reshape(len(padded), -1)
    left = padded[:, r + radius, c: c + radius]
    return np.concatenate([above, left], axis=1)


class PixelMLP(nn.Module):
    """neighbourhood / (L-1) and one-hot (row, column) -> L logits."""

    def __init__(self, radius: int, height: int, width: int, levels: int, hidden: int):
        super().__init__()
        self.radius, self.height, self.width = radius, height, width
        self.levels = levels
        n_in = radius * (2 * radius + 1) + radius + height + width
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, levels))

    def features(self, neigh: torch.Tensor, r: torch.Tensor, c: torch.Tensor):
        """(B, F) float inputs: neighbours scaled to [0, 1], one-hot row and column."""
        pos = torch.cat([nn.functional.one_hot(r, self.height),
                         nn.functional.one_hot(c, self.width)], dim=1)
        return torch.cat([neigh.float() / (self.levels - 1), pos.float()], dim=1)

    def forward(self, neigh, r, c):
        return self.net(self.features(neigh, r, c))


def _random_batch(padded: torch.Tensor, size: int, radius: int, gen: torch.Generator):
    """Random (image, row, column) triples with their neighbourhoods and targets."""
    n, hp, wp = padded.shape
    h, w = hp - radius, wp - 2 * radius
    i = torch.randint(n, (size,), generator=gen, device=padded.device)
    r = torch.randint(h, (size,), generator=gen, device=padded.device)
    c = torch.randint(w, (size,), generator=gen, device=padded.device)
    rows = [(dr, dc) for dr in range(radius) for dc in range(2 * radius + 1)]
    rows += [(radius, dc) for dc in range(radius)]
    dr = torch.tensor([o[0] for o in rows], device=padded.device)
    dc = torch.tensor([o[1] for o in rows], device=padded.device)
    neigh = padded[i[:, None], r[:, None] + dr, c[:, None] + dc]  # (B, F)
    target = padded[i, r + radius, c + radius].long()
    return neigh, r, c, target


def train_pixel_model(images: np.ndarray, levels: int, cfg: PixelConfig | None = None,
                      device="cpu", on_step=None) -> PixelMLP:
    """Fit the model by Adam on the cross-entropy of random pixels of ``images``.

    ``on_step(step, bits_per_pixel)`` is called every 100 steps (for live curves).
    """
    cfg = cfg or PixelConfig()
    torch.manual_seed(cfg.seed)
    n, h, w = images.shape
    model = PixelMLP(cfg.radius, h, w, levels, cfg.hidden).to(device)
    padded = torch.from_numpy(_pad(images, cfg.radius)).to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(cfg.steps, 1))
    for step in range(cfg.steps):
        neigh, r, c, target = _random_batch(padded, cfg.batch_size, cfg.radius, gen)
        loss = nn.functional.cross_entropy(model(neigh, r, c), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if on_step is not None and (step % 100 == 0 or step == cfg.steps - 1):
            on_step(step, loss.item() / np.log(2))
    return model.cpu().eval()


# ------------------------------------------------ what a file may ask of a decoder

MAX_PIXELS = 1 << 27  # images * height * width (all of MNIST is 2**25.7)
MAX_CODING_MACS = 1 << 40  # multiply-adds of coding every pixel (~2 minutes)
MAX_ACTIVATIONS = 1 << 26  # images * (inputs + hidden + levels): float64 per position
_LAYOUT = {"radius": (1, 32), "height": (1, 1024), "width": (1, 1024),
           "levels": (2, 256), "out_mult": (0, 1 << 53)}


def n_inputs(radius: int, height: int, width: int) -> int:
    """Inputs of the MLP: R(2R+1) + R neighbours, one-hot row and column."""
    return radius * (2 * radius + 1) + radius + height + width


def check_size(n: int, radius: int, height: int, width: int, levels: int,
               hidden: int) -> None:
    """Refuse to code ``n`` images whose time or memory would be out of bounds: the
    encoder checks this before training, the decoder before decoding."""
    n_in = n_inputs(radius, height, width)
    macs = n * height * width * (n_in * hidden + hidden * hidden + hidden * levels)
    if n * height * width > MAX_PIXELS or macs > MAX_CODING_MACS or \
            n * (n_in + hidden + levels) > MAX_ACTIVATIONS:
        raise GantutorError(
            f"{n:,} images of {height}x{width} with {hidden} hidden units are too "
            f"many to code here (at most {MAX_PIXELS:,} pixels, {MAX_CODING_MACS:.2g} "
            "multiply-adds): code fewer images at a time")


def check_layout(layout) -> None:
    """Refuse a layout (from a file's header) that :func:`quantize` cannot produce:
    the known fields, integers in range, and the three layers' shapes of
    :class:`PixelMLP` for that radius, image size and number of levels."""
    if not isinstance(layout, dict) or set(layout) != {*_LAYOUT, "shapes", "shifts"}:
        raise GantutorError("the image model's layout is not the fields "
                            f"{', '.join(sorted({*_LAYOUT, 'shapes', 'shifts'}))}")
    bad = [k for k, (lo, hi) in _LAYOUT.items() if not coder.is_int(layout[k], lo, hi)]
    shifts, shapes = layout["shifts"], layout["shapes"]
    if not (isinstance(shifts, list) and len(shifts) == 2
            and all(coder.is_int(s, 0, 64) for s in shifts)):
        bad.append("shifts")
    hidden = shapes[0][1] if isinstance(shapes, list) and shapes and \
        isinstance(shapes[0], list) and len(shapes[0]) == 2 else None
    if bad or not coder.is_int(hidden, 1, 4096) or shapes != [
            [n_inputs(layout["radius"], layout["height"], layout["width"]), hidden],
            [hidden, hidden], [hidden, layout["levels"]]] or not all(
            type(v) is int for row in shapes for v in row):  # 16.0 == 16 above
        raise GantutorError("the image model's layout is invalid ("
                            + ", ".join(bad or ["shapes"]) + ")")


# ------------------------------------------------------------ the integer model


@dataclass
class IntPixelModel:
    """The quantised model: integer weights, shifts and the output multiplier."""

    radius: int
    height: int
    width: int
    levels: int
    weights: list  # three (in, out) float64 arrays holding 8-bit integers
    biases: list  # three float64 arrays holding integers
    shifts: list  # right shifts that bring hidden activations into 0..4095
    out_mult: int  # logit units -> 1/64 bit, times 2**16

    def frequencies(self, neigh: np.ndarray, r: int, c: int) -> np.ndarray:
        """Integer frequencies (N, L) for pixel (r, c) given neighbours (N, F) ints.

        Every product and sum is an integer below 2**53, so float64 matrix products
        (fast BLAS) are exact whatever their order: the same on every machine.
        Identical neighbourhoods (the blank margins) are computed once.
        """
        neigh = np.ascontiguousarray(neigh, dtype=np.uint8)
        rows = neigh.view(np.dtype((np.void, neigh.shape[1]))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        return self._frequencies(neigh[first], r, c)[inverse.ravel()]

    def _frequencies(self, neigh: np.ndarray, r: int, c: int) -> np.ndarray:
        n, f = neigh.shape
        x = np.zeros((n, f + self.height + self.width), dtype=np.float64)
        x[:, :f] = neigh
        x[:, f + r] = x[:, f + self.height + c] = self.levels - 1  # one-hot = 1.0
        for k in range(3):
            acc = x @ self.weights[k] + self.biases[k]  # exact integers
            if k < 2:  # ReLU, then back into 12-bit integers
                x = np.minimum(np.floor(np.maximum(acc, 0) / 2.0 ** self.shifts[k]),
                               ACT_MAX)
        # p_l ∝ 2^(-(max - logit_l) * scale): the distance in 1/64 bit, then the table
        steps = np.floor((acc.max(axis=1, keepdims=True) - acc) * self.out_mult
                         / 65536.0)
        return EXP2[np.minimum(steps, len(EXP2) - 1).astype(np.int64)]

    def to_bytes(self) -> bytes:
        """Weights (int8) and biases (int32), little-endian, tensor after tensor."""
        out = io.BytesIO()
        for w, b in zip(self.weights, self.biases):
            out.write(w.astype("<i1").tobytes())
            out.write(b.astype("<i4").tobytes())
        return out.getvalue()

    def layout(self) -> dict:
        return {"radius": self.radius, "height": self.height, "width": self.width,
                "levels": self.levels, "shapes": [list(w.shape) for w in self.weights],
                "shifts": list(self.shifts), "out_mult": int(self.out_mult)}

    @classmethod
    def from_bytes(cls, raw: bytes, layout: dict) -> IntPixelModel:
        if len(raw) != sum(i * o + 4 * o for i, o in layout["shapes"]):
            raise GantutorError("the model's weights do not match their layout")
        weights, biases, pos = [], [], 0
        for n_in, n_out in layout["shapes"]:
            w = np.frombuffer(raw, "<i1", n_in * n_out, pos).reshape(n_in, n_out)
            pos += n_in * n_out
            b = np.frombuffer(raw, "<i4", n_out, pos)
            pos += 4 * n_out
            weights.append(w.astype(np.float64))
            biases.append(b.astype(np.float64))
        return cls(layout["radius"], layout["height"], layout["width"],
                   layout["levels"], weights, biases, list(layout["shifts"]),
                   int(layout["out_mult"]))


def quantise_model(model: PixelMLP, images: np.ndarray, calib: int = 20000,
             seed: int = 0) -> IntPixelModel:
    """8-bit weights, 12-bit activations; shifts chosen on random pixels of images."""
    lin = [m for m in model.net if isinstance(m, nn.Linear)]
    weights = [m.weight.detach().double().numpy().T for m in lin]  # (in, out)
    biases = [m.bias.detach().double().numpy() for m in lin]
    scales = [np.abs(w).max() / 127 for w in weights]
    wq = [np.round(w / s) for w, s in zip(weights, scales)]  # integers -127..127
    padded = _pad(images, model.radius)
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(images), size=min(calib, len(images) * 4))
    r = rng.integers(model.height, size=len(idx))
    c = rng.integers(model.width, size=len(idx))
    neigh = np.stack([neighbourhood(padded[i: i + 1], int(a), int(b), model.radius)[0]
                      for i, a, b in zip(idx, r, c)])
    in_scale = 1.0 / (model.levels - 1)  # real input = integer input * in_scale
    bq, shifts = [], []
    x = np.zeros((len(idx), neigh.shape[1] + model.height + model.width))
    x[:, : neigh.shape[1]] = neigh
    x[np.arange(len(idx)), neigh.shape[1] + r] = model.levels - 1
    x[np.arange(len(idx)), neigh.shape[1] + model.height + c] = model.levels - 1
    for k in range(3):
        unit = in_scale * scales[k]  # real value of one accumulator unit
        bq.append(np.clip(np.round(biases[k] / unit), -2**31, 2**31 - 1))  # int32
        acc = x @ wq[k] + bq[k]
        if k < 2:
            top = max(np.quantile(np.maximum(acc, 0), 0.9999), 1.0)
            shift = max(0, int(np.ceil(np.log2(top / ACT_MAX))))
            shifts.append(shift)
            x = np.minimum(np.floor(np.maximum(acc, 0) / 2.0 ** shift), ACT_MAX)
            in_scale = unit * 2.0 ** shift
    out_mult = int(round(unit / np.log(2) * _STEPS_PER_BIT * 65536))
    return IntPixelModel(model.radius, model.height, model.width, model.levels, wq,
                         bq, shifts, out_mult)


# ------------------------------------------------------------ coding the images


def encode_images(images: np.ndarray, qmodel: IntPixelModel) -> tuple[bytes, float]:
    """Range-code every pixel, position by position (all images at once).

    Returns the payload and the ideal code length -sum log2 p in bits.
    """
    padded = _pad(images, qmodel.radius)
    enc = coder.SymbolEncoder()
    ideal = 0.0
    for r in range(qmodel.height):
        for c in range(qmodel.width):
            freqs = qmodel.frequencies(neighbourhood(padded, r, c, qmodel.radius), r, c)
            symbols = images[:, r, c]
            enc.encode(symbols, freqs)
            picked = freqs[np.arange(len(symbols)), symbols]
            ideal -= float(np.log2(picked / freqs.sum(axis=1)).sum())
    return enc.payload(), ideal


def decode_images(payload: bytes, qmodel: IntPixelModel, n: int) -> np.ndarray:
    """Decode ``n`` images pixel by pixel: each pixel's frequencies need the pixels
    decoded before it, exactly as the encoder computed them."""
    r_pad, h, w = qmodel.radius, qmodel.height, qmodel.width
    padded = np.zeros((n, h + r_pad, w + 2 * r_pad), dtype=np.uint8)
    dec = coder.SymbolDecoder(payload)
    for r in range(h):
        for c in range(w):
            freqs = qmodel.frequencies(neighbourhood(padded, r, c, r_pad), r, c)
            padded[:, r + r_pad, c + r_pad] = dec.decode(freqs)
    return padded[:, r_pad:, r_pad: r_pad + w].copy()


def sample_images(qmodel: IntPixelModel, n: int, seed: int = 0) -> np.ndarray:
    """Draw ``n`` images pixel by pixel from the model: the decoder's loop, with a
    random draw where the decoder would read the coded bits."""
    rng = np.random.default_rng(seed)
    r_pad, h, w = qmodel.radius, qmodel.height, qmodel.width
    padded = np.zeros((n, h + r_pad, w + 2 * r_pad), dtype=np.uint8)
    for r in range(h):
        for c in range(w):
            freqs = qmodel.frequencies(neighbourhood(padded, r, c, r_pad), r, c)
            cum = np.cumsum(freqs, axis=1)
            u = rng.random(n)[:, None] * cum[:, -1:]
            padded[:, r + r_pad, c + r_pad] = (cum <= u).sum(axis=1)
    return padded[:, r_pad:, r_pad: r_pad + w].copy()
