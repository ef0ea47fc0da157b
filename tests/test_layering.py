"""The layering of ARCHITECTURE.md, read from the imports of every module (module-level and lazy alike):
no arrow points up a layer, and no module reaches itself through others (no circle)."""

import ast
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "longroll"

# Top to bottom; a module may import its own layer and the layers below it.
LAYERS = (
    ("front ends", ("longroll", "longroll.__main__", "longroll.cli", "longroll.studio")),
    ("bench, batch, reports", ("longroll.bench", "longroll.batch", "longroll.reports")),
    ("pipelines", ("longroll.pipelines",)),
    ("eval", ("longroll.eval",)),
    ("models", ("longroll.models",)),
    ("extensions", ("longroll.rope", "longroll.noise", "longroll.cache", "longroll.attention", "longroll.sampler")),
    ("world", ("longroll.world",)),
    ("io", ("longroll.io",)),
    ("base", ("longroll.constants", "longroll._validate", "longroll.devices", "longroll.interrupts",
              "longroll.progress", "longroll.version")),
)


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(path: Path, mods: dict) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("longroll"):
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                found.add(whole if whole in mods else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("longroll"))
    return {m for m in found if m in mods}


def _layer(module: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    assert best is not None, f"{module} is in no layer of ARCHITECTURE.md: add it to LAYERS"
    return best[0]


def test_no_import_points_up_a_layer():
    mods = _modules()
    up = []
    for name, path in sorted(mods.items()):
        for target in sorted(_imports(path, mods)):
            if _layer(target) < _layer(name) and target != "longroll.version":
                up.append(f"{name} ({LAYERS[_layer(name)][0]}) imports {target} ({LAYERS[_layer(target)][0]})")
    assert up == []


def test_the_import_graph_has_no_circle():
    mods = _modules()
    graph = {name: _imports(path, mods) - {name} for name, path in mods.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    circles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []
