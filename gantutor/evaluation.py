"""A generator's report card: every metric of :mod:`gantutor.metrics`, with its n.

``evaluate_images`` scores generated images against real ones with the offline
classifier; ``evaluate_mixture`` scores 2-D samples by the modes they cover. Both
return an object that prints as a table (each number next to its sample sizes) and
as the one-line summary that ``gantutor evaluate`` prints last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from . import metrics
from .errors import GantutorError


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
             _fmt(self.nn_fake), f"{nf} generated"),
            ("median distance to nearest training image: held-out real",
             _fmt(self.nn_heldout), f"{self.n_heldout:,} held-out"),
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
                    k: int = 5, dataset: str = "") -> Evaluation:
    """Score generated images ``fake`` against ``real`` ones (both (N, C, H, W)).

    Fréchet distance, precision/recall/density/coverage and the classifier score use
    the classifier's features and probabilities. When ``members`` (images the
    generator was trained on) and ``heldout`` (images it never saw) are given, also
    the membership-inference AUC and nearest-neighbour distances, in pixel space.
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
        result.nn_fake = float(metrics.nearest_neighbours(fake, members)[0].median())
        result.nn_heldout = float(
            metrics.nearest_neighbours(heldout, members)[0].median())
    return result


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
