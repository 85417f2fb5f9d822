"""What every course notebook shares: the Colab badge and install cell, the set-up line.

Every notebook starts with three cells built from this module (``tools/notebooks.py``
writes them, and a test checks them):

1. markdown: the title and the Colab badge (:func:`colab_badge`);
2. code: :data:`COLAB_INSTALL_CELL`, which installs gantutor on Colab and does
   nothing anywhere else;
3. code: ``import gantutor as gt`` and ``device = gt.notebook.setup(seed=0)``.

The repository address is set in one place, ``[project.urls] Repository`` in
pyproject.toml; the badge and the install cell are built from it
(:func:`repository_url`).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

BRANCH = "main"
GITHUB = "https://github.com/"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def repository_url() -> str:
    """The course repository, ``[project.urls] Repository`` of pyproject.toml.

    Read from pyproject.toml in a source checkout, else from the installed package's
    metadata (which pip builds from that same file).
    """
    url = _url_from_pyproject(PYPROJECT) or _url_from_metadata()
    if not url:
        from ..errors import GantutorError

        raise GantutorError("the repository address is not known: set [project.urls] "
                            "Repository in pyproject.toml and reinstall "
                            "(pip install -e .)")
    return url.rstrip("/")


def _url_from_pyproject(path: Path) -> str | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10: the installed metadata says the same
        return None
    if not path.is_file():
        return None
    project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    if project.get("name") != "gantutor":
        return None
    return project.get("urls", {}).get("Repository")


def _url_from_metadata() -> str | None:
    from importlib import metadata

    try:
        entries = metadata.metadata("gantutor").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in entries:  # "Repository, https://github.com/..."
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    return None


def colab_install_cell() -> str:
    """The second cell of every notebook: on Google Colab it installs gantutor from
    the repository, and nothing else; anywhere else it does nothing.

    Colab already has torch, torchvision, matplotlib, scikit-learn, ipywidgets and
    tqdm, and pip keeps those (gantutor asks only for lower bounds).
    """
    return ("# On Google Colab, install the course package; on your own machine this "
            "does nothing.\n"
            "import sys\n\n"
            'if "google.colab" in sys.modules:\n'
            f'    !pip install -q "gantutor @ git+{repository_url()}@{BRANCH}"\n')


def __getattr__(name: str):
    # REPOSITORY and COLAB_INSTALL_CELL, computed when first asked for
    if name == "REPOSITORY":
        return repository_url()
    if name == "COLAB_INSTALL_CELL":
        return colab_install_cell()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def colab_url(notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>`` from the repository."""
    url = repository_url()
    if not url.startswith(GITHUB):
        from ..errors import GantutorError

        raise GantutorError(f"Colab opens notebooks from GitHub, but the repository "
                            f"in pyproject.toml is {url!r}")
    repo = url.removeprefix(GITHUB)
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

    from .. import __version__
    from ..env import is_fast, resolve_device, seed_everything

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


class LiveTraining:
    """An ``on_step`` callback that keeps one figure up to date while a GAN trains:
    the latest samples from the fixed noise, the two losses, and D(x) and D(G(z)).

    ``gt.train_gan(G, D, data, cfg, on_step=gt.notebook.LiveTraining(cfg.steps))``
    In a notebook the figure is replaced in place (one output, the last picture is
    what is saved); elsewhere nothing is shown. Redraws at most every
    ``min_seconds`` and always at the last step; ``modes`` (2-D data) are drawn as
    crosses, ``lim`` fixes the axes of 2-D samples.
    """

    def __init__(self, total_steps: int, title: str | None = None, modes=None,
                 lim: float | None = None, min_seconds: float = 2.0):
        self.total_steps = total_steps
        self.title, self.modes, self.lim = title, modes, lim
        self.min_seconds = min_seconds
        self.handle = None
        self.redraws = 0
        self._last = None

    def __call__(self, step: int, history) -> None:
        import time

        now = time.perf_counter()
        due = self._last is None or now - self._last >= self.min_seconds
        if not (due or step >= self.total_steps):
            return
        self._last = now
        fig = self.draw(step, history)
        self._show(fig)
        self.redraws += 1

    def draw(self, step: int, history):
        """The figure for ``history`` at ``step`` (a new, closed matplotlib figure)."""
        import matplotlib.pyplot as plt

        from .. import plot

        fig, axes = plt.subplots(1, 3, figsize=(11, 3.2),
                                 gridspec_kw={"width_ratios": [1, 1.3, 1.3]})
        plt.close(fig)  # shown through the display handle only, never twice
        if history.snapshots:
            snap_step, x = history.snapshots[-1]
            if x.dim() == 2:
                plot.scatter_2d(x, self.modes, ax=axes[0], lim=self.lim,
                                title=f"samples at step {snap_step}")
            else:
                plot.show_images(x[:36], nrow=6, ax=axes[0],
                                 title=f"samples at step {snap_step}")
        else:
            axes[0].set_axis_off()
        if history.step:
            plot.history(history, axes=axes[1:])
        title = f"step {step} of {self.total_steps}"
        fig.suptitle(f"{self.title}: {title}" if self.title else title)
        fig.tight_layout()
        return fig

    def _show(self, fig) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:  # a plain script or a test: nothing to show
            return
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
