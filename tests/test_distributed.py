"""DDP on 2 CPU processes (gloo): gradients are averaged, so 2 processes with half the
batch each follow the 1-process run; checkpoints resume on another process count."""

import pytest
import torch

import gantutor as gt
from gantutor import distributed
from gantutor.checkpoint import load_checkpoint
from gantutor.cli import main
from gantutor.errors import GantutorError

STEPS = 6


def run(steps, out=None, resume=False, ddp=False, model="mlp"):
    torch.manual_seed(0)
    data = gt.load_dataset("digits")
    G, D = gt.build_gan(model, data.shape, hidden=(32, 32), width=8)
    cfg = gt.TrainConfig(steps=steps, batch_size=16, log_every=2, checkpoint_every=2,
                         device="cpu", progress=False, ddp=ddp)
    calls = []
    hist = gt.train_gan(G, D, data, cfg, out=out, resume=resume,
                        on_step=lambda step, h: calls.append(step))
    return {"G": G.state_dict(), "D": D.state_dict(), "history": hist.as_dict(),
            "calls": calls}


def worker(out):
    """Runs on each of the 2 ranks."""
    mlp = run(STEPS, out=out / "mlp", ddp=True)
    dcgan = run(STEPS, out=out / "dcgan", ddp=True, model="dcgan")
    try:
        distributed.shard_bounds(15)
        odd_batch_refused = False
    except GantutorError:
        odd_batch_refused = True
    return {"rank": distributed.rank(), "mlp": mlp, "dcgan_D": dcgan["D"],
            "odd_batch_refused": odd_batch_refused}


def assert_close(a: dict, b: dict):
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    return out, distributed.spawn(worker, nprocs=2, args=(out,), backend="gloo")


def test_two_processes_equal_one_process_with_the_same_global_batch(two_ranks):
    _, (r0, r1) = two_ranks
    one = run(STEPS)
    for rank in (r0, r1):
        assert_close(rank["mlp"]["G"], one["G"])
        assert_close(rank["mlp"]["D"], one["D"])
        for name, values in one["history"].items():
            assert rank["mlp"]["history"][name] == pytest.approx(values, rel=1e-4)
    # the run did move away from the initial weights, so the comparison means something
    torch.manual_seed(0)
    G0, _ = gt.build_gan("mlp", (1, 8, 8), hidden=(32, 32))
    assert not torch.allclose(G0.state_dict()["net.0.weight"], one["G"]["net.0.weight"])


def test_only_rank_zero_reports_and_writes(two_ranks):
    out, (r0, r1) = two_ranks
    assert (r0["rank"], r1["rank"]) == (0, 1)
    assert r0["mlp"]["calls"] == [2, 4, 6] and r1["mlp"]["calls"] == []
    assert sorted(p.name for p in (out / "mlp").iterdir()) == ["checkpoint.pt"]
    assert r0["odd_batch_refused"] and r1["odd_batch_refused"]


def test_batch_norm_statistics_are_averaged_over_processes(two_ranks):
    _, (r0, r1) = two_ranks
    mean = "net.3.running_mean"  # the discriminator's batch norm
    assert torch.equal(r0["dcgan_D"][mean], r1["dcgan_D"][mean])
    assert r0["dcgan_D"][mean].abs().sum() > 0
    saved = load_checkpoint(two_ranks[0] / "dcgan" / "checkpoint.pt")
    assert torch.equal(saved["D"][mean], r0["dcgan_D"][mean])


def test_checkpoint_of_two_processes_resumes_on_one(two_ranks, tmp_path):
    out, _ = two_ranks
    resumed = run(2 * STEPS, out=out / "mlp", resume=True)
    straight = run(2 * STEPS)
    assert_close(resumed["G"], straight["G"])
    assert_close(resumed["D"], straight["D"])
    assert resumed["history"]["step"] == list(range(2, 2 * STEPS + 1, 2))


def test_ddp_outside_torchrun_is_explained(tmp_path, capsys):
    code = main(["train", "--ddp", "--dataset", "digits", "--out", str(tmp_path)])
    assert code == 2
    assert "torchrun --nproc_per_node=N" in capsys.readouterr().err


def test_torchrun_command_line(tmp_path, capsys):
    args = ["train", "--ddp", "--dataset", "digits", "--steps", "4", "--batch-size",
            "16", "--log-every", "2", "--checkpoint-every", "2", "--no-progress"]
    distributed.torchrun(2, *args, "--out", str(tmp_path / "two"))
    printed = capsys.readouterr().out
    assert printed.startswith("$ torchrun --standalone --nproc_per_node=2 -m gantutor "
                              "train --ddp")
    assert printed.count("trained to step 4") == 1  # rank 0 only
    assert "2 processes (cpu)" in printed
    state = load_checkpoint(tmp_path / "two" / "checkpoint.pt")
    assert state["step"] == 4 and state["config"]["ddp"] is True
    ckpt = tmp_path / "two" / "checkpoint.pt"
    assert distributed.weight_difference(ckpt, ckpt) == 0.0


def test_a_failed_torchrun_is_reported_with_the_processes_reason(monkeypatch):
    import subprocess

    stderr = ("W1130 launcher warning\n[rank1]: Traceback (most recent call last):\n"
              "gantutor train: error: the batch size 15 must be divisible by 2\n"
              "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n")

    def failed(cmd, **kwargs):
        assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone",
                            "--nproc_per_node=2"]
        return subprocess.CompletedProcess(cmd, 1, "", stderr)

    monkeypatch.setattr(subprocess, "run", failed)
    with pytest.raises(GantutorError, match="status 1: gantutor train: error: the "
                                            "batch size 15 must be divisible by 2$"):
        distributed.torchrun(2, "train", "--ddp")
