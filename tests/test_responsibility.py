"""Notebook 11's experiments on tiny budgets: membership inference against generators
by training-set size and steps, and the two generators the detector sees."""

import pytest

from gantutor.course import responsibility
from gantutor.data import load_dataset
from gantutor.errors import GantutorError


def test_membership_rows_for_each_size_and_checkpoint():
    data = load_dataset("digits", "train")
    rows = responsibility.membership_by_size_and_steps(
        data, sizes=(16, 32), checkpoints=(2, 4), n_generated=50)
    assert [(r["size"], r["steps"]) for r in rows] == [(16, 2), (16, 4), (32, 2),
                                                       (32, 4)]
    assert all(0 <= r["auc"] <= 1 for r in rows)
    table = responsibility.format_membership_table(rows, 50)
    assert "MIA AUC" in table and "50 generated" in table
    with pytest.raises(GantutorError, match="need"):
        responsibility.membership_by_size_and_steps(data, sizes=(len(data),),
                                                    checkpoints=(2,))


def test_course_generators_are_the_course_runs(monkeypatch, tmp_path):
    from gantutor.course import runs

    monkeypatch.setenv("GANTUTOR_CACHE", str(tmp_path))
    monkeypatch.setattr(runs, "course_data", lambda device="cpu": runs.holdout_split(
        load_dataset("digits", "train"), 0.5, seed=0))
    monkeypatch.setattr(responsibility, "course_data", runs.course_data)
    for name, model in (("mlp", "mlp"), ("dcgan", "dcgan")):
        monkeypatch.setitem(runs.RUNS, name, runs.CourseRun(
            model, seed=0, train={"batch_size": 8, "log_every": 2}, full_steps=2,
            fast_steps=2))
    gens = responsibility.course_generators()
    assert set(gens) == {"MLP GAN", "DCGAN"}
    assert all(not G.training and not D.training for G, D in gens.values())
    assert any((tmp_path / "runs").glob("course-dcgan-*/checkpoint.pt"))
