"""Features, linear probes, k-means with Hungarian matching, confusion matrices."""

import numpy as np
import pytest
import torch

from gantutor import probe
from gantutor.errors import GantutorError
from gantutor.gan.models import build_gan


def test_features_are_the_input_of_the_last_layer():
    torch.manual_seed(0)
    _, D = build_gan("mlp", (1, 8, 8))
    x = torch.randn(5, 1, 8, 8)
    f = probe.features(D, x, batch_size=2)  # batching must not change anything
    assert f.shape == (5, 256)
    # the last layer applied to the features gives D's output exactly
    head = probe.last_layer(D)
    assert torch.allclose(head(f).squeeze(1), D(x), atol=1e-6)
    assert D.training  # the mode is restored


def test_dcgan_features_and_conditional_needs_labels():
    torch.manual_seed(0)
    _, D = build_gan("dcgan", (1, 8, 8), width=8)
    assert probe.features(D, torch.randn(3, 1, 8, 8)).shape == (3, 2 * 8 * 4 * 4)
    _, Dc = build_gan("mlp", (1, 8, 8), num_classes=10)
    with pytest.raises(GantutorError, match="conditional"):
        probe.features(Dc, torch.randn(3, 1, 8, 8))
    assert probe.features(Dc, torch.randn(3, 1, 8, 8), torch.tensor([1, 2, 3])).shape \
        == (3, 256)
    _, Dp = build_gan("mlp", (1, 8, 8), pack=2)
    with pytest.raises(GantutorError, match="pack=1"):
        probe.features(Dp, torch.randn(4, 1, 8, 8))


def test_cluster_accuracy_is_invariant_to_renaming_clusters():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([2, 2, 1, 0, 0, 1, 1, 1])  # 2->0, 0->1, 1->2; one mistake
    assert probe.cluster_accuracy(clusters, labels) == pytest.approx(7 / 8)
    assert list(probe.match_clusters(clusters, labels)) == [1, 2, 0]
    perm = np.array([1, 2, 0])
    assert probe.cluster_accuracy(perm[clusters], labels) == pytest.approx(7 / 8)


def test_hungarian_matching_beats_greedy_majority_vote():
    # cluster 0 is mostly class 0 and cluster 1 half class 0: a majority vote would
    # give both to class 0; a one-to-one map must give cluster 1 to class 1.
    labels = np.array([0, 0, 0, 1, 0, 1])
    clusters = np.array([0, 0, 0, 0, 1, 1])
    assert list(probe.match_clusters(clusters, labels)) == [0, 1]
    assert probe.cluster_accuracy(clusters, labels) == pytest.approx(4 / 6)


def test_cluster_accuracy_against_brute_force_over_permutations():
    import itertools

    rng = np.random.default_rng(0)
    for _ in range(5):
        labels, clusters = rng.integers(0, 4, 40), rng.integers(0, 4, 40)
        best = max(np.mean(np.array(p)[clusters] == labels)
                   for p in itertools.permutations(range(4)))
        assert probe.cluster_accuracy(clusters, labels, k=4) == pytest.approx(best)


def test_confusion_matrix_rows_are_true_classes():
    m = probe.confusion([0, 1, 1, 2], [0, 2, 1, 2], k=3)
    assert m.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert np.trace(m) / m.sum() == pytest.approx(3 / 4)


def test_probe_and_kmeans_separate_separable_data_and_not_noise():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 5)) * 6
    y = np.repeat(np.arange(3), 60)
    f = centres[y] + rng.normal(0, 1, (180, 5))
    tr, te = np.arange(0, 180, 2), np.arange(1, 180, 2)
    assert probe.linear_probe(f[tr], y[tr], f[te], y[te]) > 0.95
    assert probe.cluster_accuracy(probe.kmeans_clusters(f[te], 3), y[te]) > 0.95
    noise = rng.normal(0, 1, (180, 5))  # features that carry no label information
    assert probe.linear_probe(noise[tr], y[tr], noise[te], y[te]) < 0.6


def test_compare_representations_table():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(2), 30)
    good = torch.tensor(np.eye(3)[y] * 5.0 + rng.normal(0, 1, (60, 3)))
    bad = torch.tensor(rng.normal(0, 1, (60, 3)))
    rows = probe.compare_representations(
        {"good": (good[::2], good[1::2]), "bad": (bad[::2], bad[1::2])},
        y[::2], y[1::2], k=2)
    assert [r.name for r in rows] == ["good", "bad"]
    assert rows[0].probe_accuracy == 1.0 and rows[0].cluster_accuracy == 1.0
    assert rows[1].probe_accuracy < 0.8
    text = probe.format_probe_table(rows, chance=0.5)
    assert "good" in text and "100.0%" in text and "(chance)" in text
    with_se = probe.format_probe_table(rows, n=30)
    assert "100.0% ± 0.0%" in with_se
    assert probe.standard_error(0.9, 100) == pytest.approx(0.03)
    with pytest.raises(GantutorError, match="differ in number"):
        probe.compare_representations({"x": (good, good)}, y[:5], y)


def test_probe_logits_reproduce_the_fitted_probe():
    torch.manual_seed(0)
    _, D = build_gan("mlp", (1, 8, 8))
    D.eval()
    x = torch.randn(40, 1, 8, 8)
    y = torch.arange(40) % 4
    f = probe.features(D, x)
    for net, feats in ((D, f), (None, probe.pixels(x))):
        fitted = probe.fit_probe(feats, y)
        logits = probe.probe_logits(fitted, net)(x)
        expected = fitted.decision_function(feats.numpy())
        assert np.allclose(logits.detach().numpy(), expected, atol=1e-3)
    # gradients reach the images
    xg = x[:2].clone().requires_grad_(True)
    probe.probe_logits(probe.fit_probe(f, y), D)(xg)[:, 1].sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_probe_logits_of_a_two_class_probe_rank_like_sklearn():
    rng = np.random.default_rng(0)
    f = torch.tensor(rng.normal(0, 1, (30, 4)), dtype=torch.float32)
    y = (f[:, 0] > 0).long()
    fitted = probe.fit_probe(f, y)
    logits = probe.probe_logits(fitted)(f.view(30, 1, 2, 2))
    assert logits.shape == (30, 2)
    assert (logits.argmax(1).numpy() == fitted.predict(f.numpy())).all()


def test_class_share_tells_k_means_from_a_probe():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(2), 100)
    # classes own the spread: share near 1
    clean = np.eye(2)[y] * 5.0 + rng.normal(0, 0.1, (200, 2))
    assert probe.class_share(clean, y) > 0.95
    # a wide direction that ignores the class, and a thin one that holds it
    wide = rng.choice([-1.0, 1.0], 200) * 10.0 + rng.normal(0, 0.5, 200)
    thin = (2.0 * y - 1.0) * 1.0 + rng.normal(0, 0.1, 200) + 5.0
    f = np.stack([wide, thin, np.full(200, 3.0)], axis=1)
    assert probe.class_share(f, y) < 0.2
    tr, te = slice(0, None, 2), slice(1, None, 2)
    assert probe.linear_probe(f[tr], y[tr], f[te], y[te]) > 0.95
    assert probe.cluster_accuracy(probe.kmeans_clusters(f[te], 2), y[te]) < 0.75
