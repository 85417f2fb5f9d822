"""The package's shape, checked: layers import only downward, no import cycles, no
module or function past the size a reader can hold (see CONTRIBUTING.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gantutor"

# A module may import from its own layer and the layers with a lower number.
LAYERS = {"gan": 1, "evaluation": 2, "compression": 3, "course": 4, "cli": 4}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# Functions longer than that on purpose, and why.
LONG_ON_PURPOSE = {
    # the context mixer's per-bit loop: one body with its tables in local
    # variables, because a call per bit in pure Python costs a large share of its speed
    "compression/textmodel.py::run",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str:
    """The module that ``name`` (a module, or a module's attribute) lives in."""
    while name not in MODULES:
        name = name.rsplit(".", 1)[0]
    return name


def imports(module: str) -> set[str]:
    """Every gantutor module that ``module`` imports, at the top or inside functions."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            targets = [f"{origin}.{a.name}" for a in node.names]
        else:
            continue
        found |= {resolve(t) for t in targets if t.split(".")[0] == "gantutor"}
    return found - {module}


GRAPH = {m: imports(m) for m in MODULES}


def layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS[parts[1]], parts[1]
    if module == "gantutor.__main__":
        return LAYERS["cli"], "cli"
    return 0, "foundations"


def test_the_import_graph_sees_the_known_arrows():
    # the test would pass vacuously if the parser missed imports
    assert "gantutor.gan.losses" in GRAPH["gantutor.gan.train"]
    assert "gantutor.compression.codec" in GRAPH["gantutor.compression.twopart"]
    assert "gantutor.errors" in GRAPH["gantutor.data"]


def test_layers_only_import_downward():
    wrong = []
    for module, targets in GRAPH.items():
        rank, group = layer(module)
        for target in targets:
            t_rank, t_group = layer(target)
            if t_rank > rank or (t_rank == rank > 0 and t_group != group):
                wrong.append(f"{module} ({group}) imports {target} ({t_group})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_cycles():
    state: dict[str, str] = {}
    cycles = []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    # a package's __init__ that re-exports a submodule is not a cycle for Python
    # only when the submodule does not import the package back: none is allowed here
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_readable(module):
    path = MODULES[module]
    source = path.read_text()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.name} holds two concepts"
    where = path.relative_to(PACKAGE).as_posix()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            name = f"{where}::{node.name}"
            if name not in LONG_ON_PURPOSE:
                assert length <= MAX_FUNCTION_LINES, f"{name}: {length} lines"
