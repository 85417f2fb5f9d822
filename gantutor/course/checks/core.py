"""The machinery of the exercise self-checks, and the registry :data:`CHECKS`.

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
(the tests run every registered check on its reference and on its mistakes). The
exercises themselves live in one module per notebook, ``nb01.py``, ``nb02.py``, ...
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch


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


# name -> the check function; each notebook's module (nb01, ...) adds its own when
# imported, and the package's CHECKS imports them all
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

    return _register(check, make_spec)


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

        return _register(check, make_spec)

    return decorate


def _register(check: Callable, make_spec: Callable[[], Spec]) -> Callable:
    """Record ``check`` in :data:`CHECKS` under its spec's name."""
    del check.__wrapped__  # help() shows check(fn), not the spec's signature
    check.spec = make_spec
    CHECKS[make_spec.__name__] = check
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


def seeded(seed: int) -> torch.Generator:
    """A generator for drawing a check's inputs, the same ones on every call."""
    return torch.Generator().manual_seed(seed)
