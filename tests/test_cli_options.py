"""Options and outputs of the command line: a bad value is refused in one line by the
parser (and by TrainConfig, for Python callers), no command replaces a file that it
did not write without --force, and every error exits with status 2."""

import contextlib
import errno
import io
import os
import subprocess
import sys
import typing
from dataclasses import fields

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gantutor.cli import build_parser, main
from gantutor.cli.train import NOT_OPTIONS, OUTPUTS
from gantutor.errors import GantutorError
from gantutor.gan.config import TrainConfig, field_problem

TINY = ["--steps", "1", "--batch-size", "16", "--log-every", "1",
        "--checkpoint-every", "1", "--no-progress", "--device", "cpu"]
HINTS = typing.get_type_hints(TrainConfig)
# the training options that take a value (the bool fields are plain flags)
VALUE_FIELDS = [f for f in fields(TrainConfig)
                if f.name not in NOT_OPTIONS and HINTS[f.name] is not bool]
PARSER = build_parser()


def parse(argv):
    """(namespace, "") when the real parser accepts argv, else (None, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return PARSER.parse_args(argv), ""
        except SystemExit as done:
            assert done.code == 2
    return None, err.getvalue()


def as_python(kind, text):
    """The value a Python caller would pass for ``text``: converted where it can be."""
    args = [t for t in typing.get_args(kind) if t is not type(None)]
    item = args[0] if args else kind
    try:
        value = item(text)
    except ValueError:
        value = text
    return (value, value) if typing.get_origin(kind) is tuple else value


TEXTS = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats().map(repr),  # includes nan, inf, -0.0 and tiny and huge numbers
    st.sampled_from(["", "abc", "1e3", "0x10", "-inf", "1_000", " 5 ", "--", "cuda:0",
                     "cuda:x", "mps", "hinge", "4294967296", "0.9999999"]),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(VALUE_FIELDS), text=TEXTS)
def test_parser_refuses_exactly_what_trainconfig_refuses(field, text):
    flag = "--" + field.name.replace("_", "-")
    kind = HINTS[field.name]
    values = [text, text] if typing.get_origin(kind) is tuple else [text]
    args, err = parse(["train", "--out", "o", flag, *values])
    python_problem = field_problem(field, kind, as_python(kind, text))
    if args is None:  # one line that names the option
        assert err.startswith(f"gantutor train: error: argument {flag}")
        assert err.count("\n") == 1 and "Traceback" not in err
        assert python_problem is not None
    else:
        assert python_problem is None
        assert field_problem(field, kind, getattr(args, field.name)) is None


ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                      st.floats(), st.text(max_size=8),
                      st.lists(st.floats(), max_size=3))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from([f.name for f in fields(TrainConfig)]), value=ANY_VALUE)
def test_trainconfig_takes_a_valid_value_or_names_the_setting(name, value):
    try:
        cfg = TrainConfig(**{name: value})
    except GantutorError as err:
        assert str(err).startswith("invalid training settings: ")
        assert name in str(err) or "loss" in str(err)
    else:
        for f in fields(cfg):
            assert field_problem(f, HINTS[f.name], getattr(cfg, f.name)) is None


# the values of the issue, each of which once trained anyway or ended in a traceback
REFUSED_BY_THE_PARSER = [
    (["--batch-size", "0"], "--batch-size: must be from 1 to 1,000,000, got 0"),
    (["--lr", "0"], "--lr: must be > 0, got 0.0"),
    (["--lr", "nan"], "--lr: must be > 0, got nan"),
    (["--lr", "inf"], "--lr: must be > 0, got inf"),
    (["--lr-d", "0"], "--lr-d: must be > 0"),
    (["--device", "foo"], "--device: must be auto, cpu, cuda, cuda:N or mps"),
    (["--log-every", "0"], "--log-every: must be >= 1, got 0"),
    (["--checkpoint-every", "0"], "--checkpoint-every: must be >= 1, got 0"),
    (["--seed", "-1"], "--seed: must be from 0 to 4,294,967,295, got -1"),
    (["--seed", str(2**32)], "--seed: must be from 0"),
    (["--pack", "0"], "--pack: must be from 1 to 64, got 0"),
    (["--pack", "-2"], "--pack: must be from 1 to 64, got -2"),
    (["--betas", "1", "0.9"], "--betas: must be in [0, 1), got 1.0"),
    (["--d-steps", "1000000000"], "--d-steps: must be from 1 to 100"),
    (["--holdout", "1"], "--holdout: must be in [0, 1), got 1.0"),
    (["--steps", "1e3"], "--steps: expected a whole number, got '1e3'"),
    (["--gp-weight", "-1"], "--gp-weight: must be >= 0"),
]


@pytest.mark.parametrize("extra,message", REFUSED_BY_THE_PARSER)
def test_bad_train_option_is_one_line_and_nothing_is_written(tmp_path, capsys,
                                                              extra, message):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out)] + TINY + extra) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1
    assert captured.out == "" and not out.exists()


@pytest.mark.parametrize("argv,message", [
    (["sample", "--checkpoint", "c.pt", "--out", "s.png", "--device", "foo"],
     "--device: must be auto"),
    (["sample", "--checkpoint", "c.pt", "--out", "s.png", "--n", "0"],
     "--n: must be from 1 to 100,000, got 0"),
    (["sample", "--checkpoint", "c.pt", "--out", "s.png", "--seed", "-1"],
     "--seed: must be from 0"),
    (["sample", "--checkpoint", "c.pt", "--out", "s.png", "--label", "-1"],
     "--label: must be >= 0, got -1"),
    (["evaluate", "--real", "--dataset", "digits", "--k", "0"],
     "--k: must be from 1 to 100, got 0"),
    (["evaluate", "--real", "--dataset", "digits", "--n", "10000000000"],
     "--n: must be from 2 to 1,000,000"),
    (["evaluate", "--real", "--dataset", "digits", "--device", "gpu"],
     "--device: must be auto"),
    (["compress", "in"], "required: -o/--output"),
    ([], "required: COMMAND"),
])
def test_other_commands_refuse_bad_options_in_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "--help" in err


def test_trainconfig_gives_python_callers_the_same_errors():
    with pytest.raises(GantutorError, match="batch_size must be from 1 .*, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(GantutorError, match=r"seed must be from 0 .*got -1"):
        TrainConfig(seed=-1)
    with pytest.raises(GantutorError, match="device must be auto, cpu"):
        TrainConfig(device="foo")
    with pytest.raises(GantutorError, match="steps must be a whole number"):
        TrainConfig(steps="100")
    cfg = TrainConfig(steps=10)
    cfg.lr = 0.0  # a change by assignment is checked by validate()
    with pytest.raises(GantutorError, match="lr must be > 0"):
        cfg.validate()


@pytest.mark.parametrize("device", ["cuda:99", "mps"])
def test_a_device_this_machine_lacks_is_one_line(tmp_path, capsys, device):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    out = tmp_path / "run"
    assert main(["train", "--out", str(out)] + TINY + ["--device", device]) == 2
    err = capsys.readouterr().err
    assert f"device {device!r} was asked for" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--dataset", "digits", "--out", str(out)] + TINY) == 0
    return out / "checkpoint.pt"


def test_train_refuses_an_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("mine")
    assert main(["train", "--out", str(tmp_path / "f")] + TINY) == 2
    captured = capsys.readouterr()
    assert "is a file; give a folder" in captured.err
    assert captured.out == ""  # refused before the data was loaded
    assert main(["train", "--out", str(tmp_path / "f" / "run")] + TINY) == 2
    assert "is a file, so" in capsys.readouterr().err


@pytest.mark.parametrize("name", OUTPUTS)
def test_train_keeps_the_users_files_unless_forced(tmp_path, capsys, name):
    (tmp_path / name).write_text("mine")
    argv = ["train", "--out", str(tmp_path)] + TINY
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert name in captured.err and "--force" in captured.err
    assert captured.out == ""  # refused before the data was loaded
    assert (tmp_path / name).read_text() == "mine"
    if name != "checkpoint.pt":  # --resume continues a run, not the user's files
        assert main(argv + ["--resume"]) == 2
        assert (tmp_path / name).read_text() == "mine"
    assert main(argv + ["--force"]) == 0
    assert (tmp_path / name).read_bytes() != b"mine"


def test_train_refuses_an_output_name_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "samples.png").mkdir()
    assert main(["train", "--out", str(tmp_path), "--force"] + TINY) == 2
    assert "samples.png is a folder" in capsys.readouterr().err


def test_sample_keeps_an_existing_file_unless_forced(checkpoint, tmp_path, capsys):
    target = tmp_path / "mine.png"
    target.write_text("mine")
    argv = ["sample", "--checkpoint", str(checkpoint), "--out", str(target)]
    assert main(argv) == 2
    assert "exists already: add --force" in capsys.readouterr().err
    assert target.read_text() == "mine"
    assert main(argv + ["--force"]) == 0
    assert target.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("where,message", [
    ("folder.png", "is a folder"),
    ("missing/s.png", "does not exist: create"),
])
def test_sample_refuses_an_unusable_out(checkpoint, tmp_path, capsys, where,
                                        message):
    (tmp_path / "folder.png").mkdir()
    argv = ["sample", "--checkpoint", str(checkpoint), "--out", str(tmp_path / where)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png"]


def test_an_unwritable_folder_is_refused_before_any_work(tmp_path, capsys,
                                                         monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:  # root may write anywhere: pretend the folder is locked
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: (
            real_access(path, mode) and os.path.abspath(path) != str(folder)))
    else:
        folder.chmod(0o555)
    try:
        assert main(["train", "--out", str(folder / "run")] + TINY) == 2
        captured = capsys.readouterr()
        assert "cannot write in" in captured.err and captured.out == ""
    finally:
        folder.chmod(0o755)


def test_every_error_exits_2_in_one_line_and_ctrl_c_130(monkeypatch, capsys):
    from gantutor.cli import sample

    def fail(exc):
        def run(args):
            raise exc
        monkeypatch.setattr(sample, "run", run)
        code = main(["sample", "--checkpoint", "c.pt", "--out", "s.png"])
        return code, capsys.readouterr().err

    code, err = fail(OSError(errno.ENOSPC, "No space left on device", "s.png"))
    assert code == 2 and err == ("gantutor sample: error: No space left on device "
                                 "(free some space, or write elsewhere): s.png\n")
    code, err = fail(MemoryError())
    assert code == 2 and "out of memory" in err and err.count("\n") == 1
    code, err = fail(ValueError("a bug\nover two lines"))
    assert code == 2 and err.count("\n") == 1
    assert "unexpected ValueError: a bug over two lines" in err
    assert "GANTUTOR_DEBUG=1" in err
    code, err = fail(KeyboardInterrupt())
    assert code == 130 and err == ("gantutor sample: interrupted; every file "
                                   "written so far is complete\n")
    wrapped = RuntimeError("Error calling __set_name__")  # Ctrl-C during an import
    wrapped.__cause__ = KeyboardInterrupt()
    assert fail(wrapped) == (130, err)
    monkeypatch.setenv("GANTUTOR_DEBUG", "1")
    with pytest.raises(ValueError, match="a bug"):
        fail(ValueError("a bug"))


def test_exit_status_is_documented_and_real():
    help_text = subprocess.run([sys.executable, "-m", "gantutor", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "Exit status: 0 on success; 2 for every error" in " ".join(help_text.split())
    result = subprocess.run([sys.executable, "-m", "gantutor", "train", "--out", "o",
                             "--seed", "-1"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_train_past_the_file_size_limit_is_one_line_and_leaves_nothing(tmp_path):
    """A checkpoint that cannot be written (the file size limit stands in for a full
    disk) is one line, exit 2, and no half-written file stays behind."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "gantutor", "train", "--dataset", "digits", "--out",
         "run", "--steps", "2", "--log-every", "1", "--checkpoint-every", "1",
         "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, preexec_fn=limit, env=env,
        timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "file size limit" in result.stderr
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
