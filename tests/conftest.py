"""Shared fixtures: where the real MNIST test files are, when this machine has them."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mnist_dir():
    for candidate in (os.environ.get("GANTUTOR_DATA"), ROOT.parent / "shared" / "data"):
        images = Path(candidate or ".") / "mnist" / "t10k-images-idx3-ubyte.gz"
        if candidate and images.exists():
            return Path(candidate)
    return None


@pytest.fixture
def mnist_dir():
    """Folder holding mnist/t10k-*.gz; skips the test (with the reason) when absent."""
    folder = _mnist_dir()
    if folder is None:
        pytest.skip("MNIST IDX files not found (set GANTUTOR_DATA to a folder with "
                    "mnist/t10k-images-idx3-ubyte.gz)")
    return folder
