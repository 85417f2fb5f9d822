"""Maintainer tool for the course notebooks: create them, re-run them, check them.

    python tools/notebooks.py run             # re-execute every notebook, full budget
    python tools/notebooks.py run notebooks/04_gan_objective.ipynb
    python tools/notebooks.py run --fast ...      # the CI budget (GANTUTOR_FAST=1)
    python tools/notebooks.py times           # how long each committed run took
    python tools/notebooks.py headers         # rewrite badges + install cells

``run`` executes a notebook top to bottom in this Python environment, in order, and
saves it with its outputs in place only when every cell succeeded (a failed run leaves
the committed notebook untouched). It prints the wall time of each notebook as it
finishes and a table of all of them at the end, and records the run in the notebook's
metadata, ``metadata["gantutor"]["run"]``: wall seconds, budget (full or fast), device,
torch's thread count and the date (UTC). ``times`` prints that table from the
committed notebooks without running anything: the source of the README's run times.

``headers`` rewrites the Colab badge and the Colab install cell of every notebook from
the one setting they come from, ``[project.urls] Repository`` in pyproject.toml (after
that address changes), leaving every other cell and output alone.

From Python, :func:`write_notebook` creates a notebook that starts with the standard
cells every course notebook shares (title, Colab badge, Colab-only install cell,
set-up line) followed by the given cells.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantutor.course.notebook import colab_badge, colab_install_cell  # noqa: E402

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python",
              "name": "python3"}


def header_cells(filename: str, title: str, intro: str, seed: int = 0) -> list:
    """The first three cells of every notebook."""
    md = f"# {title}\n\n{colab_badge(filename)}\n\n{intro.strip()}\n"
    setup = ("import gantutor as gt\n\n"
             f"device = gt.notebook.setup(seed={seed})")
    return [nbformat.v4.new_markdown_cell(md),
            nbformat.v4.new_code_cell(colab_install_cell().rstrip("\n")),
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
    """Execute ``path`` in place; returns seconds. Leaves the file alone on failure.

    The run is recorded in the notebook's metadata (see :func:`run_record`).
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = os.environ.get("GANTUTOR_FAST")
    os.environ["GANTUTOR_FAST"] = "1" if fast else "0"
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        t0, cpu0 = time.perf_counter(), children_cpu_seconds()
        client.execute()  # starts the kernel, runs every cell, shuts the kernel down
        seconds = time.perf_counter() - t0
        cpu = children_cpu_seconds() - cpu0
    finally:
        if env_backup is None:
            os.environ.pop("GANTUTOR_FAST", None)
        else:
            os.environ["GANTUTOR_FAST"] = env_backup
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata.setdefault("gantutor", {})["run"] = run_record(seconds, fast, cpu)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return seconds


def children_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process's finished child processes (the
    kernels, and what they ran); 0 where the platform does not count them."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_record(seconds: float, fast: bool, cpu_seconds: float = 0.0) -> dict:
    """What a run leaves in ``metadata["gantutor"]["run"]``.

    ``cpu_seconds`` is the kernel's CPU time (with what it ran): on a busy machine
    the wall time is inflated by waiting, and at one thread the CPU time is close to
    the wall time of the same run on an idle machine. The kernel inherits this
    process's environment, so the device it picks and torch's thread count
    (``OMP_NUM_THREADS``, or one per core) are the ones seen here.
    """
    import torch

    from gantutor.env import resolve_device

    device = resolve_device("auto")
    if device.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(device)})"
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count()
        name = f"{device.type} ({platform.machine()}, {cores} cores)"
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
            "budget": "fast" if fast else "full",
            "device": name, "threads": torch.get_num_threads(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def duration(seconds: float) -> str:
    """Seconds as the README writes them: "48 s", "4 min 05 s"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def readme_time(run: dict) -> str:
    """The README's "full run (2-core CPU)" entry for a recorded full run: its CPU time
    when it ran at one thread (close to the wall time on an idle machine, however busy
    the machine was), else its wall time; in whole minutes."""
    seconds = run["cpu_seconds"] if run["threads"] == 1 else run["seconds"]
    return f"{max(1, round(seconds / 60))} min"


def times_table(paths) -> str:
    """One line per notebook from its recorded run; "—" where none is recorded."""
    head = ("notebook", "time", "CPU time", "budget", "device", "threads", "date",
            "README")
    rows = []
    for path in paths:
        meta = nbformat.read(path, as_version=4).metadata
        run = meta.get("gantutor", {}).get("run")
        if run is None:
            rows.append((Path(path).stem, "—", "—", "—", "(no run recorded)", "", "",
                         "—"))
        else:
            cpu = run.get("cpu_seconds")
            rows.append((Path(path).stem, duration(run["seconds"]),
                         duration(cpu) if cpu else "—", run["budget"],
                         run["device"], str(run["threads"]), run["date"],
                         readme_time(run) if run["budget"] == "full" else "—"))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in [head, *rows])


BADGE_LINE = "[![Open In Colab]("


def refresh_headers(path: Path) -> bool:
    """Rebuild the badge line (cell 1) and the install cell (cell 2) of ``path`` from
    pyproject.toml; returns whether anything changed. Other cells are untouched."""
    nb = nbformat.read(path, as_version=4)
    title, install = nb.cells[0], nb.cells[1]
    lines = title.source.split("\n")
    badge = [i for i, line in enumerate(lines) if line.startswith(BADGE_LINE)]
    if title.cell_type != "markdown" or len(badge) != 1 or install.cell_type != "code":
        raise SystemExit(f"{path}: the first cells are not the standard header "
                         "(title with one badge line, then the install cell)")
    lines[badge[0]] = colab_badge(path.name)
    new_title, new_install = "\n".join(lines), colab_install_cell().rstrip("\n")
    if (title.source, install.source) == (new_title, new_install):
        return False
    title.source, install.source = new_title, new_install
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place and save outputs")
    run.add_argument("paths", nargs="*", type=Path)
    run.add_argument("--fast", action="store_true", help="use GANTUTOR_FAST=1")
    times = sub.add_parser("times", help="print each notebook's recorded run: wall "
                           "time, budget, device, threads, date")
    times.add_argument("paths", nargs="*", type=Path)
    headers = sub.add_parser("headers", help="rewrite the Colab badge and install "
                             "cell of notebooks from pyproject.toml")
    headers.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.command == "headers":
        for path in paths:
            changed = refresh_headers(path)
            print(f"{path.name}: {'updated' if changed else 'already up to date'}")
        return 0
    if args.command == "times":
        print(times_table(paths))
        return 0
    for path in paths:
        seconds = run_notebook(path, args.fast)
        mode = "fast" if args.fast else "full"
        print(f"{path.name}: {duration(seconds)} ({mode} budget)", flush=True)
    print()
    print(times_table(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
