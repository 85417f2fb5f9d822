"""The exercise checks of notebook 02, compression is prediction.

The code length of a sequence and one step of the logistic mixer.
"""

import torch

from ...compression import coder, textmodel
from .core import Case, Mistake, Spec, exercise, seeded


def _code_length_cases() -> list[Case]:
    g = seeded(2)
    cases = []
    for t, k in ((6, 4), (20, 256)):
        logits = 2 * torch.randn(t, k, generator=g, dtype=torch.float64)
        symbols = torch.randint(k, (t,), generator=g)
        cases.append(Case(f"T = {t} symbols from an alphabet of K = {k}",
                          torch.softmax(logits, 1), symbols))
    dyadic = torch.tensor([[0.5, 0.25, 0.125, 0.125]] * 5, dtype=torch.float64)
    cases.append(Case("p = (1/2, 1/4, 1/8, 1/8) at every step, message a b c d a",
                      dyadic, torch.tensor([0, 1, 2, 3, 0])))
    return cases


def _picked(p, s):
    return p[torch.arange(len(s)), s]


@exercise
def code_length():
    """Checks ``fn(probs, symbols)``: the bits an entropy coder needs for a sequence,

        L = −Σ_t log2 probs[t, symbols[t]],

    ``probs`` (T, K): row t is the model's distribution before symbol t;
    ``symbols`` (T,): the symbols that occurred."""
    return Spec(
        reference=coder.sequence_code_length,
        cases=_code_length_cases,
        mistakes=[
            Mistake(lambda p, s: -torch.log(_picked(p, s)).sum(), "this is in nats "
                    "(natural log); code lengths in bits use torch.log2."),
            Mistake(lambda p, s: -torch.log2(_picked(p, s)).mean(), "this is the "
                    "average per symbol; the length of the whole code is the sum."),
            Mistake(lambda p, s: torch.log2(_picked(p, s)).sum(), "the sign: log2 p "
                    "is negative, a code length −log2 p is positive."),
            Mistake(lambda p, s: -(p * torch.log2(p)).sum(), "this is the entropy of "
                    "the predictions, what the model *expects* to pay; the code pays "
                    "−log2 of the probability of the symbol that actually occurred."),
            Mistake(lambda p, s: -torch.log2(p[:, s]).sum(), "p[:, symbols] takes "
                    "every row's probability of every symbol (a T×T table); take one "
                    "per row: p[torch.arange(T), symbols]."),
        ],
    )


def _mix_cases() -> list[Case]:
    g = seeded(3)
    cases = []
    for n, bit, lr in ((3, 1, 0.02), (7, 0, 0.1), (5, 1, 0.5)):
        w = 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
        s = 2 * torch.randn(n, generator=g, dtype=torch.float64)
        cases.append(Case(f"{n} inputs, bit = {bit}, lr = {lr}", w, s, bit, lr))
    return cases


def _mix_p(w, s):
    return torch.sigmoid(w @ s)


@exercise
def mixer_step():
    """Checks ``fn(w, s, bit, lr)`` returning ``(p, new_w)``: the mixer's prediction
    and one online gradient step on its log-loss,

        p = σ(w · s),   w ← w + lr · (bit − p) · s,

    ``s`` the inputs' logits stretch(p_i), ``bit`` the bit that occurred."""
    return Spec(
        reference=textmodel.logistic_mix_step,
        cases=_mix_cases,
        outputs=("p", "new_w"),
        mistakes=[
            Mistake(lambda w, s, b, lr: (_mix_p(w, s),
                                         w - lr * (b - _mix_p(w, s)) * s),
                    "the step goes uphill: (bit − p)·s is *minus* the gradient of "
                    "−log p(bit), so adding it is the descent step."),
            Mistake(lambda w, s, b, lr: (w @ s, w + lr * (b - w @ s) * s),
                    "p must be a probability: squash the mixed logit w · s with the "
                    "sigmoid, p = σ(w · s)."),
            Mistake(lambda w, s, b, lr: (_mix_p(w, s), w + lr * (b - _mix_p(w, s))),
                    "every weight moves by the error times *its own* input: "
                    "lr · (bit − p) · s, not the same amount for all."),
        ],
    )
