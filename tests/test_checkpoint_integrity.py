"""Checkpoints a hostile or unlucky user could hand us: flipped bytes, truncation, old
or foreign formats, missing keys, wrong types, absurd network sizes, non-finite
weights, leftovers of a killed write, and resume requests that make no sense. Each
gets one clear GantutorError line; none a traceback."""

import dataclasses
import hashlib
import struct
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gantutor as gt
from gantutor import checkpoint
from gantutor.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_MAGIC,
    load_checkpoint,
    remove_leftover_temporaries,
    save_checkpoint,
)
from gantutor.cli import main
from gantutor.errors import CorruptFileError, GantutorError
from gantutor.gan.restore import RESUME_KEYS, SPEC_SETTINGS
from gantutor.gan.train import NonFiniteLossError

TINY = ["--steps", "10", "--batch-size", "16", "--log-every", "5",
        "--checkpoint-every", "5", "--no-progress", "--device", "cpu"]


def tiny_run(out, steps, resume=False, data=None, lr=2e-4, every=5, **build):
    torch.manual_seed(0)
    data = data or gt.load_dataset("digits")
    G, D = gt.build_gan("mlp", data.shape, hidden=(32, 32), **build)
    cfg = gt.TrainConfig(steps=steps, batch_size=16, lr=lr, log_every=every,
                         checkpoint_every=every, device="cpu", progress=False)
    return G, D, gt.train_gan(G, D, data, cfg, out=out, resume=resume)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A 10-step checkpoint of tiny_run's networks, and its bytes."""
    out = tmp_path_factory.mktemp("run")
    tiny_run(out, 10)
    path = out / "checkpoint.pt"
    return path, path.read_bytes()


def crafted(tmp_path, good, name="crafted.pt", **changes):
    """The good checkpoint with some keys changed (None removes one), saved with a
    valid checksum: only the structural checks can catch it."""
    state = load_checkpoint(good[0])
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    path = tmp_path / name
    save_checkpoint(path, state)
    return path


def one_line_error(capsys, argv, *phrases):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for phrase in phrases:
        assert phrase in err, err
    return err


# --- integrity ----------------------------------------------------------------------

def test_layout_is_header_checksum_format_payload(good):
    _, data = good
    assert data.startswith(CHECKPOINT_MAGIC)
    start = len(CHECKPOINT_MAGIC)
    digest, rest = data[start:start + 32], data[start + 32:]
    assert hashlib.sha256(rest).digest() == digest
    version, length = struct.unpack(">HQ", rest[:10])
    assert version == CHECKPOINT_FORMAT == 2 and length == len(rest) - 10
    assert not hasattr(checkpoint, "FORMAT_VERSION")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_any_flipped_byte_is_found(good, tmp_path, where, mask):
    _, data = good
    i = int(where * len(data))
    bad = bytearray(data)
    bad[i] ^= mask
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(bad))
    with pytest.raises(CorruptFileError, match="not a readable gantutor checkpoint"):
        load_checkpoint(path)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0, 1, exclude_max=True))
def test_any_truncation_is_found(good, tmp_path, keep):
    _, data = good
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:int(keep * len(data))])
    with pytest.raises(CorruptFileError, match="not a readable gantutor checkpoint"):
        load_checkpoint(path)


def test_every_byte_of_the_header_and_payload_edges_is_covered(good, tmp_path):
    _, data = good
    path = tmp_path / "flipped.pt"
    head = len(CHECKPOINT_MAGIC) + 32 + 10 + 64
    for i in [*range(head), *range(len(data) - 64, len(data))]:
        bad = bytearray(data)
        bad[i] ^= 0x01
        path.write_bytes(bytes(bad))
        with pytest.raises(CorruptFileError):
            load_checkpoint(path)


@pytest.mark.parametrize("command", ["sample", "evaluate", "resume"])
def test_each_command_refuses_a_flipped_byte(good, tmp_path, capsys, command):
    out = tmp_path / "run"
    out.mkdir()
    bad = bytearray(good[1])
    bad[len(bad) // 2] ^= 0x40  # the middle of the weights
    (out / "checkpoint.pt").write_bytes(bytes(bad))
    ckpt = str(out / "checkpoint.pt")
    argv = {"sample": ["sample", "--checkpoint", ckpt, "--out",
                       str(tmp_path / "s.png")],
            "evaluate": ["evaluate", "--checkpoint", ckpt, "--n", "50"],
            "resume": ["train", "--dataset", "digits", "--out", str(out),
                       "--resume"] + TINY[2:] + ["--steps", "20"]}[command]
    one_line_error(capsys, argv, "damaged", "SHA-256")
    assert not (tmp_path / "s.png").exists()


def test_old_format_checkpoints_are_explained(good, tmp_path, capsys):
    state = load_checkpoint(good[0])
    state["format_version"] = 1
    old = tmp_path / "old.pt"
    torch.save(state, old)  # what gantutor 0.1.0 wrote: a bare torch.save file
    one_line_error(capsys, ["sample", "--checkpoint", str(old), "--out",
                            str(tmp_path / "s.png")],
                   "earlier gantutor (format 1, written by gantutor", "no checksum",
                   "train again")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CorruptFileError, match="PyTorch file but not a gantutor"):
        load_checkpoint(foreign)


def test_newer_format_and_inconsistent_header(good, tmp_path):
    payload = good[1][len(CHECKPOINT_MAGIC) + 32 + 10:]
    for version, length, match in ((CHECKPOINT_FORMAT + 1, len(payload), "newer"),
                                   (CHECKPOINT_FORMAT, len(payload) + 1,
                                    "inconsistent"),
                                   (1, len(payload), "inconsistent")):
        rest = struct.pack(">HQ", version, length) + payload
        path = tmp_path / "v.pt"
        path.write_bytes(CHECKPOINT_MAGIC + hashlib.sha256(rest).digest() + rest)
        with pytest.raises(GantutorError, match=match):
            load_checkpoint(path)


def test_valid_checksum_around_junk_is_refused(tmp_path):
    rest = struct.pack(">HQ", CHECKPOINT_FORMAT, 5) + b"junk!"
    path = tmp_path / "junk.pt"
    path.write_bytes(CHECKPOINT_MAGIC + hashlib.sha256(rest).digest() + rest)
    with pytest.raises(CorruptFileError, match="content cannot be read"):
        load_checkpoint(path)
    with pytest.raises(GantutorError, match="is a folder"):
        load_checkpoint(tmp_path)


# --- structure ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["G", "G_spec"])
def test_sample_needs_the_generator_and_its_description(good, tmp_path, capsys, key):
    path = crafted(tmp_path, good, **{key: None})
    one_line_error(capsys, ["sample", "--checkpoint", str(path), "--out",
                            str(tmp_path / "s.png")], f"it has no {key!r}")


@pytest.mark.parametrize("key", RESUME_KEYS)
def test_resume_needs_every_part(good, tmp_path, key):
    crafted(tmp_path, good, name="checkpoint.pt", **{key: None})
    with pytest.raises(CorruptFileError, match=f"it has no {key!r}"):
        tiny_run(tmp_path, 20, resume=True)


def _batches_of_seven(state):
    return {**state["batches"], "perm": torch.arange(7)}


def _lr_as_text(state):
    opt = state["opt_d"]
    opt["param_groups"][0]["lr"] = "fast"
    return opt


WRONG = {  # key -> (a wrong value, or a function of the good state giving one; error)
    "G": ([1, 2, 3], "its 'G' is not the generator's weights"),
    "D": ({"net.0.weight": "zeros"}, "its 'D' is not"),
    "step": ("10", "its 'step' is not"),
    "history": ({"step": [5, 10], "d_loss": ["x", 1.0]}, "history is not"),
    "rng": (torch.zeros(3), "its 'rng' is not"),
    "batches": (_batches_of_seven, "batch order is not one over this run's"),
    "opt_g": ({"state": {}, "param_groups": "lots"}, "optimiser cannot be loaded"),
    "opt_d": (_lr_as_text, "setting 'lr' is missing or of the wrong kind"),
}


@pytest.mark.parametrize("key", WRONG)
def test_wrong_types_are_refused_on_resume(good, tmp_path, key):
    wrong, message = WRONG[key]
    if callable(wrong):
        wrong = wrong(load_checkpoint(good[0]))
    crafted(tmp_path, good, name="checkpoint.pt", **{key: wrong})
    with pytest.raises(GantutorError, match=message) as info:
        tiny_run(tmp_path, 20, resume=True)
    assert "\n" not in str(info.value)


def test_a_random_number_state_of_another_device_is_refused(good, tmp_path):
    crafted(tmp_path, good, name="checkpoint.pt",
            rng=torch.zeros(16, dtype=torch.uint8))
    with pytest.raises(GantutorError, match="not one for a cpu generator"):
        tiny_run(tmp_path, 20, resume=True)


def test_optimiser_moments_of_the_wrong_shape_are_refused(good, tmp_path):
    state = load_checkpoint(good[0])
    opt = state["opt_g"]
    first = next(iter(opt["state"].values()))
    first["exp_avg"] = torch.zeros(3)
    crafted(tmp_path, good, name="checkpoint.pt", opt_g=opt)
    with pytest.raises(CorruptFileError, match="moments do not fit"):
        tiny_run(tmp_path, 20, resume=True)


@pytest.mark.parametrize("kwargs,match", [
    ({"hidden": (100000, 100000)}, "hidden=.* is not up to 32 layer widths"),
    ({"hidden": (2**40,)}, "not up to 32 layer widths"),
    ({"hidden": (64, 64)}, "weights do not match its description"),
    ({"z_dim": -1}, "z_dim=-1 is not a size"),
    ({"z_dim": True}, "z_dim=True"),
    ({"shape": "abc"}, "shape=abc is not 1 to 3 sizes"),
    ({"activation": "gelu"}, "activation=gelu"),
    ({"evil": 1}, "unknown setting 'evil'"),
])
def test_absurd_network_descriptions_are_refused_before_building(
        good, tmp_path, kwargs, match):
    spec = load_checkpoint(good[0])["G_spec"]
    spec["kwargs"].update(kwargs)
    path = crafted(tmp_path, good, G_spec=spec)
    with pytest.raises(CorruptFileError, match=match):
        gt.load_generator(path)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["shape", "z_dim", "hidden", "num_classes",
                             "out_activation", "batch_norm", "activation", "pack"]),
       value=st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                       st.floats(allow_nan=True), st.text(max_size=5),
                       st.lists(st.integers(-5, 10**6), max_size=40).map(tuple)))
def test_any_description_setting_loads_or_is_refused_in_one_line(
        good, tmp_path, name, value):
    spec = load_checkpoint(good[0])["G_spec"]
    before = spec["kwargs"].get(name)
    spec["kwargs"][name] = value
    path = crafted(tmp_path, good, G_spec=spec)
    try:
        G = gt.load_generator(path)
    except GantutorError as err:
        assert "\n" not in str(err)
    else:  # only a valid description of the same weights can load
        assert SPEC_SETTINGS[name][1](value), (name, value, before)
        assert G.spec["kwargs"][name] == value or list(G.spec["kwargs"][name]) == list(
            value)


# --- finite values ------------------------------------------------------------------

def test_non_finite_weights_are_refused_by_sample_and_evaluate(good, tmp_path,
                                                               capsys):
    weights = load_checkpoint(good[0])["G"]
    weights["net.0.weight"][0, :3] = float("nan")
    path = crafted(tmp_path, good, G=weights)
    one_line_error(capsys, ["sample", "--checkpoint", str(path), "--out",
                            str(tmp_path / "s.png")], "3 of", "NaN or infinite")
    one_line_error(capsys, ["evaluate", "--checkpoint", str(path), "--n", "50"],
                   "NaN or infinite")
    assert not (tmp_path / "s.png").exists()


def test_non_finite_optimiser_state_is_refused_on_resume(good, tmp_path):
    opt = load_checkpoint(good[0])["opt_d"]
    next(iter(opt["state"].values()))["exp_avg_sq"].fill_(float("inf"))
    crafted(tmp_path, good, name="checkpoint.pt", opt_d=opt)
    with pytest.raises(GantutorError, match="optimiser are NaN or infinite"):
        tiny_run(tmp_path, 20, resume=True)


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    """Batch norm's running variance does not enter the training loss: poisoned, the
    losses stay finite, and only the check of the weights themselves can see it."""
    def poison(step, history):
        if step == 5:
            G.net[1].running_var.fill_(float("nan"))

    torch.manual_seed(0)
    data = gt.load_dataset("digits")
    G, D = gt.build_gan("mlp", data.shape, hidden=(32, 32), batch_norm=True)
    cfg = gt.TrainConfig(steps=20, batch_size=16, log_every=5, checkpoint_every=5,
                         device="cpu", progress=False)
    with pytest.raises(NonFiniteLossError,
                       match="weights or optimiser states .* at step 10 .* finite "
                             "values, step 5, is kept"):
        gt.train_gan(G, D, data, cfg, out=tmp_path, on_step=poison)
    kept = load_checkpoint(tmp_path / "checkpoint.pt")
    assert kept["step"] == 5
    assert all(torch.isfinite(t).all() for t in kept["G"].values())


def test_the_lr_1e9_reproducer_keeps_only_finite_checkpoints(tmp_path):
    with pytest.raises(NonFiniteLossError) as info:
        tiny_run(tmp_path, 200, lr=1e9, every=1)
    message = str(info.value)
    kept = load_checkpoint(tmp_path / "checkpoint.pt")
    assert f"step {kept['step']}, is kept" in message
    tensors = [*kept["G"].values(), *kept["D"].values(),
               *(v for opt in ("opt_g", "opt_d")
                 for s in kept[opt]["state"].values() for v in s.values())]
    assert all(torch.isfinite(t).all() for t in tensors)
    assert main(["sample", "--checkpoint", str(tmp_path / "checkpoint.pt"), "--n",
                 "4", "--out", str(tmp_path / "s.npy")]) == 0


def test_a_run_that_breaks_at_once_says_none_was_kept(tmp_path):
    good = gt.load_dataset("digits")
    bad = dataclasses.replace(good, x=torch.full_like(good.x, float("nan")))
    with pytest.raises(NonFiniteLossError, match="step 1; no checkpoint was kept"):
        tiny_run(tmp_path, 10, data=bad, every=1)
    assert not (tmp_path / "checkpoint.pt").exists()


# --- leftovers ----------------------------------------------------------------------

def test_a_killed_write_leaves_a_temporary_file_that_the_next_run_removes(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        from gantutor.checkpoint import atomic_write
        def write(tmp):
            open(tmp, "wb").write(b"half a checkpoint")
            os.kill(os.getpid(), signal.SIGKILL)
        atomic_write({str(tmp_path / "checkpoint.pt")!r}, write)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".checkpoint.pt.")
    users = [".checkpoint.pt.notes.tmp", "checkpoint.pt.abcdefgh.tmp",
             ".checkpoint.pt.ABCDEFGH.tmp", ".other.abcdefgh.tmp", "mine.tmp"]
    for name in users:
        (tmp_path / name).write_text("the user's")
    (tmp_path / ".history.csv.ab_d0fgh.tmp").write_text("ours too")
    tiny_run(tmp_path, 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        users + ["checkpoint.pt"])


def test_only_our_temporaries_are_removed(tmp_path):
    (tmp_path / ".samples.png.k2j4_9zz.tmp").write_text("")
    (tmp_path / ".samples.png.k2j4_9zz.tmp.keep").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".checkpoint.pt.aaaaaaaa.tmp").mkdir()  # a folder: not ours
    removed = remove_leftover_temporaries(tmp_path, ["samples.png", "checkpoint.pt"])
    assert [p.name for p in removed] == [".samples.png.k2j4_9zz.tmp"]
    assert remove_leftover_temporaries(tmp_path / "absent", ["x"]) == []


# --- resume requests ----------------------------------------------------------------

def test_resume_past_the_checkpoint_step_is_refused(good, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(good[1])
    err = one_line_error(capsys, ["train", "--dataset", "digits", "--out", str(out),
                                  "--resume"] + TINY[2:] + ["--steps", "5"],
                         "already at step 10", "--steps above 10")
    assert "trained to step" not in err
    assert (out / "checkpoint.pt").read_bytes() == good[1]


def test_resume_without_a_checkpoint_is_refused(tmp_path, capsys):
    one_line_error(capsys, ["train", "--dataset", "digits", "--out",
                            str(tmp_path / "nothing"), "--resume"] + TINY,
                   "no checkpoint", "without --resume")
    with pytest.raises(GantutorError, match="needs out"):
        tiny_run(None, 5, resume=True)


def test_resume_of_another_data_size_is_refused(tmp_path):
    tiny_run(tmp_path, 5)
    test_split = gt.load_dataset("digits", "test")
    with pytest.raises(GantutorError, match="batch order is not one over"):
        tiny_run(tmp_path, 10, resume=True, data=test_split)
