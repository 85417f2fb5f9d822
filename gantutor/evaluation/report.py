"""A generator's report card: every metric of :mod:`.metrics`, with its n.

``evaluate_images`` scores generated images against real ones with the offline
classifier; ``evaluate_mixture`` scores 2-D samples by the modes they cover. Both
return an object that prints as a table (each number next to its sample sizes) and
as the one-line summary that ``gantutor evaluate`` prints last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..errors import GantutorError
from . import metrics


@dataclass
class Evaluation:
    """The numbers of one evaluation, with the sample sizes they were measured at."""

    dataset: str
    n_fake: int  # generated samples
    n_real: int  # real reference samples
    k: int = 5  # neighbours for precision/recall/density/coverage
    fd: float = math.nan
    precision: float = math.nan
    recall: float = math.nan
    density: float = math.nan
    coverage: float = math.nan
    classifier_score: float = math.nan
    classifier_score_real: float = math.nan  # the same formula on the real samples
    classifier_accuracy: float = math.nan
    n_classifier_test: int = 0
    mia_auc: float = math.nan
    n_members: int = 0  # training images queried by the membership attack
    n_heldout: int = 0  # held-out images queried by the membership attack
    n_training: int = 0  # training images searched for nearest neighbours
    nn_fake: float = math.nan  # median distance generated -> nearest training image
    nn_heldout: float = math.nan  # median distance held-out -> nearest training image
    notes: list = field(default_factory=list)

    SUMMARY = ("fd", "precision", "recall", "density", "coverage", "classifier_score",
               "mia_auc")

    def line(self) -> str:
        """``fd=<x> precision=<x> ... mia_auc=<x>`` (nan where not measurable)."""
        return " ".join(f"{k}={_fmt(getattr(self, k))}" for k in self.SUMMARY)

    def rows(self) -> list[tuple[str, str, str]]:
        """(metric, value, sample sizes) for the table."""
        nf, nr = f"{self.n_fake:,}", f"{self.n_real:,}"
        vs = f"{nf} generated vs {nr} real"
        knn = f"{vs}, k={self.k}"
        mia = (f"{self.n_members:,} training vs {self.n_heldout:,} held-out queries, "
               f"{nf} generated")
        return [
            ("Fréchet distance (classifier features)", _fmt(self.fd), vs),
            ("precision", _fmt(self.precision), knn),
            ("recall", _fmt(self.recall), knn),
            ("density", _fmt(self.density), knn),
            ("coverage", _fmt(self.coverage), knn),
            ("classifier score", _fmt(self.classifier_score), f"{nf} generated"),
            ("classifier score of real images", _fmt(self.classifier_score_real),
             f"{nr} real"),
            ("membership-inference AUC", _fmt(self.mia_auc), mia),
            ("median distance to nearest training image: generated",
             _fmt(self.nn_fake), f"{nf} generated, {self.n_training:,} training"),
            ("median distance to nearest training image: held-out real",
             _fmt(self.nn_heldout),
             f"{self.n_heldout:,} held-out, {self.n_training:,} training"),
        ]

    def table(self) -> str:
        rows = [("metric", "value", "sample sizes")] + self.rows()
        w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
        lines = [f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows]
        lines.insert(1, "-" * len(lines[0]))
        head = (f"{self.dataset}: classifier test accuracy "
                f"{self.classifier_accuracy:.1%} on {self.n_classifier_test:,} "
                "held-out images; distances in pixel space ([-1, 1] scale)")
        return "\n".join([head, *lines, *self.notes])

    def __str__(self) -> str:
        return self.table()


def _fmt(v: float) -> str:
    return "nan" if v is None or not math.isfinite(v) else f"{v:.4f}"


def evaluate_images(fake, real, classifier, members=None, heldout=None,
                    k: int = 5, dataset: str = "", training=None) -> Evaluation:
    """Score generated images ``fake`` against ``real`` ones (both (N, C, H, W)).

    Fréchet distance, precision/recall/density/coverage and the classifier score use
    the classifier's features and probabilities. When ``members`` (images the
    generator was trained on) and ``heldout`` (images it never saw) are given, also
    the membership-inference AUC (those two sets are the queries) and the median
    distance of generated and of held-out images to their nearest image of
    ``training`` (the whole training set; default ``members``), in pixel space.
    Every number is measured at the sizes of the inputs: choose them equal when
    comparing.
    """
    fake, real = torch.as_tensor(fake), torch.as_tensor(real)
    f_fake, f_real = classifier.features(fake), classifier.features(real)
    result = Evaluation(dataset or classifier.info.get("dataset", ""), len(fake),
                        len(real), k, classifier_accuracy=classifier.test_accuracy,
                        n_classifier_test=classifier.info.get("n_test", 0))
    result.fd = metrics.frechet_distance(f_real, f_fake)
    for name, value in metrics.prdc(f_real, f_fake, k=k).items():
        setattr(result, name, value)
    result.classifier_score = metrics.classifier_score(classifier.probs(fake))
    result.classifier_score_real = metrics.classifier_score(classifier.probs(real))
    if members is not None and heldout is not None:
        members, heldout = torch.as_tensor(members), torch.as_tensor(heldout)
        if len(members) == 0 or len(heldout) == 0:
            raise GantutorError("membership inference needs training and held-out "
                                "images; one of the two sets is empty")
        result.n_members, result.n_heldout = len(members), len(heldout)
        result.mia_auc = metrics.membership_auc(members, heldout, fake)
        training = members if training is None else torch.as_tensor(training)
        result.n_training = len(training)
        result.nn_fake = float(metrics.nearest_neighbours(fake, training)[0].median())
        result.nn_heldout = float(
            metrics.nearest_neighbours(heldout, training)[0].median())
    return result


def comparison(evaluations: dict) -> str:
    """Several :class:`Evaluation` side by side: one column each, one row per metric,
    the sample sizes in the first rows."""
    names = list(evaluations)
    rows = [("generated / real samples",
             [f"{e.n_fake:,} / {e.n_real:,}" for e in evaluations.values()]),
            ("membership queries (train / held-out)",
             [f"{e.n_members:,} / {e.n_heldout:,}" if e.n_members else "-"
              for e in evaluations.values()])]
    labels = {"fd": "Fréchet distance", "classifier_score": "classifier score",
              "mia_auc": "membership AUC",
              "nn_fake": "median distance to nearest training image"}
    for key in ("fd", "precision", "recall", "density", "coverage",
                "classifier_score", "mia_auc", "nn_fake"):
        rows.append((labels.get(key, key),
                     [_fmt(getattr(e, key)) for e in evaluations.values()]))
    w0 = max(len(r[0]) for r in rows)
    widths = [max(len(n), *(len(r[1][i]) for r in rows)) for i, n in enumerate(names)]
    head = f"{'':<{w0}}  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths))
    body = [f"{label:<{w0}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(vals, widths))
            for label, vals in rows]
    return "\n".join([head, "-" * len(head), *body])


@dataclass
class MixtureEvaluation:
    """Modes covered and high-quality rate of 2-D samples (VEEGAN/PacGAN)."""

    dataset: str
    n_fake: int
    num_modes: int
    modes_covered: int
    high_quality: float

    def line(self) -> str:
        return (f"modes_covered={self.modes_covered} num_modes={self.num_modes} "
                f"high_quality={self.high_quality:.4f} n={self.n_fake}")

    def table(self) -> str:
        return (f"{self.dataset}: {self.modes_covered} of {self.num_modes} modes "
                f"covered, {self.high_quality:.1%} high-quality samples (within 3 "
                f"std of their nearest mode), {self.n_fake:,} generated samples")

    def __str__(self) -> str:
        return self.table()


def evaluate_mixture(fake, mixture) -> MixtureEvaluation:
    """Mode coverage of 2-D samples against a :class:`~gantutor.data.MixtureData`."""
    covered, hq = metrics.mode_coverage(fake, mixture.modes, mixture.std)
    return MixtureEvaluation(mixture.name, len(fake), len(mixture.modes), covered, hq)


# ------------------------------------------------------------ calibration curves

DAMAGE = {"noise": metrics.add_noise, "blur": metrics.blur}


def fd_under_damage(classifier, reference, images, kind: str, strengths) -> list:
    """Fréchet distance of ``reference`` to ``images`` damaged by ``kind`` ("noise":
    Gaussian noise of std s; "blur": Gaussian blur of s pixels), for each strength s.
    """
    if kind not in DAMAGE:
        raise GantutorError(f"unknown damage {kind!r}: use noise or blur")
    f_ref, damage = classifier.features(reference), DAMAGE[kind]
    return [metrics.frechet_distance(f_ref, classifier.features(damage(images, s)))
            for s in strengths]


def fd_by_sample_size(classifier, a, b, sizes) -> list:
    """Fréchet distance between the first n images of ``a`` and of ``b``, for each n:
    for two samples of one distribution it shrinks towards 0 as n grows (the bias)."""
    f_a, f_b = classifier.features(a), classifier.features(b)
    if max(sizes) > min(len(f_a), len(f_b)):
        raise GantutorError(f"sizes up to {max(sizes)} need that many images in both "
                            f"sets (they hold {len(f_a)} and {len(f_b)})")
    return [metrics.frechet_distance(f_a[:n], f_b[:n]) for n in sizes]
