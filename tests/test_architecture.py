"""The package's imports follow the layers of docs/architecture.md: every import (module level or inside a
function) points to the importer's own layer or below, and no modules import each other, directly or round a
longer cycle."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "biobridge"


def layers_from_docs() -> dict[str, int]:
    """Component (``kg``, ``pipeline``, ``__init__`` for the package root, ...) -> layer (0 = bottom)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:start.*?```text\n(.*?)```", text, re.S).group(1)
    rows = [line.split() for line in block.strip().splitlines()]
    return {name: len(rows) - 1 - i for i, row in enumerate(rows) for name in row}


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def component(module: str) -> str:
    """``biobridge.kg.split`` -> ``kg``; ``biobridge.pipeline`` -> ``pipeline``; ``biobridge`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its code)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "biobridge"}
            elif (
                isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "biobridge"
            ):
                # ``from biobridge import pipeline`` imports the module biobridge.pipeline
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
                targets |= subs or {node.module}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def upward_imports(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    return sorted(
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if layers[component(b)] > layers[component(a)]
    )


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_layers_of_the_docs_cover_every_component():
    layers = layers_from_docs()
    components = {component(m) for m in import_graph()}
    assert components <= set(layers), (
        f"components missing from docs/architecture.md: {components - set(layers)}"
    )


def test_no_import_runs_up_a_layer():
    upward = upward_imports(import_graph(), layers_from_docs())
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_no_import_cycles():
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path):
    package = tmp_path / "biobridge"
    files = {
        "__init__.py": "",
        "kg/__init__.py": "",
        "kg/graph.py": "def f():\n    from biobridge.cli import app\n",  # lazy, still counted
        "kg/split.py": "from biobridge.kg import text\n",
        "kg/text.py": "import biobridge.kg.split\n",
        "cli/__init__.py": "",
        "cli/app.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    graph = import_graph(package)
    assert upward_imports(graph, {"cli": 1, "kg": 0, "__init__": 0}) == [
        "biobridge.kg.graph -> biobridge.cli.app"
    ]
    assert import_cycles(graph) == ["biobridge.kg.split -> biobridge.kg.text -> biobridge.kg.split"]
