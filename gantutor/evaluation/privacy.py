"""Differential privacy with Opacus, and the membership attack that it defends against.

DP-SGD (Abadi et al. 2016) changes one thing in training: each example's gradient is
clipped to norm at most C, and Gaussian noise of standard deviation σ·C is added to
their sum before the step. The training run is then (ε, δ)-differentially private:
for any two training sets that differ in one example, every outcome is at most e^ε
times more likely under one than under the other, except with probability δ. Opacus
computes the per-example gradients, picks σ for the requested ε, and its accountant
reports the ε actually spent; nothing here computes ε by hand.

The attack is the loss-threshold membership inference of Yeom et al. (2018): a model
has lower loss on the examples it trained on, so score(x, y) = -loss(x, y), and the
ROC AUC of that score separates members from held-out examples (0.5: no leak). It is
the classifier's counterpart of :func:`.metrics.membership_auc` for generators.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GantutorError


@dataclass
class PrivateRun:
    """A classifier trained with (or without) DP-SGD, and what it cost."""

    model: nn.Module
    target_epsilon: float  # what was asked for (inf: no privacy)
    epsilon: float  # what Opacus's accountant reports as spent (inf without DP)
    delta: float
    noise_multiplier: float  # σ (0 without DP)
    steps: int
    seconds: float


def mlp_classifier(n_inputs: int, num_classes: int, hidden: int = 64) -> nn.Module:
    """x (B, C, H, W) -> logits (B, K): one hidden layer of ``hidden`` ReLU units.

    Fully connected layers keep DP-SGD cheap: Opacus gets each example's gradient of
    a linear layer from one product of its inputs and output gradients.
    """
    return nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


@torch.no_grad()
def classifier_accuracy(model, x, y, batch_size: int = 1000) -> float:
    """Fraction of examples whose arg-max logit is the label."""
    model.eval()
    dev = next(model.parameters()).device
    hits = sum(int((model(xb.to(dev)).argmax(1).cpu() == yb.cpu()).sum())
               for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return hits / len(x)


def _batches(x, y, batch_size: int, seed: int):
    from torch.utils.data import DataLoader, TensorDataset

    gen = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=batch_size,
                      shuffle=True, generator=gen)


def _make_private(model, opt, loader, epsilon, delta, epochs, max_grad_norm, seed):
    from opacus import PrivacyEngine

    with warnings.catch_warnings():
        # Opacus warns that its random numbers are not cryptographically secure
        # unless secure_mode=True; that matters against a real attacker, not here
        warnings.filterwarnings("ignore", message=".*Secure RNG turned off.*")
        _ignore_order_warning()
        engine = PrivacyEngine(accountant="rdp")
        gen = torch.Generator().manual_seed(seed)
        model, opt, loader = engine.make_private_with_epsilon(
            module=model, optimizer=opt, data_loader=loader, target_epsilon=epsilon,
            target_delta=delta, epochs=epochs, max_grad_norm=max_grad_norm,
            noise_generator=gen)
    return engine, model, opt, loader


def _ignore_order_warning() -> None:
    # the RDP accountant warns when the best order is at the edge of the orders it
    # tries; the ε it returns is still a valid (if slightly loose) upper bound
    warnings.filterwarnings("ignore", message=".*Optimal order is the.*")


def _epsilon_spent(engine, delta: float) -> float:
    with warnings.catch_warnings():
        _ignore_order_warning()
        return float(engine.get_epsilon(delta))


def train_private_classifier(x, y, epsilon: float, delta: float, epochs: int,
                             batch_size: int = 128, lr: float = 0.1,
                             max_grad_norm: float = 1.0, seed: int = 0,
                             hidden: int = 64) -> PrivateRun:
    """Train :func:`mlp_classifier` on (x, y) with SGD (momentum 0.9) for ``epochs``
    epochs, the same settings with and without privacy.

    ``epsilon=math.inf``: ordinary SGD (shuffled batches, no clipping, no noise).
    Otherwise DP-SGD through Opacus: Poisson-sampled batches of expected size
    ``batch_size``, per-example gradients clipped to ``max_grad_norm``, and the noise
    multiplier Opacus chooses so that the whole run spends at most (``epsilon``,
    ``delta``); ``PrivateRun.epsilon`` is the accountant's (RDP) figure.
    """
    if not (epsilon > 0 and 0 < delta < 1):
        raise GantutorError(f"DP-SGD needs ε > 0 and 0 < δ < 1, got ε={epsilon}, "
                            f"δ={delta}")
    if epochs < 1 or len(x) < batch_size:
        raise GantutorError(f"need at least one epoch and at least batch_size="
                            f"{batch_size} examples, got {epochs} and {len(x)}")
    device = x.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = mlp_classifier(x[0].numel(), int(y.max()) + 1, hidden).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        loader = _batches(x, y, batch_size, seed)
        engine, sigma = None, 0.0
        if math.isfinite(epsilon):
            engine, model, opt, loader = _make_private(
                model, opt, loader, epsilon, delta, epochs, max_grad_norm, seed)
            sigma = float(opt.noise_multiplier)
        t0, steps = time.perf_counter(), 0
        model.train()
        for _ in range(epochs):
            for xb, yb in loader:
                if len(xb) == 0:  # Poisson sampling can draw an empty batch
                    continue
                loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
                opt.zero_grad(set_to_none=True)
                with warnings.catch_warnings():
                    # Opacus's hooks fire on layer outputs, as they should: the
                    # images themselves need no gradient, which torch points out
                    warnings.filterwarnings("ignore",
                                            message=".*Full backward hook is firing.*")
                    loss.backward()
                opt.step()
                steps += 1
        seconds = time.perf_counter() - t0
    spent = _epsilon_spent(engine, delta) if engine else math.inf
    plain = model._module if engine else model  # Opacus wraps the module
    return PrivateRun(plain.eval(), epsilon, spent, delta, sigma, steps, seconds)


@torch.no_grad()
def example_losses(model, x, y, batch_size: int = 1000) -> torch.Tensor:
    """Cross-entropy of each example, shape (N,), in eval mode."""
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([F.cross_entropy(model(xb.to(dev)), yb.to(dev), reduction="none")
                      for xb, yb in zip(x.split(batch_size), y.split(batch_size))]
                     ).cpu()


def auc_from_losses(loss_members, loss_heldout) -> float:
    """AUC = P(-loss(member) > -loss(held-out)), ties counting ½: the chance that a
    random member has the lower loss of a random (member, held-out) pair."""
    from sklearn.metrics import roc_auc_score

    s_in = -torch.as_tensor(loss_members).detach().double().flatten().cpu()
    s_out = -torch.as_tensor(loss_heldout).detach().double().flatten().cpu()
    labels = [1] * len(s_in) + [0] * len(s_out)
    return float(roc_auc_score(labels, torch.cat([s_in, s_out]).numpy()))


def loss_membership_auc(model, members, heldout) -> float:
    """Loss-threshold membership inference (Yeom et al. 2018): the AUC of the score
    -loss(x, y) for ``members`` (x, y) (training examples) against ``heldout`` (x, y).
    0.5: the model's losses reveal nothing about who was in the training set."""
    return auc_from_losses(example_losses(model, *members),
                           example_losses(model, *heldout))


def privacy_utility(x, y, heldout, test, epsilons, epochs: int, seed: int = 0,
                    **kwargs) -> list[dict]:
    """One row per ε in ``epsilons``: train on (x, y) with δ = 1/N, then measure the
    accountant's ε, the membership AUC against ``heldout`` (x, y) and the accuracy
    on ``test`` (x, y). Extra keyword arguments go to
    :func:`train_private_classifier`."""
    delta = 1 / len(x)
    rows = []
    for eps in epsilons:
        run = train_private_classifier(x, y, eps, delta, epochs, seed=seed, **kwargs)
        rows.append({"target_epsilon": eps, "epsilon": run.epsilon, "delta": delta,
                     "noise_multiplier": run.noise_multiplier,
                     "mia_auc": loss_membership_auc(run.model, (x, y), heldout),
                     "train_accuracy": classifier_accuracy(run.model, x, y),
                     "test_accuracy": classifier_accuracy(run.model, *test),
                     "seconds": run.seconds, "steps": run.steps})
    return rows


def format_privacy_table(rows: list[dict]) -> str:
    """The privacy-utility rows as a fixed-width table."""
    head = (f"{'requested ε':>11}  {'spent ε':>7}  {'σ':>5}  {'MIA AUC':>7}  "
            f"{'train acc':>9}  {'test acc':>8}  {'seconds':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['target_epsilon']:>11}  {r['epsilon']:>7.2f}  "
                     f"{r['noise_multiplier']:>5.2f}  {r['mia_auc']:>7.3f}  "
                     f"{r['train_accuracy']:>9.1%}  {r['test_accuracy']:>8.1%}  "
                     f"{r['seconds']:>7.1f}")
    return "\n".join(lines)
