"""The exercise self-checks: each accepts correct answers, written in any style, and
rejects typical wrong answers with the feedback that names the mistake."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gantutor as gt
from gantutor import check
from gantutor.course.checks import CHECKS, Case, Mistake, Spec, exercise

ROOT = Path(__file__).resolve().parents[1]
COURSE_CHECKS = ("empirical_risk", "gradient", "bits_per_label",
                 "optimal_discriminator", "d_loss", "g_loss_nonsaturating")


def test_course_checks_are_registered_and_reachable_as_gt_check():
    for name in COURSE_CHECKS:
        assert CHECKS[name] is getattr(gt.check, name)


def test_every_check_a_notebook_calls_is_registered():
    used = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            used |= {(path.name, n) for n in re.findall(r"gt\.check\.(\w+)", source)}
    assert used, "no notebook calls gt.check"
    missing = sorted(f"{nb}: gt.check.{name}" for nb, name in used
                     if name not in CHECKS)
    assert not missing, f"calls to checks that do not exist: {missing}"


def test_a_check_imports_its_own_notebook_module_only():
    code = ("import sys, gantutor as gt; gt.check.empirical_risk; "
            "print(sorted(m for m in sys.modules if '.checks.nb' in m))")
    # this checkout's gantutor, whatever is installed
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": path}).stdout
    assert out.strip() == "['gantutor.course.checks.nb01']"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_accepts_its_reference(name):
    result = CHECKS[name](CHECKS[name].spec().reference)
    assert result.passed, result.message
    assert bool(result) and result.message.startswith(f"✓ {name}: correct")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_names_each_of_its_known_mistakes(name):
    mistakes = CHECKS[name].spec().mistakes
    assert len(mistakes) >= 2, f"{name} should know at least two typical mistakes"
    for mistake in mistakes:
        result = CHECKS[name](mistake.fn)
        assert not result.passed
        assert mistake.message in result.message, result.message


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_says_when_the_function_is_still_the_stub(name):
    def stub(*args):
        raise NotImplementedError

    result = CHECKS[name](stub)
    assert not result.passed
    assert "not written yet" in result.message


# --- correct answers written the way a learner might, not as the reference is


def risk_by_loop(W, b, x, y):
    total = 0.0
    for i in range(x.shape[0]):
        logits = x[i] @ W + b
        total += torch.logsumexp(logits, 0) - logits[y[i]]
    return total / x.shape[0]


def gradient_by_hand(W, b, x, y):
    P = torch.softmax(x @ W + b, dim=1)
    P[torch.arange(len(y)), y] -= 1.0
    return x.T @ P / len(y), P.mean(dim=0)


def d_loss_by_bce(d_real, d_fake):
    real = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
    fake = F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    return real + fake


def bits_by_log2(logits, y):
    log_p = torch.log_softmax(logits.double(), dim=1) / math.log(2)
    return -log_p[torch.arange(len(y)), y].mean().item()  # a Python float is fine


def test_correct_answers_in_other_styles_pass():
    assert check.empirical_risk(risk_by_loop).passed
    assert check.gradient(gradient_by_hand).passed
    assert check.bits_per_label(bits_by_log2).passed
    assert check.optimal_discriminator(lambda p, q: 1 / (1 + q / p)).passed
    assert check.d_loss(d_loss_by_bce).passed
    assert check.g_loss_nonsaturating(lambda f: -F.logsigmoid(f).mean()).passed


# --- typical wrong answers, written independently of the checks' own list


def test_empirical_risk_rejects_a_sum_and_a_naive_log_with_specific_messages():
    def summed(W, b, x, y):
        return sum(-torch.log_softmax(x @ W + b, 1)[i, y[i]] for i in range(len(y)))

    r = check.empirical_risk(summed)
    assert not r and "the sum of the losses" in r.message and "divide by N" in r.message

    def naive(W, b, x, y):
        p = torch.exp(x @ W + b) / torch.exp(x @ W + b).sum(1, keepdim=True)
        return -torch.log(p[torch.arange(len(y)), y]).mean()

    r = check.empirical_risk(naive)
    assert not r
    assert "confident logits" in r.message and "nan or inf" in r.message
    assert "log_softmax" in r.message
    assert "wrong on 1 of 4 test inputs." in r.message


def test_gradient_rejects_transposed_and_unaveraged_gradients():
    def transposed(W, b, x, y):
        dW, db = gradient_by_hand(W, b, x, y)
        return dW.T, db

    r = check.gradient(transposed)
    assert not r and "dW has shape" in r.message and "(transposed?)." in r.message

    def no_mean(W, b, x, y):
        dW, db = gradient_by_hand(W, b, x, y)
        return dW * len(y), db * len(y)

    r = check.gradient(no_mean)
    assert not r and "N times too large" in r.message

    r = check.gradient(lambda W, b, x, y: gradient_by_hand(W, b, x, y)[0])
    assert not r and "returned 1 value(s); it should return 2 (dW, db)" in r.message


def test_optimal_discriminator_rejects_fake_probability_and_ratio():
    r = check.optimal_discriminator(lambda p, q: 1 - p / (p + q))
    assert not r and "probability that x is fake" in r.message
    r = check.optimal_discriminator(lambda p, q: p / q)
    assert not r and "density ratio" in r.message


def test_d_loss_rejects_swapped_labels_and_the_logsigmoid_pitfall():
    def swapped(d_real, d_fake):
        return (F.binary_cross_entropy_with_logits(d_real, torch.zeros_like(d_real))
                + F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake)))

    r = check.d_loss(swapped)
    assert not r and "real and fake are swapped" in r.message

    def pitfall(d_real, d_fake):  # the StudioGAN bug: LogSigmoid(1 - x)
        return -(F.logsigmoid(d_real).mean() + F.logsigmoid(1 - d_fake).mean())

    r = check.d_loss(pitfall)
    assert not r and "is not logsigmoid(1 − l)" in r.message

    def value(d_real, d_fake):
        return F.logsigmoid(d_real).mean() + F.logsigmoid(-d_fake).mean()

    r = check.d_loss(value)
    assert not r and "flip the sign" in r.message


def test_g_loss_rejects_the_saturating_loss_and_a_naive_log():
    r = check.g_loss_nonsaturating(lambda f: torch.log(1 - torch.sigmoid(f)).mean())
    assert not r
    # log(1 - sigmoid(200)) is -inf: the extreme case fails, and on the other cases
    # the saturating loss is recognised by name
    assert "saturating loss" in r.message

    r = check.g_loss_nonsaturating(lambda f: -torch.log(torch.sigmoid(f)).mean())
    assert not r and "log(0) = −inf" in r.message


# --- the framework itself


def test_feedback_for_errors_none_in_place_and_non_functions():
    r = check.bits_per_label(lambda logits, y: 1 / 0)
    assert not r and "raised ZeroDivisionError: division by zero" in r.message

    def no_return(logits, y):
        F.cross_entropy(logits, y) / math.log(2)

    r = check.bits_per_label(no_return)
    assert not r and "forget `return`" in r.message

    def in_place(logits, y):
        logits -= logits.logsumexp(1, keepdim=True)
        return gt.losses.bits_per_label(logits, y)

    r = check.bits_per_label(in_place)
    assert not r and "changed its input in place" in r.message

    r = check.bits_per_label(3.32)
    assert not r and "pass your function itself" in r.message

    r = check.bits_per_label(lambda logits, y: "3.32 bits")
    assert not r and "not numbers" in r.message


def test_generic_hints_name_a_constant_factor_or_a_flipped_sign():
    r = check.bits_per_label(lambda logits, y: F.cross_entropy(logits, y) / 2)
    assert not r and "times the expected one" in r.message
    r = check.optimal_discriminator(lambda p, q: -p / (p + q))
    assert not r and "the sign is flipped" in r.message


def test_result_shows_itself_as_text_and_html():
    good = check.d_loss(gt.losses.d_loss_minimax)
    bad = check.d_loss(lambda r, f: torch.tensor(0.0))
    assert repr(good) == str(good) == good.message
    assert "✓" in good._repr_html_() and "#1a7f37" in good._repr_html_()
    html = bad._repr_html_()
    assert "✗" in html and "<li>" in html and "#b42318" in html
    assert bad.message.count("\n  - ") >= 2  # a specific line and the tally


def test_adding_a_check_takes_a_few_lines_and_registers_it():
    try:
        @exercise
        def double():
            """Checks ``fn(x)`` = 2x."""
            return Spec(reference=lambda x: 2 * x,
                        cases=[Case("x = [1, 2, 3]", torch.tensor([1.0, 2.0, 3.0]))],
                        mistakes=[Mistake(lambda x: x + 2, "add 2 is not times 2")])

        assert CHECKS["double"] is double
        assert double(lambda x: x * 2).passed
        r = double(lambda x: x + 2)
        assert not r and "for x = [1, 2, 3]: add 2 is not times 2" in r.message
        assert "Checks ``fn(x)`` = 2x." in double.__doc__
    finally:
        CHECKS.pop("double", None)


def test_check_results_do_not_depend_on_earlier_calls():
    # cases are drawn from fixed seeds, fresh for every call
    first = check.empirical_risk(risk_by_loop).message
    torch.manual_seed(123)
    assert check.empirical_risk(risk_by_loop).message == first


def _d_step_by_hand(sign):
    """A learner's plain gradient step on V with backward(): sign +1 ascends."""
    def step(D, x_real, x_fake, lr):
        V = F.logsigmoid(D(x_real)).mean() - F.softplus(D(x_fake)).mean()
        V.backward()
        with torch.no_grad():
            for p in D.parameters():
                p += sign * lr * p.grad
    return step


def test_d_gradient_step_names_the_common_sign_mistake():
    assert gt.check.d_gradient_step(_d_step_by_hand(+1.0)).passed

    def bce_descent(D, x_real, x_fake, lr):  # descent on −V: the same step
        loss = (F.binary_cross_entropy_with_logits(D(x_real), torch.ones(8))
                + F.binary_cross_entropy_with_logits(D(x_fake), torch.zeros(8)))
        grads = torch.autograd.grad(loss, list(D.parameters()))
        with torch.no_grad():
            for p, g in zip(D.parameters(), grads):
                p -= lr * g

    assert gt.check.d_gradient_step(bce_descent).passed
    wrong = gt.check.d_gradient_step(_d_step_by_hand(-1.0))
    assert not wrong.passed
    assert "common sign mistake" in wrong.problems[0]
    assert "θ + lr·∇V" in wrong.problems[0]
