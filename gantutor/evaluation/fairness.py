"""Per-class fairness of a generator: which classes it under-produces or renders worse.

A generator trained on all ten digits can still serve some of them badly, the
generative analogue of a model that works worse for some groups of people. With the
offline judge (:mod:`.classifier`) each generated sample gets a class, and each real
class gets its own recall and coverage (:func:`.metrics.prdc` of that class's real
images against all generated samples): the share of that class's real images the
generator reaches.
"""

from __future__ import annotations

import torch

from . import metrics


def per_class_quality(clf, real_x, real_y, fake_x, k: int = 5) -> list[dict]:
    """One row per class c: ``share`` of generated samples the judge calls c (1/K
    for a generator that serves every class equally), ``recall`` and ``coverage`` of
    the real images of c (:func:`.metrics.prdc`, real images of c against all
    generated samples, in the judge's features), and ``n_real``."""
    f_real, f_fake = clf.features(real_x), clf.features(fake_x)
    called = clf.predict(fake_x).cpu()
    real_y = torch.as_tensor(real_y).cpu()
    rows = []
    for c in range(clf.num_classes):
        mine = real_y == c
        r = metrics.prdc(f_real[mine.to(f_real.device)], f_fake, k=k)
        rows.append({"class": c, "share": float((called == c).float().mean()),
                     "recall": r["recall"], "coverage": r["coverage"],
                     "n_real": int(mine.sum())})
    return rows


def format_class_table(rows: list[dict], n_fake: int, k: int = 5) -> str:
    """The per-class rows as a table, with the sample sizes."""
    head = f"{'class':>5}  {'share of samples':>16}  {'recall':>6}  {'coverage':>8}  " \
           f"{'real images':>11}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['class']:>5}  {r['share']:>16.1%}  {r['recall']:>6.3f}  "
                     f"{r['coverage']:>8.3f}  {r['n_real']:>11,}")
    lines.append(f"({n_fake:,} generated samples; k = {k} neighbours, in the judge's "
                 "features)")
    return "\n".join(lines)
