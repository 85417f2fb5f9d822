"""Colab: every notebook's badge and install cell come from one setting, the repository
address in pyproject.toml; the install cell installs gantutor alone, only on Colab."""

import shlex
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from gantutor import notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as nbtool  # noqa: E402


def pyproject_repository() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["urls"]["Repository"].rstrip("/")


class FakeIPython:
    """Records the shell commands a cell would run (``!pip ...``) instead of running
    them."""

    def __init__(self):
        self.commands = []

    def system(self, command):
        self.commands.append(command)


def run_install_cell(source: str) -> list[str]:
    """Execute the cell as IPython would, returning the shell commands it ran."""
    ipython = FakeIPython()
    code = TransformerManager().transform_cell(source)
    exec(code, {"get_ipython": lambda: ipython})  # noqa: S102
    return ipython.commands


def pip_requirements(command: str) -> list[str]:
    """The requirements of a ``pip install`` command line (options dropped)."""
    words = shlex.split(command)
    assert words[:2] == ["pip", "install"], command
    return [w for w in words[2:] if not w.startswith("-")]


def test_repository_address_comes_from_pyproject():
    assert notebook.repository_url() == pyproject_repository()
    assert notebook.REPOSITORY == pyproject_repository()
    # an installed gantutor (pip install, Colab) knows the same address
    assert notebook._url_from_metadata().rstrip("/") == pyproject_repository(), (
        "the installed metadata is stale: reinstall with pip install -e '.[dev]'")
    for source in ("gantutor/course/notebook.py", "tools/notebooks.py"):
        assert pyproject_repository() not in (ROOT / source).read_text(), (
            f"{source} must not repeat the repository address")


def test_badge_is_built_from_the_pyproject_address(tmp_path, monkeypatch):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "gantutor"\n[project.urls]\n'
                         'Repository = "https://github.com/someone/fork/"\n')
    monkeypatch.setattr(notebook, "PYPROJECT", pyproject)
    assert notebook.colab_url("04_gan_objective.ipynb") == (
        "https://colab.research.google.com/github/someone/fork/blob/main/notebooks/"
        "04_gan_objective.ipynb")
    assert "git+https://github.com/someone/fork@main" in notebook.colab_install_cell()


def test_install_cell_installs_only_gantutor_on_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    commands = run_install_cell(notebook.colab_install_cell())
    assert len(commands) == 1
    assert pip_requirements(commands[0]) == [
        f"gantutor @ git+{pyproject_repository()}@main"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_badge_uses_the_pyproject_address_and_only_cell_2_installs(path):
    # (tests/test_notebooks_machinery.py checks the header cells themselves)
    nb = nbformat.read(path, as_version=4)
    repo = pyproject_repository().removeprefix("https://github.com/")
    url = (f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/"
           f"{path.name}")
    assert f"]({url})" in nb.cells[0].source, "run: python tools/notebooks.py headers"
    assert nb.cells[1].outputs == [], "the install cell printed something off Colab"
    for i, cell in enumerate(nb.cells[2:], start=3):
        if cell.cell_type == "code":
            assert "pip install" not in cell.source, f"cell {i} installs packages"


def test_headers_command_rewrites_badge_and_install_cell(tmp_path, monkeypatch):
    path = nbtool.write_notebook(tmp_path / "99_demo.ipynb", "Demo", "Intro.",
                                 [("code", "x = 1")])
    assert nbtool.refresh_headers(path) is False  # already current
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "gantutor"\n[project.urls]\n'
                         'Repository = "https://github.com/someone/fork"\n')
    monkeypatch.setattr(notebook, "PYPROJECT", pyproject)
    assert nbtool.refresh_headers(path) is True
    nb = nbformat.read(path, as_version=4)
    assert "github/someone/fork/blob/main/notebooks/99_demo.ipynb" in nb.cells[0].source
    assert nb.cells[0].source.startswith("# Demo\n") and "Intro." in nb.cells[0].source
    assert "git+https://github.com/someone/fork@main" in nb.cells[1].source
    assert nb.cells[3].source == "x = 1"
