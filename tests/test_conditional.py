"""Conditional GANs end to end: the label really steers the generator, through the
Python API and through `gantutor train --conditional` / `gantutor sample --label`."""

import numpy as np
import torch
from PIL import Image

import gantutor as gt
from gantutor.cli import main


def _mode_of(x, modes):
    return torch.cdist(torch.as_tensor(x), modes).argmin(1)


def test_conditional_gan_learns_which_mode_each_label_means():
    # real batches carry their true labels, fakes random ones: after a short run each
    # label's samples must sit on its own mode of the 8-Gaussian ring
    data = gt.load_dataset("ring")
    gt.seed_everything(0)
    G, D = gt.build_gan("mlp", data.shape, num_classes=8, hidden=(128, 128, 128))
    gt.train_gan(G, D, data, gt.TrainConfig(steps=200, batch_size=128, lr=1e-3,
                                            progress=False))
    y = torch.arange(8).repeat_interleave(50)
    x = gt.sample(G, len(y), y=y, seed=1)
    assert (_mode_of(x, data.modes) == y).float().mean() > 0.9


def test_cli_conditional_train_then_sample_a_label(tmp_path, capsys):
    out = tmp_path / "ring"
    assert main(["train", "--dataset", "ring", "--conditional", "--steps", "200",
                 "--log-every", "50", "--checkpoint-every", "100", "--no-progress",
                 "--device", "cpu", "--out", str(out)]) == 0
    ckpt = str(out / "checkpoint.pt")
    for label in (2, 5):
        path = tmp_path / f"label{label}.npy"
        assert main(["sample", "--checkpoint", ckpt, "--label", str(label),
                     "--n", "100", "--out", str(path)]) == 0
        modes = _mode_of(np.load(path), gt.load_dataset("ring").modes)
        assert (modes == label).float().mean() > 0.9
    capsys.readouterr()
    assert main(["sample", "--checkpoint", ckpt, "--label", "8", "--out",
                 str(tmp_path / "x.npy")]) == 2
    assert "--label must be in 0..7" in capsys.readouterr().err


def test_cli_conditional_images_write_a_class_sheet(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--conditional", "--steps", "10",
                 "--batch-size", "16", "--log-every", "5", "--checkpoint-every", "5",
                 "--no-progress", "--device", "cpu", "--out", str(out)]) == 0
    width, height = Image.open(out / "samples.png").size
    assert height / width == (10 * 9 + 1) / (8 * 9 + 1)  # 10 classes x 8 columns
    assert main(["sample", "--checkpoint", str(out / "checkpoint.pt"), "--label",
                 "4", "--n", "5", "--out", str(tmp_path / "fours.png")]) == 0
    plain = tmp_path / "plain"
    assert main(["train", "--dataset", "digits", "--steps", "5", "--batch-size", "16",
                 "--log-every", "5", "--checkpoint-every", "5", "--no-progress",
                 "--device", "cpu", "--out", str(plain)]) == 0
    width, height = Image.open(plain / "samples.png").size
    assert width == height  # 64 samples in an 8 x 8 grid
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(plain / "checkpoint.pt"), "--label",
                 "4", "--out", str(tmp_path / "x.png")]) == 2
    assert "--conditional" in capsys.readouterr().err
