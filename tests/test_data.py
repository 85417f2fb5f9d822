"""Every loader: bundled digits, MNIST IDX files (real ones when present), mixtures."""

import gzip
import hashlib

import numpy as np
import pytest
import torch

from gantutor import data
from gantutor.errors import CorruptFileError, DataNotFoundError, GantutorError

MNIST_TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_digits_scaled_with_labels_and_fixed_split():
    train = data.load_dataset("digits", split="train")
    test = data.load_dataset("digits", split="test")
    full = data.load_dataset("digits", split="all")
    assert train.x.shape[1:] == (1, 8, 8) and train.x.dtype == torch.float32
    assert train.x.min() == -1 and train.x.max() == 1
    assert len(train) + len(test) == len(full) == 1797
    assert set(train.y.tolist()) == set(range(10))
    assert torch.equal(data.load_dataset("digits").x, train.x)  # seeded split


def test_real_mnist_test_split(mnist_dir, monkeypatch):
    monkeypatch.setenv("GANTUTOR_DATA", str(mnist_dir))
    mnist = data.load_dataset("mnist", split="auto", download=False)
    assert mnist.split == "test"  # only the test split is in the folder
    assert mnist.x.shape == (10000, 1, 28, 28)
    assert mnist.x.min() == -1 and mnist.x.max() == 1
    assert torch.bincount(mnist.y).tolist() == MNIST_TEST_LABEL_COUNTS


def _write_idx(folder, name, array, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path = folder / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return raw


def _fake_mnist(folder, monkeypatch, gz=True, n=20):
    rng = np.random.default_rng(0)
    images = _write_idx(folder, "t10k-images-idx3-ubyte",
                        rng.integers(0, 256, (n, 28, 28)), gz)
    labels = _write_idx(folder, "t10k-labels-idx1-ubyte", rng.integers(0, 10, n), gz)
    monkeypatch.setitem(data.IDX_MD5["mnist"], "t10k-images-idx3-ubyte",
                        hashlib.md5(images).hexdigest())
    monkeypatch.setitem(data.IDX_MD5["mnist"], "t10k-labels-idx1-ubyte",
                        hashlib.md5(labels).hexdigest())


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reader_gzip_or_raw(tmp_path, monkeypatch, gz):
    _fake_mnist(tmp_path, monkeypatch, gz)
    ds = data.load_dataset("mnist", split="test", root=tmp_path, download=False)
    assert ds.x.shape == (20, 1, 28, 28)


def test_checksum_mismatch_is_an_error(tmp_path, monkeypatch):
    _fake_mnist(tmp_path, monkeypatch)
    monkeypatch.setitem(data.IDX_MD5["mnist"], "t10k-labels-idx1-ubyte", "0" * 32)
    with pytest.raises(CorruptFileError, match="checksum"):
        data.load_dataset("mnist", split="test", root=tmp_path, download=False)


def test_truncated_idx_is_detected(tmp_path):
    raw = bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / "t.idx"
    path.write_bytes(raw + bytes(100))
    with pytest.raises(CorruptFileError, match="truncated"):
        data.read_idx(path)
    path.write_bytes(b"hello world, not an idx file")
    with pytest.raises(CorruptFileError, match="magic"):
        data.read_idx(path)
    path.write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(CorruptFileError, match="gzip"):
        data.read_idx(path)


def test_missing_mnist_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUTOR_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="digits"):
        data.load_dataset("fashion-mnist", download=False)


def test_unknown_dataset():
    with pytest.raises(GantutorError, match="unknown dataset"):
        data.load_dataset("cifar")


@pytest.mark.parametrize("name,k", [("ring", 8), ("grid", 25)])
def test_mixtures_have_their_modes(name, k):
    ds = data.load_dataset(name)
    assert ds.modes.shape == (k, 2) and ds.x.shape[1] == 2
    # every sample sits within 5 std of the mode it was drawn from
    dist = (ds.x - ds.modes[ds.y]).norm(dim=1)
    assert dist.max() < 5 * ds.std * 1.5
    assert torch.bincount(ds.y, minlength=k).min() > 0.8 * len(ds) / k


def test_batches_are_index_slices_that_resume():
    x = torch.arange(10).float()
    gen = torch.Generator().manual_seed(0)
    b = data.Batches(x, batch_size=4, generator=gen)
    first = [b.next()[0] for _ in range(3)]
    state, gstate = b.state_dict(), gen.get_state()
    later = [b.next()[0] for _ in range(3)]
    gen2 = torch.Generator()
    gen2.set_state(gstate)
    b2 = data.Batches(x, batch_size=4, generator=gen2)
    b2.load_state_dict(state)
    again = [b2.next()[0] for _ in range(3)]
    assert all(torch.equal(a, c) for a, c in zip(later, again))
    # within an epoch of 2 full batches no sample repeats
    assert len(set(torch.cat(first[:2]).tolist())) == 8
    with pytest.raises(GantutorError, match="batch size"):
        data.Batches(x, batch_size=11, generator=gen)


def test_translate_moves_each_image_its_own_way_and_fills_with_background():
    x = torch.arange(32.0).view(2, 1, 4, 4)
    out = data.translate(x, [[1, 0], [0, -2]], background=-5.0)
    # image 0 one row down: the top row is background, the bottom row is gone
    assert out[0, 0, 0].tolist() == [-5.0] * 4
    assert torch.equal(out[0, 0, 1:], x[0, 0, :3])
    # image 1 two columns left: the two right columns are background
    assert torch.equal(out[1, 0, :, :2], x[1, 0, :, 2:])
    assert (out[1, 0, :, 2:] == -5.0).all()
    assert torch.equal(data.translate(x, torch.zeros(2, 2)), x)


def test_translate_refuses_a_shift_list_of_the_wrong_shape():
    with pytest.raises(GantutorError, match="one \\(rows, columns\\) shift per image"):
        data.translate(torch.zeros(3, 1, 4, 4), [[1, 0]])
