"""Maintainer tool for the course notebooks: create them, re-run them, check them.

    python tools/notebooks.py run                 # re-execute every notebook, full budget
    python tools/notebooks.py run notebooks/04_gan_objective.ipynb
    python tools/notebooks.py run --fast ...      # the CI budget (GANTUTOR_FAST=1)

``run`` executes a notebook top to bottom in this Python environment, in order, and
saves it with its outputs in place only when every cell succeeded (a failed run leaves
the committed notebook untouched). It prints the wall time of each notebook.

From Python, :func:`write_notebook` creates a notebook that starts with the standard
cells every course notebook shares (title, Colab badge, Colab-only install cell,
set-up line) followed by the given cells.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantutor.notebook import COLAB_INSTALL_CELL, colab_badge  # noqa: E402

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python",
              "name": "python3"}


def header_cells(filename: str, title: str, intro: str, seed: int = 0) -> list:
    """The first three cells of every notebook."""
    md = f"# {title}\n\n{colab_badge(filename)}\n\n{intro.strip()}\n"
    setup = ("import gantutor as gt\n\n"
             f"device = gt.notebook.setup(seed={seed})")
    return [nbformat.v4.new_markdown_cell(md),
            nbformat.v4.new_code_cell(COLAB_INSTALL_CELL.rstrip("\n")),
            nbformat.v4.new_code_cell(setup)]


def write_notebook(path, title: str, intro: str, cells: list, seed: int = 0) -> Path:
    """Create ``path`` from (kind, source) pairs, kind "md" or "code", after the header.

    The notebook is written without outputs; run it with ``run`` to fill them in.
    """
    path = Path(path)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = header_cells(path.name, title, intro, seed)
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        elif kind == "code":
            nb.cells.append(nbformat.v4.new_code_cell(source))
        else:
            raise ValueError(f"cell kind must be 'md' or 'code', not {kind!r}")
    nbformat.write(nb, path)
    return path


def run_notebook(path: Path, fast: bool, timeout: int = 3600) -> float:
    """Execute ``path`` in place; returns seconds. Leaves the file alone on failure."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = os.environ.get("GANTUTOR_FAST")
    os.environ["GANTUTOR_FAST"] = "1" if fast else "0"
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        t0 = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - t0
    finally:
        if env_backup is None:
            os.environ.pop("GANTUTOR_FAST", None)
        else:
            os.environ["GANTUTOR_FAST"] = env_backup
    nb.metadata["kernelspec"] = KERNELSPEC
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place and save outputs")
    run.add_argument("paths", nargs="*", type=Path)
    run.add_argument("--fast", action="store_true", help="use GANTUTOR_FAST=1")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        seconds = run_notebook(path, args.fast)
        print(f"{path.name}: {seconds:.0f} s ({'fast' if args.fast else 'full'} budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
