"""The offline feature extractor: a small CNN classifier trained on the dataset itself.

Inception-v3 features (the "I" in FID) need downloaded weights and were made for
photographs, not for 8x8 digits. Here a small convolutional classifier is trained on
the course's own data instead, seeded, in about a minute on a CPU, and cached on disk
with a SHA-256 checksum; a missing or corrupted cache file is simply retrained. Its
penultimate layer gives the features (Fréchet distance, precision/recall), its softmax
the class probabilities (classifier score, "which digit is this?").

    clf = gt.metrics.get_classifier("mnist", device)
    f = clf.features(x)   # (N, 1, 28, 28) in [-1, 1] -> (N, 128)
    p = clf.probs(x)      # (N, 1, 28, 28) -> (N, 10)
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..env import CACHE_ENV, cache_dir  # noqa: F401 (re-exported)
from ..errors import GantutorError

ARCH_VERSION = 1  # bump when the network or its training changes: old caches retrain
SEED = 0
# Training budget: about this many image presentations (epochs = budget / images,
# between 2 and 40): under half a minute on 2 CPU cores for 28x28 images, a few
# seconds for the 8x8 digits. The held-out accuracy is reported next to every use.
TRAINING_IMAGES = 100_000
MIN_EPOCHS, MAX_EPOCHS = 2, 40


class Classifier(nn.Module):
    """x (B, C, S, S) in [-1, 1] -> logits (B, K); S is 8, 28 or 32.

    Two 3x3 conv blocks (each followed by 2x2 max-pooling while the map is >= 8
    pixels), a fully connected layer of ``feature_dim`` units (the features), and a
    linear layer to the K class logits.
    """

    def __init__(self, shape=(1, 28, 28), num_classes: int = 10, width: int = 32,
                 feature_dim: int = 128):
        super().__init__()
        self.shape, self.num_classes = tuple(shape), num_classes
        self.feature_dim = feature_dim
        channels, size = shape[0], shape[-1]
        layers, cin = [], channels
        for cout in (width, 2 * width):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
            if size >= 8:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            cin = cout
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(cin * size * size,
                                                           feature_dim),
                                   nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, num_classes)
        self.info = {}  # what it was trained on and how well it does, filled by fit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(self.body(x)))  # (B, C, S, S) -> (B, K)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def test_accuracy(self) -> float:
        """Accuracy on held-out images (``self.info["n_test"]`` of them)."""
        return self.info.get("test_accuracy", float("nan"))

    def _batched(self, fn, x, batch_size: int) -> torch.Tensor:
        x = torch.as_tensor(x)
        if tuple(x.shape[1:]) != self.shape:
            raise GantutorError(
                f"the classifier of {self.info.get('dataset', 'this dataset')} takes "
                f"images of shape {self.shape}, got {tuple(x.shape[1:])}; use the "
                "classifier of the dataset these samples imitate"
            )
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = [fn(b.to(self.device, torch.float32)) for b in x.split(batch_size)]
        self.train(was_training)
        return torch.cat(out)

    def features(self, x, batch_size: int = 1000) -> torch.Tensor:
        """Penultimate-layer activations (N, feature_dim), on the model's device."""
        return self._batched(lambda b: self.embed(self.body(b)), x, batch_size)

    def probs(self, x, batch_size: int = 1000) -> torch.Tensor:
        """Softmax class probabilities p(y | x), shape (N, K)."""
        return self._batched(lambda b: F.softmax(self(b), dim=1), x, batch_size)

    def predict(self, x, batch_size: int = 1000) -> torch.Tensor:
        """Most likely class of each image, shape (N,)."""
        return self._batched(lambda b: self(b).argmax(1), x, batch_size)


def accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of images whose predicted class equals the label."""
    return float((model.predict(x).cpu() == y.cpu()).float().mean())


def fit(model: Classifier, x: torch.Tensor, y: torch.Tensor, epochs: int,
        batch_size: int = 128, lr: float = 1e-3, seed: int = SEED) -> Classifier:
    """Train with Adam on the cross-entropy, seeded; shuffled index slices per epoch."""
    device = model.device
    x, y = x.to(device), y.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for idx in order.split(batch_size):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


# ------------------------------------------------------------------ data and cache


def classifier_data(name: str):
    """(x_train, y_train, x_test, y_test, description) for the classifier of ``name``.

    digits: the course's fixed train/test split. MNIST-family: the training split when
    present (test accuracy on the test split); when only the test split is present, a
    seeded 80/20 split of it.
    """
    from ..data import IDX_MD5, load_dataset

    key = name.lower().replace("_", "-")
    if key == "digits":
        train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
        return train.x, train.y, test.x, test.y, "digits train split (test: test split)"
    if key not in IDX_MD5:
        raise GantutorError(f"no classifier for {name!r}: it exists for digits, mnist "
                            "and fashion-mnist (image datasets with labels)")
    data = load_dataset(key, "auto")
    if data.split == "train":
        test = load_dataset(key, "test")
        return data.x, data.y, test.x, test.y, f"{key} train split (test: test split)"
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(SEED))
    n_test = len(data) // 5
    te, tr = order[:n_test], order[n_test:]
    return (data.x[tr], data.y[tr], data.x[te], data.y[te],
            f"{key} test split, seeded 80/20 (the training split was not found)")


def _fingerprint(*tensors: torch.Tensor, extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for t in tensors:
        h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checksum_matches(path: Path) -> bool:
    """Whether ``path`` and its ``.sha256`` file exist and agree (a cache file that
    does not is refitted, never read)."""
    sums = path.with_suffix(".sha256")
    return (path.is_file() and sums.is_file()
            and sums.read_text().split()[0:1] == [_file_sha256(path)])


def write_checksum(path: Path) -> None:
    """Write ``path``'s SHA-256 beside it, as ``sha256sum`` would (atomically)."""
    from ..checkpoint import atomic_write

    digest = _file_sha256(path)
    atomic_write(path.with_suffix(".sha256"),
                 lambda tmp: Path(tmp).write_text(f"{digest}  {path.name}\n"))


def _load_cached(path: Path, model: Classifier) -> bool:
    """Load ``path`` into ``model`` if its checksum and contents are right."""
    if not checksum_matches(path):
        return False
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        model.info = json.loads(state["info"])
    except Exception:  # unreadable or another layout: retrain
        return False
    return True


def _save_cached(path: Path, model: Classifier) -> None:
    from ..checkpoint import atomic_write

    state = {"model": {k: v.cpu() for k, v in model.state_dict().items()},
             "info": json.dumps(model.info)}
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    write_checksum(path)


_LOADED: dict = {}


def get_classifier(dataset: str = "digits", device="auto", retrain: bool = False,
                   cache: str | Path | None = None, verbose: bool = True) -> Classifier:
    """The classifier of ``dataset`` (digits, mnist, fashion-mnist), ready to use.

    Loaded from ``cache`` (default :func:`cache_dir`) when a file with the right
    checksum exists for exactly this data and architecture; otherwise trained (seeded,
    about a minute on a CPU), tested on held-out images and saved. The global random
    state is left untouched either way, so a notebook's later numbers do not depend on
    whether the cache existed. Prints one line saying what it is and how accurate.
    """
    from ..env import resolve_device

    dev = resolve_device(device)
    x_tr, y_tr, x_te, y_te, described = classifier_data(dataset)
    key = described.split()[0]
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TRAINING_IMAGES / len(x_tr))))
    tag = f"v{ARCH_VERSION} seed{SEED} epochs{epochs}"
    digest = _fingerprint(x_tr, y_tr, x_te, y_te, extra=tag)
    path = Path(cache or cache_dir()) / "classifiers" / f"{key}-{digest[:16]}.pt"
    memo = (str(path), str(dev))
    if not retrain and memo in _LOADED:
        return _LOADED[memo]
    num_classes = int(max(y_tr.max(), y_te.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = Classifier(tuple(x_tr.shape[1:]), num_classes)
    found = not retrain and _load_cached(path, model)
    model.to(dev)
    if not found:
        with torch.random.fork_rng(devices=[]):
            fit(model, x_tr, y_tr, epochs)
        model.info = {"dataset": key, "trained_on": described, "n_train": len(x_tr),
                      "n_test": len(x_te), "epochs": epochs,
                      "test_accuracy": accuracy(model, x_te, y_te)}
        _save_cached(path, model)
    model.eval()
    if verbose:
        how = "loaded from" if found else "trained and saved to"
        print(f"classifier for {key}: test accuracy {model.test_accuracy:.1%} on "
              f"{model.info['n_test']:,} held-out images; {how} {path}")
    _LOADED[memo] = model
    return model


# ------------------------------------------------------------------ per-class report


class ClassReport:
    """A classifier's confusion matrix and its per-class precision, recall and F1.

    ``matrix[i, j]`` counts the images of true class i predicted as class j: the
    diagonal holds the correct answers, row i's other cells the class-i images it
    missed, column j's other cells the images it wrongly called j. Computed by
    scikit-learn (``confusion_matrix``, ``precision_recall_fscore_support``).
    """

    def __init__(self, labels, predicted, num_classes: int):
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

        labels, predicted = (np.asarray(torch.as_tensor(a).cpu())
                             for a in (labels, predicted))
        if labels.shape != predicted.shape or labels.ndim != 1:
            raise GantutorError(f"labels and predictions must be two lists of the same "
                                f"length, got shapes {labels.shape} and "
                                f"{predicted.shape}")
        classes = np.arange(num_classes)
        self.matrix = confusion_matrix(labels, predicted, labels=classes)
        self.precision, self.recall, self.f1, self.support = \
            precision_recall_fscore_support(labels, predicted, labels=classes,
                                            zero_division=0)
        self.n = len(labels)
        self.accuracy = float(np.trace(self.matrix)) / max(self.n, 1)

    def worst_confusion(self) -> tuple[int, int, int]:
        """(true class, predicted class, count) of the largest off-diagonal cell."""
        off = self.matrix.copy()
        np.fill_diagonal(off, -1)
        i, j = np.unravel_index(off.argmax(), off.shape)
        return int(i), int(j), int(off[i, j])

    def table(self) -> str:
        """One line per class: precision, recall, F1 and the number of images."""
        lines = [f"{'class':>5}  {'precision':>9}  {'recall':>6}  {'F1':>6}  "
                 f"{'images':>6}"]
        for c in range(len(self.support)):
            lines.append(f"{c:>5}  {self.precision[c]:9.3f}  {self.recall[c]:6.3f}  "
                         f"{self.f1[c]:6.3f}  {int(self.support[c]):>6,}")
        lines.append(f"{'mean':>5}  {self.precision.mean():9.3f}  "
                     f"{self.recall.mean():6.3f}  {self.f1.mean():6.3f}  "
                     f"{self.n:>6,}   (accuracy {self.accuracy:.3f})")
        return "\n".join(lines)


def class_report(model: Classifier, x, y) -> ClassReport:
    """The confusion matrix and per-class precision/recall/F1 of ``model`` on the
    labelled images ``x``, ``y`` (use images it was not trained on)."""
    return ClassReport(y, model.predict(x).cpu(), model.num_classes)


def held_out_images(dataset: str):
    """(x, y): the labelled images the classifier of ``dataset`` was tested on, never
    trained on (see :func:`classifier_data`)."""
    _, _, x_te, y_te, _ = classifier_data(dataset)
    return x_te, y_te
