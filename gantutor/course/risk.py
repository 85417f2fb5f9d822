"""Empirical risk of a classifier: written out by hand, by autograd, and minimised.

The first lesson's model is softmax regression, M_θ(x) = softmax(xW + b) with
θ = (W, b), and its loss is the log-loss ℓ(M_θ(x), y) = −log p_θ(y | x). The empirical
risk on a dataset D = {(x_i, y_i)} of N examples is

    L(θ) = 1/N Σ_i ℓ(M_θ(x_i), y_i)

and training looks for θ* = argmin_θ L(θ). Everything here measures risk in nats
(natural log); :func:`gantutor.gan.losses.bits_per_label` gives the same in bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import Batches
from ..errors import GantutorError

OPTIMIZERS = ("sgd", "adam")


# ------------------------------------------------------- softmax regression, by hand


def linear_logits(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits of the linear model: xW + b, (N, F) @ (F, K) + (K,) -> (N, K)."""
    return x @ W + b


def softmax_regression_risk(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
                            y: torch.Tensor) -> torch.Tensor:
    """L(W, b) = 1/N Σ_i −log softmax(x_i W + b)_{y_i}, in nats."""
    return F.cross_entropy(linear_logits(W, b, x), y)


def softmax_regression_gradient(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
                                y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient written out: with P = softmax(xW + b) and Y the one-hot labels,

        ∇_W L = 1/N xᵀ (P − Y)        ∇_b L = 1/N Σ_i (P_i − Y_i)
    """
    P = torch.softmax(linear_logits(W, b, x), dim=1)  # (N, K)
    Y = F.one_hot(y, P.shape[1]).to(P.dtype)  # (N,) -> (N, K)
    R = (P - Y) / x.shape[0]  # the residual of each example, already divided by N
    return x.T @ R, R.sum(dim=0)  # (F, K), (K,)


def autograd_gradient(risk: Callable, W: torch.Tensor, b: torch.Tensor,
                      x: torch.Tensor, y: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂L/∂W, ∂L/∂b) of ``L = risk(W, b, x, y)``, computed by torch.autograd."""
    W = W.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    dW, db = torch.autograd.grad(risk(W, b, x, y), (W, b))
    return dW, db


def max_abs_difference(a, b) -> float:
    """max |a − b| over all entries of two tensors or two tuples of tensors."""
    a = (a,) if isinstance(a, torch.Tensor) else tuple(a)
    b = (b,) if isinstance(b, torch.Tensor) else tuple(b)
    return max(float((u - v).abs().max()) for u, v in zip(a, b, strict=True))


def curvature_at_zero(x: torch.Tensor, num_classes: int = 10) -> float:
    """λ_max, the largest eigenvalue of the Hessian ∇²L of the softmax-regression risk
    at θ = 0, where every class has probability 1/K:

        ∇²L(0) = (I/K − 11ᵀ/K²) ⊗ x̃ᵀx̃/N,   λ_max = λ_max(x̃ᵀx̃/N) / K,   x̃ = [x, 1]

    Near θ = 0 the risk is a quadratic bowl this steep, and a gradient step with
    η > 2/λ_max overshoots along its steepest direction.
    """
    xt = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], 1)
    gram = (xt.T @ xt).double() / x.shape[0]  # (F + 1, F + 1)
    return float(torch.linalg.eigvalsh(gram.cpu())[-1]) / num_classes


@dataclass
class RiskCurve:
    """Risk (nats) measured during training: at each logged ``step``, on the training
    set and, when one was given, on a held-out set."""

    step: list = field(default_factory=list)
    train: list = field(default_factory=list)
    val: list = field(default_factory=list)

    def log(self, step: int, train: float, val: float | None = None) -> None:
        self.step.append(step)
        self.train.append(train)
        if val is not None:
            self.val.append(val)


def gradient_descent(x: torch.Tensor, y: torch.Tensor, lr: float, steps: int,
                     num_classes: int = 10, val=None, log_every: int = 1):
    """Full-batch gradient descent θ ← θ − η ∇L(θ) on softmax regression, from θ = 0,
    with the hand-written gradient (no autograd). Returns (W, b, RiskCurve).

    ``val`` is an optional (x, y) pair whose risk is logged alongside.
    """
    W = torch.zeros(x.shape[1], num_classes, device=x.device)
    b = torch.zeros(num_classes, device=x.device)
    curve = RiskCurve()
    for step in range(steps + 1):
        if step % log_every == 0 or step == steps:
            v = None if val is None else float(softmax_regression_risk(W, b, *val))
            curve.log(step, float(softmax_regression_risk(W, b, x, y)), v)
        if step == steps:
            break
        dW, db = softmax_regression_gradient(W, b, x, y)
        W, b = W - lr * dW, b - lr * db  # θ ← θ − η ∇L(θ)
    return W, b, curve


# ------------------------------------------------------------ networks and training


def classifier(num_features: int, num_classes: int = 10, hidden=(),
               seed: int | None = None) -> nn.Module:
    """x (N, F) -> logits (N, K). ``hidden=()`` is softmax regression (one Linear);
    ``hidden=(128,)`` puts a ReLU layer of 128 units in between. ``seed`` fixes the
    initial weights."""
    if seed is not None:
        torch.manual_seed(seed)
    layers, width = [nn.Flatten()], num_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


@torch.no_grad()
def risk(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
         batch_size: int = 4096) -> float:
    """L = 1/N Σ_i −log p_θ(y_i | x_i) of ``model`` on (x, y), in nats."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch_size):
        logits = model(x[i:i + batch_size])
        total += float(F.cross_entropy(logits, y[i:i + batch_size], reduction="sum"))
    model.train(was_training)
    return total / x.shape[0]


@torch.no_grad()
def fraction_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose most probable class is the label."""
    was_training = model.training
    model.eval()
    acc = float((model(x).argmax(dim=1) == y).float().mean())
    model.train(was_training)
    return acc


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0):
    """``"sgd"`` (plain θ ← θ − η g) or ``"adam"`` (Kingma & Ba 2015)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise GantutorError(f"unknown optimizer {name!r}: choose one of "
                        f"{', '.join(OPTIMIZERS)}")


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
                     lr: float, optimizer: str = "sgd", batch_size: int | None = None,
                     weight_decay: float = 0.0, val=None, log_every: int = 10,
                     seed: int = 0) -> RiskCurve:
    """Minimise the empirical risk of ``model`` on (x, y) with autograd.

    Each step takes a gradient of the mean log-loss on a shuffled mini-batch of
    ``batch_size`` examples (None: the whole set, plain gradient descent) and lets
    ``optimizer`` update θ. Every ``log_every`` steps the risk on the whole training
    set (and on ``val``, an (x, y) pair) is logged. ``weight_decay`` adds λ‖θ‖²/2.
    """
    if steps < 0 or lr <= 0:
        raise GantutorError("train_classifier needs steps >= 0 and lr > 0")
    batch_size = min(batch_size or x.shape[0], x.shape[0])
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    gen = torch.Generator(x.device).manual_seed(seed)
    batches = Batches(x, y, batch_size=batch_size, generator=gen)
    full_batch = batch_size == x.shape[0]
    curve = RiskCurve()

    def log(step):
        curve.log(step, risk(model, x, y), None if val is None else risk(model, *val))

    model.train()
    log(0)
    for step in range(1, steps + 1):
        xb, yb = (x, y) if full_batch else batches.next()
        loss = F.cross_entropy(model(xb), yb)  # L on the batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            log(step)
    return curve


# --------------------------------------------------------- held-out data, k-fold


def split(x: torch.Tensor, y: torch.Tensor, fractions=(0.6, 0.2, 0.2), seed: int = 0):
    """Shuffle (x, y) with ``seed`` and cut it into parts of the given fractions.

    Returns one (x, y) pair per fraction, e.g. train, validation and test sets.
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise GantutorError(f"split fractions must be positive and sum to 1, got "
                            f"{tuple(fractions)}")
    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    order = order.to(x.device)
    bounds = [0]
    for f in fractions[:-1]:
        bounds.append(bounds[-1] + int(round(f * n)))
    bounds.append(n)
    return [(x[order[a:b]], y[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]


def kfold_risks(make_model: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor,
                k: int = 5, seed: int = 0, **train_kwargs) -> list[float]:
    """k-fold cross-validation: cut (x, y) into k folds; for each fold, train a fresh
    ``make_model()`` on the other k − 1 folds (``train_kwargs`` go to
    :func:`train_classifier`) and measure its risk on the held-out fold.

    Returns the k held-out risks; their mean estimates the risk on unseen data.
    """
    n = x.shape[0]
    if not 2 <= k <= n:
        raise GantutorError(f"k-fold cross-validation needs 2 <= k <= {n}, got k={k}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    folds = torch.tensor_split(order.to(x.device), k)
    risks = []
    for i, held_out in enumerate(folds):
        rest = torch.cat([f for j, f in enumerate(folds) if j != i])
        model = make_model().to(x.device)
        train_classifier(model, x[rest], y[rest], seed=seed + i, log_every=10**9,
                         **train_kwargs)
        risks.append(risk(model, x[held_out], y[held_out]))
    return risks


def train_size_sweep(make_model: Callable[[], nn.Module], train, val, sizes,
                     **train_kwargs) -> dict[int, tuple[float, float]]:
    """Train a fresh ``make_model()`` on the first n training examples for each n in
    ``sizes``; returns {n: (training risk, held-out risk)} after training."""
    x, y = train
    out = {}
    for n in sizes:
        if not 0 < n <= x.shape[0]:
            raise GantutorError(f"training-set size {n} is outside 1..{x.shape[0]}")
        model = make_model().to(x.device)
        train_classifier(model, x[:n], y[:n], log_every=10**9, **train_kwargs)
        out[n] = (risk(model, x[:n], y[:n]), risk(model, *val))
    return out


def plot_risk_curves(curves: dict, ax=None, title=None, ylabel="risk (nats)",
                     log_y=False):
    """Training (solid) and held-out (dashed) risk against step, one colour per run.

    ``curves`` maps a label to a :class:`gantutor.course.risk.RiskCurve`.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    for i, (label, c) in enumerate(curves.items()):
        color = f"C{i}"
        ax.plot(c.step, c.train, color=color, label=f"{label}: training")
        if c.val:
            ax.plot(c.step, c.val, color=color, ls="--", label=f"{label}: held-out")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_size_sweep(sweep: dict, ax=None, title=None):
    """Training and held-out risk after training, against the number of training
    examples (log scale); ``sweep`` is ``{n: (training risk, held-out risk)}`` as
    returned by :func:`gantutor.course.risk.train_size_sweep`."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    sizes = sorted(sweep)
    ax.plot(sizes, [sweep[n][0] for n in sizes], "o-", label="training risk")
    ax.plot(sizes, [sweep[n][1] for n in sizes], "o--", label="held-out risk")
    ax.fill_between(sizes, [sweep[n][0] for n in sizes], [sweep[n][1] for n in sizes],
                    alpha=0.15, color="C3", label="generalisation gap")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("risk (nats)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
