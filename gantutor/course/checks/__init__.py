"""Self-checks for the exercises: ``gt.check.<exercise>(your_function)``.

A check runs the learner's function on a few inputs next to the reference solution and
says specifically what differs and for which input: a wrong shape, a flipped sign, a
sum where a mean was meant, or one of the typical mistakes it knows by name. It never
raises; it returns a :class:`CheckResult`, which shows itself in a notebook and is
truthy when everything agrees.

Adding the check for a new exercise is one decorated function that returns a
:class:`Spec`: the reference, the inputs to try, and the typical mistakes::

    @exercise
    def bits_per_label():
        \"\"\"``fn(logits, y)``: the average log-loss in bits.\"\"\"
        return Spec(
            reference=losses.bits_per_label,
            cases=[Case("4 examples, 3 classes", torch.randn(4, 3),
                        torch.tensor([0, 2, 1, 2]))],
            mistakes=[Mistake(lambda l, y: F.cross_entropy(l, y), "nats, not bits")],
        )

``gt.check.bits_per_label(fn)`` then runs it, and ``CHECKS["bits_per_label"]`` finds it
(the tests run every registered check on its reference and on its mistakes).
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ...gan import losses, objective
from .. import risk

# --------------------------------------------------------------------- framework


class Case:
    """One input to try: ``label`` says in words what it is (it appears in feedback);
    the remaining arguments are passed to the function under test."""

    def __init__(self, label: str, *args, **kwargs):
        self.label, self.args, self.kwargs = label, args, kwargs

    def __repr__(self) -> str:
        return f"Case({self.label!r})"


@dataclass
class Mistake:
    """A typical wrong answer, written as a function with the exercise's signature, and
    the feedback to give when the learner's output equals its output."""

    fn: Callable
    message: str


@dataclass
class Spec:
    """What a check needs: the reference solution, the inputs, the known mistakes.

    ``outputs`` names the returned values when there are several (e.g. ("dW", "db")).
    ``cases`` may be a list of :class:`Case` or a function returning one (called on
    every check, so random inputs are drawn fresh from a fixed seed).
    """

    reference: Callable
    cases: Sequence[Case] | Callable[[], Sequence[Case]]
    mistakes: Sequence[Mistake] = ()
    outputs: Sequence[str] | None = None
    rtol: float = 1e-4
    atol: float = 1e-6
    # said when the learner's result is nan/inf where the reference is finite
    nonfinite: str = "look for exp() or log() of extreme values"


@dataclass
class CheckResult:
    """The verdict of a check: ``passed``, and the feedback lines when it did not."""

    name: str
    passed: bool
    n_cases: int
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def message(self) -> str:
        if self.passed:
            return (f"✓ {self.name}: correct: it agrees with the reference on all "
                    f"{self.n_cases} test inputs.")
        lines = [f"✗ {self.name}: not yet."] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        color, bg = ("#1a7f37", "#e6f4ea") if self.passed else ("#b42318", "#fdecea")
        lines = self.message.split("\n")
        body = html.escape(lines[0])
        if len(lines) > 1:
            items = "".join(f"<li>{html.escape(line.strip()[2:])}</li>"
                            for line in lines[1:])
            body += f"<ul style='margin:4px 0 0 0'>{items}</ul>"
        return (f"<div style='border-left:4px solid {color};background:{bg};"
                f"padding:6px 10px;font-family:sans-serif'>{body}</div>")


# name -> the check function, for every exercise in the course
CHECKS: dict[str, Callable] = {}


class _NotWritten(Exception):
    pass


def exercise(make_spec: Callable[[], Spec]) -> Callable:
    """Turn a function returning a :class:`Spec` into the check ``check(fn)`` and
    register it in :data:`CHECKS` under the function's name."""
    name = make_spec.__name__

    @functools.wraps(make_spec)
    def check(fn: Callable) -> CheckResult:
        return run_check(name, fn, make_spec())

    del check.__wrapped__  # help() shows check(fn), not the spec's signature
    check.spec = make_spec
    CHECKS[name] = check
    return check


def run_check(name: str, fn: Callable, spec: Spec) -> CheckResult:
    """Run ``fn`` and ``spec.reference`` on every case and compare; never raises."""
    if not callable(fn):
        return CheckResult(name, False, 0, [
            f"pass your function itself, e.g. gt.check.{name}(my_function), "
            f"not {type(fn).__name__} {_short(fn)}."])
    cases = list(spec.cases() if callable(spec.cases) else spec.cases)
    problems, explanations, failed = [], set(), 0
    for case in cases:
        try:
            problem = _check_case(fn, spec, case)
        except _NotWritten:
            return CheckResult(name, False, len(cases), [
                "your function is not written yet: replace the `raise "
                "NotImplementedError` line with your code, then run this cell again."])
        if problem is None:
            continue
        failed += 1
        where, explanation = problem
        # one line per distinct explanation, at most two: enough to act on
        if explanation not in explanations and len(problems) < 2:
            explanations.add(explanation)
            problems.append(f"{where}{explanation}")
    if failed:
        problems.append(f"wrong on {failed} of {len(cases)} test inputs.")
    return CheckResult(name, failed == 0, len(cases), problems)


def _check_case(fn: Callable, spec: Spec, case: Case) -> tuple[str, str] | None:
    """None when fn agrees with the reference on ``case``; else (where, what)."""
    where = f"for {case.label}"
    expected = _as_outputs(spec.reference(*_copy(case.args), **_copy(case.kwargs)))
    args, kwargs = _copy(case.args), _copy(case.kwargs)
    try:
        got = fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotWritten from None
    except Exception as err:  # the learner's code: report any error as feedback
        return where, f", your function raised {type(err).__name__}: {err}"
    if not _same_inputs(args, case.args) or not _same_inputs(kwargs, case.kwargs):
        return where, (", your function changed its input in place (e.g. with += "
                       "or an _ method); compute a new tensor instead.")
    if got is None:
        return where, ", your function returned None: did you forget `return`?"
    try:
        got = _as_outputs(got)
    except (TypeError, ValueError, RuntimeError):
        return where, (f", your function returned {type(got).__name__} "
                       f"{_short(got)}, not numbers.")
    names = spec.outputs or [f"output {i + 1}" for i in range(len(expected))]
    if len(got) != len(expected):
        what = ", ".join(names) if spec.outputs else f"{len(expected)} value(s)"
        return where, (f", your function returned {len(got)} value(s); it should "
                       f"return {len(expected)} ({what}).")
    for name, g, e in zip(names, got, expected):
        label = name if len(expected) > 1 else "the result"
        problem = _compare(g, e, label, spec.rtol, spec.atol)
        if problem is None:
            continue
        for mistake in spec.mistakes:  # a known mistake explains it best
            try:
                wrong = _as_outputs(mistake.fn(*_copy(case.args),
                                               **_copy(case.kwargs)))
            except Exception:  # a mistake that cannot even run on this input
                continue
            if len(wrong) == len(got) and all(
                    _compare(a, b, "", spec.rtol, spec.atol) is None
                    for a, b in zip(got, wrong)):
                return where, f": {mistake.message}"
        if not torch.isfinite(g).all() and torch.isfinite(e).all():
            return where, f", {problem}: {spec.nonfinite}."
        return where, f", {problem}{_hint(g, e)}"
    return None


def _compare(got: torch.Tensor, expected: torch.Tensor, label: str,
             rtol: float = 1e-4, atol: float = 1e-6) -> str | None:
    if got.shape != expected.shape:
        if got.numel() == expected.numel() == 1:
            got = got.reshape(expected.shape)
        else:
            hint = (" (transposed?)" if got.dim() == 2 and
                    tuple(got.shape) == tuple(expected.shape)[::-1] else "")
            return (f"{label} has shape {_shape(got)} but should have shape "
                    f"{_shape(expected)}{hint}")
    if not torch.isfinite(got).all() and torch.isfinite(expected).all():
        return (f"{label} contains nan or inf where the reference is finite "
                f"({_values(expected)})")
    if torch.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
        return None
    diff = (got - expected).abs().nan_to_num(nan=math.inf)
    i = int(diff.flatten().argmax())
    at = f" at index {np.unravel_index(i, tuple(got.shape))}" if got.numel() > 1 else ""
    return (f"{label} is {_values(got)}, expected {_values(expected)} (largest "
            f"difference {float(diff.flatten()[i]):.3g}{at})")


def _hint(got: torch.Tensor, expected: torch.Tensor) -> str:
    """A generic diagnosis: the right numbers up to a sign or a constant factor."""
    if got.shape != expected.shape or not torch.isfinite(got).all():
        return "."
    if torch.allclose(got, -expected, rtol=1e-4, atol=1e-6):
        return ": the sign is flipped."
    mask = expected.abs() > 1e-6
    if mask.any():
        ratio = got[mask] / expected[mask]
        r = float(ratio.mean())
        if abs(r) > 1e-9 and torch.allclose(ratio, torch.full_like(ratio, r),
                                            rtol=1e-4) and abs(r - 1) > 1e-3:
            known = {math.log(2): " (a factor ln 2: nats vs bits?)",
                     1 / math.log(2): " (a factor 1/ln 2: bits vs nats?)"}
            extra = next((t for k, t in known.items() if abs(r - k) < 1e-3), "")
            return f": every value is {r:.4g} times the expected one{extra}."
    return "."


def _as_outputs(value) -> list[torch.Tensor]:
    """A result (number, array, tensor, or a tuple of them) as float64 CPU tensors."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    out = []
    for v in items:
        if isinstance(v, torch.Tensor):
            out.append(v.detach().to("cpu", torch.float64))
        else:
            out.append(torch.as_tensor(np.asarray(v, dtype=np.float64)))
    return out


def _copy(obj):
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, tuple):
        return tuple(_copy(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    return obj


def _same_inputs(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, tuple):
        return all(_same_inputs(u, v) for u, v in zip(a, b))
    if isinstance(a, dict):
        return all(_same_inputs(a[k], b[k]) for k in a)
    return True


def _shape(t: torch.Tensor) -> str:
    return "a single number" if t.dim() == 0 else str(tuple(t.shape))


def _values(t: torch.Tensor) -> str:
    if t.numel() == 1:
        return f"{float(t.reshape(())):.6g}"
    flat = ", ".join(f"{float(v):.4g}" for v in t.flatten()[:4])
    more = ", ..." if t.numel() > 4 else ""
    return f"[{flat}{more}] (shape {tuple(t.shape)})"


def _short(obj) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------- 01: empirical risk, gradients


def _softmax_cases() -> list[Case]:
    g = _gen(1)
    cases = []
    for n, f, k in ((5, 3, 4), (8, 6, 10), (3, 2, 2)):
        x = torch.randn(n, f, generator=g)
        W = 0.5 * torch.randn(f, k, generator=g)
        b = 0.5 * torch.randn(k, generator=g)
        y = torch.randint(k, (n,), generator=g)
        cases.append(Case(f"N={n} examples, {f} features, K={k} classes", W, b, x, y))
    W = torch.tensor([[60.0, -60.0], [-60.0, 60.0]])  # confident logits, up to ±120
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    cases.append(Case("confident logits (±60: exp(±120) over- or underflows float32)",
                      W, torch.zeros(2), x, torch.tensor([0, 1, 1])))
    return cases


def _risk_summed(W, b, x, y):
    return F.cross_entropy(x @ W + b, y, reduction="sum")


def _risk_probability(W, b, x, y):
    return 1 - torch.softmax(x @ W + b, 1)[torch.arange(len(y)), y].mean()


def _risk_no_bias(W, b, x, y):
    return F.cross_entropy(x @ W, y)


def _risk_bits(W, b, x, y):
    return F.cross_entropy(x @ W + b, y) / math.log(2)


def _risk_softmax_dim0(W, b, x, y):
    return -torch.log_softmax(x @ W + b, 0)[torch.arange(len(y)), y].mean()


@exercise
def empirical_risk():
    """Checks ``fn(W, b, x, y)``: the empirical risk of softmax regression,

        L(W, b) = 1/N Σ_i −log softmax(x_i W + b)_{y_i}      (nats, a single number)

    x: (N, F) inputs, y: (N,) labels in 0..K−1, W: (F, K), b: (K,).
    """
    return Spec(
        reference=risk.softmax_regression_risk,
        cases=_softmax_cases,
        nonfinite="take log-probabilities with torch.log_softmax(logits, dim=1) "
                  "(or use F.cross_entropy), which never computes log(0) or exp(120)",
        mistakes=[
            Mistake(_risk_summed, "this is the sum of the losses; the empirical risk "
                    "is their mean (divide by N)."),
            Mistake(_risk_probability, "the loss is −log p(y | x), not 1 − p(y | x): "
                    "take the log of the probability of the true class."),
            Mistake(_risk_no_bias, "the bias b is missing: the model is xW + b."),
            Mistake(_risk_bits, "this is in bits (log base 2); here the risk uses the "
                    "natural log (nats)."),
            Mistake(_risk_softmax_dim0, "the softmax runs over the wrong axis: each "
                    "example's K class probabilities must sum to 1 (dim=1)."),
        ],
    )


def _grad_summed(W, b, x, y):
    dW, db = risk.softmax_regression_gradient(W, b, x, y)
    return dW * x.shape[0], db * x.shape[0]


def _grad_sign(W, b, x, y):
    dW, db = risk.softmax_regression_gradient(W, b, x, y)
    return -dW, -db


def _grad_no_onehot(W, b, x, y):
    P = torch.softmax(x @ W + b, 1)
    return x.T @ P / x.shape[0], P.mean(0)


def _grad_bias_not_summed(W, b, x, y):
    dW, _ = risk.softmax_regression_gradient(W, b, x, y)
    return dW, torch.zeros_like(b)


@exercise
def gradient():
    """Checks ``fn(W, b, x, y)`` returning (∂L/∂W, ∂L/∂b) of the softmax-regression
    risk, written out by hand (the reference uses autograd):

        ∂L/∂W = 1/N xᵀ(P − Y),   ∂L/∂b = 1/N Σ_i (P_i − Y_i),
        P = softmax(xW + b), Y = one-hot labels.
    """
    return Spec(
        reference=lambda W, b, x, y: risk.autograd_gradient(
            risk.softmax_regression_risk, W, b, x, y),
        cases=_softmax_cases,
        outputs=("dW", "db"),
        mistakes=[
            Mistake(_grad_summed, "these are N times too large: the risk is a mean, "
                    "so its gradient divides by N too."),
            Mistake(_grad_sign, "the sign is flipped: the gradient of −log softmax is "
                    "P − Y (predicted minus one-hot), not Y − P."),
            Mistake(_grad_no_onehot, "the one-hot labels Y are missing: the gradient "
                    "is xᵀ(P − Y)/N, not xᵀP/N."),
            Mistake(_grad_bias_not_summed, "∂L/∂b is zero but should be the mean of "
                    "P − Y over the examples."),
        ],
        atol=1e-5,
    )


def _bits_cases() -> list[Case]:
    g = _gen(2)
    return [Case("4 examples, 3 classes", torch.randn(4, 3, generator=g),
                 torch.tensor([0, 2, 1, 2])),
            Case("6 examples, 10 classes", 3 * torch.randn(6, 10, generator=g),
                 torch.tensor([9, 0, 3, 3, 7, 1])),
            Case("uniform logits over 10 classes (answer: log2 10 = 3.32)",
                 torch.zeros(5, 10), torch.tensor([0, 1, 2, 3, 4]))]


@exercise
def bits_per_label():
    """Checks ``fn(logits, y)``: the average log-loss in bits, the cost of sending
    the labels with the model,  1/N Σ_i −log2 softmax(logits_i)_{y_i}."""
    return Spec(
        reference=losses.bits_per_label,
        cases=_bits_cases,
        mistakes=[
            Mistake(lambda logits, y: F.cross_entropy(logits, y),
                    "this is in nats (natural log); bits use log base 2: divide by "
                    "ln 2."),
            Mistake(lambda logits, y: F.cross_entropy(logits, y, reduction="sum")
                    / math.log(2), "this is the total over all labels; the question "
                    "asks for bits per label (the mean)."),
        ],
    )


# ---------------------------------------------------------- 04: the GAN objective


def _density_cases() -> list[Case]:
    x = torch.linspace(-4, 4, 9, dtype=torch.float64)
    p, q = objective.Gaussian(0, 1), objective.Gaussian(1.5, 0.5)
    cases = [Case("p = N(0, 1) and q = N(1.5, 0.5²) at x = −4, −3, ..., 4",
                  p.pdf(x), q.pdf(x)),
             Case("hand-picked densities p = [0.2, 0.1, 0.3], q = [0.2, 0.3, 0.1]",
                  torch.tensor([0.2, 0.1, 0.3]), torch.tensor([0.2, 0.3, 0.1])),
             Case("a point where only the generator has mass: p = [0, 0.4], "
                  "q = [0.5, 0.4]", torch.tensor([0.0, 0.4]), torch.tensor([0.5, 0.4]))]
    return cases


@exercise
def optimal_discriminator():
    """Checks ``fn(p_x, q_x)``: the optimal discriminator D*(x) = p(x) / (p(x) + q(x))
    from the data density p(x) and the generator density q(x) (tensors of equal shape).
    """
    return Spec(
        reference=objective.optimal_discriminator,
        cases=_density_cases,
        mistakes=[
            Mistake(lambda p, q: q / (p + q), "this is q/(p + q), the probability "
                    "that x is fake; D*(x) is the probability that x is real: "
                    "p/(p + q)."),
            Mistake(lambda p, q: p / q, "this is the density ratio p/q, which is not "
                    "a probability; D* divides by p + q."),
            Mistake(lambda p, q: p / (p + q).sum(), "you divided by the sum over all "
                    "points; D*(x) divides pointwise by p(x) + q(x)."),
        ],
    )


_SIGMOID_LOGS = ("work with logits: log D = F.logsigmoid(l) = −F.softplus(−l) and "
                 "log(1 − D) = −F.softplus(l), never torch.log(torch.sigmoid(l))")


def _logit_cases() -> list[Case]:
    g = _gen(3)
    return [Case("8 real and 8 fake logits near 0", torch.randn(8, generator=g),
                 torch.randn(8, generator=g)),
            Case("a confident D: real logits +3, fake logits −3",
                 torch.full((4,), 3.0), torch.full((4,), -3.0)),
            Case("extreme logits ±200 (where float32 sigmoid is exactly 0 or 1)",
                 torch.tensor([200.0, -200.0]), torch.tensor([200.0, -200.0]))]


def _d_loss_labels_swapped(d_real, d_fake):
    return losses.d_loss_minimax(d_fake, d_real)


def _d_loss_naive(d_real, d_fake):
    return -(torch.log(torch.sigmoid(d_real)).mean()
             + torch.log(1 - torch.sigmoid(d_fake)).mean())


def _d_loss_logsigmoid_one_minus(d_real, d_fake):
    return -(F.logsigmoid(d_real).mean() + F.logsigmoid(1 - d_fake).mean())


@exercise
def d_loss():
    """Checks ``fn(d_real, d_fake)``: the discriminator loss from D's logits on a
    real batch and on a fake batch,

        −V = −E_x[log D(x)] − E_z[log(1 − D(G(z)))],   D = sigmoid(logit),

    written so that it stays finite for any logits (a single number).
    """
    return Spec(
        reference=losses.d_loss_minimax,
        cases=_logit_cases,
        nonfinite=_SIGMOID_LOGS,
        mistakes=[
            Mistake(lambda r, f: losses.value_function(r, f), "this is V itself; D "
                    "maximises V, so the loss to minimise is −V: flip the sign."),
            Mistake(_d_loss_labels_swapped, "real and fake are swapped: real samples "
                    "are labelled 1 (log D(x)), fakes 0 (log(1 − D(G(z))))."),
            Mistake(_d_loss_logsigmoid_one_minus, "log(1 − sigmoid(l)) is not "
                    "logsigmoid(1 − l); it is logsigmoid(−l) = −softplus(l)."),
            Mistake(_d_loss_naive, "torch.log(torch.sigmoid(l)) becomes log(0) = "
                    "−inf once sigmoid rounds to 0 or 1: use F.logsigmoid(l) = "
                    "−F.softplus(−l) for log D, and −F.softplus(l) for log(1 − D)."),
        ],
    )


def _fake_logit_cases() -> list[Case]:
    g = _gen(4)
    return [Case("8 fake logits near 0", torch.randn(8, generator=g)),
            Case("start of training: D rejects the fakes, logits −6",
                 torch.full((4,), -6.0)),
            Case("extreme fake logits (−200 and 200)", torch.tensor([-200.0, 200.0]))]


@exercise
def g_loss_nonsaturating():
    """Checks ``fn(d_fake)``: the non-saturating generator loss −E_z[log D(G(z))]
    from D's logits on fake samples, finite for any logits (a single number)."""
    return Spec(
        reference=losses.g_loss_nonsaturating,
        cases=_fake_logit_cases,
        nonfinite=_SIGMOID_LOGS,
        mistakes=[
            Mistake(losses.g_loss_minimax, "this is the saturating loss "
                    "E[log(1 − D(G(z)))], whose gradient vanishes when D rejects the "
                    "fakes; the non-saturating loss is −E[log D(G(z))]."),
            Mistake(lambda l: F.softplus(l).mean(), "this is −E[log(1 − D(G(z)))], "
                    "the discriminator's loss on fakes; G wants D(G(z)) high: "
                    "−E[log D(G(z))] = softplus(−l)."),
            Mistake(lambda l: -torch.log(torch.sigmoid(l)).mean(),
                    "torch.log(torch.sigmoid(l)) is log(0) = −inf once sigmoid(l) "
                    "rounds to 0: use F.softplus(−l) = −F.logsigmoid(l)."),
        ],
    )


# ------------------------------------------- 05/06: GAN steps, smoothing, R1


def step_exercise(adapt: Callable[[Callable], Callable]) -> Callable:
    """Like :func:`exercise`, for functions that *update networks* instead of
    returning numbers. The spec's reference and mistakes have the learner's signature;
    ``adapt(fn)`` turns any of them into ``case -> numbers`` (fresh networks for each
    call, then what the step did to them), which the usual comparison then checks."""

    def decorate(make_spec: Callable[[], Spec]) -> Callable:
        name = make_spec.__name__

        @functools.wraps(make_spec)
        def check(fn: Callable) -> CheckResult:
            spec = make_spec()
            adapted = Spec(
                reference=adapt(spec.reference), cases=spec.cases,
                mistakes=[Mistake(adapt(m.fn), m.message) for m in spec.mistakes],
                outputs=spec.outputs, rtol=spec.rtol, atol=spec.atol,
                nonfinite=spec.nonfinite)
            return run_check(name, adapt(fn) if callable(fn) else fn, adapted)

        del check.__wrapped__
        check.spec = make_spec
        CHECKS[name] = check
        return check

    return decorate


def _tiny_gan(seed: int, confident: bool):
    """A small G (3-D noise -> 2-D points), D and a batch, all from ``seed``.

    ``confident``: D's last layer scaled up so its logits pass ±1 (where the hinge
    is flat and saturating losses saturate)."""
    from ...gan.models import MLPDiscriminator, MLPGenerator

    torch.manual_seed(seed)
    G = MLPGenerator((2,), z_dim=3, hidden=(8,), out_activation="none")
    D = MLPDiscriminator((2,), hidden=(8,))
    if confident:
        with torch.no_grad():
            D.net[-1].weight.mul_(40.0)
    g = _gen(seed)
    x_real = torch.randn(6, 2, generator=g) + 1.0
    z = torch.randn(6, 3, generator=g)
    return G, D, x_real, z


def _flat(params, grads: bool = False) -> torch.Tensor:
    parts = []
    for p in params:
        if grads:
            parts.append(torch.zeros_like(p) if p.grad is None else p.grad)
        else:
            parts.append(p)
    return torch.cat([t.detach().flatten() for t in parts])


def _stale_grads(net) -> None:
    """Leave a gradient from an earlier step in every weight (zero_grad must go)."""
    for p in net.parameters():
        p.grad = torch.ones_like(p)


def _adapt_d_step(fn: Callable) -> Callable:
    """fn(G, D, opt_d, x_real, z) -> (D's weights after, gradients left in G)."""

    def run(seed: int, confident: bool = False):
        G, D, x_real, z = _tiny_gan(seed, confident)
        # plain SGD: the change of the weights is -lr times the gradient, so any
        # difference in the loss shows (Adam's first step is lr times its sign)
        opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
        _stale_grads(D)
        fn(G, D, opt_d, x_real, z)
        return _flat(D.parameters()), _flat(G.parameters(), grads=True)

    return run


def _adapt_g_step(fn: Callable) -> Callable:
    """fn(G, D, opt_g, z) -> (G's weights after, D's weights after)."""

    def run(seed: int, confident: bool = False):
        G, D, _, z = _tiny_gan(seed, confident)
        opt_g = torch.optim.SGD(G.parameters(), lr=0.1)
        _stale_grads(G)
        fn(G, D, opt_g, z)
        return _flat(G.parameters()), _flat(D.parameters())

    return run


def _step_cases() -> list[Case]:
    return [Case("a fresh D (logits near 0)", 0),
            Case("another fresh D and batch", 1),
            Case("a confident D (logits beyond ±1)", 2, confident=True)]


def _hinge_d_step(G, D, opt_d, x_real, z, detach=True, zero=True, loss=None):
    x_fake = G(z)
    if detach:
        x_fake = x_fake.detach()
    d_real, d_fake = D(x_real), D(x_fake)
    loss_d = (loss or losses.d_loss_hinge)(d_real, d_fake)
    if zero:
        opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()


@step_exercise(_adapt_d_step)
def d_step_hinge():
    """Checks ``fn(G, D, opt_d, x_real, z)``: one discriminator update with the hinge
    loss  E_x[max(0, 1 − D(x))] + E_z[max(0, 1 + D(G(z)))]  on D's logits, fakes
    detached (the function returns nothing; the check looks at what it did)."""
    return Spec(
        reference=_hinge_d_step,
        cases=_step_cases,
        outputs=("D's weights after the step", "the gradients left in G"),
        mistakes=[
            Mistake(lambda G, D, o, x, z: _hinge_d_step(G, D, o, x, z, detach=False),
                    "the fakes are not detached: the D loss sent gradients into G. "
                    "Use G(z).detach() (or make them under torch.no_grad())."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(G, D, o, x, z, zero=False),
                    "opt_d.zero_grad() is missing: PyTorch adds new gradients to "
                    "the old ones, so the step used last step's gradients too."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(
                        G, D, o, x, z, loss=lambda r, f: F.relu(1 - r).mean()
                        + F.relu(1 - f).mean()),
                    "the fakes are treated as real: their term is max(0, 1 + D(G(z))) "
                    "(D pushes fake logits below −1), not max(0, 1 − D(G(z)))."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(
                        G, D, o, x, z, loss=losses.d_loss_wasserstein),
                    "the max(0, ·) is missing: this is the Wasserstein critic loss. "
                    "The hinge stops pushing once a logit is beyond ±1."),
            Mistake(lambda G, D, o, x, z: _hinge_d_step(
                        G, D, o, x, z, loss=losses.d_loss_minimax),
                    "this is the cross-entropy D loss of the earlier cells; the "
                    "exercise asks for the hinge: F.relu(1 − d_real).mean() + "
                    "F.relu(1 + d_fake).mean()."),
        ],
    )


def _hinge_g_step(G, D, opt_g, z, detach=False, zero=True, loss=None):
    x_fake = G(z)
    if detach:
        x_fake = x_fake.detach()
    loss_g = (loss or losses.g_loss_hinge)(D(x_fake))
    if zero:
        opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()


@step_exercise(_adapt_g_step)
def g_step_hinge():
    """Checks ``fn(G, D, opt_g, z)``: one generator update with the hinge generator
    loss  −E_z[D(G(z))]  on D's logits (D's weights must not change)."""
    return Spec(
        reference=_hinge_g_step,
        cases=_step_cases,
        outputs=("G's weights after the step", "D's weights after the step"),
        mistakes=[
            Mistake(lambda G, D, o, z: _hinge_g_step(G, D, o, z,
                                                     loss=lambda d: d.mean()),
                    "the sign is flipped: G wants D(G(z)) *high*, so it minimises "
                    "−mean(D(G(z)))."),
            Mistake(lambda G, D, o, z: _hinge_g_step(
                        G, D, o, z, loss=losses.g_loss_nonsaturating),
                    "this is the non-saturating loss −E[log D(G(z))] of the earlier "
                    "cells; the hinge generator loss is −mean(D(G(z))) on the logits."),
            Mistake(lambda G, D, o, z: _hinge_g_step(G, D, o, z, detach=True),
                    "G's weights did not move: the fakes were detached, so no "
                    "gradient reached G. Detach only in the D step."),
            Mistake(lambda G, D, o, z: _hinge_g_step(G, D, o, z, zero=False),
                    "opt_g.zero_grad() is missing: the step also used the gradients "
                    "left over from before."),
        ],
    )


def _smoothing_cases() -> list[Case]:
    g = _gen(5)
    return [Case("8 real and 8 fake logits, smooth=0.1", torch.randn(8, generator=g),
                 torch.randn(8, generator=g), 0.1),
            Case("a confident D (real +4, fake −4), smooth=0.2",
                 torch.full((4,), 4.0), torch.full((4,), -4.0), 0.2),
            Case("smooth=0 (must equal the plain D loss)", torch.randn(5, generator=g),
                 torch.randn(5, generator=g), 0.0)]


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@exercise
def d_loss_smoothed():
    """Checks ``fn(d_real, d_fake, smooth)``: the discriminator loss with one-sided
    label smoothing (Salimans et al. 2016) on D's logits: real targets 1 − smooth,
    fake targets 0,

        BCE(d_real, 1 − smooth) + BCE(d_fake, 0).
    """
    return Spec(
        reference=lambda r, f, s: losses.d_loss_minimax(r, f, smooth=s),
        cases=_smoothing_cases,
        mistakes=[
            Mistake(lambda r, f, s: _bce(r, 1 - s) + _bce(f, s),
                    "this smooths both sides: the fake targets must stay 0 (smoothing "
                    "them rewards D for calling fakes a bit real, which keeps bad "
                    "samples alive)."),
            Mistake(lambda r, f, s: _bce(r, s) + _bce(f, 0.0),
                    "the real target is `smooth` itself; it should be 1 − smooth "
                    "(0.9 for smooth = 0.1)."),
            Mistake(lambda r, f, s: _bce(r, 1.0) + _bce(f, 0.0),
                    "no smoothing: the real targets are still 1; use 1 − smooth."),
        ],
    )


def _adapt_r1(fn: Callable) -> Callable:
    """fn(D, x_real) -> (the penalty, its gradient with respect to D's weights)."""

    def run(seed: int):
        _, D, x_real, _ = _tiny_gan(seed, confident=False)
        penalty = fn(D, x_real)
        if not isinstance(penalty, torch.Tensor):
            penalty = torch.as_tensor(penalty, dtype=torch.float32)
        params = list(D.parameters())
        if penalty.requires_grad:
            grads = torch.autograd.grad(penalty.sum(), params, allow_unused=True)
        else:  # no graph back to D's weights: the penalty cannot train D
            grads = [None] * len(params)
        flat = torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                          for p, g in zip(params, grads)])
        return penalty.detach(), flat

    return run


def _r1_variant(D, x_real, create_graph=True, power=2, reduce="mean"):
    x = x_real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=create_graph)
    norms = grad.flatten(1).norm(dim=1) ** power
    return norms.mean() if reduce == "mean" else norms.sum()


@step_exercise(_adapt_r1)
def r1_penalty():
    """Checks ``fn(D, x_real)``: the R1 penalty (Mescheder et al. 2018)
    E_x[‖∇_x D(x)‖²] on real samples, as a number D can be trained on (its gradient
    with respect to D's weights must exist: ``create_graph=True``)."""
    return Spec(
        reference=losses.r1_penalty,
        cases=[Case("a small D and 6 real points", 0), Case("another D and batch", 1)],
        outputs=("the penalty", "its gradient with respect to D's weights"),
        mistakes=[
            Mistake(lambda D, x: _r1_variant(D, x, create_graph=False),
                    "the value is right but D cannot learn from it: without "
                    "create_graph=True, autograd.grad returns a constant, so the "
                    "penalty has no gradient with respect to D's weights."),
            Mistake(lambda D, x: _r1_variant(D, x, power=1),
                    "this is the norm ‖∇D‖; R1 penalises the *squared* norm "
                    "‖∇D‖² (sum of squares, no square root)."),
            Mistake(lambda D, x: _r1_variant(D, x, reduce="sum"),
                    "this is the sum over the batch; the penalty is the mean "
                    "(an expectation over real samples)."),
        ],
    )


# ------------------------------------------------------------- 10: scaling up

_CLASSIC_G = ((100, 256), (256, 512), (512, 784))
_CLASSIC_D = ((784, 512), (512, 256), (256, 1))


def _flops_parts(b, g_layers, d_layers):
    """Forward FLOPs of G and D and of their first layers."""
    f_g = [2 * b * i * o for i, o in g_layers]
    f_d = [2 * b * i * o for i, o in d_layers]
    return sum(f_g), f_g[0], sum(f_d), f_d[0]


def _flops_d_not_frozen(b, g, d):
    f_g, f_g1, f_d, f_d1 = _flops_parts(b, g, d)
    return 3 * f_g - f_g1 + 9 * f_d - 2 * f_d1


def _flops_all_input_gradients(b, g, d):
    f_g, _, f_d, _ = _flops_parts(b, g, d)
    return 3 * f_g + 8 * f_d


def _flops_six_n_rule(b, g, d):
    f_g, _, f_d, _ = _flops_parts(b, g, d)
    return 3 * f_g + 3 * f_d


@exercise
def gan_step_flops():
    """Checks ``fn(batch_size, g_layers, d_layers)``: the FLOPs of one train_gan step
    of an MLP GAN whose layers are given as ((n_in, n_out), ...), with
    F = 2·B·n_in·n_out per layer and pass (forward, weight gradient, input gradient).
    """
    from .. import scaling

    return Spec(
        reference=scaling.gan_step_flops,
        cases=[Case("the classic MNIST GAN at batch 64", 64, _CLASSIC_G, _CLASSIC_D),
               Case("one layer each, batch 1", 1, ((2, 3),), ((3, 1),)),
               Case("a 2-D mixture GAN at batch 32", 32, ((10, 20), (20, 2)),
                    ((2, 20), (20, 20), (20, 1)))],
        mistakes=[
            Mistake(lambda b, g, d: scaling.gan_step_flops(b, g, d) / 2,
                    "these are multiply-adds; a multiply-add is 2 FLOPs."),
            Mistake(_flops_d_not_frozen, "this counts D's weight gradients in G's "
                    "step too, as the DCGAN tutorial's loop computes them; train_gan "
                    "freezes D there (input gradients only), saving one F_D."),
            Mistake(_flops_all_input_gradients, "no input gradient is computed for "
                    "G's first layer (the noise is not learned), nor for D's first "
                    "layer in D's step (real data and detached fakes): subtract F_G1 "
                    "and 2·F_D1."),
            Mistake(_flops_six_n_rule, "the 6·parameters·batch rule counts one "
                    "forward and one backward pass per network; a GAN step runs D "
                    "three times (real, fake, and fake again for G)."),
        ],
    )


@exercise
def roofline_seconds():
    """Checks ``fn(flops, bytes_moved, peak_flops, bandwidth)``: the least time a
    step can take when its arithmetic and its memory traffic overlap."""
    from .. import scaling

    return Spec(
        reference=scaling.roofline_seconds,
        cases=[Case("compute-bound: 1 TFLOP and 1 GB on 100 TFLOPS, 1 TB/s",
                    1e12, 1e9, 1e14, 1e12),
               Case("memory-bound: 1 GFLOP and 1 GB on 100 TFLOPS, 2 TB/s",
                    1e9, 1e9, 1e14, 2e12),
               Case("an MLP GAN step on an H100: 1.5 GFLOP, 60 MB, 989 TFLOPS, "
                    "3.35 TB/s", 1.5e9, 6e7, 989e12, 3.35e12)],
        mistakes=[
            Mistake(lambda f, b, p, w: f / p + b / w, "this is the sum: arithmetic "
                    "and memory traffic overlap, so the step takes as long as the "
                    "slower of the two, not both one after the other."),
            Mistake(lambda f, b, p, w: f / p, "this ignores memory: a step that does "
                    "little arithmetic per byte waits for the memory (bytes / "
                    "bandwidth)."),
            Mistake(lambda f, b, p, w: min(f / p, b / w), "the step cannot finish "
                    "before its slower part: take the larger of the two times."),
        ],
    )


# ------------------------------------------ 09: patterns, clusters, attribution


def _slerp_cases() -> list[Case]:
    g = _gen(9)
    z0, z1 = torch.randn(100, generator=g), torch.randn(100, generator=g)
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    return [Case("two 100-d normal vectors at t = 0.25", z0, z1, 0.25),
            Case("two 100-d normal vectors at t = 0.8", z0, z1, 0.8),
            Case("z0 = [1, 0, 0], z1 = [0, 2, 0] (a right angle) at t = 0.5",
                 a, b, 0.5),
            Case("the same vectors at t = 0 (must give z0)", z0, z1, 0.0)]


def _slerp_parts(z0, z1):
    cos = (z0 @ z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    return omega, torch.sin(omega)


def _slerp_swapped(z0, z1, t):
    omega, sin = _slerp_parts(z0, z1)
    return (torch.sin(t * omega) * z0 + torch.sin((1 - t) * omega) * z1) / sin


def _nlerp(z0, z1, t):
    z = (1 - t) * z0 + t * z1
    return z / z.norm() * ((1 - t) * z0.norm() + t * z1.norm())


def _slerp_no_division(z0, z1, t):
    omega, _ = _slerp_parts(z0, z1)
    return torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1


@exercise
def slerp():
    """Checks ``fn(z0, z1, t)``: spherical interpolation
    sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1 with cos Ω = z0·z1 / (|z0| |z1|)."""
    from ...gan import latent

    return Spec(
        reference=latent.slerp,
        cases=_slerp_cases,
        mistakes=[
            Mistake(lambda z0, z1, t: (1 - t) * z0 + t * z1, "this is the straight "
                    "line (lerp); slerp weighs z0 and z1 by sin((1 − t)Ω)/sin Ω and "
                    "sin(tΩ)/sin Ω, where Ω is the angle between them."),
            Mistake(_slerp_swapped, "the weights are swapped: at t = 0 the result "
                    "must be z0, so z0 gets sin((1 − t)Ω) and z1 gets sin(tΩ)."),
            Mistake(_nlerp, "this is the straight line rescaled onto the sphere "
                    "(nlerp): the right length, but it does not move at a constant "
                    "angle; use the sine weights."),
            Mistake(_slerp_no_division, "divide both weights by sin Ω: without it the "
                    "path does not start at z0 or end at z1 (and shrinks)."),
        ],
    )


def _cluster_cases() -> list[Case]:
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 5, 60)
    shuffled = np.array([3, 0, 4, 1, 2])[labels]  # renamed clusters
    noisy = shuffled.copy()
    noisy[:12] = rng.integers(0, 5, 12)
    # clusters 0 and 1 both hold mostly class 0: only one of them may have it
    labels_shared = np.array([0, 0, 0, 1, 0, 0, 1, 2, 2, 2])
    clusters_shared = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    return [Case("60 points whose clusters are the classes renamed, 12 noisy",
                 noisy, labels),
            Case("10 points where two clusters are mostly class 0",
                 clusters_shared, labels_shared),
            Case("random clusters for 60 points", rng.integers(0, 5, 60), labels)]


def _cluster_majority(clusters, labels):
    correct = 0
    for c in np.unique(clusters):
        correct += np.bincount(labels[clusters == c]).max()
    return correct / len(labels)


def _cluster_table(clusters, labels):
    k = int(max(clusters.max(), labels.max())) + 1
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, (clusters, labels), 1)
    return table


def _cluster_minimised(clusters, labels):
    from scipy.optimize import linear_sum_assignment

    table = _cluster_table(clusters, labels)
    rows, cols = linear_sum_assignment(table)  # minimises: the worst matching
    return table[rows, cols].sum() / len(labels)


def _cluster_count(clusters, labels):
    from ...evaluation import probe

    return probe.cluster_accuracy(clusters, labels) * len(labels)


@exercise
def cluster_accuracy():
    """Checks ``fn(clusters, labels)``: the accuracy of the best one-to-one map from
    cluster numbers to classes, max over σ of 1/N Σ 1[σ(cluster_i) = label_i]."""
    from ...evaluation import probe

    return Spec(
        reference=lambda clusters, labels: probe.cluster_accuracy(clusters, labels),
        cases=_cluster_cases,
        mistakes=[
            Mistake(lambda c, y: np.mean(c == y), "you compared cluster numbers with "
                    "class numbers directly; k-means numbers its clusters in any "
                    "order, so first match clusters to classes (Hungarian matching)."),
            Mistake(_cluster_majority, "each cluster took its most common class, so "
                    "two clusters can claim the same class; the map must be one-to-"
                    "one: linear_sum_assignment on the contingency table."),
            Mistake(_cluster_minimised, "linear_sum_assignment minimises the total: "
                    "you found the worst matching; pass maximize=True (or negate the "
                    "table)."),
            Mistake(_cluster_count, "that is the number of correctly matched points; "
                    "divide by N for the accuracy."),
        ],
    )


class _Score:
    """A small fixed network giving one score per image: s(x) = w2·tanh(W1 x)."""

    def __init__(self, seed: int):
        g = _gen(seed)
        self.w1 = torch.randn(6, 16, generator=g) / 4
        self.w2 = torch.randn(6, generator=g)

    def __call__(self, x):
        return torch.tanh(x.flatten(1) @ self.w1.T) @ self.w2  # (B, 1, 4, 4) -> (B,)

    def __repr__(self) -> str:
        return "score"


def _attribution_cases() -> list[Case]:
    g = _gen(19)
    return [Case("4 random 4x4 images in [-1, 1] and a small tanh network",
                 _Score(0), torch.rand(4, 1, 4, 4, generator=g) * 2 - 1),
            Case("one 4x4 image with 3 pixels of ink on a -1 background",
                 _Score(1), torch.full((1, 1, 4, 4), -1.0).index_put_(
                     (torch.tensor([0, 0, 0]), torch.tensor([0, 0, 0]),
                      torch.tensor([1, 2, 2]), torch.tensor([1, 1, 2])),
                     torch.tensor(1.0)))]


def _grad_of(score, x, reduce="sum"):
    x = x.clone().requires_grad_(True)
    s = score(x)
    (grad,) = torch.autograd.grad(s.sum() if reduce == "sum" else s.mean(), x)
    return grad


@exercise
def gradient_x_input():
    """Checks ``fn(score, x)``: the attribution (x − b) ⊙ ∂s/∂x with the background
    b = −1, for a batch of images x and a function ``score`` giving one score per
    image."""
    from ...evaluation import attribution

    return Spec(
        reference=lambda score, x: attribution.gradient_x_input(score, x,
                                                                baseline=-1.0),
        cases=_attribution_cases,
        mistakes=[
            Mistake(lambda s, x: _grad_of(s, x), "this is the gradient alone; "
                    "multiply it by (x − b) = x + 1, the ink each pixel holds."),
            Mistake(lambda s, x: x * _grad_of(s, x), "this is x ⊙ gradient, the "
                    "baseline 0; our images are in [−1, 1] with background −1, so "
                    "multiply by (x + 1): a background pixel gets no attribution."),
            Mistake(lambda s, x: (x + 1) * _grad_of(s, x, "mean"), "you "
                    "differentiated the mean of the scores, which divides every "
                    "image's gradient by the batch size; differentiate their sum."),
        ],
    )


# ------------------------------------ 02/03: compression is prediction, MDL


def _code_length_cases() -> list[Case]:
    g = _gen(2)
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
    from ...compression import coder

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
    g = _gen(3)
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
    from ...compression import textmodel

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


def _block_cases() -> list[Case]:
    return [Case("n = 4,096 bytes, first block 1,024 (ends on a boundary)", 4096, 1024),
            Case("n = 300 bytes, first block 1,024 (all in the first block)", 300,
                 1024),
            Case("n = 10 bytes, first block 1 byte", 10, 1),
            Case("n = 5,000 bytes, first block 1,024", 5000, 1024)]


def _blocks_uncut(n, first):
    out, start, end = [], 0, first
    while start < n:
        out.append((start, end))
        start, end = end, 2 * end
    return out


def _blocks_size_doubles_from_start(n, first):
    out, start, size = [], 0, first
    while start < n:
        out.append((start, min(start + size, n)))
        start, size = start + size, 2 * size
    return out


@exercise
def doubling_blocks():
    """Checks ``fn(n, first)``: the prequential schedule as a list of (start, end)
    pairs, [0, f), [f, 2f), [2f, 4f), [4f, 8f), ..., the last block cut at n: each
    block is as long as everything before it."""
    from ...compression import textnet

    return Spec(
        reference=textnet.block_bounds,
        cases=_block_cases,
        mistakes=[
            Mistake(_blocks_uncut, "the last block runs past the end of the data: "
                    "cut it at n with min(end, n)."),
            Mistake(_blocks_size_doubles_from_start, "the sizes f, 2f, 4f, ... give "
                    "ends f, 3f, 7f; the schedule doubles the *end*: [f, 2f), "
                    "[2f, 4f), so each block is as long as all the data before it."),
        ],
    )


def _two_part_cases() -> list[Case]:
    return [Case("1,000 parameters at 8 bits, data 5,000 nats", 1000, 8.0, 5000.0),
            Case("17,344 parameters at 6.5 bits, data 123,456.7 nats", 17344, 6.5,
                 123456.7),
            Case("no parameters (a fixed code), data 693.1 nats", 0, 8.0, 693.1)]


@exercise
def two_part_bits():
    """Checks ``fn(num_params, bits_per_param, data_nats)``: the length of a two-part
    code in bits, the model's weights plus the data's log-loss converted to bits,

        L = num_params · bits_per_param + data_nats / ln 2."""
    from ...compression import textnet

    return Spec(
        reference=textnet.two_part_bits,
        cases=_two_part_cases,
        mistakes=[
            Mistake(lambda n, b, d: n * b + d, "the data's log-loss is in nats; "
                    "divide by ln 2 to get bits before adding."),
            Mistake(lambda n, b, d: d / math.log(2), "the model's bits are missing: "
                    "a two-part code must send the weights too."),
            Mistake(lambda n, b, d: n * b + d * math.log(2), "nats to bits divides "
                    "by ln 2 (1 bit = ln 2 nats), it does not multiply."),
            Mistake(lambda n, b, d: n * b / 8 + d / math.log(2), "num_params · "
                    "bits_per_param is already in bits; dividing by 8 gives bytes."),
        ],
    )


# ------------------------------------------------- 07: evaluating generators


def _spd(d: int, g: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def _fd_cases() -> list[Case]:
    g = _gen(7)
    f64 = torch.float64
    return [Case("1-D: N(1, 2²) against N(−2, 3²) (answer: 3² + (2 − 3)² = 10)",
                 torch.tensor([1.0], dtype=f64), torch.tensor([[4.0]], dtype=f64),
                 torch.tensor([-2.0], dtype=f64), torch.tensor([[9.0]], dtype=f64)),
            Case("3-D, equal means, full covariances", torch.zeros(3, dtype=f64),
                 _spd(3, g), torch.zeros(3, dtype=f64), _spd(3, g)),
            Case("5-D, different means and covariances",
                 torch.randn(5, generator=g, dtype=f64), _spd(5, g),
                 torch.randn(5, generator=g, dtype=f64), _spd(5, g))]


def _trace_sqrt(cov1, cov2):
    return torch.linalg.eigvals(cov1 @ cov2).real.clamp(min=0).sqrt().sum()


@exercise
def frechet_distance():
    """Checks ``fn(mu1, cov1, mu2, cov2)``: the Fréchet distance between the Gaussians
    N(μ1, Σ1) and N(μ2, Σ2),

        d² = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½).
    """
    from ...evaluation import metrics

    def no_two(m1, c1, m2, c2):
        return (m1 - m2).square().sum() + (c1 + c2).trace() - _trace_sqrt(c1, c2)

    def norm_not_squared(m1, c1, m2, c2):
        return ((m1 - m2).norm() + (c1 + c2).trace() - 2 * _trace_sqrt(c1, c2))

    def sqrt_of_trace(m1, c1, m2, c2):
        return ((m1 - m2).square().sum() + (c1 + c2).trace()
                - 2 * (c1 @ c2).trace().sqrt())

    return Spec(
        reference=metrics.frechet_distance_gaussians,
        cases=_fd_cases,
        mistakes=[
            Mistake(no_two, "the cross term is −2·Tr((Σ1Σ2)^½): the factor 2 is "
                    "missing (with Σ1 = Σ2 the distance must then be 0)."),
            Mistake(norm_not_squared, "the mean term is the squared distance "
                    "‖μ1 − μ2‖², not the distance ‖μ1 − μ2‖."),
            Mistake(sqrt_of_trace, "Tr((Σ1Σ2)^½) is the trace of a matrix square "
                    "root: the sum of the square roots of the eigenvalues of Σ1Σ2, "
                    "not the square root of Tr(Σ1Σ2)."),
        ],
        rtol=1e-6, atol=1e-8,
    )


def _coverage_cases() -> list[Case]:
    g = _gen(8)
    real = torch.randn(40, 2, generator=g)
    near_one = real[:1] + 0.05 * torch.randn(30, 2, generator=g)
    return [Case("40 real and 30 fake points in 2-D from the same Gaussian, k=3",
                 real, torch.randn(30, 2, generator=g), 3),
            Case("30 real and 30 fake points in 5-D, the fakes shifted by 1, k=5",
                 torch.randn(30, 5, generator=g),
                 torch.randn(30, 5, generator=g) + 1, 5),
            Case("a collapsed generator: 30 fakes around one real point, k=2",
                 real, near_one, 2)]


def _coverage_with(real, fake, k, radius_k, ball="real", per="real"):
    d_rr, d_ff = torch.cdist(real, real), torch.cdist(fake, fake)
    d_rf = torch.cdist(real, fake)  # (N, M)
    if ball == "real":
        inside = d_rf < d_rr.kthvalue(radius_k, dim=1).values[:, None]
    else:  # real points inside the fakes' balls
        inside = d_rf < d_ff.kthvalue(radius_k, dim=1).values[None, :]
    return inside.any(1 if per == "real" else 0).double().mean()


@exercise
def coverage():
    """Checks ``fn(real, fake, k)``: coverage (Naeem et al. 2020), the fraction of
    real points whose k-nearest-neighbour ball holds at least one fake,

        coverage = 1/N Σ_i 1[∃j: ‖y_j − x_i‖ < r_i],

    r_i the distance from x_i to its k-th nearest *other* real point.
    """
    from ...evaluation import metrics

    return Spec(
        reference=lambda real, fake, k: metrics.prdc(real, fake, k)["coverage"],
        cases=_coverage_cases,
        mistakes=[
            Mistake(lambda r, f, k: _coverage_with(r, f, k, k), "the radius counts "
                    "the point itself as its nearest neighbour (distance 0): take the "
                    "(k + 1)-th smallest distance, e.g. kthvalue(k + 1)."),
            Mistake(lambda r, f, k: _coverage_with(r, f, k, k + 1, per="fake"),
                    "this is precision, the share of *fakes* inside some real ball; "
                    "coverage asks, for each *real* point, whether its ball holds a "
                    "fake."),
            Mistake(lambda r, f, k: _coverage_with(r, f, k, k + 1, ball="fake"),
                    "this is recall, real points inside the *fakes'* balls; coverage "
                    "uses the real points' own balls, which outlying fakes cannot "
                    "inflate."),
        ],
    )


# --------------------------------------------- 08: compression with a generator


def _quantiser_cases() -> list[Case]:
    g = _gen(8)
    return [Case("z = 8 values of N(0, 1), step 0.5", torch.randn(8, generator=g), 0.5),
            Case("z = 3 latents of 4 dimensions, step 0.2",
                 torch.randn(3, 4, generator=g), 0.2),
            Case("z = [-2.9, -0.6, 0.3, 1.2, 4.4], step 2",
                 torch.tensor([-2.9, -0.6, 0.3, 1.2, 4.4]), 2.0)]


@exercise
def uniform_quantiser():
    """Checks ``fn(z, step)``: the reconstruction of the uniform quantiser,
    ẑ = Δ · round(z / Δ), the multiple of the step nearest to z."""
    from ...compression import latentcode

    return Spec(
        reference=latentcode.uniform_quantiser,
        cases=_quantiser_cases,
        mistakes=[
            Mistake(lambda z, s: s * torch.floor(z / s), "torch.floor always rounds "
                    "down, which moves every value down by half a step on average; "
                    "round to the nearest multiple with torch.round."),
            Mistake(lambda z, s: torch.round(z / s), "these are the integer symbols "
                    "round(z / Δ) that the coder sends; the decoder's value is the "
                    "symbol times the step."),
            Mistake(lambda z, s: s * torch.round(z), "you rounded z itself to whole "
                    "numbers; divide by the step first, then round, then multiply."),
            Mistake(lambda z, s: torch.round(z * s) / s, "multiplication and division "
                    "are swapped: divide z by the step before rounding, multiply "
                    "after."),
        ],
    )


def _normal_cdf(t):
    return torch.special.ndtr(t)


def _bin_cases() -> list[Case]:
    k = torch.arange(-3, 4, dtype=torch.float64)
    return [Case("symbols k = −3..3 with step 0.5", k, 0.5),
            Case("symbols k = −3..3 with step 2 (coarse bins)", k, 2.0),
            Case("symbols k = [0, 10, −25] with step 0.1",
                 torch.tensor([0.0, 10.0, -25.0], dtype=torch.float64), 0.1)]


def _bits_from_density(k, step):
    log_density = -0.5 * (k * step) ** 2 - 0.5 * math.log(2 * math.pi)
    return -log_density / math.log(2)


@exercise
def bin_code_length():
    """Checks ``fn(k, step)``: the ideal code length in bits of each symbol k when
    (z − μ)/σ ~ N(0, 1) is quantised with step Δ,

        −log2 P(k),   P(k) = Φ((k + ½) Δ) − Φ((k − ½) Δ),

    Φ the standard normal CDF (``torch.special.ndtr``)."""
    from ...compression import latentcode

    return Spec(
        reference=lambda k, step: -torch.log2(latentcode.symbol_probability(k, step)),
        cases=_bin_cases,
        mistakes=[
            Mistake(_bits_from_density, "this is −log2 of the density at the bin's "
                    "centre, not of a probability; the probability of bin k is the "
                    "mass between its edges, Φ((k + ½)Δ) − Φ((k − ½)Δ)."),
            Mistake(lambda k, s: _bits_from_density(k, s) - math.log2(s), "density × "
                    "width approximates the bin's mass only when the bins are "
                    "narrow; take the exact mass Φ((k + ½)Δ) − Φ((k − ½)Δ)."),
            Mistake(lambda k, s: -torch.log(_normal_cdf((k + 0.5) * s)
                                             - _normal_cdf((k - 0.5) * s)),
                    "this is in nats (natural log); code lengths in bits use log2."),
            Mistake(lambda k, s: -torch.log2(_normal_cdf(k + 0.5)
                                             - _normal_cdf(k - 0.5)), "the bin "
                    "edges are at (k ± ½) · Δ in units of σ: multiply by the step."),
        ],
    )


def _rate_cases() -> list[Case]:
    return [Case("a JPEG-like set: header 300 bytes, 4 images of 60, 62, 55, 71 data "
                 "bytes, 28x28 pixels", 300, torch.tensor([60.0, 62, 55, 71]), 784),
            Case("header 5 bytes, 3 images of 9, 10, 12 bytes, 8x8 pixels", 5,
                 torch.tensor([9.0, 10, 12]), 64)]


@exercise
def set_bits_per_pixel():
    """Checks ``fn(header_bytes, data_bytes, pixels)``: the rate in bits per pixel of
    N images stored as one set, the shared header counted once,

        bpp = 8 · (header + Σ_i data_i) / (N · pixels),

    with ``data_bytes`` a tensor of the N images' data bytes."""
    from ...compression import ratedistortion

    def per_file(h, d, p):
        return 8 * (len(d) * h + d.sum()) / (len(d) * p)

    return Spec(
        reference=ratedistortion.set_bits_per_pixel,
        cases=_rate_cases,
        mistakes=[
            Mistake(per_file, "this counts the header once per image: that is the "
                    "one-file-per-image rule; the set rule counts it once in all."),
            Mistake(lambda h, d, p: (h + d.sum()) / (len(d) * p), "this is bytes "
                    "per pixel; a byte is 8 bits."),
            Mistake(lambda h, d, p: 8 * d.sum() / (len(d) * p), "the header is "
                    "missing: the set rule counts it once, not never."),
            Mistake(lambda h, d, p: 8 * (h + d.sum()) / len(d), "this is bits per "
                    "image; divide by the pixels of an image as well."),
        ],
    )
