"""What every course notebook shares: the Colab badge and install cell, the set-up line.

Every notebook starts with three cells built from this module (``tools/notebooks.py``
writes them, and a test checks them):

1. markdown: the title and the Colab badge (:func:`colab_badge`);
2. code: :data:`COLAB_INSTALL_CELL`, which installs gantutor on Colab and does
   nothing anywhere else;
3. code: ``import gantutor as gt`` and ``device = gt.notebook.setup(seed=0)``.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

REPOSITORY = "https://github.com/gantutor/gantutor"  # also in pyproject.toml
BRANCH = "main"

# Runs as a notebook cell. On Colab it installs gantutor from the repository; Colab
# already has torch, torchvision, matplotlib, scikit-learn, ipywidgets and tqdm, and pip
# keeps those (the package asks only for lower bounds). Off Colab it does nothing.
COLAB_INSTALL_CELL = f"""\
# On Google Colab, install the course package; on your own machine this does nothing.
import sys
if "google.colab" in sys.modules:
    !pip install -q "gantutor @ git+{REPOSITORY}@{BRANCH}"
"""


def colab_url(notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>`` from the repository."""
    repo = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/notebooks/" \
           f"{Path(notebook).name}"


def colab_badge(notebook: str) -> str:
    """Markdown for the "Open in Colab" badge of a notebook."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook)})")


def setup(seed: int = 0, threads: int | None = None):
    """Seed everything, choose the device, print one line about where we run.

    Returns the ``torch.device`` the notebook should use.
    """
    import torch

    from . import __version__
    from .env import is_fast, resolve_device, seed_everything

    if threads:
        torch.set_num_threads(threads)
    seed_everything(seed)
    device = resolve_device("auto")
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or platform.machine())
    mode = "fast (GANTUTOR_FAST=1)" if is_fast() else "full"
    print(f"gantutor {__version__} | torch {torch.__version__} | device: {device} "
          f"({name}) | budget: {mode} | python {sys.version.split()[0]}")
    return device
