"""Teaching helpers for notebooks 04 and 05: one GAN step spelled out, the classic
bugs, the two halves of a healthy run, and a GAN small enough to differentiate by hand.

:func:`gan_step` is one discriminator update followed by one generator update, the
very steps :func:`gantutor.train_gan` takes (:mod:`gantutor.gan.steps`; here with
``d_steps=1``, no penalties): the fake batch made for the D step is reused,
detached, in the D step and attached in the G step, and D's weights are frozen during
the G step. The tests check that it changes the weights exactly as the first step of
``train_gan`` does.

``bug=`` switches on one of the classic mistakes (:data:`BUGS`, each with its one-line
fix in :data:`FIXES`), and :func:`train_variant` trains a pair of networks with it, so
a notebook can show each symptom next to the correct run. :func:`noise_like` makes the
"noise as data" bug's data; :func:`memorisation_ratio` measures what training on one
fixed batch does. :func:`health` asks whether a run is healthy from its curves
(:func:`standoff`) and its samples (the pixel judge on :func:`samples`).
:class:`TinyGAN` writes the gradients of notebook 04's derivation out by hand.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data import Batches
from ..errors import GantutorError
from ..gan import steps
from ..gan.config import TrainConfig
from ..gan.losses import get_losses
from ..gan.train import History, adam, resolve_device

# name -> what the mistake is, in words
BUGS = {
    "d_applied_twice": "the discriminator applied to its own output: D(D(x))",
    "double_sigmoid": "D ends in a sigmoid and the loss applies another: σ(σ(logit))",
    "no_detach": "fakes not detached in the D step",
    "no_detach_retain": "fakes not detached, and retain_graph=True added to silence "
                        "the error that follows",
    "fake_labelled_real": "fakes labelled as real (target 1) in the D step",
    "noise_as_data": "random noise used as the training data",
    "to_module": "a tensor moved .to(D), to a module, where a device was meant",
    "no_grad_fakes": "fakes made under torch.no_grad() and used for the G step too",
    "unused_noise": "fresh noise drawn every step and never used: G is fed the first "
                    "step's noise again and again",
    "one_fixed_batch": "every step trains on the same one batch of real images",
}

# name -> the one-line fix
FIXES = {
    "d_applied_twice": "score the samples once: d_real = D(x_real)",
    "double_sigmoid": "let D return the logit (no final sigmoid) and keep the logits "
                      "loss",
    "no_detach": "detach the fakes in the D step: D(x_fake.detach())",
    "no_detach_retain": "detach the fakes in the D step and drop retain_graph=True",
    "fake_labelled_real": "label the fakes 0 in the D step: softplus(d_fake)",
    "noise_as_data": "train on the data: look at a batch of it before training",
    "to_module": "move tensors to the device: x.to(device), never x.to(D)",
    "no_grad_fakes": "make the G step's fakes with gradients: x_fake = G(z), no "
                     "torch.no_grad() around it",
    "unused_noise": "feed G the noise drawn for this step: x_fake = G(z)",
    "one_fixed_batch": "draw a new batch every step: x_real = next batch inside the "
                       "loop",
}


def _check_bug(bug: str | None) -> None:
    if bug is not None and bug not in BUGS:
        raise GantutorError(f"unknown bug {bug!r}: choose one of {', '.join(BUGS)}, "
                            "or None for the correct step")


def d_logits(D, x: torch.Tensor, bug: str | None = None) -> torch.Tensor:
    """D's logit for x, or what a buggy discriminator computes in its place."""
    logit = D(x)
    if bug == "d_applied_twice":
        # D(D(x)): D's input is a sample, but here it is given D's own output
        logit = D(logit)
    elif bug == "double_sigmoid":
        # D returns probabilities σ(l); a logits loss then treats them as logits
        logit = torch.sigmoid(logit)
    return logit


def d_step(G, D, opt_d, x_real: torch.Tensor, z: torch.Tensor,
           loss: str = "nonsaturating", bug: str | None = None):
    """One discriminator update; returns (stats, x_fake).

    Minimises d_loss(D(x_real), D(sg[G(z)])), where sg (stop-gradient, ``.detach()``)
    keeps the update out of G. ``x_fake`` is returned still attached to G, for the
    generator step. stats: d_loss, d_real = mean D(x), d_fake = mean D(G(z)). The
    update is train_gan's (:func:`gantutor.gan.steps.d_update`); a bug swaps one of its
    ingredients.
    """
    _check_bug(bug)
    d_loss_fn, _ = get_losses(loss)
    if bug == "fake_labelled_real":
        d_loss_fn = _fakes_labelled_real
    if bug == "to_module":
        x_real = x_real.to(D)  # TypeError: .to() takes a device, a dtype or a tensor
    if bug == "no_grad_fakes":
        with torch.no_grad():  # cheap for the D step, but G(z) now has no graph
            x_fake = G(z)
    else:
        x_fake = G(z)  # (B, z_dim) -> (B, *shape)
    x_fake_d = x_fake if bug in ("no_detach", "no_detach_retain") else x_fake.detach()
    # without detach this backward pass also runs through G and frees G's graph, so
    # the G step's backward fails ("Trying to backward through the graph a second
    # time") unless retain_graph=True keeps the graph alive
    loss_d, d_real, d_fake = steps.d_update(
        functools.partial(d_logits, D, bug=bug), opt_d, d_loss_fn, x_real, x_fake_d,
        retain_graph=bug == "no_detach_retain")
    stats = {"d_loss": loss_d.detach(), "d_real": torch.sigmoid(d_real.detach()).mean(),
             "d_fake": torch.sigmoid(d_fake.detach()).mean()}
    return stats, x_fake


def _fakes_labelled_real(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The bug's D loss: both halves get target 1, -E[log D(x)] - E[log D(G(z))]."""
    return F.softplus(-d_real).mean() + F.softplus(-d_fake).mean()


def g_step(G, D, opt_g, x_fake: torch.Tensor, loss: str = "nonsaturating",
           bug: str | None = None) -> torch.Tensor:
    """One generator update on fakes still attached to G; returns the G loss.

    Minimises g_loss(D(G(z))) (non-saturating: -E[log D(G(z))]) over G's weights only:
    D's weights are frozen (``requires_grad_(False)``) for the pass, a fixed judge
    (:func:`gantutor.gan.steps.g_update`).
    """
    _check_bug(bug)
    _, g_loss_fn = get_losses(loss)
    # no_grad_fakes is the classic loop, which does not freeze D: the loss then has a
    # graph through D's weights only, backward() runs, and G gets no gradient at all
    # (with D frozen the loss would have no graph and backward() would fail at once)
    frozen = None if bug == "no_grad_fakes" else D
    loss_g = steps.g_update(functools.partial(d_logits, D, bug=bug), opt_g, g_loss_fn,
                          x_fake, frozen=frozen)
    return loss_g.detach()


def gan_step(G, D, opt_g, opt_d, x_real: torch.Tensor, z: torch.Tensor,
             loss: str = "nonsaturating", bug: str | None = None) -> dict:
    """One D update, then one G update on the same fakes; returns the four numbers
    train_gan logs: d_loss, g_loss, d_real (mean D(x)), d_fake (mean D(G(z)))."""
    stats, x_fake = d_step(G, D, opt_d, x_real, z, loss, bug)
    stats["g_loss"] = g_step(G, D, opt_g, x_fake, loss, bug)
    return stats


def noise_like(data, seed: int = 0):
    """The fourth bug's "data": uniform noise in [-1, 1] with the shape of ``data``.

    Returns a copy of ``data`` whose ``x`` is noise (the labels are kept).
    """
    import copy

    gen = torch.Generator().manual_seed(seed)
    noisy = copy.copy(data)
    noisy.x = torch.rand(data.x.shape, generator=gen).to(data.x.device) * 2 - 1
    noisy.name = f"noise shaped like {data.name}"
    noisy.source = "torch.rand (the bug: this is not the data)"
    return noisy


def max_weight_change(net_a, net_b) -> float:
    """max |w_a - w_b| over all parameters of two networks of the same architecture."""
    diffs = [(a.detach() - b.detach()).abs().max()
             for a, b in zip(net_a.parameters(), net_b.parameters(), strict=True)]
    return float(torch.stack(diffs).max())


@dataclass
class VariantRun:
    """What :func:`train_variant` measured: the history, the time, any error."""

    bug: str | None
    history: History
    seconds: float
    steps_done: int
    error: str | None = None  # "ExceptionType: message" when the bug crashed the run
    # no_detach_retain: norm of the gradient the D loss left in G (computed, unused)
    g_grad_from_d_step: list = field(default_factory=list)
    # one_fixed_batch: the one batch of real images it saw; unused_noise: the one
    # batch of noise G was fed (None otherwise)
    seen: torch.Tensor | None = None

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / max(self.steps_done, 1)


class _Inputs:
    """Each step's real batch and noise, as a correct loop draws them, or as one of
    the input bugs reuses the first ones."""

    def __init__(self, data, cfg: TrainConfig, z_dim: int, device, bug):
        self.gen = torch.Generator(device).manual_seed(cfg.seed)
        self.batches = Batches(data.x.to(device), batch_size=cfg.batch_size,
                               generator=self.gen)
        self.shape, self.device, self.bug = (cfg.batch_size, z_dim), device, bug
        self.first_real = self.first_z = None

    def next(self):
        (x_real,) = self.batches.next()
        z = torch.randn(self.shape, device=self.device, generator=self.gen)
        if self.first_real is None:
            self.first_real, self.first_z = x_real, z
        if self.bug == "one_fixed_batch":  # the loader was read once, outside the loop
            x_real = self.first_real
        if self.bug == "unused_noise":  # z is drawn, but G is fed another name
            z = self.first_z
        return x_real, z


def train_variant(G, D, data, cfg: TrainConfig, bug: str | None = None,
                  on_step=None) -> VariantRun:
    """Train with :func:`gan_step` (optionally with a bug) for ``cfg.steps`` steps.

    Uses cfg's batch_size, lr, betas, loss, seed, device, log_every, snapshot_every,
    n_fixed. A bug that crashes the run is caught and reported in ``error``; the
    networks keep what they learned until then. ``noise_as_data`` replaces the data
    with :func:`noise_like` noise. The history has the same columns as train_gan's.
    """
    _check_bug(bug)
    device = resolve_device(cfg.device)
    if bug == "noise_as_data":
        data = noise_like(data, seed=cfg.seed)
    G.to(device).train()
    D.to(device).train()
    inputs = _Inputs(data, cfg, G.z_dim, device, bug)
    fixed_z = torch.randn(cfg.n_fixed, G.z_dim, device=device,
                          generator=torch.Generator(device).manual_seed(cfg.seed + 1))
    opt_g = adam(G.parameters(), cfg.lr, cfg.betas, device)
    opt_d = adam(D.parameters(), cfg.lr_d or cfg.lr, cfg.betas, device)
    run = VariantRun(bug, History(), 0.0, 0)
    window = []
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        x_real, z = inputs.next()
        try:
            stats, x_fake = d_step(G, D, opt_d, x_real, z, cfg.loss, bug)
            if bug == "no_detach_retain" and step % cfg.log_every == 0:
                run.g_grad_from_d_step.append(_grad_norm(G))
            stats["g_loss"] = g_step(G, D, opt_g, x_fake, cfg.loss, bug)
        except (RuntimeError, IndexError, TypeError) as err:  # the bug's symptom
            run.error = _error_line(err)
            break
        window.append(torch.stack([stats["d_loss"], stats["g_loss"], stats["d_real"],
                                   stats["d_fake"]]))
        run.steps_done = step
        if step % cfg.log_every == 0 or step == cfg.steps:
            run.history.append(step, torch.stack(window).mean(0).tolist())
            window = []
            if cfg.snapshot_every and (step % cfg.snapshot_every == 0
                                       or step == cfg.steps):
                run.history.snapshots.append((step, _fixed_samples(G, fixed_z)))
            if on_step is not None:
                on_step(step, run.history)
    run.seconds = time.perf_counter() - t0
    run.seen = {"one_fixed_batch": inputs.first_real,
                "unused_noise": inputs.first_z}.get(bug)
    return run


def _error_line(err: Exception) -> str:
    """"ExceptionType: first line of the message", without PyTorch's long tails."""
    first = (str(err).splitlines() or [""])[0]
    first = first.split(", but expected")[0].split(" (or ")[0]
    if first.endswith(")") and " (" in first and "got (" not in first:
        first = first.split(" (")[0]
    return f"{type(err).__name__}: {first}"


def _grad_norm(net) -> float:
    grads = [p.grad.detach().flatten() for p in net.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def _fixed_samples(G, fixed_z) -> torch.Tensor:
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = G(fixed_z)
    G.train(was_training)
    return x.float().cpu()


def samples(G, n: int, seed: int = 0, batch_size: int = 1000) -> torch.Tensor:
    """``n`` samples of G (in eval mode, no gradients) from seeded fresh noise."""
    device = next(G.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    z = torch.randn(n, G.z_dim, device=device, generator=gen)
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = torch.cat([G(z[i:i + batch_size]) for i in range(0, n, batch_size)])
    G.train(was_training)
    return x.float().cpu()


def nearest_distances(x: torch.Tensor, reference: torch.Tensor,
                      chunk: int = 1000) -> torch.Tensor:
    """(N,) Euclidean distance (over all pixels) from each row of ``x`` to its nearest
    row of ``reference``."""
    ref = reference.flatten(1).float().cpu()
    rows = x.flatten(1).float().cpu()
    return torch.cat([torch.cdist(rows[i:i + chunk], ref).min(dim=1).values
                      for i in range(0, len(rows), chunk)])


def memorisation_ratio(x: torch.Tensor, batch: torch.Tensor, others: torch.Tensor,
                       seed: int = 0) -> float:
    """Mean nearest-neighbour distance of samples ``x`` to ``batch``, over the same to
    a random set of as many images from ``others`` (leaving out the batch's own):
    near 1 when the batch is just some of the data; far below 1 when the samples
    are copies of the batch."""
    others = others.cpu()
    others = others[nearest_distances(others, batch) > 0]  # the batch's own images out
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(others), generator=gen)[:len(batch)]
    to_batch = nearest_distances(x, batch).mean()
    to_others = nearest_distances(x, others[pick]).mean()
    return float(to_batch / to_others)


def standoff(history, last: float = 0.2, high: float = 0.95,
             low: float = 0.05) -> tuple[float, float, bool]:
    """(D(x), D(G(z)), neither won): the means over the ``last`` fraction of the
    logged steps, and whether D(x) < high and D(G(z)) > low there (the curves half
    of a healthy run)."""
    k = max(1, round(len(history.step) * last))
    d_x = sum(history.d_real[-k:]) / k
    d_gz = sum(history.d_fake[-k:]) / k
    return d_x, d_gz, bool(d_x < high and d_gz > low)


@dataclass
class Health:
    """A run's two verdicts: the curves (a standoff) and the samples (the judge)."""

    d_real: float
    d_fake: float
    standoff: bool
    verdict: object  # gantutor.evaluation.judge.Verdict

    @property
    def healthy(self) -> bool:
        return self.standoff and self.verdict.passes()

    def summary(self) -> str:
        curves = ("a standoff" if self.standoff else "one network has won")
        samples = ("digits" if self.verdict.passes() else "not yet digits")
        return (f"curves: {curves} (D(x) {self.d_real:.2f}, D(G(z)) "
                f"{self.d_fake:.2f} over the last fifth); samples: {samples} "
                f"({self.verdict.classes_recognised} of {self.verdict.num_classes} "
                f"classes, mean top probability {self.verdict.mean_top_prob:.3f}); "
                f"healthy: {self.healthy}")


def health(history, G, judge, n: int = 1000, seed: int = 0) -> Health:
    """Both halves of "is this run healthy?": the curves' standoff, and the pixel
    judge's verdict on ``n`` fresh samples of G (the course's bar: at least 9 of
    10 classes, mean top-class probability at least 0.9)."""
    from ..evaluation.judge import judge_samples

    d_x, d_gz, ok = standoff(history)
    return Health(d_x, d_gz, ok, judge_samples(judge, samples(G, n, seed)))


class TinyGAN:
    """A GAN small enough to differentiate by hand, in float64.

    D(x) = sigmoid(l(x)) with the logit l(x) = v·tanh(W x + a) + b (one hidden layer),
    and a linear generator G(z) = A z + c. ``logit_grads`` and ``generator_grads`` are
    the per-sample gradients of the logit, written out with the chain rule (no
    autograd), so a notebook can assemble the gradients of V and of the generator's
    losses from them and compare with autograd.
    """

    def __init__(self, x_dim: int = 3, z_dim: int = 2, hidden: int = 5, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)

        def draw(*shape):
            return torch.randn(*shape, generator=gen, dtype=torch.float64)

        self.d_params = {"W": draw(hidden, x_dim), "a": draw(hidden), "v": draw(hidden),
                         "b": draw(())}
        self.g_params = {"A": draw(x_dim, z_dim), "c": draw(x_dim)}
        for t in (*self.d_params.values(), *self.g_params.values()):
            t.requires_grad_(True)
        self.z_dim = z_dim

    def G(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z_dim) -> (B, x_dim): x = A z + c."""
        return z @ self.g_params["A"].T + self.g_params["c"]

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """(B, x_dim) -> (B,): l(x) = v·tanh(W x + a) + b."""
        p = self.d_params
        return torch.tanh(x @ p["W"].T + p["a"]) @ p["v"] + p["b"]

    def logit_grads(self, x: torch.Tensor) -> dict:
        """∂l(x_i)/∂θ_d for each sample: name -> (B, *shape of that weight)."""
        p = {k: t.detach() for k, t in self.d_params.items()}
        x = x.detach()
        h = torch.tanh(x @ p["W"].T + p["a"])  # (B, H)
        back = p["v"] * (1 - h ** 2)  # ∂l/∂(W x + a), (B, H)
        return {"W": back[:, :, None] * x[:, None, :], "a": back, "v": h,
                "b": torch.ones(len(x), dtype=x.dtype)}

    def generator_grads(self, z: torch.Tensor) -> dict:
        """∂l(G(z_i))/∂θ_g for each sample: ∂l/∂x at x = G(z_i), times ∂x/∂θ_g."""
        p = {k: t.detach() for k, t in self.d_params.items()}
        x = self.G(z).detach()
        h = torch.tanh(x @ p["W"].T + p["a"])
        dl_dx = (p["v"] * (1 - h ** 2)) @ p["W"]  # (B, x_dim)
        return {"A": dl_dx[:, :, None] * z[:, None, :], "c": dl_dx}

    def autograd(self, value: torch.Tensor, of: str) -> dict:
        """∇ of the number ``value`` with respect to D's (``of="d"``) or G's
        (``of="g"``) weights, by autograd: name -> gradient."""
        params = self.d_params if of == "d" else self.g_params
        grads = torch.autograd.grad(value, list(params.values()), retain_graph=True,
                                    allow_unused=True)
        return {k: torch.zeros_like(t) if g is None else g
                for (k, t), g in zip(params.items(), grads)}


def batch_mean(weights: torch.Tensor, per_sample: torch.Tensor) -> torch.Tensor:
    """1/B Σ_i weights_i · per_sample_i: a gradient from per-sample parts."""
    shape = (-1,) + (1,) * (per_sample.dim() - 1)
    return (weights.reshape(shape) * per_sample).mean(0)


def largest_difference(a: dict, b: dict) -> float:
    """max over the names and the entries of |a[name] − b[name]|."""
    return max(float((a[k].detach() - b[k].detach()).abs().max()) for k in a)


def plot_runs(runs: dict, n_images: int = 16):
    """One column per run: its last samples over its D(x) and D(G(z)) curves.

    ``runs`` maps a title to a :class:`VariantRun`; a run that crashed shows its
    error instead. Returns the figure.
    """
    import textwrap

    import matplotlib.pyplot as plt

    from .. import plot

    n = len(runs)
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.6), squeeze=False,
                             gridspec_kw={"height_ratios": [1.2, 1]})
    for col, (title, run) in enumerate(runs.items()):
        top, bottom = axes[0, col], axes[1, col]
        top.set_title(title, fontsize=9)
        if run.history.snapshots:
            step, x = run.history.snapshots[-1]
            plot.show_images(x[:n_images], nrow=int(n_images ** 0.5), ax=top)
            top.set_title(f"{title}\n(step {step})", fontsize=9)
        else:
            top.set_axis_off()
            top.text(0.5, 0.5, textwrap.fill(run.error or "no samples", 22),
                     ha="center", va="center", fontsize=7, color="darkred",
                     transform=top.transAxes)
        h = run.history
        if h.step:
            bottom.plot(h.step, h.d_real, label="D(x)")
            bottom.plot(h.step, h.d_fake, label="D(G(z))")
            bottom.axhline(0.5, color="gray", lw=0.8, ls="--")
        else:
            bottom.text(0.5, 0.5, "crashed at step 1", ha="center", va="center",
                        fontsize=8, transform=bottom.transAxes)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("step", fontsize=8)
        bottom.tick_params(labelsize=7)
        if col == 0:
            bottom.legend(fontsize=7)
    fig.tight_layout()
    return fig
