"""Attribution with captum (stated baselines, superpixels) and the faithfulness of
explanations: deletion and insertion curves against a random order."""

import pytest
import torch
import torch.nn as nn

from gantutor.errors import GantutorError
from gantutor.evaluation import explain
from gantutor.evaluation.attribution import gradient_x_input


def tiny_model(seed=0, classes=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(),
                         nn.Linear(16, classes)).eval()


def images(n=4, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_superpixels_are_square_patches_numbered_row_by_row():
    mask = explain.superpixel_mask((1, 28, 28), 4)
    assert mask.shape == (1, 1, 28, 28) and mask.unique().numel() == 49
    assert (mask == 0).sum() == 16 and int(mask[0, 0, 0, 4]) == 1
    edge = explain.superpixel_mask((3, 8, 8), 3)  # 3 + 3 + 2 pixels per side
    assert edge.unique().numel() == 9 and (edge[0, 0] == edge[0, 2]).all()
    with pytest.raises(GantutorError, match="at least 1"):
        explain.superpixel_mask((1, 8, 8), 0)


def test_gradient_x_input_through_captum_uses_the_stated_baseline():
    model, x, t = tiny_model(), images(), torch.tensor([0, 1, 2, 0])
    a, secs = explain.explain(model, x, t, "gradient × input", baseline=-1.0)
    ours = gradient_x_input(model, x, target=t, baseline=-1.0)
    assert torch.allclose(a, ours, atol=1e-6) and secs >= 0
    background = torch.full_like(x, -1.0)  # no ink: no attribution
    a_bg, _ = explain.explain(model, background, t, "gradient × input")
    assert a_bg.abs().max() == 0


def test_integrated_gradients_are_complete():
    model, x, t = tiny_model(), images(2), torch.tensor([1, 2])
    a, _ = explain.explain(model, x, t, "integrated gradients", ig_steps=64)
    with torch.no_grad():
        gap = (model(x) - model(torch.full_like(x, -1.0)))[torch.arange(2), t]
    assert torch.allclose(a.flatten(1).sum(1), gap, atol=1e-3)


@pytest.mark.parametrize("method", ["LIME", "Kernel SHAP"])
def test_lime_and_shap_give_one_value_per_superpixel_reproducibly(method):
    model, x, t = tiny_model(), images(2), torch.tensor([0, 1])
    a, _ = explain.explain(model, x, t, method, patch=4, n_samples=40, seed=3)
    b, _ = explain.explain(model, x, t, method, patch=4, n_samples=40, seed=3)
    assert a.shape == x.shape and torch.equal(a, b)
    assert (a[:, :, :4, :4] == a[:, :, :1, :1]).all()  # constant inside a patch
    assert a.abs().sum() > 0


def test_a_discriminator_logit_can_be_explained():
    D = nn.Sequential(nn.Flatten(), nn.Linear(64, 1)).eval()
    a, _ = explain.explain(D, images(3), 0, "gradient × input")
    assert a.shape == (3, 1, 8, 8)


def test_bad_method_and_bad_images_are_refused():
    with pytest.raises(GantutorError, match="unknown attribution method"):
        explain.explain(tiny_model(), images(), 0, "saliency")
    with pytest.raises(GantutorError, match="batch of images"):
        explain.explain(tiny_model(), torch.zeros(8, 8), 0, "LIME")


def test_ranking_sorts_by_attribution_and_breaks_ties_at_random():
    a = torch.zeros(1, 1, 2, 2)
    a[0, 0, 1, 1] = 5.0
    a[0, 0, 0, 1] = 2.0
    order = explain.ranking(a, seed=0)
    assert order[0, :2].tolist() == [3, 1]
    assert sorted(order[0].tolist()) == [0, 1, 2, 3]
    orders = {tuple(explain.ranking(a, seed=s)[0, 2:].tolist()) for s in range(20)}
    assert orders == {(0, 2), (2, 0)}  # the tied pixels come in either order


def test_deletion_curves_start_at_the_image_and_end_at_the_blank():
    model, x, t = tiny_model(), images(), torch.tensor([0, 1, 2, 0])
    order = explain.random_ranking(4, 64, seed=1)
    fr, dl, ins = explain.deletion_curves(model, x, t, order, steps=8)
    with torch.no_grad():
        p = model(x).softmax(1)[torch.arange(4), t]
        blank = model(torch.full_like(x, -1.0)).softmax(1)[torch.arange(4), t]
    assert fr.tolist() == [i / 8 for i in range(9)]
    assert torch.allclose(dl[:, 0], p) and torch.allclose(ins[:, -1], p)
    assert torch.allclose(dl[:, -1], blank) and torch.allclose(ins[:, 0], blank)
    assert torch.allclose(explain.curve_auc(fr, torch.ones(4, 9)), torch.ones(4))
    with pytest.raises(GantutorError, match="order must be"):
        explain.deletion_curves(model, x, t, order[:, :10])


def test_the_right_order_beats_a_random_one_on_a_linear_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).eval()
    x, t = images(30), torch.zeros(30, dtype=torch.long)
    result = explain.faithfulness(model, x, t, methods=("gradient × input",),
                                  seeds=(0, 1), steps=16)
    best, rand = result.best(), result.row("random")
    assert best["method"] == "gradient × input"
    assert best["deletion"] < rand["deletion"] - 0.05
    assert best["insertion"] > rand["insertion"] + 0.05
    table = result.table()
    assert "gradient × input" in table and "random" in table and "30 images" in table
