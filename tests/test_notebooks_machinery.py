"""What every course notebook shares: the budget switch, the Colab-only install cell,
the standard header, exercises with checks and solutions, a recap, and committed
outputs of a clean in-order run. Each notebook in notebooks/ is checked here; pytest
also executes them (nbval, configured in pyproject.toml)."""

import math
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

import gantutor as gt
from gantutor.course.checks import CHECKS
from gantutor.course.notebook import COLAB_INSTALL_CELL, colab_badge

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 2 * 1024 * 1024


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# ------------------------------------------------------------------ budget switch


@pytest.mark.parametrize("value, expected", [
    (None, "full"), ("", "full"), ("0", "full"), ("false", "full"), ("no", "full"),
    ("1", "fast"), ("true", "fast"), ("yes", "fast"),
])
def test_budget_follows_gantutor_fast(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("GANTUTOR_FAST", raising=False)
    else:
        monkeypatch.setenv("GANTUTOR_FAST", value)
    assert gt.budget(full="full", fast="fast") == expected
    assert gt.is_fast() is (expected == "fast")


# --------------------------------------------------------- the Colab install cell


class RecordingShell:
    """Stands in for IPython: records what ``!command`` lines would run."""

    def __init__(self):
        self.commands = []

    def system(self, command):
        self.commands.append(command)

    def run_line_magic(self, name, line):
        self.commands.append(f"%{name} {line}")


def run_install_cell(monkeypatch, on_colab: bool) -> list:
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(COLAB_INSTALL_CELL)
    assert "get_ipython().system(" in python  # the `!pip` line, as IPython runs it
    shell = RecordingShell()
    spawned = []
    import os
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: spawned.append(a))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: spawned.append(a))
    monkeypatch.setattr(os, "system", lambda *a: spawned.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab",
                            types.ModuleType("google.colab"))
    exec(python, {"get_ipython": lambda: shell, "__name__": "__main__"})
    return shell.commands + spawned


def test_install_cell_does_nothing_off_colab(monkeypatch):
    assert run_install_cell(monkeypatch, on_colab=False) == []


def test_install_cell_installs_the_package_on_colab(monkeypatch):
    commands = run_install_cell(monkeypatch, on_colab=True)
    assert len(commands) == 1
    assert commands[0].startswith("pip install")
    assert "gantutor @ git+https://" in commands[0]


# ------------------------------------------------------------- every notebook


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_starts_with_badge_install_cell_and_setup(path):
    nb = read(path)
    title, install, setup = nb.cells[:3]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    assert colab_badge(path.name) in title.source
    assert install.cell_type == "code"
    assert install.source.strip() == COLAB_INSTALL_CELL.strip()
    assert setup.cell_type == "code"
    assert "import gantutor as gt" in setup.source
    assert re.search(r"device = gt\.notebook\.setup\(seed=\d+", setup.source)
    printed = "".join(o.get("text", "") for o in setup.outputs)
    assert "device:" in printed and "budget:" in printed  # the one-line report


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ends_with_checked_exercises_solutions_and_recap(path):
    cells = read(path).cells
    headings = [i for i, c in enumerate(cells)
                if c.cell_type == "markdown" and re.search(r"^## Exercises", c.source,
                                                           re.M)]
    assert len(headings) == 1, "one '## Exercises' section"
    last = cells[-1]
    assert last.cell_type == "markdown"
    assert last.source.startswith("## What we measured")
    exercises = [c for c in cells[headings[0]:]
                 if c.cell_type == "code" and "gt.check." in c.source]
    assert len(exercises) >= 2, "at least two exercises checked by gt.check"
    for cell in exercises:
        name = re.search(r"gt\.check\.(\w+)\(", cell.source).group(1)
        assert name in CHECKS, f"gt.check.{name} does not exist"
    solutions = [c for c in cells[headings[0]:] if c.cell_type == "markdown"
                 and "<details><summary>Solution</summary>" in c.source]
    assert len(solutions) >= len(exercises)


def exercises_with_solutions(path):
    """(check name, function name, solution code) for each exercise of a notebook."""
    cells = read(path).cells
    out = []
    for i, cell in enumerate(cells):
        m = re.search(r"gt\.check\.(\w+)\((\w+)\)", cell.source)
        if cell.cell_type != "code" or not m:
            continue
        following = next(c for c in cells[i + 1:] if c.cell_type == "markdown")
        block = re.search(r"<details><summary>Solution</summary>.*?```python\n(.*?)```",
                          following.source, re.S)
        assert block, f"no solution block after the exercise calling {m.group(0)}"
        out.append((m.group(1), m.group(2), block.group(1)))
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_revealed_solutions_pass_their_checks(path):
    found = exercises_with_solutions(path)
    assert found
    for check_name, fn_name, code in found:
        namespace = {"torch": torch, "F": F, "math": math, "gt": gt}
        exec(code, namespace)
        result = CHECKS[check_name](namespace[fn_name])
        assert result.passed, f"{path.name}, solution of {check_name}: {result}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_are_a_clean_in_order_run(path):
    nb = read(path)
    counts = [c.execution_count for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), \
        "code cells must be executed once each, top to bottom, in a fresh kernel"
    for cell in code_cells(nb):
        for out in cell.outputs:
            assert out.output_type != "error", f"error output: {out.get('ename')}"
            assert out.get("name") != "stderr" or "Traceback" not in out.get("text", "")
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is over 2 MB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_budget_independent_checked_outputs(path):
    checked = [c for c in code_cells(read(path))
               if c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, "at least one cell marked # NBVAL_CHECK_OUTPUT"
    for cell in checked:
        assert cell.outputs, "a checked cell must print what it checks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_if_fast_blocks(path):
    for cell in code_cells(read(path)):
        assert not re.search(r"\bif\b.*(is_fast|GANTUTOR_FAST)", cell.source), \
            "use gt.budget(full=..., fast=...) instead of if-blocks"


# ------------------------------------------------- pytest and the maintainer tool


def test_pytest_runs_the_notebooks_with_nbval_lax():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.pytest.ini_options]")[1].split("\n[")[0]
    assert re.search(r'testpaths\s*=\s*\[[^]]*"notebooks"', section)
    assert "--nbval-lax" in section and "--nbval-current-env" in section


def test_run_tool_executes_with_the_full_budget_and_keeps_failures_out(tmp_path,
                                                                     monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as tool
    finally:
        sys.path.pop(0)
    monkeypatch.setenv("GANTUTOR_FAST", "1")  # the tool must override it for "full"
    good = tool.write_notebook(tmp_path / "01_good.ipynb", "Good", "Intro.",
                               [("code", "print(gt.budget(full='FULL', fast='FAST'))")])
    nb = read(good)
    assert nb.cells[1].source.strip() == COLAB_INSTALL_CELL.strip()
    seconds = tool.run_notebook(good, fast=False)
    assert seconds > 0
    nb = read(good)
    assert [c.execution_count for c in code_cells(nb)] == [1, 2, 3]
    assert nb.cells[-1].outputs[0]["text"].strip() == "FULL"

    bad = tool.write_notebook(tmp_path / "02_bad.ipynb", "Bad", "Intro.",
                              [("code", "raise ValueError('broken')")])
    before = bad.read_bytes()
    with pytest.raises(Exception, match="broken"):
        tool.run_notebook(bad, fast=True)
    assert bad.read_bytes() == before  # the failed run did not replace the file


def test_run_tool_records_each_run_and_times_prints_them(tmp_path, monkeypatch,
                                                        capsys):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as tool
    finally:
        sys.path.pop(0)
    busy = "sum(i * i for i in range(2_000_000))"  # some CPU time to count
    first = tool.write_notebook(tmp_path / "01_a.ipynb", "A", "Intro.",
                                [("code", busy)])
    second = tool.write_notebook(tmp_path / "02_b.ipynb", "B", "Intro.",
                                 [("code", "1 + 1")])
    assert tool.main(["run", "--fast", str(first)]) == 0
    out = capsys.readouterr().out
    run = read(first).metadata["gantutor"]["run"]
    assert run["budget"] == "fast" and run["seconds"] > 0 and run["threads"] >= 1
    assert 0 < run["cpu_seconds"] and run["device"].startswith(("cpu", "cuda", "mps"))
    assert "01_a.ipynb: " in out and "(fast budget)" in out
    assert tool.main(["times", str(first), str(second)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["notebook", "time", "CPU"]
    assert lines[1].startswith("01_a ") and tool.duration(run["seconds"]) in lines[1]
    assert " fast " in lines[1] and run["date"] in lines[1]
    assert lines[2].startswith("02_b ") and "(no run recorded)" in lines[2]


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (59.4, "59 s"),
                                           (60, "1 min 00 s"), (605.2, "10 min 05 s")])
def test_durations_read_as_the_readme_writes_them(seconds, text):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as tool
    finally:
        sys.path.pop(0)
    assert tool.duration(seconds) == text


def test_readme_run_times_are_those_recorded_in_the_notebooks():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as tool
    finally:
        sys.path.pop(0)
    readme = (ROOT / "README.md").read_text()
    header = next(line for line in readme.splitlines()
                  if line.startswith("| notebook |"))
    column = [c.strip() for c in header.split("|")].index("full run (2-core CPU)")
    checked = 0
    for path in NOTEBOOKS:
        row = next(line for line in readme.splitlines()
                   if line.startswith(f"| {path.stem} |"))
        entry = [c.strip() for c in row.split("|")][column]
        if entry == "—":  # not measured yet
            continue
        run = read(path).metadata["gantutor"]["run"]
        assert run["budget"] == "full", f"{path.name}: the committed run is not full"
        assert entry == tool.readme_time(run), f"{path.name}: README says {entry}"
        checked += 1
    assert checked, "no notebook's run time is filled in the README yet"
