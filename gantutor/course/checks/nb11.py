"""The exercise checks of notebook 11, explaining and responsibility.

The deletion curve of an explanation, and the loss-threshold membership AUC.
"""

import torch
import torch.nn as nn

from ...evaluation import explain, privacy
from .core import Case, Mistake, Spec, exercise, seeded


def _tiny_model(seed: int) -> nn.Module:
    """A linear classifier of 4x4 images into 3 classes, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    return model.eval()


def _deletion_cases() -> list[Case]:
    g = seeded(111)
    x = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    order = torch.stack([torch.randperm(16, generator=g) for _ in range(3)])
    ink = torch.full((1, 1, 4, 4), -1.0)
    ink[0, 0, 1:3, 1:3] = 1.0
    return [Case("3 random 4x4 images, random orders, 4 steps", _tiny_model(0), x,
                 torch.tensor([0, 1, 2]), order, 4, -1.0),
            Case("one digit-like image (4 pixels of ink), 8 steps", _tiny_model(1),
                 ink, torch.tensor([2]), torch.arange(16).flip(0)[None], 8, -1.0)]


def _reference(model, x, target, order, steps, baseline):
    return explain.deletion_curves(model, x, target, order, steps, baseline)[1]


def _insertion(model, x, target, order, steps, baseline):
    return explain.deletion_curves(model, x, target, order, steps, baseline)[2]


def _zero_baseline(model, x, target, order, steps, baseline):
    return _reference(model, x, target, order, steps, 0.0)


def _reversed(model, x, target, order, steps, baseline):
    return _reference(model, x, target, order.flip(1), steps, baseline)


def _logits(model, x, target, order, steps, baseline):
    n, p = len(x), x[0, 0].numel()
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(p).expand(n, p))
    out = []
    for k in range(steps + 1):
        gone = (rank < k * p // steps).view(n, 1, *x.shape[-2:])
        with torch.no_grad():
            s = model(torch.where(gone, baseline, x))
        out.append(s.gather(1, target[:, None]).squeeze(1))
    return torch.stack(out, 1)


@exercise
def deletion_curve():
    """Checks ``fn(model, x, target, order, steps, baseline)``: for f = 0, 1/steps,
    ..., 1, the softmax probability of ``target`` after the first f·P pixels of
    ``order`` (N, P) are set to ``baseline``; returns (N, steps + 1)."""
    return Spec(
        reference=_reference,
        cases=_deletion_cases,
        mistakes=[
            Mistake(_insertion, "this is the insertion curve: start from the image "
                    "and set the chosen pixels to the baseline, keeping the rest."),
            Mistake(_zero_baseline, "the pixels were set to 0, mid-grey in [-1, 1]; "
                    "a deleted pixel takes the value `baseline` (-1, background)."),
            Mistake(_reversed, "the order is reversed: order[:, 0] is the most "
                    "important pixel and goes first."),
            Mistake(_logits, "these are logits; the curve is the softmax "
                    "probability of the target class."),
        ],
    )


def _auc_cases() -> list[Case]:
    g = seeded(112)
    return [Case("200 members with lower losses than 200 held-out examples",
                 torch.rand(200, generator=g) * 0.8,
                 torch.rand(200, generator=g) * 1.2),
            Case("3 members, 2 held-out, with ties", torch.tensor([0.1, 0.5, 0.5]),
                 torch.tensor([0.5, 0.9]))]


def _auc_pairs(l_in, l_out, tie=0.5, flip=False):
    diff = l_out[None, :] - l_in[:, None]  # > 0: the member has the lower loss
    if flip:
        diff = -diff
    return float(((diff > 0).double() + tie * (diff == 0).double()).mean())


@exercise
def loss_threshold_auc():
    """Checks ``fn(loss_members, loss_heldout)``: the membership AUC of the score
    -loss, P(-loss(member) > -loss(held-out)) over all pairs, ties counting ½."""
    return Spec(
        reference=privacy.auc_from_losses,
        cases=_auc_cases,
        mistakes=[
            Mistake(lambda a, b: _auc_pairs(a, b, flip=True), "the sign is flipped: "
                    "members have the *lower* loss, so the score is -loss."),
            Mistake(lambda a, b: _auc_pairs(a, b, tie=0.0), "ties count ½: a pair "
                    "with equal losses is a coin toss for the attacker."),
            Mistake(lambda a, b: _auc_pairs(a, b, tie=1.0), "ties count ½, not 1."),
        ],
    )
