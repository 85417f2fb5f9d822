"""DP-SGD through Opacus (ε from its accountant) and the loss-threshold membership
attack."""

import math

import pytest
import torch

from gantutor.errors import GantutorError
from gantutor.evaluation import privacy


def tiny_data(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 4, 4, generator=g) * 2 - 1, torch.randint(3, (n,),
                                                                        generator=g)


def test_auc_from_losses_counts_pairs_and_ties():
    assert privacy.auc_from_losses([0.1, 0.2], [0.5, 0.9]) == 1.0
    assert privacy.auc_from_losses([0.5, 0.9], [0.1, 0.2]) == 0.0
    assert privacy.auc_from_losses([0.3, 0.3], [0.3, 0.3]) == 0.5
    # 3 x 2 pairs: (0.1 < 0.5, 0.9), (0.5 = 0.5, < 0.9) twice -> (2 + 1.5 * 2) / 6
    assert math.isclose(privacy.auc_from_losses([0.1, 0.5, 0.5], [0.5, 0.9]), 5 / 6)


def test_infinite_epsilon_is_plain_sgd_that_memorises():
    x, y = tiny_data(64)  # random labels: only memorising fits them
    run = privacy.train_private_classifier(x, y, epsilon=math.inf, delta=1 / 64,
                                           epochs=150, batch_size=16, hidden=64,
                                           lr=0.05)
    assert run.noise_multiplier == 0 and math.isinf(run.epsilon)
    assert privacy.classifier_accuracy(run.model, x, y) > 0.9
    xo, yo = tiny_data(64, seed=1)
    assert privacy.loss_membership_auc(run.model, (x, y), (xo, yo)) > 0.8


def test_bad_privacy_settings_are_refused():
    x, y = tiny_data()
    with pytest.raises(GantutorError, match="ε > 0"):
        privacy.train_private_classifier(x, y, epsilon=0.0, delta=0.01, epochs=1)
    with pytest.raises(GantutorError, match="δ < 1"):
        privacy.train_private_classifier(x, y, epsilon=1.0, delta=1.5, epochs=1)
    with pytest.raises(GantutorError, match="batch_size"):
        privacy.train_private_classifier(x[:4], y[:4], epsilon=1.0, delta=0.1,
                                         epochs=1, batch_size=32)


def test_dp_run_spends_at_most_the_requested_epsilon():
    x, y = tiny_data(256)
    rows = privacy.privacy_utility(x, y, tiny_data(64, 1), tiny_data(64, 2),
                                   [math.inf, 2.0], epochs=1, batch_size=8, hidden=8)
    assert [r["target_epsilon"] for r in rows] == [math.inf, 2.0]
    assert 0 < rows[1]["epsilon"] <= 2.0 and rows[1]["noise_multiplier"] > 0
    assert rows[0]["delta"] == 1 / 256 and rows[1]["steps"] > 0
    assert all(0 <= r["mia_auc"] <= 1 and 0 <= r["test_accuracy"] <= 1 for r in rows)
    assert "spent ε" in privacy.format_privacy_table(rows)
