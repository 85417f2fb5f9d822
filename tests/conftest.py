"""Shared fixtures: where the real MNIST test files are, when this machine has them;
the benchmark scripts as modules."""

import importlib.util
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


@pytest.fixture
def load_benchmark():
    """load_benchmark("name") imports benchmarks/name.py as a module."""
    def load(name):
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" /
                                                      f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
