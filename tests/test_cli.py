"""The command line: the main job on tiny settings, sampling, and bad input."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gantutor.cli import main

TINY = ["--steps", "10", "--batch-size", "16", "--log-every", "5",
        "--checkpoint-every", "5", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    assert main(["train", "--dataset", "digits", "--out", str(out)] + TINY) == 0
    return out


def test_train_writes_every_file(run_dir):
    for name in ("samples.png", "history.png", "history.csv", "checkpoint.pt"):
        assert (run_dir / name).stat().st_size > 0
    rows = (run_dir / "history.csv").read_text().splitlines()
    assert rows[0] == "step,d_loss,g_loss,d_real,d_fake" and len(rows) == 3
    assert Image.open(run_dir / "samples.png").format == "PNG"


def test_sample_png_and_npy(run_dir, tmp_path):
    ckpt = str(run_dir / "checkpoint.pt")
    assert main(["sample", "--checkpoint", ckpt, "--n", "7", "--out",
                 str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (7, 1, 8, 8) and arr.dtype == np.float32
    assert arr.min() >= -1 and arr.max() <= 1
    assert main(["sample", "--checkpoint", ckpt, "--n", "9", "--out",
                 str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 0


def test_resume_continues_and_existing_run_is_protected(run_dir, capsys):
    assert main(["train", "--dataset", "digits", "--out", str(run_dir)] + TINY) == 2
    assert "--resume" in capsys.readouterr().err
    args = ["train", "--dataset", "digits", "--out", str(run_dir), "--resume"]
    assert main(args + TINY[2:] + ["--steps", "15"]) == 0
    assert len((run_dir / "history.csv").read_text().splitlines()) == 4


def test_conditional_train_and_sample_label(tmp_path):
    out = tmp_path / "cond"
    assert main(["train", "--dataset", "digits", "--conditional", "--out", str(out)]
                + TINY) == 0
    assert main(["sample", "--checkpoint", str(out / "checkpoint.pt"), "--label", "3",
                 "--n", "4", "--out", str(tmp_path / "three.npy")]) == 0
    assert np.load(tmp_path / "three.npy").shape == (4, 1, 8, 8)


@pytest.mark.parametrize("argv,message", [
    (["train", "--dataset", "mnist", "--data-dir", "{tmp}/empty", "--out", "{tmp}/o"],
     "digits"),
    (["sample", "--checkpoint", "{tmp}/missing.pt", "--out", "{tmp}/s.png"],
     "does not exist"),
    (["sample", "--checkpoint", "{tmp}/junk.pt", "--out", "{tmp}/s.png"],
     "not a readable gantutor checkpoint"),
    (["sample", "--checkpoint", "{tmp}/junk.pt", "--out", "{tmp}/s.jpg"],
     ".png or .npy"),
    (["train", "--dataset", "digits", "--lr", "-1", "--out", "{tmp}/o"],
     "argument --lr: must be > 0, got -1.0"),
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setenv("GANTUTOR_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 100)
    argv = [a.format(tmp=tmp_path) for a in argv]
    if argv[0] == "train":
        argv += ["--no-progress"]
        # the download attempt must fail fast and offline: pretend torchvision is gone
        monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "s.png").exists()


def test_unknown_dataset_is_rejected_by_argparse(capsys):
    assert main(["train", "--dataset", "cifar", "--out", "x"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_and_help():
    result = subprocess.run([sys.executable, "-m", "gantutor", "train", "--help"],
                            capture_output=True, text=True, check=True)
    for flag in ("--dataset", "--model", "--loss", "--steps", "--batch-size", "--lr",
                 "--device", "--seed", "--resume"):
        assert flag in result.stdout


HELP_IMPORTS = """
import sys
from gantutor.cli import main
assert main({argv!r}) == 0
heavy = {{"torch", "torchvision", "numpy", "matplotlib", "sklearn"}} & set(sys.modules)
assert not heavy, heavy
"""


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["compress"],
                                     ["decompress"], ["evaluate"]])
def test_help_imports_neither_torch_nor_matplotlib(command):
    code = HELP_IMPORTS.format(argv=command + ["--help"])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: gantutor" in result.stdout


def _train_args(argv):
    from gantutor.cli import build_parser

    return build_parser().parse_args(["train", "--out", "o"] + argv)


def test_train_options_are_trainconfig_fields_with_its_defaults():
    from dataclasses import fields

    from gantutor.cli.train import NOT_OPTIONS, train_config
    from gantutor.gan.config import DATASET_DEFAULTS, TrainConfig

    args = _train_args([])
    per_dataset = {k for row in DATASET_DEFAULTS.values() for k in row}
    for f in fields(TrainConfig):
        if f.name not in NOT_OPTIONS:
            expected = None if f.name in per_dataset else f.default
            assert getattr(args, f.name) == expected, f.name
    # the dataset's defaults where an option is not given, else TrainConfig's
    cfg = train_config(_train_args(["--dataset", "ring"]), "cpu")
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.d_steps) == (4000, 128, 1e-3, 1)
    cfg = train_config(_train_args(["--steps", "0", "--betas", "0.0", "0.9"]), "cpu")
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.betas) == (0, 64, 2e-4, (0.0, 0.9))


def test_given_zero_is_not_replaced_by_the_dataset_default(tmp_path, capsys):
    argv = ["train", "--batch-size", "0", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    assert "--batch-size: must be from 1 to 1,000,000, got 0" in capsys.readouterr().err


def test_names_are_defined_once():
    from gantutor import data, dataset_names
    from gantutor.cli import compress
    from gantutor.compression import codec
    from gantutor.gan import config, models

    assert data.DATASETS is dataset_names.DATASETS
    assert models.MODELS is config.MODELS
    assert tuple(config.DATASET_DEFAULTS) == dataset_names.DATASETS
    assert compress.TEXT_MODELS == codec.TEXT_MODELS
