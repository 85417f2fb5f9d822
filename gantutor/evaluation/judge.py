"""An independent judge of generated digits: scikit-learn's MLP on raw pixels.

The course's own feature network (:mod:`gantutor.evaluation.classifier`) is a CNN
that the metrics are built on; a generator could learn to please exactly that kind
of network. This judge is a different model (a multi-layer perceptron on raw
pixels, trained by scikit-learn), so its verdict is a second opinion. It answers
two questions about a batch of samples: how many digit classes it sees in them, and
how sure it is on average.

    judge = gt.judge.get_pixel_judge("mnist")
    verdict = gt.judge.judge_samples(judge, samples)   # samples in [-1, 1]
    print(verdict.summary())

The fitted weights are cached as plain arrays (``.npz``, no pickle) with a SHA-256
checksum; a missing or damaged cache file is simply refitted (about half a minute on
a CPU for MNIST, a second for the 8x8 digits).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import atomic_write
from ..env import cache_dir
from .classifier import (
    _fingerprint,
    checksum_matches,
    classifier_data,
    write_checksum,
)

JUDGE_VERSION = 1  # bump when the model or its fitting changes: old caches refit
SEED = 0
HIDDEN = (256,)
MAX_EPOCHS = 30
CONFIDENT = 0.9  # a sample "is" a digit when the judge gives that digit at least this
MIN_SHARE = 0.01  # a class is recognised when at least this share of samples is it


class PixelJudge:
    """A fitted pixel MLP: ``probs(x)`` for images in [-1, 1] of the data's shape."""

    def __init__(self, weights: list, biases: list, info: dict):
        self.weights = [np.asarray(w, dtype=np.float64) for w in weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in biases]
        self.info = info

    @property
    def test_accuracy(self) -> float:
        return self.info["test_accuracy"]

    def probs(self, x) -> np.ndarray:
        """(N, C, S, S) images in [-1, 1] -> (N, K) class probabilities."""
        h = _pixels(x)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = np.maximum(h @ w + b, 0.0)  # ReLU, scikit-learn's default
        logits = h @ self.weights[-1] + self.biases[-1]
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def _pixels(x) -> np.ndarray:
    """Images in [-1, 1] -> rows of pixels in [0, 1] (what the judge was fitted on)."""
    x = torch.as_tensor(x).detach().float().cpu().clamp(-1, 1)
    return ((x.reshape(len(x), -1).numpy().astype(np.float64)) + 1.0) / 2.0


def fit_pixel_judge(x_train, y_train, x_test, y_test, described: str) -> PixelJudge:
    """Fit the MLP with scikit-learn (seeded) and test it on held-out images."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=MAX_EPOCHS,
                        random_state=SEED, early_stopping=False)
    with warnings.catch_warnings():
        # stopping at MAX_EPOCHS is the budget, not a failure: the held-out
        # accuracy printed with every use says how good the judge is
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(_pixels(x_train), np.asarray(y_train))
    if list(mlp.classes_) != list(range(len(mlp.classes_))):
        raise ValueError("the judge's training labels must be 0..K-1")
    test_pixels, test_labels = _pixels(x_test), np.asarray(y_test)
    info = {"trained_on": described, "n_train": len(x_train), "n_test": len(x_test),
            "test_accuracy": float(mlp.score(test_pixels, test_labels))}
    judge = PixelJudge(mlp.coefs_, mlp.intercepts_, info)
    judge.sklearn_model = mlp  # kept in memory only (tests compare the forward pass)
    # the same verdicts on real held-out digits: the reference for generated ones
    info["real_test"] = judge_samples(judge, x_test).as_dict()
    return judge


def _save(path: Path, judge: PixelJudge) -> None:
    arrays = {f"w{i}": w for i, w in enumerate(judge.weights)}
    arrays.update({f"b{i}": b for i, b in enumerate(judge.biases)})
    arrays["info"] = np.array(json.dumps(judge.info))

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)
    write_checksum(path)


def _load(path: Path) -> PixelJudge | None:
    if not checksum_matches(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            n = sum(1 for k in z.files if k.startswith("w"))
            info = json.loads(str(z["info"]))
            return PixelJudge([z[f"w{i}"] for i in range(n)],
                              [z[f"b{i}"] for i in range(n)], info)
    except (OSError, ValueError, KeyError):  # another layout: refit
        return None


_LOADED: dict = {}


def get_pixel_judge(dataset: str = "mnist", cache=None, refit: bool = False,
                    verbose: bool = True) -> PixelJudge:
    """The pixel judge of ``dataset`` (digits, mnist, fashion-mnist), cached on disk.

    Fitted on the same split as the course's classifier (MNIST's training split when
    present, else a seeded 80/20 split of the test set). Prints one line with its
    held-out accuracy and its verdict on real held-out images.
    """
    x_tr, y_tr, x_te, y_te, described = classifier_data(dataset)
    key = described.split()[0]
    tag = f"judge v{JUDGE_VERSION} seed{SEED} hidden{HIDDEN} epochs{MAX_EPOCHS}"
    digest = _fingerprint(x_tr, y_tr, x_te, y_te, extra=tag)
    path = Path(cache or cache_dir()) / "judges" / f"{key}-{digest[:16]}.npz"
    if not refit and str(path) in _LOADED:
        return _LOADED[str(path)]
    judge = None if refit else _load(path)
    found = judge is not None
    if not found:
        judge = fit_pixel_judge(x_tr, y_tr, x_te, y_te, described)
        _save(path, judge)
    if verbose:
        real = judge.info["real_test"]
        how = "loaded from" if found else "fitted, saved to"
        print(f"pixel judge for {key} (scikit-learn MLP, {HIDDEN[0]} hidden units): "
              f"test accuracy {judge.test_accuracy:.1%}; on {judge.info['n_test']:,} "
              f"real held-out digits it recognises {real['classes_recognised']} of "
              f"{real['num_classes']} classes, mean top probability "
              f"{real['mean_top_prob']:.3f}; {how} {path}")
    _LOADED[str(path)] = judge
    return judge


@dataclass
class Verdict:
    """What the judge makes of a batch of samples."""

    n: int
    num_classes: int
    counts: list  # samples whose most probable class is c
    confident_counts: list  # ... with probability at least CONFIDENT
    mean_top_prob: float  # mean over the samples of the top class probability
    classes_recognised: int  # classes with confident share at least MIN_SHARE

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def passes(self, min_classes: int = 9, min_mean_top: float = 0.9) -> bool:
        """The course's bar for digits a learner is glad to see."""
        return (self.classes_recognised >= min_classes
                and self.mean_top_prob >= min_mean_top)

    def summary(self) -> str:
        shares = " ".join(f"{c}:{k / self.n:.0%}" for c, k in enumerate(self.counts))
        return (f"{self.classes_recognised} of {self.num_classes} classes recognised "
                f"(at least {MIN_SHARE:.0%} of the {self.n:,} samples read as that "
                f"digit with probability >= {CONFIDENT}); mean top-class probability "
                f"{self.mean_top_prob:.3f}; share per class {shares}")


def judge_samples(judge: PixelJudge, x, batch_size: int = 2000) -> Verdict:
    """The judge's verdict on images ``x`` (N, C, S, S) in [-1, 1]."""
    x = torch.as_tensor(x)
    p = np.concatenate([judge.probs(x[i:i + batch_size])
                        for i in range(0, len(x), batch_size)])
    top, cls = p.max(axis=1), p.argmax(axis=1)
    k = p.shape[1]
    counts = np.bincount(cls, minlength=k)
    confident = np.bincount(cls[top >= CONFIDENT], minlength=k)
    return Verdict(n=len(x), num_classes=k, counts=[int(c) for c in counts],
                   confident_counts=[int(c) for c in confident],
                   mean_top_prob=float(top.mean()),
                   classes_recognised=int((confident >= MIN_SHARE * len(x)).sum()))
