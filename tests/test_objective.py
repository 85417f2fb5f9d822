"""The GAN objective on 1-D Gaussians: integrals, D*, the JSD identity, a trained D,
the generator losses' gradients, and the D* explorer widget."""

import math

import matplotlib
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gantutor import objective as O
from gantutor import widgets
from gantutor.errors import GantutorError

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def kl_gaussians(p, q):
    """KL(p‖q) of two Gaussians in closed form."""
    return (math.log(q.sigma / p.sigma)
            + (p.sigma ** 2 + (p.mu - q.mu) ** 2) / (2 * q.sigma ** 2) - 0.5)


def test_log_pdf_matches_torch_normal():
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)
    g = O.Gaussian(0.7, 1.3)
    expected = torch.distributions.Normal(0.7, 1.3).log_prob(x)
    assert torch.allclose(g.log_pdf(x), expected, atol=1e-12)
    with pytest.raises(GantutorError, match="sigma > 0"):
        O.Gaussian(0.0, 0.0)


def test_simpson_is_exact_for_cubics_and_integrates_a_density_to_one():
    x = torch.linspace(-1, 2, 7, dtype=torch.float64)
    assert O.integrate(x ** 3 - x, x) == pytest.approx(2.25, abs=1e-12)  # [x⁴/4 − x²/2]
    p, q = O.Gaussian(0, 1), O.Gaussian(3, 0.2)
    grid = O.support_grid(p, q)
    assert O.integrate(q.pdf(grid), grid) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(GantutorError, match="odd"):
        O.integrate(torch.ones(4), torch.arange(4.0))


@pytest.mark.parametrize("q", [O.Gaussian(0, 1), O.Gaussian(2, 0.5), O.Gaussian(-1, 3)])
def test_kl_by_integration_matches_the_closed_form(q):
    p = O.Gaussian(0.3, 0.8)
    x = O.support_grid(p, q)
    assert O.kl_divergence(p.log_pdf(x), q.log_pdf(x), x) == pytest.approx(
        kl_gaussians(p, q), abs=1e-9)


def test_jsd_limits_and_symmetry():
    p = O.Gaussian(0, 1)
    assert O.js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert O.js_divergence(p, O.Gaussian(40, 1)) == pytest.approx(math.log(2), abs=1e-9)
    q = O.Gaussian(1, 2)
    assert O.js_divergence(p, q) == pytest.approx(O.js_divergence(q, p), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(mu=st.floats(-6, 6), sigma=st.floats(0.2, 4))
def test_value_at_the_optimum_is_twice_jsd_minus_log_4(mu, sigma):
    p, q = O.Gaussian(0, 1), O.Gaussian(mu, sigma)
    assert O.optimal_value(p, q) == pytest.approx(
        2 * O.js_divergence(p, q) - math.log(4), abs=1e-9)


def test_value_by_sampling_agrees_with_the_integral():
    p, q = O.Gaussian(0, 1), O.Gaussian(1.5, 0.6)
    g = torch.Generator().manual_seed(0)
    xr, xf = p.sample(400_000, g).double(), q.sample(400_000, g).double()
    # E_p[log D*(x)] + E_q[log(1 − D*(x))], D* from the logit log p − log q
    terms_r = -torch.nn.functional.softplus(-(p.log_pdf(xr) - q.log_pdf(xr)))
    terms_f = -torch.nn.functional.softplus(p.log_pdf(xf) - q.log_pdf(xf))
    estimate = float(terms_r.mean() + terms_f.mean())
    stderr = math.sqrt(float(terms_r.var() + terms_f.var()) / 400_000)
    assert abs(estimate - O.optimal_value(p, q)) < 4 * stderr


def test_the_optimal_discriminator_maximises_v():
    p, q = O.Gaussian(0, 1), O.Gaussian(1, 1.5)
    x = O.support_grid(p, q)
    log_p, log_q = p.log_pdf(x), q.log_pdf(x)
    best = O.value_integral(O.optimal_logit(log_p, log_q), log_p, log_q, x)
    for bump in (0.3 * torch.sin(x), 0.5 * torch.ones_like(x), -0.2 * x):
        other = O.value_integral(O.optimal_logit(log_p, log_q) + bump, log_p, log_q, x)
        assert other < best


def test_optimal_discriminator_values():
    p = torch.tensor([0.2, 0.0, 0.3, 0.0], dtype=torch.float64)
    q = torch.tensor([0.2, 0.5, 0.1, 0.0], dtype=torch.float64)
    expected = torch.tensor([0.5, 0.0, 0.75, 0.5], dtype=torch.float64)
    assert torch.allclose(O.optimal_discriminator(p, q), expected, atol=1e-15)


def test_a_trained_discriminator_approaches_dstar():
    torch.manual_seed(0)
    from gantutor.gan.models import MLPDiscriminator

    p, q = O.Gaussian(0, 1), O.Gaussian(2, 0.7)
    D = MLPDiscriminator(shape=(1,), hidden=(32, 32))
    before = O.discriminator_gap(D, p, q)
    losses = O.fit_discriminator(D, p, q, steps=300, batch_size=256, lr=3e-3)
    after = O.discriminator_gap(D, p, q)
    assert len(losses) == 300
    assert after < 0.03 < before
    # its loss approaches −V(D*, G) = log 4 − 2·JSD; its exact value stays below V(D*)
    best = O.optimal_value(p, q)
    assert sum(losses[-50:]) / 50 == pytest.approx(-best, abs=0.05)
    assert best - 0.01 < O.discriminator_value(D, p, q) <= best


def test_generator_gradients_match_their_closed_forms():
    logits = torch.linspace(-8, 3, 12)
    grads = O.generator_logit_gradients(logits)
    s = torch.sigmoid(logits)
    assert torch.allclose(grads["saturating"], -s, atol=1e-6)
    assert torch.allclose(grads["non-saturating"], -(1 - s), atol=1e-6)
    # early in training (D(G(z)) = 0.01) the saturating gradient is ~100 times smaller
    l0 = torch.logit(torch.tensor([0.01]))
    g = O.generator_logit_gradients(l0)
    ratio = float(g["saturating"] / g["non-saturating"])
    assert ratio == pytest.approx(0.01 / 0.99, rel=1e-4)


def test_dstar_explorer_redraws_when_a_slider_moves():
    box = widgets.dstar_explorer(mu=2.0, sigma=0.7)
    mu_slider, sigma_slider = box.sliders
    first = box.readout.value
    assert widgets.dstar_readout(O.Gaussian(0, 1), O.Gaussian(2.0, 0.7)) in first
    assert len(box.output.outputs) == 1
    mu_slider.value = 0.0
    sigma_slider.value = 1.0
    # q = p: JSD = 0 and V(D*, G) = −log 4
    assert "JSD = 0.0000 nats" in box.readout.value
    assert f"V(D*, G) = {-math.log(4):.4f}" in box.readout.value
    assert len(box.output.outputs) == 1  # replaced, not appended


def test_static_plots_draw_every_curve():
    p, q = O.Gaussian(0, 1), O.Gaussian(2, 0.7)
    from gantutor.gan.models import MLPDiscriminator

    fig = O.plot_dstar(p, q, d_net=MLPDiscriminator(shape=(1,), hidden=(8,)))
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert {"p (data)", "q (generator)", "D* = p/(p+q)", "trained D"} <= set(labels)
    fig = O.plot_dstar_panels(p, [q, O.Gaussian(0, 1)])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 2 and "JSD = 0.000" in titles[1]
    logits = torch.linspace(-6, 2, 9)
    fig = O.plot_logit_gradients(logits, O.generator_logit_gradients(logits),
                               fake_logits=torch.full((20,), -5.0))
    assert len(fig.axes[0].get_lines()) == 2
