"""The offline feature extractor: training, held-out accuracy, the checksummed cache."""

import shutil

import pytest
import torch

from gantutor import classifier, metrics
from gantutor.errors import GantutorError


@pytest.fixture(scope="session")
def trained_cache(tmp_path_factory):
    """A cache folder holding one digits classifier trained on a short budget."""
    folder = tmp_path_factory.mktemp("classifier-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classifier, "MAX_EPOCHS", 3)
        classifier.get_classifier("digits", "cpu", cache=folder, verbose=False)
    return folder


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """An empty cache folder and a short training budget (the real budget is used by
    tests/test_metrics_calibration.py)."""
    monkeypatch.setenv("GANTUTOR_CACHE", str(tmp_path))
    monkeypatch.setattr(classifier, "MAX_EPOCHS", 3)
    monkeypatch.setattr(classifier, "_LOADED", {})
    return tmp_path


@pytest.fixture
def cached(quick, trained_cache):
    """Like ``quick``, with the trained classifier's files already in the cache."""
    shutil.copytree(trained_cache / "classifiers", quick / "classifiers")
    return quick


def _files(folder):
    return sorted((folder / "classifiers").glob("digits-*"))


def test_trains_once_then_loads_from_cache(quick, capsys):
    first = metrics.get_classifier("digits", "cpu")
    assert "trained and saved" in capsys.readouterr().out
    pt, sums = _files(quick)
    assert pt.suffix == ".pt" and sums.suffix == ".sha256"
    classifier._LOADED.clear()
    second = metrics.get_classifier("digits", "cpu")
    out = capsys.readouterr().out
    assert "loaded from" in out and f"{first.test_accuracy:.1%}" in out
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    assert torch.equal(first.features(x), second.features(x))
    assert first.info["n_test"] == 359 and first.info["n_train"] == 1438


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "delete checksum"])
def test_corrupted_cache_is_retrained(cached, capsys, damage):
    model = metrics.get_classifier("digits", "cpu")
    assert "loaded from" in capsys.readouterr().out
    pt, sums = _files(cached)
    if damage == "flip a byte":
        raw = bytearray(pt.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        pt.write_bytes(bytes(raw))
    elif damage == "truncate":
        pt.write_bytes(pt.read_bytes()[:100])
    else:
        sums.unlink()
    classifier._LOADED.clear()
    capsys.readouterr()
    again = metrics.get_classifier("digits", "cpu")
    assert "trained and saved" in capsys.readouterr().out
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    assert torch.equal(model.probs(x), again.probs(x))  # seeded: the same network
    classifier._LOADED.clear()
    metrics.get_classifier("digits", "cpu")
    assert "loaded from" in capsys.readouterr().out  # the repaired cache is used


def test_global_random_state_is_untouched(quick):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    metrics.get_classifier("digits", "cpu", verbose=False)  # trains
    assert torch.equal(torch.rand(3), expected)


def test_features_probs_predict_shapes_and_accuracy(cached):
    model = metrics.get_classifier("digits", "cpu", verbose=False)
    x = torch.rand(7, 1, 8, 8) * 2 - 1
    assert model.features(x, batch_size=3).shape == (7, model.feature_dim)
    p = model.probs(x)
    assert p.shape == (7, 10) and torch.allclose(p.sum(1), torch.ones(7))
    assert model.predict(x).shape == (7,)
    assert model.test_accuracy > 0.8  # even after 3 epochs (20 in real use)


def test_wrong_image_size_and_unknown_dataset_are_explained(cached):
    model = metrics.get_classifier("digits", "cpu", verbose=False)
    with pytest.raises(GantutorError, match=r"\(1, 8, 8\)"):
        model.features(torch.zeros(2, 1, 28, 28))
    with pytest.raises(GantutorError, match="no classifier for 'ring'"):
        metrics.get_classifier("ring")


def test_classifier_architecture_for_each_image_size():
    for shape in [(1, 8, 8), (1, 28, 28), (3, 32, 32)]:
        net = classifier.Classifier(shape, 10)
        assert net(torch.zeros(2, *shape)).shape == (2, 10)


def test_mnist_classifier_uses_a_held_out_part(mnist_dir, monkeypatch):
    monkeypatch.setenv("GANTUTOR_DATA", str(mnist_dir))
    x_tr, y_tr, x_te, y_te, described = classifier.classifier_data("mnist")
    assert x_tr.shape[1:] == (1, 28, 28)
    if "seeded 80/20" in described:  # only the test split is present
        assert (len(x_tr), len(x_te)) == (8000, 2000)
    else:  # the training split trains, the test split tests
        assert (len(x_tr), len(x_te)) == (60_000, 10_000)
    assert set(y_te.tolist()) == set(range(10))


def test_class_report_counts_and_per_class_scores():
    # true 0 0 0 1 1 2; predicted 0 0 1 1 2 2: one 0 called 1, one 1 called 2
    rep = classifier.ClassReport(torch.tensor([0, 0, 0, 1, 1, 2]),
                                 torch.tensor([0, 0, 1, 1, 2, 2]), num_classes=4)
    assert rep.matrix.tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0],
                                   [0, 0, 0, 0]]
    # precision: diagonal / column sum; recall: diagonal / row sum; class 3 absent
    assert rep.precision.tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0])
    assert rep.recall.tolist() == pytest.approx([2 / 3, 0.5, 1.0, 0.0])
    assert rep.f1[0] == pytest.approx(2 * (2 / 3) / (1 + 2 / 3))
    assert rep.support.tolist() == [3, 2, 1, 0] and rep.accuracy == pytest.approx(4 / 6)
    assert rep.worst_confusion() in {(0, 1, 1), (1, 2, 1)}
    lines = rep.table().splitlines()
    assert len(lines) == 6 and "accuracy 0.667" in lines[-1]


def test_class_report_of_the_classifier_on_its_held_out_images(cached):
    clf = classifier.get_classifier("digits", "cpu", verbose=False)
    x, y = classifier.held_out_images("digits")
    rep = classifier.class_report(clf, x, y)
    assert rep.n == len(y) and rep.matrix.sum() == len(y)
    assert rep.accuracy == pytest.approx(classifier.accuracy(clf, x, y))
    assert rep.matrix.sum(axis=1).tolist() == torch.bincount(y, minlength=10).tolist()


def test_class_report_refuses_mismatched_lengths():
    with pytest.raises(GantutorError, match="same length"):
        classifier.ClassReport(torch.zeros(3), torch.zeros(4), num_classes=2)
