"""`gantutor evaluate`, the held-out part it relies on, and the report it prints."""

import math
import re

import pytest
import torch

from gantutor import classifier, data, report
from gantutor.checkpoint import load_checkpoint
from gantutor.cli import main
from gantutor.errors import GantutorError

TINY = ["--steps", "10", "--batch-size", "16", "--log-every", "5",
        "--checkpoint-every", "5", "--no-progress", "--device", "cpu"]
LAST_LINE = re.compile(r"^fd=\S+ precision=\S+ recall=\S+ density=\S+ coverage=\S+ "
                       r"classifier_score=\S+ mia_auc=\S+$")


@pytest.fixture(scope="module", autouse=True)
def quick_classifier(tmp_path_factory):
    """A private cache and a short classifier budget for this module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANTUTOR_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setattr(classifier, "MAX_EPOCHS", 3)
        mp.setattr(classifier, "_LOADED", {})
        yield


@pytest.fixture(scope="module")
def held_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("held")
    assert main(["train", "--dataset", "digits", "--holdout", "0.5", "--out", str(out)]
                + TINY) == 0
    return out / "checkpoint.pt"


def _values(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split())}


def test_holdout_split_is_seeded_disjoint_and_recorded():
    ids = torch.arange(100.0).view(100, 1, 1, 1)  # image i holds the number i
    numbered = data.ImageData("ids", ids, torch.zeros(100, dtype=torch.long), "train",
                              "numbers")
    kept, held = data.holdout_split(numbered, 0.25, seed=3)
    again, _ = data.holdout_split(numbered, 0.25, seed=3)
    other, _ = data.holdout_split(numbered, 0.25, seed=4)
    kept_ids, held_ids = set(kept.x.flatten().tolist()), set(held.x.flatten().tolist())
    assert (len(kept_ids), len(held_ids)) == (75, 25)
    assert kept_ids | held_ids == set(range(100)) and not kept_ids & held_ids
    assert torch.equal(kept.x, again.x) and not torch.equal(kept.x, other.x)
    assert kept.part == {"fraction": 0.25, "seed": 3, "held_out": False}
    assert held.part["held_out"] and kept.to("cpu").part == kept.part


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1e-6])
def test_holdout_split_rejects_empty_parts(fraction):
    with pytest.raises(GantutorError, match="fraction|empty"):
        data.holdout_split(data.load_dataset("digits", "test"), fraction)


def test_checkpoint_records_the_training_data(held_run):
    state = load_checkpoint(held_run)
    assert state["dataset"] == "digits" and state["data_split"] == "train"
    assert state["data_part"] == {"fraction": 0.5, "seed": 0, "held_out": False}


def test_evaluate_checkpoint_with_held_out_half(held_run, capsys):
    assert main(["evaluate", "--checkpoint", str(held_run), "--n", "300",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert LAST_LINE.match(out[-1]), out[-1]
    text = "\n".join(out)
    assert "300 generated vs 300 real, k=5" in text
    assert "300 training vs 300 held-out queries" in text
    assert "held out from training: the other 719" in text
    v = _values(out[-1])
    assert v["fd"] > 0 and 0 <= v["mia_auc"] <= 1 and 0 <= v["coverage"] <= 1


def test_evaluate_without_holdout_uses_the_other_split(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--out", str(out)] + TINY) == 0
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--n", "5000",
                 "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "held out: the test split (359)" in text
    assert "--n 5,000 reduced to 1,438" in text
    assert "359 training vs 359 held-out queries" in text


def test_evaluate_real_against_real(capsys):
    assert main(["evaluate", "--real", "--dataset", "digits", "--n", "400",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    v = _values(out[-1])
    assert abs(v["mia_auc"] - 0.5) < 0.1 and v["coverage"] > 0.8
    assert "400 generated vs 400 real" in "\n".join(out)


def test_evaluate_mixture_reports_modes(tmp_path, capsys):
    assert main(["evaluate", "--real", "--dataset", "ring", "--n", "2000"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("modes_covered=8 num_modes=8 high_quality=0.98")


@pytest.mark.parametrize("argv, message", [
    (["--checkpoint", "nope.pt"], "does not exist"),
    (["--real"], "--dataset"),
    (["--real", "--dataset", "digits", "--n", "3"], "too small"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(["evaluate", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_dataset_must_match_the_checkpoint(held_run, capsys):
    assert main(["evaluate", "--checkpoint", str(held_run), "--dataset", "mnist"]) == 2
    assert "trained on digits, not mnist" in capsys.readouterr().err


# ------------------------------------------------------------ the notebook's helpers


class _FakeJudge:
    """Features = the mean and std of each image: enough to test the plumbing."""

    info = {"dataset": "toy", "n_test": 0}
    test_accuracy = float("nan")

    def features(self, x):
        x = torch.as_tensor(x).flatten(1)
        return torch.stack([x.mean(1), x.std(1)], 1)

    def probs(self, x):
        return torch.softmax(self.features(x), 1)


def test_evaluate_images_and_comparison_table_state_sizes():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(60, 1, 8, 8, generator=g) * 2 - 1
    fake = torch.rand(40, 1, 8, 8, generator=g) * 2 - 1
    judge = _FakeJudge()
    with_mia = report.evaluate_images(fake, real, judge, members=real[:20],
                                          heldout=real[20:40], training=real)
    without = report.evaluate_images(real[30:], real[:30], judge)
    assert with_mia.n_members == 20 and with_mia.n_training == 60
    assert math.isnan(without.mia_auc) and without.line().endswith("mia_auc=nan")
    table = report.comparison({"A": with_mia, "B": without})
    assert "40 / 60" in table and "20 / 20" in table and "30 / 30" in table
    assert "20 held-out, 60 training" in with_mia.table()


def test_fd_curves_check_their_arguments():
    x = torch.zeros(10, 1, 8, 8)
    with pytest.raises(GantutorError, match="unknown damage"):
        report.fd_under_damage(_FakeJudge(), x, x, "rotate", [1])
    with pytest.raises(GantutorError, match="sizes up to 50"):
        report.fd_by_sample_size(_FakeJudge(), x, x, [5, 50])


def test_metric_plots_draw_one_line_or_histogram_per_entry():
    import matplotlib

    matplotlib.use("Agg")
    from gantutor import plot

    fig = plot.metric_curves({"a": ([0, 1, 2], [1, 2, 4]), "b": ([0, 1], [3, 1])},
                             "x", "y", log_y=True)
    assert len(fig.axes[0].lines) == 2
    fig = plot.distance_histograms({"u": torch.rand(50), "v": torch.rand(30) + 1})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["u (n=50)", "v (n=30)"]
