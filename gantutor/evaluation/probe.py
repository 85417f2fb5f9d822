"""What a trained network learned: features, linear probes, clusters.

A discriminator is trained only to tell real from fake, never told which digit it
sees. If its penultimate activations still separate the classes, it has extracted
the regularities of the data on its own. Three measurements make that a number:

- :func:`features`: the activations that enter a network's last layer, ``f(x)``;
- :func:`linear_probe`: logistic regression from ``f(x)`` to the label, trained on
  labelled images and scored on held-out ones (how *linearly* readable the classes
  are);
- :func:`kmeans_clusters` + :func:`cluster_accuracy`: k-means on ``f(x)`` with no
  labels at all, clusters matched one-to-one to classes (Hungarian matching).

:func:`compare_representations` runs both on several representations (trained D,
random D, raw pixels) and returns one table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ..errors import GantutorError


def last_layer(net: nn.Module) -> nn.Module:
    """The last Linear or Conv2d module of ``net``: the one that makes the output."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if not layers:
        raise GantutorError(f"{type(net).__name__} has no Linear or Conv2d layer to "
                            "take features from")
    return layers[-1]


def features(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
             batch_size: int = 1000) -> torch.Tensor:
    """Penultimate activations f(x): the input of ``net``'s last layer, flattened.

    A forward hook on :func:`last_layer` records what enters it; for the MLP
    discriminator that is the 256 units after the last LeakyReLU, for the DCGAN
    discriminator the last feature map. Returns float32 (N, F) on the CPU. ``y`` is
    passed on to conditional networks.
    """
    if getattr(net, "pack", 1) != 1:
        raise GantutorError("features are per sample: use a discriminator built with "
                            "pack=1")
    if getattr(net, "num_classes", 0) and y is None:
        raise GantutorError("this network is conditional: pass the labels y as well "
                            "(or probe an unconditional discriminator)")
    device = next(net.parameters()).device
    captured = []
    hook = last_layer(net).register_forward_hook(
        lambda module, inputs, output: captured.append(inputs[0].flatten(1)))
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                xb = x[start:start + batch_size].to(device)
                args = () if y is None else (y[start:start + batch_size].to(device),)
                net(xb, *args)
    finally:
        hook.remove()
        net.train(was_training)
    return torch.cat(captured).float().cpu()  # (N, F)


def pixels(x: torch.Tensor) -> torch.Tensor:
    """Raw pixels as features: (N, C, H, W) -> (N, C*H*W), float32 on the CPU."""
    return x.detach().flatten(1).float().cpu()


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def fit_probe(f_train, y_train, C: float = 1.0, max_iter: int = 1000):
    """A linear classifier on frozen features (a scikit-learn pipeline).

    Each feature is standardised with the training mean μ and standard deviation σ,
    then multinomial logistic regression minimises
    1/N Σ_i -log softmax(W (f_i - μ)/σ + b)[y_i] + ||W||² / (2 C N)
    (scikit-learn's ``LogisticRegression``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=C, max_iter=max_iter))
    return model.fit(_numpy(f_train), _numpy(y_train))


def linear_probe(f_train, y_train, f_test, y_test, C: float = 1.0,
                 max_iter: int = 1000) -> float:
    """Test accuracy of :func:`fit_probe`: the fraction of test features whose most
    likely class equals the label."""
    model = fit_probe(f_train, y_train, C, max_iter)
    return float(model.score(_numpy(f_test), _numpy(y_test)))


def probe_logits(probe, net: nn.Module | None = None):
    """The fitted probe as a differentiable function of the images.

    Returns ``score(x) = W (f(x) - μ)/σ + b``, (B, C, H, W) -> (B, K) logits in
    torch, where f is ``net``'s penultimate activations (:func:`features`, with
    gradients) or the raw pixels when ``net`` is None; gradients flow back to x, for
    attribution maps.
    """
    scaler, logreg = probe[0], probe[-1]
    mu = torch.as_tensor(scaler.mean_, dtype=torch.float32)
    sigma = torch.as_tensor(scaler.scale_, dtype=torch.float32)
    W = torch.as_tensor(logreg.coef_, dtype=torch.float32)  # (K, F)
    b = torch.as_tensor(logreg.intercept_, dtype=torch.float32)
    if W.shape[0] == 1:  # scikit-learn stores a two-class problem as one row
        W, b = torch.cat([-W, W]) / 2, torch.cat([-b, b]) / 2

    def score(x):
        f = x.flatten(1) if net is None else _features_with_grad(net, x)
        f = f.to(W.device)
        return ((f - mu) / sigma) @ W.T + b

    return score


def _features_with_grad(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    captured = []
    hook = last_layer(net).register_forward_hook(
        lambda module, inputs, output: captured.append(inputs[0].flatten(1)))
    try:
        net(x.to(next(net.parameters()).device))
    finally:
        hook.remove()
    return captured[0].cpu()


def _unit_rows(f) -> np.ndarray:
    f = _numpy(f).astype(np.float64)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def class_share(f, labels) -> float:
    """The share of the features' spread that lies between the class means:
    Σ_k n_k ||μ_k − μ||² / Σ_i ||f_i − μ||², on rows scaled to unit length as
    :func:`kmeans_clusters` sees them. k-means minimises the spread *within*
    clusters, so it finds the classes only when they hold much of the spread; a
    linear probe can use a small but clean direction that k-means ignores."""
    f, labels = _unit_rows(f), _numpy(labels).astype(int)
    mu = f.mean(axis=0)
    total = ((f - mu) ** 2).sum()
    between = sum((labels == c).sum() * ((f[labels == c].mean(axis=0) - mu) ** 2).sum()
                  for c in np.unique(labels))
    return float(between / total)


def kmeans_clusters(f, k: int = 10, seed: int = 0, n_init: int = 4) -> np.ndarray:
    """Cluster index (0..k-1) of each row of ``f`` by k-means, no labels used.

    k-means minimises Σ_i ||f_i - μ_c(i)||² over k centres μ; each row is scaled to
    unit length first, so that the overall size of the activations does not matter
    (the same rule for every representation). Best of ``n_init`` seeded starts.
    """
    from sklearn.cluster import KMeans

    f = _unit_rows(f)
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(f)


def match_clusters(clusters, labels, k: int | None = None) -> np.ndarray:
    """The one-to-one map from clusters to classes that agrees with most labels.

    With the contingency table N[c, y] = #{i : cluster_i = c, label_i = y}, the
    Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) finds the
    permutation σ maximising Σ_c N[c, σ(c)]. Returns ``mapping`` with
    ``mapping[c] = σ(c)``.
    """
    from scipy.optimize import linear_sum_assignment

    clusters, labels = _numpy(clusters).astype(int), _numpy(labels).astype(int)
    if clusters.shape != labels.shape:
        raise GantutorError(f"clusters {clusters.shape} and labels {labels.shape} "
                            "must have the same shape")
    k = k or int(max(clusters.max(), labels.max())) + 1
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, (clusters, labels), 1)  # N[c, y]
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def cluster_accuracy(clusters, labels, k: int | None = None) -> float:
    """max over one-to-one maps σ of 1/N Σ_i 1[σ(cluster_i) = label_i]."""
    mapping = match_clusters(clusters, labels, k)
    return float(np.mean(mapping[_numpy(clusters).astype(int)] ==
                         _numpy(labels).astype(int)))


def confusion(labels, predicted, k: int | None = None) -> np.ndarray:
    """Confusion matrix M[y, ŷ] = #{i : label_i = y, predicted_i = ŷ} (scikit-learn)."""
    from sklearn.metrics import confusion_matrix

    labels, predicted = _numpy(labels).astype(int), _numpy(predicted).astype(int)
    k = k or int(max(labels.max(), predicted.max())) + 1
    return confusion_matrix(labels, predicted, labels=np.arange(k))


@dataclass
class RepresentationScore:
    """One row of :func:`compare_representations`."""

    name: str
    dim: int  # number of features
    probe_accuracy: float  # linear probe, held-out images
    cluster_accuracy: float  # k-means on the held-out images, Hungarian-matched
    clusters: np.ndarray  # k-means cluster of each held-out image
    mapping: np.ndarray  # cluster -> class
    class_share: float = float("nan")  # :func:`class_share` of the held-out features


def compare_representations(reps: dict, y_train, y_test, k: int = 10, seed: int = 0,
                            C: float = 1.0) -> list[RepresentationScore]:
    """Probe and cluster several representations of the same images.

    ``reps`` maps a name to ``(f_train, f_test)``; the probe learns on ``f_train``
    and is scored on ``f_test``, k-means runs on ``f_test`` alone (its labels are used
    only to score the clusters).
    """
    rows = []
    for name, (f_train, f_test) in reps.items():
        if len(f_train) != len(y_train) or len(f_test) != len(y_test):
            raise GantutorError(f"{name}: features and labels differ in number")
        clusters = kmeans_clusters(f_test, k, seed)
        mapping = match_clusters(clusters, y_test, k)
        rows.append(RepresentationScore(
            name, int(f_test.shape[1]),
            linear_probe(f_train, y_train, f_test, y_test, C=C),
            cluster_accuracy(clusters, y_test, k), clusters, mapping,
            class_share(f_test, y_test)))
    return rows


def standard_error(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on n test items:
    √(p (1 - p) / n)."""
    return (accuracy * (1 - accuracy) / n) ** 0.5


def format_probe_table(rows: list[RepresentationScore], chance: float | None = None,
                 n: int | None = None) -> str:
    """The comparison as a plain-text table, accuracies in percent; with ``n`` (the
    number of test images) each accuracy gets ± one binomial standard error."""
    def cell(p):
        if n is None:
            return f"{p:>13.1%}"
        return f"{p:>8.1%} ± {standard_error(p, n):.1%}".rjust(16)

    width = 16 if n is not None else 13
    lines = [f"{'representation':<16}{'features':>9}{'linear probe':>{width + 1}}"
             f"{'k-means':>{width + 1}}{'class share':>13}"]
    lines.append("-" * len(lines[0]))
    for r in rows:
        lines.append(f"{r.name:<16}{r.dim:>9} {cell(r.probe_accuracy)} "
                     f"{cell(r.cluster_accuracy)}{r.class_share:>13.1%}")
    if chance is not None:
        lines.append(f"{'(chance)':<16}{'':>9} {chance:>{width}.1%} "
                     f"{chance:>{width}.1%}")
    return "\n".join(lines)
