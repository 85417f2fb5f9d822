"""Every notebook ends with at least two exercises checked by ``gt.check``, each with a
solution the learner can reveal; that solution passes its check, and the exercise as
committed (a stub) gets feedback, not an exception."""

import ast
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gantutor as gt
from gantutor.check import CHECKS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r"gt\.check\.(\w+)\(\s*(\w+)\s*\)")
SOLUTION = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>(.*?)</details>",
                      re.S)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def namespace() -> dict:
    """What a solution may use without importing it: the notebook's usual names."""
    return {"gt": gt, "torch": torch, "F": F, "math": math, "np": np,
            "nn": torch.nn}


def exercises(nb) -> list[dict]:
    """Each exercise: its check, the learner's function, its cell and its solution."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for name, fn in CHECK_CALL.findall(cell.source):
            found.append({"cell": i, "check": name, "function": fn, "source":
                          cell.source, "outputs": cell.outputs, "solution": None})
    for k, ex in enumerate(found):
        end = found[k + 1]["cell"] if k + 1 < len(found) else len(nb.cells)
        for cell in nb.cells[ex["cell"] + 1:end]:
            is_md = cell.cell_type == "markdown"
            match = SOLUTION.search(cell.source) if is_md else None
            if match:
                ex["solution"] = "\n".join(PYTHON_BLOCK.findall(match.group(1)))
                break
    return found


def headings(nb) -> list[tuple[int, str]]:
    return [(i, line.lstrip("#").strip()) for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" for line in c.source.splitlines()
            if re.match(r"#{1,3} ", line)]


def defs_only(source: str) -> str:
    """The imports and function definitions of a cell (not the calls after them)."""
    tree = ast.parse(source)
    keep = [n for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


def all_exercises():
    for path in NOTEBOOKS:
        for ex in exercises(nbformat.read(path, as_version=4)):
            yield pytest.param(path, ex, id=f"{path.stem}-{ex['check']}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_ends_with_two_checked_exercises_and_a_recap(path):
    nb = nbformat.read(path, as_version=4)
    found = exercises(nb)
    names = [ex["check"] for ex in found]
    assert len(set(names)) >= 2, (
        f"{path.name} needs at least two exercises calling gt.check.<name>(fn); "
        f"found {names}")
    unknown = [n for n in names if n not in CHECKS]
    assert not unknown, f"gt.check has no check named {unknown}"
    missing = [ex["check"] for ex in found if not ex["solution"]]
    assert not missing, (
        f"no <details><summary>Solution</summary> ```python ...``` block after the "
        f"exercise for {missing}")
    # the exercises close the notebook: after a heading "Exercises", followed only by
    # the recap "What we measured"
    titles = headings(nb)
    exercise_heading = [i for i, t in titles if t.lower().startswith("exercise")]
    assert exercise_heading, f"{path.name} has no '## Exercises' heading"
    assert all(ex["cell"] > exercise_heading[-1] for ex in found)
    assert titles[-1][1].lower().startswith("what we measured"), (
        f"{path.name} should end with a 'What we measured' recap, not "
        f"{titles[-1][1]!r}")
    assert titles[-1][0] > max(ex["cell"] for ex in found)


@pytest.mark.parametrize("path, ex", list(all_exercises()))
def test_revealed_solution_passes_its_check(path, ex):
    ns = namespace()
    exec(ex["solution"], ns)  # noqa: S102
    assert ex["function"] in ns, (
        f"the solution does not define {ex['function']}(), the function the exercise "
        f"passes to gt.check.{ex['check']}")
    result = CHECKS[ex["check"]](ns[ex["function"]])
    assert result.passed, f"{path.name}: the revealed solution fails:\n{result}"


@pytest.mark.parametrize("path, ex", list(all_exercises()))
def test_exercise_as_committed_gets_feedback_not_an_exception(path, ex):
    ns = namespace()
    exec(defs_only(ex["source"]), ns)  # noqa: S102
    result = CHECKS[ex["check"]](ns[ex["function"]])
    assert not result.passed, (
        f"{path.name}: the exercise for gt.check.{ex['check']} is already solved as "
        "committed; leave a stub or a wrong attempt for the learner")
    assert result.problems, "the check gives no feedback on the committed attempt"
    # the committed run shows that feedback in the cell, and no error
    kinds = [o.output_type for o in ex["outputs"]]
    assert "error" not in kinds, f"{path.name}: the exercise cell raised when run"
    shown = "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "")
                    for o in ex["outputs"])
    if ex["outputs"]:  # notebooks are committed with outputs of a full run
        assert f"{ex['check']}: not yet" in shown, (
            f"{path.name}: the committed exercise cell does not show the check's "
            f"feedback:\n{shown[:300]}")
