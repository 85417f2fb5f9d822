"""gantutor.gan.steps: each update moves only its own network; D is frozen for the
G step and unfrozen after it, even when the step fails; penalties add to the D loss."""

import pytest
import torch

import gantutor as gt
from gantutor.gan import steps
from gantutor.gan.losses import d_loss_minimax, g_loss_nonsaturating


@pytest.fixture
def nets():
    torch.manual_seed(0)
    G, D = gt.build_gan("mlp", (2,), z_dim=4, hidden=(16, 16))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    return G, D, opt_g, opt_d


def params(net):
    return [p.detach().clone() for p in net.parameters()]


def moved(before, net):
    return all(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def unmoved(before, net):
    return all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_d_step_moves_d_only_and_g_step_moves_g_only(nets):
    G, D, opt_g, opt_d = nets
    x_real, z = torch.randn(8, 2), torch.randn(8, 4)
    g0, d0 = params(G), params(D)
    x_fake = G(z)
    loss_d, d_real, d_fake = steps.d_update(D, opt_d, d_loss_minimax, x_real,
                                          x_fake.detach())
    assert moved(d0, D) and unmoved(g0, G)
    assert d_real.shape == d_fake.shape == (8,)
    d_grads = [p.grad.clone() for p in D.parameters()]
    d1 = params(D)
    steps.g_update(D, opt_g, g_loss_nonsaturating, x_fake, frozen=D)
    assert moved(g0, G) and unmoved(d1, D)
    # frozen: the G step computed no gradient for D's weights, and D is unfrozen again
    assert all(torch.equal(a, p.grad) for a, p in zip(d_grads, D.parameters()))
    assert all(p.requires_grad for p in D.parameters())


def test_g_step_unfreezes_d_when_the_step_fails(nets):
    G, D, opt_g, _ = nets

    def broken_loss(d_fake):
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError, match="broken"):
        steps.g_update(D, opt_g, broken_loss, G(torch.randn(8, 4)), frozen=D)
    assert all(p.requires_grad for p in D.parameters())


def test_penalties_are_added_to_the_d_loss_in_order(nets):
    G, D, _, opt_d = nets
    x_real, x_fake = torch.randn(8, 2), G(torch.randn(8, 4)).detach()
    seen = []

    def penalty(value):
        def term(x_r, x_f, y):
            seen.append((value, x_r is x_real, x_f is x_fake, y))
            return torch.tensor(value)
        return term

    plain = d_loss_minimax(D(x_real), D(x_fake)).detach()
    loss_d, _, _ = steps.d_update(D, opt_d, d_loss_minimax, x_real, x_fake,
                                penalties=[penalty(1.0), penalty(2.0)])
    assert seen == [(1.0, True, True, None), (2.0, True, True, None)]
    assert float(loss_d.detach()) == pytest.approx(float(plain) + 3.0)
