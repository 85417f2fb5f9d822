"""Empirical risk, the hand-written gradient, training, held-out data, k-fold."""

import math

import pytest
import torch
import torch.nn.functional as F

import gantutor as gt
from gantutor import risk
from gantutor.errors import GantutorError


def small_problem(n=12, f=5, k=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g, dtype=dtype)
    y = torch.randint(k, (n,), generator=g)
    W = 0.3 * torch.randn(f, k, generator=g, dtype=dtype)
    b = 0.3 * torch.randn(k, generator=g, dtype=dtype)
    return W, b, x, y


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny tensors: one thread avoids the cost of waking others on a busy machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    data = gt.load_dataset("digits", split="all")
    return data.x.flatten(1), data.y


def test_risk_is_the_mean_negative_log_probability_of_the_label():
    W, b, x, y = small_problem()
    by_hand = 0.0
    for i in range(len(y)):
        scores = [float(v) for v in x[i] @ W + b]
        log_z = math.log(sum(math.exp(s) for s in scores))
        by_hand += log_z - scores[int(y[i])]
    assert float(risk.softmax_regression_risk(W, b, x, y)) == pytest.approx(
        by_hand / len(y), rel=1e-12)


def test_risk_at_zero_weights_is_log_k():
    _, _, x, y = small_problem(k=10)
    W, b = torch.zeros(5, 10, dtype=x.dtype), torch.zeros(10, dtype=x.dtype)
    assert float(risk.softmax_regression_risk(W, b, x, y)) == pytest.approx(
        math.log(10), abs=1e-12)


def test_risk_matches_losses_empirical_risk():
    W, b, x, y = small_problem()
    model = gt.risk.classifier(5, 4).double()
    with torch.no_grad():
        model[1].weight.copy_(W.T)
        model[1].bias.copy_(b)
    with torch.no_grad():
        expected = gt.losses.empirical_risk(
            model, lambda out, t: F.cross_entropy(out, t, reduction="none"), x, y)
    assert float(risk.softmax_regression_risk(W, b, x, y)) == pytest.approx(
        float(expected), rel=1e-12)
    assert risk.risk(model, x, y) == pytest.approx(float(expected), rel=1e-12)


def test_hand_gradient_equals_autograd_and_finite_differences():
    W, b, x, y = small_problem()
    hand = risk.softmax_regression_gradient(W, b, x, y)
    auto = risk.autograd_gradient(risk.softmax_regression_risk, W, b, x, y)
    assert risk.max_abs_difference(hand, auto) < 1e-12
    # one entry of each by central differences, independent of autograd
    eps = 1e-6
    for i, j in [(0, 0), (3, 2)]:
        Wp, Wm = W.clone(), W.clone()
        Wp[i, j] += eps
        Wm[i, j] -= eps
        fd = (risk.softmax_regression_risk(Wp, b, x, y)
              - risk.softmax_regression_risk(Wm, b, x, y)) / (2 * eps)
        assert float(hand[0][i, j]) == pytest.approx(float(fd), abs=1e-8)
    bp, bm = b.clone(), b.clone()
    bp[1] += eps
    bm[1] -= eps
    fd = (risk.softmax_regression_risk(W, bp, x, y)
          - risk.softmax_regression_risk(W, bm, x, y)) / (2 * eps)
    assert float(hand[1][1]) == pytest.approx(float(fd), abs=1e-8)


def test_curvature_at_zero_is_the_top_eigenvalue_of_the_hessian():
    _, _, x, y = small_problem(n=20, f=3, k=3)

    def flat_risk(theta):
        W, b = theta[:9].view(3, 3), theta[9:]
        return risk.softmax_regression_risk(W, b, x, y)

    H = torch.autograd.functional.hessian(flat_risk, torch.zeros(12, dtype=x.dtype))
    top = float(torch.linalg.eigvalsh(H)[-1])
    assert risk.curvature_at_zero(x, num_classes=3) == pytest.approx(top, rel=1e-9)


def test_gradient_descent_lowers_the_risk_and_logs_it(digits):
    x, y = digits
    lam = risk.curvature_at_zero(x)
    W, b, curve = risk.gradient_descent(x, y, lr=1.0 / lam, steps=30, log_every=10,
                                        val=(x[:100], y[:100]))
    assert curve.step == [0, 10, 20, 30]
    assert curve.train[0] == pytest.approx(math.log(10), abs=1e-6)
    assert all(a > b for a, b in zip(curve.train, curve.train[1:]))
    assert len(curve.val) == 4
    assert float(risk.softmax_regression_risk(W, b, x, y)) == pytest.approx(
        curve.train[-1], rel=1e-6)
    # far beyond 2/λ the first step overshoots: the risk goes up
    _, _, wild = risk.gradient_descent(x, y, lr=60.0 / lam, steps=3)
    assert max(wild.train[1:]) > wild.train[0]


def test_train_classifier_with_sgd_and_adam(digits):
    x, y = digits
    train, val = (x[:1000], y[:1000]), (x[1000:], y[1000:])
    for opt, lr in (("sgd", 0.1), ("adam", 1e-3)):
        model = risk.classifier(64, 10, hidden=(32,), seed=0)
        curve = risk.train_classifier(model, *train, steps=60, lr=lr, optimizer=opt,
                                      batch_size=64, val=val, log_every=20)
        assert curve.step == [0, 20, 40, 60]
        assert curve.train[-1] < curve.train[0] - 0.3
        assert curve.val[-1] < curve.val[0]
        assert curve.train[-1] == pytest.approx(risk.risk(model, *train), rel=1e-6)
    assert 0.5 < risk.fraction_correct(model, *val) <= 1.0


def test_train_classifier_is_reproducible_and_full_batch_by_default(digits):
    x, y = digits
    curves = []
    for _ in range(2):
        model = risk.classifier(64, 10, seed=3)
        curves.append(risk.train_classifier(model, x[:300], y[:300], steps=5, lr=0.05,
                                            log_every=1))
    assert curves[0].train == curves[1].train
    with pytest.raises(GantutorError, match="unknown optimizer 'rmsprop'"):
        risk.train_classifier(model, x, y, steps=1, lr=0.1, optimizer="rmsprop")


def test_split_is_a_seeded_partition():
    x = torch.arange(100.0).view(50, 2)
    y = torch.arange(50)
    parts = risk.split(x, y, (0.6, 0.2, 0.2), seed=1)
    assert [len(p[1]) for p in parts] == [30, 10, 10]
    labels = torch.cat([p[1] for p in parts])
    assert sorted(labels.tolist()) == list(range(50))
    assert torch.equal(parts[0][0][:, 0], 2.0 * parts[0][1])  # rows stay paired
    assert torch.equal(risk.split(x, y, (0.6, 0.2, 0.2), seed=1)[2][1], parts[2][1])
    assert not torch.equal(risk.split(x, y, (0.6, 0.2, 0.2), seed=2)[2][1], parts[2][1])
    with pytest.raises(GantutorError, match="sum to 1"):
        risk.split(x, y, (0.5, 0.2))


def test_kfold_holds_out_each_fold_once(digits, monkeypatch):
    x, y = digits
    x, y = x[:200], y[:200]
    seen = []
    real_risk = risk.risk

    def spy(model, xs, ys, **kw):
        seen.append(len(ys))
        return real_risk(model, xs, ys, **kw)

    monkeypatch.setattr(risk, "risk", spy)
    risks = risk.kfold_risks(lambda: risk.classifier(64, 10, seed=0), x, y, k=5,
                             steps=20, lr=0.1)
    monkeypatch.undo()
    assert len(risks) == 5 and all(0 < r < math.log(10) + 0.5 for r in risks)
    # each fold of 40 held out once (training-set risks are logged with 160 rows)
    assert sorted(n for n in seen if n == 40) == [40] * 5
    with pytest.raises(GantutorError, match="2 <= k"):
        risk.kfold_risks(lambda: risk.classifier(64, 10), x, y, k=1, steps=1, lr=0.1)


def test_small_training_sets_overfit(digits):
    x, y = digits
    train, val = (x[:1200], y[:1200]), (x[1200:], y[1200:])
    out = risk.train_size_sweep(lambda: risk.classifier(64, 10, hidden=(64,), seed=0),
                                train, val, sizes=[30, 1200], steps=200, lr=3e-3,
                                optimizer="adam")
    small_train, small_val = out[30]
    big_train, big_val = out[1200]
    assert small_train < 0.05 < small_val  # memorised, and poor on new data
    assert small_val - small_train > big_val - big_train
    with pytest.raises(GantutorError, match="outside 1..1200"):
        risk.train_size_sweep(lambda: risk.classifier(64, 10), train, val, [0],
                              steps=1, lr=0.1)


def test_load_or_digits_falls_back_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTUTOR_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(gt.data, "_download", lambda *a, **k: None)  # offline
    data = gt.data.load_or_digits("mnist", digits_split="all")
    assert data.name == "digits" and len(data) == 1797
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "using scikit-learn's bundled 8x8 digits" in out


def test_load_or_digits_uses_mnist_when_present(mnist_dir, monkeypatch, capsys):
    monkeypatch.setenv("GANTUTOR_DATA", str(mnist_dir))
    data = gt.data.load_or_digits("mnist")
    assert data.name == "mnist" and len(data) == 10_000
    assert capsys.readouterr().out == ""


def test_risk_plots_draw_every_curve():
    import matplotlib

    matplotlib.use("Agg")
    curve = risk.RiskCurve()
    for step, (t, v) in enumerate([(2.3, 2.3), (1.0, 1.2), (0.5, 0.9)]):
        curve.log(step, t, v)
    fig = gt.risk.plot_risk_curves({"run": curve, "other": risk.RiskCurve([0], [2.0])})
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["run: training", "run: held-out", "other: training"]
    fig = gt.risk.plot_size_sweep({25: (0.0, 1.8), 100: (0.1, 0.7), 1000: (0.3, 0.4)})
    lines = fig.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[0.0, 0.1, 0.3],
                                                          [1.8, 0.7, 0.4]]
