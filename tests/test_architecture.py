"""The shape of the code: no import cycles, small modules and functions, few positional arguments.

These limits keep the package readable top to bottom; a change that breaks one should split the code,
not raise the limit.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "textrnn"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
MAX_POSITIONAL = 6


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The textrnn modules ``name`` imports, at the top or inside a function (both can close a cycle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    return {t for t in targets if t in known and t != name and t != "textrnn"}


def test_no_import_cycles():
    found = modules()
    graph = {name: imported(name, path, set(found)) for name, path in found.items()}
    state: dict[str, str] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_and_function_sizes(name):
    path = modules()[name]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path}: {len(text.splitlines())} lines"
    problems = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            positional = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{node.name} (line {node.lineno}) has {length} lines")
            if len(positional) > MAX_POSITIONAL:
                problems.append(f"{node.name} (line {node.lineno}) takes {len(positional)} positional arguments")
    assert not problems, f"{path}: " + "; ".join(problems)


def test_the_torch_free_modules_import_nothing_heavy():
    """What predicting and serving an ONNX export needs must not import torch at module level."""
    light = ["textrnn", "textrnn.errors", "textrnn.files", "textrnn.artifacts", "textrnn.params",
             "textrnn.presets", "textrnn.cli", "textrnn.cli.parser", "textrnn.cli.specs", "textrnn.cli.commands",
             "textrnn.text.vectorizer", "textrnn.deploy.runtime", "textrnn.deploy.serve",
             "textrnn.deploy.batch_predict", "textrnn.data.tables", "textrnn.data.dataset"]
    found = modules()
    for name in light:
        tree = ast.parse(found[name].read_text())
        top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in top_level:
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for module in names:
                assert not module.startswith(("torch", "lightning", "safetensors.torch", "sklearn")), (name, module)
