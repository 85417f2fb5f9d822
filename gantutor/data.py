"""Datasets: bundled digits, MNIST-family IDX files, and the 2-D Gaussian mixtures.

Every image dataset comes back as an :class:`ImageData`: the whole set as one float32
tensor in [-1, 1] of shape (N, C, H, W), with integer labels. Small datasets live on the
training device whole, and :class:`Batches` cuts shuffled index slices from them, so
there is no DataLoader and no worker process (which also keeps notebooks working on
Windows).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

# IMAGE_DATASETS is not used here: imported so that gt.data offers all three names
from .dataset_names import DATASETS, IMAGE_DATASETS, MIXTURE_DATASETS  # noqa: F401
from .errors import CorruptFileError, DataNotFoundError, GantutorError

# MD5 of the *decompressed* IDX files. Re-compressed archives differ byte for byte,
# the decompressed data of the standard sets does not.
IDX_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
_PREFIX = {"train": "train", "test": "t10k"}
# Sub-folders where the files may sit inside a data folder (ours, torchvision's).
_SUBDIRS = {
    "mnist": ("", "mnist", "MNIST", "MNIST/raw"),
    "fashion-mnist": ("", "fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
}
_TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}


@dataclass
class ImageData:
    """A whole image dataset in memory.

    x: float32 (N, C, H, W) in [-1, 1]; y: int64 (N,) class labels.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    split: str
    source: str  # where the data came from, in words, for the notebook's report line
    num_classes: int = 10
    part: dict | None = None  # set by holdout_split: which seeded part of the split

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample, (C, H, W)."""
        return tuple(self.x.shape[1:])

    def to(self, device) -> ImageData:
        return ImageData(
            self.name, self.x.to(device), self.y.to(device), self.split, self.source,
            self.num_classes, self.part,
        )


@dataclass
class MixtureData:
    """Samples from a 2-D Gaussian mixture, with the modes used to evaluate generators.

    x: float32 (N, 2); y: int64 (N,) index of the mode each sample came from;
    modes: float32 (K, 2); std: the standard deviation of every component.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    modes: torch.Tensor
    std: float
    split: str = "train"
    source: str = "generated"
    num_classes: int = field(init=False)

    def __post_init__(self):
        self.num_classes = self.modes.shape[0]

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return (2,)

    def to(self, device) -> MixtureData:
        return MixtureData(
            self.name, self.x.to(device), self.y.to(device), self.modes.to(device),
            self.std, self.split, self.source,
        )


# ---------------------------------------------------------------------------- IDX


def parse_idx(raw: bytes, what: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an IDX file (LeCun's MNIST format) into an array.

    Checks the magic number, the number of dimensions and that the payload has exactly
    the size the header announces, so a truncated or foreign file is caught here.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise CorruptFileError(
            f"{what} is not an IDX file (bad magic number). Delete it and download "
            "the dataset again."
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise CorruptFileError(f"{what} has an unknown IDX type code 0x{code:02x}.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptFileError(f"{what} is truncated inside its header.")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise CorruptFileError(
            f"{what} should hold {expected:,} bytes for shape {tuple(dims)} but holds "
            f"{len(raw):,}: it is truncated or corrupted. Delete it and download again."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: str | Path, expected_md5: str | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, and check the decompressed bytes."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise CorruptFileError(
                f"{path} is a damaged gzip file ({err}). Delete it and download again."
            ) from None
    if expected_md5 is not None:
        digest = hashlib.md5(raw).hexdigest()
        if digest != expected_md5:
            raise CorruptFileError(
                f"{path}: checksum of the decompressed data is {digest}, expected "
                f"{expected_md5}. The file is corrupted or is not the standard set; "
                "delete it and download it again."
            )
    return parse_idx(raw, str(path))


def default_data_dir() -> Path:
    """Where downloads go: ``$GANTUTOR_DATA`` if set, else ``~/.cache/gantutor``."""
    env = os.environ.get("GANTUTOR_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "gantutor"


def _candidate_dirs(root) -> list[Path]:
    dirs = []
    if root is not None:
        dirs.append(Path(root).expanduser())
    if os.environ.get("GANTUTOR_DATA"):
        dirs.append(Path(os.environ["GANTUTOR_DATA"]).expanduser())
    dirs.append(Path.home() / ".cache" / "gantutor")
    return dirs


def _find_idx(name: str, stem: str, root) -> Path | None:
    for base in _candidate_dirs(root):
        for sub in _SUBDIRS[name]:
            for suffix in ("", ".gz"):
                path = base / sub / (stem + suffix)
                if path.is_file():
                    return path
    return None


def _find_split(name: str, split: str, root) -> tuple[Path, Path] | None:
    prefix = _PREFIX[split]
    images = _find_idx(name, f"{prefix}-images-idx3-ubyte", root)
    labels = _find_idx(name, f"{prefix}-labels-idx1-ubyte", root)
    if images is None or labels is None:
        return None
    return images, labels


def _download(name: str, split: str, root) -> Path | None:
    """Download through torchvision; returns the folder or None when offline."""
    try:
        import torchvision.datasets as tvd
    except ImportError:
        return None
    folder = Path(root).expanduser() if root is not None else default_data_dir()
    try:
        getattr(tvd, _TORCHVISION[name])(str(folder), train=split == "train",
                                         download=True)
    except Exception:  # no network, host down, disk full: all mean "not available"
        return None
    return folder


def _load_idx_dataset(name: str, split: str, root, download: bool) -> ImageData:
    splits = ("train", "test") if split == "auto" else (split,)
    found = None
    for s in splits:
        found = _find_split(name, s, root)
        if found is not None:
            split = s
            break
    if found is None and download:
        split = splits[0]
        folder = _download(name, split, root)
        if folder is not None:
            found = _find_split(name, split, folder)
    if found is None:
        where = ", ".join(str(d) for d in _candidate_dirs(root))
        raise DataNotFoundError(
            f"{name} ({'/'.join(splits)} split) was not found in {where} and could not "
            f"be downloaded (no internet?). Put the IDX files "
            f"({_PREFIX[splits[0]]}-images-idx3-ubyte[.gz] and "
            f"{_PREFIX[splits[0]]}-labels-idx1-ubyte[.gz]) in a folder and set "
            "GANTUTOR_DATA to it, or use --dataset digits, which ships with "
            "scikit-learn and works offline."
        )
    images_path, labels_path = found
    md5 = IDX_MD5[name]
    prefix = _PREFIX[split]
    images = read_idx(images_path, md5[f"{prefix}-images-idx3-ubyte"])
    labels = read_idx(labels_path, md5[f"{prefix}-labels-idx1-ubyte"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise CorruptFileError(
            f"{images_path} and {labels_path} do not form an image/label pair "
            f"(shapes {images.shape} and {labels.shape})."
        )
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1) / 127.5 - 1.0
    y = torch.from_numpy(labels.astype(np.int64))
    return ImageData(name, x, y, split, f"IDX files in {images_path.parent}")


def load_digits(split: str = "train", test_fraction: float = 0.2) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images, 0..16 scaled to [-1, 1]).

    ``split`` is ``"train"``, ``"test"`` (a fixed, seeded 20% split) or ``"all"``.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32)).unsqueeze(1) / 8.0 - 1.0
    y = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_test = int(round(len(x) * test_fraction))
    if split in ("train", "auto"):
        idx, split = order[n_test:], "train"
    elif split == "test":
        idx = order[:n_test]
    elif split == "all":
        idx = torch.arange(len(x))
    else:
        raise GantutorError(
            f"unknown split {split!r} for digits: use train, test or all")
    return ImageData("digits", x[idx], y[idx], split, "scikit-learn's bundled digits")


def mixture_modes(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres (K, 2) and component standard deviation of a 2-D benchmark mixture.

    The mixtures of VEEGAN (Srivastava et al., NeurIPS 2017) and PacGAN (Lin et al.,
    NeurIPS 2018, Table 1; the same means and variances in the configs of its
    synthetic-data experiments): ``ring``: 8 Gaussians with means
    (cos 2πk/8, sin 2πk/8), k = 0..7, variance 1e-4 (std 0.01); ``grid``: 25
    Gaussians with means (-4 + 2i, -4 + 2j), i, j = 0..4, variance 0.0025 (std
    0.05). All modes are equally likely.
    """
    if name == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        modes = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        return modes.float(), 0.01
    if name == "grid":
        coords = torch.arange(5, dtype=torch.float32) * 2 - 4
        gx, gy = torch.meshgrid(coords, coords, indexing="ij")
        return torch.stack([gx.flatten(), gy.flatten()], dim=1), 0.05
    raise GantutorError(f"unknown mixture {name!r}: use ring or grid")


def load_mixture(name: str, n: int = 100_000, seed: int = 0) -> MixtureData:
    """Draw ``n`` samples from the ``ring`` or ``grid`` mixture (modes equally
    likely)."""
    modes, std = mixture_modes(name)
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(len(modes), (n,), generator=gen)
    x = modes[y] + std * torch.randn(n, 2, generator=gen)
    return MixtureData(name, x, y, modes, std)


def load_dataset(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
):
    """Load a dataset by name: digits, mnist, fashion-mnist, ring or grid.

    ``split`` is ``"train"``, ``"test"``, or ``"auto"`` (the training split if it can
    be found, else the test split). MNIST-family data is looked up in ``root``, then
    ``$GANTUTOR_DATA``, then ``~/.cache/gantutor``, and downloaded through torchvision
    when none has it. Returns an :class:`ImageData` or :class:`MixtureData` on
    ``device``.
    """
    key = name.lower().replace("_", "-")
    if key == "digits":
        data = load_digits("train" if split == "auto" else split)
    elif key in IDX_MD5:
        if split not in ("train", "test", "auto"):
            raise GantutorError(f"unknown split {split!r}: use train, test or auto")
        data = _load_idx_dataset(key, split, root, download)
    elif key in MIXTURE_DATASETS:
        data = load_mixture(key, seed=0 if split in ("train", "auto") else 1)
    else:
        raise GantutorError(
            f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)} "
            "(digits works offline)"
        )
    return data.to(device)


def load_or_digits(name: str = "mnist", split: str = "auto",
                   device: str | torch.device = "cpu", digits_split: str = "train"):
    """``load_dataset(name, split)`` where the data can be found or downloaded;
    otherwise scikit-learn's bundled digits (split ``digits_split``), after one line
    that says so. Notebooks use it so that they run offline too.
    """
    try:
        return load_dataset(name, split=split, device=device)
    except DataNotFoundError:
        print(f"{name} is not on this machine and could not be downloaded: using "
              "scikit-learn's bundled 8x8 digits instead (set GANTUTOR_DATA to a "
              "folder of IDX files to use it).")
        return load_dataset("digits", split=digits_split, device=device)


def holdout_split(data: ImageData, fraction: float, seed: int = 0):
    """(kept, held_out): a seeded random ``fraction`` of ``data`` set aside.

    Train on ``kept`` and keep ``held_out`` unseen, for membership inference. Each
    part records ``{"fraction", "seed", "held_out"}`` in ``.part`` (a checkpoint
    stores it), so the same split can be rebuilt from the same data.
    """
    if not isinstance(data, ImageData):
        raise GantutorError("a held-out part applies to image datasets; the 2-D "
                            "mixtures can be sampled afresh instead")
    if not 0 < fraction < 1:
        raise GantutorError(f"the held-out fraction must be between 0 and 1, got "
                            f"{fraction}")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    n_out = round(len(data) * fraction)
    if n_out < 1 or n_out >= len(data):
        raise GantutorError(f"holding out {fraction} of {len(data)} samples leaves "
                            "one part empty; choose another fraction")
    parts = []
    for held, idx in ((False, order[n_out:]), (True, order[:n_out])):
        idx = idx.to(data.x.device)
        info = {"fraction": fraction, "seed": seed, "held_out": held}
        what = f"held-out {fraction:.0%}" if held else f"kept {1 - fraction:.0%}"
        parts.append(ImageData(data.name, data.x[idx], data.y[idx], data.split,
                               f"{data.source} ({what}, seed {seed})",
                               data.num_classes, info))
    return parts[0], parts[1]


def translate(x: torch.Tensor, shifts, background: float = -1.0) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) moved by its own whole-pixel shift.

    ``shifts`` is (N, 2): (rows down, columns right) per image, negative for up and
    left. Pixels moved in take the ``background`` value; pixels moved out are gone.
    """
    shifts = torch.as_tensor(shifts, device=x.device).long()
    if x.dim() != 4 or shifts.shape != (x.shape[0], 2):
        raise GantutorError(f"need images (N, C, H, W) and one (rows, columns) shift "
                            f"per image, got {tuple(x.shape)} and "
                            f"{tuple(shifts.shape)}")
    B, _, H, W = x.shape
    s = int(shifts.abs().max()) if B else 0
    padded = torch.nn.functional.pad(x, (s, s, s, s), value=background)
    # output pixel (i, j) is input (i - dy, j - dx): padded (i - dy + s, j - dx + s)
    rows = (s - shifts[:, 0, None]) + torch.arange(H, device=x.device)  # (B, H)
    cols = (s - shifts[:, 1, None]) + torch.arange(W, device=x.device)  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()  # (B, H, W, C) -> (B, C, H, W)


def dataset_report(data) -> str:
    """One line for the top of a notebook: what data, how much, from where."""
    shape = "x".join(str(s) for s in data.shape)
    return f"data: {data.name} ({data.split}), {len(data):,} samples of {shape}, " \
           f"from {data.source}"


TEXTS = {"pydoc": "Python's own documentation topics (pydoc_data.topics), UTF-8",
         "alice": "alice29.txt of the Canterbury corpus (text/alice29.txt in the data "
                  "folder)"}


def load_text(name: str, root: str | Path | None = None) -> bytes:
    """The bytes of a course text: ``"pydoc"`` (ships with Python: every topic of
    ``pydoc_data.topics``, in key order, UTF-8) or ``"alice"`` (``text/alice29.txt``,
    looked up in ``root``, ``$GANTUTOR_DATA`` and ``~/.cache/gantutor``)."""
    if name == "pydoc":
        from pydoc_data.topics import topics

        return "".join(topics[k] for k in sorted(topics)).encode("utf-8")
    if name == "alice":
        for base in _candidate_dirs(root):
            path = base / "text" / "alice29.txt"
            if path.is_file():
                return path.read_bytes()
        raise DataNotFoundError(
            "alice29.txt was not found (looked in "
            f"{', '.join(str(d / 'text') for d in _candidate_dirs(root))}). Put the "
            "Canterbury corpus file in a text/ folder and set GANTUTOR_DATA to the "
            "folder above it, or use the pydoc text, which ships with Python."
        )
    raise GantutorError(f"unknown text {name!r}: choose one of {', '.join(TEXTS)}")


class Batches:
    """Endless shuffled mini-batches as index slices of tensors already on the device.

    Each epoch draws a fresh permutation from ``generator``; the position within the
    epoch is part of :meth:`state_dict`, so a resumed run sees the same batches as an
    uninterrupted one. The last incomplete batch of an epoch is dropped.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int,
                 generator: torch.Generator):
        n = tensors[0].shape[0]
        if batch_size > n:
            raise GantutorError(
                f"batch size {batch_size} is larger than the dataset ({n} samples); "
                "lower --batch-size"
            )
        self.tensors = tensors
        self.batch_size = batch_size
        self.generator = generator
        self.n = n
        self.perm = None
        self.pos = n  # forces a new permutation on the first call

    def next(self) -> tuple[torch.Tensor, ...]:
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.generator,
                                       device=self.generator.device)
            self.pos = 0
        idx = self.perm[self.pos: self.pos + self.batch_size]
        self.pos += self.batch_size
        return tuple(t[idx] for t in self.tensors)

    def state_dict(self) -> dict:
        return {"perm": None if self.perm is None else self.perm.cpu(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        perm = state["perm"]
        self.perm = None if perm is None else perm.to(self.tensors[0].device)
        self.pos = state["pos"]
