"""The exercises as committed: the learner's function is a stub (or a wrong attempt)
that its ``gt.check`` answers with feedback, not an exception, and the committed run
shows that feedback. (tests/test_notebooks_machinery.py checks that every notebook ends
with at least two such exercises, each with a revealable solution that passes.)"""

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
from gantutor.course.checks import CHECKS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r"gt\.check\.(\w+)\(\s*(\w+)\s*\)")


def namespace() -> dict:
    """The names a notebook has imported by the time its exercises run."""
    return {"gt": gt, "torch": torch, "F": F, "math": math, "np": np,
            "nn": torch.nn}


def exercises(nb) -> list[dict]:
    """Each exercise: its check, the learner's function, its cell's source and
    committed outputs."""
    return [{"check": name, "function": fn, "source": cell.source,
             "outputs": cell.outputs}
            for cell in nb.cells if cell.cell_type == "code"
            for name, fn in CHECK_CALL.findall(cell.source)]


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
