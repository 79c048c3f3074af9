"""The import structure of the xgan package: no circles, and no layer imports one above it.

The graph is read from the source with `ast`: every `import xgan.x`, `from xgan.x import y` and relative import,
at module level or inside a function (a deferred import is still a dependency). `from xgan.x import y` counts as
an import of xgan.x.y when that is a module, else of xgan.x. A package's `__init__` runs before its modules, but
it is a facade (xgan/__init__.py re-exports the API), so only the imports a file writes are edges.

The layers, bottom to top; each may import the ones below it, never one above:

    io, devices, optim           standard library and torch only
    data/task.py, images.py,     ImageSet/Task, the one preprocessing path, caches (data/cache.py) and the task
    cache.py, ... task files     files (digits, folders, emoji, mnist, svhn, celeba, cartoonset, vggface2); no
                                 task file imports data/registry.py, which imports them all
    models                       networks and the model registry (MODELS, build_model); reads data's leaves
                                 (teachers train on rendered digits, with evaluation's LeNet: see below)
    config                       needs only the model registry, to pick model.name's config class, and the metric
                                 names (metric_names.py); models never import config
    evaluation                   judges, metrics, reports; reads data and models
    checkpoint, samples          config + models
    trainer                      everything above
    api, serve, export, cli      the top; they take the device from devices.py, not from the trainer

The one exception: the built-in teacher `printed_digit_features` (models/teachers.py) trains evaluation's LeNet
classifier; evaluation/classifier.py is a leaf of evaluation that imports no model, so no circle goes through it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import xgan

PACKAGE = Path(xgan.__file__).parent


def module_name(path: Path) -> str:
    parts = ("xgan",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the xgan modules it imports, anywhere in its body."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
            else:
                continue
            edges.update(t for t in targets if t in files and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def upward_imports(graph: dict[str, set[str]], layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{module} -> {target}" for module, targets in graph.items() if within(module, layer)
                  for target in targets if any(within(target, f) for f in forbidden))


ENTRY_POINTS = ("xgan.cli", "xgan.api", "xgan.serve", "xgan.export", "xgan.__main__")
FORBIDDEN = {  # layer -> what it must never import
    "xgan.io": ("xgan",), "xgan.devices": ("xgan",), "xgan.cache": ("xgan",), "xgan.metric_names": ("xgan",),
    "xgan.optim": ("xgan",),
    "xgan.distributed": ("xgan",),
    "xgan.data": ("xgan.models", "xgan.evaluation", "xgan.config", "xgan.checkpoint", "xgan.samples",
                  "xgan.trainer", *ENTRY_POINTS),
    "xgan.models": ("xgan.data.registry", "xgan.evaluation", "xgan.config", "xgan.checkpoint", "xgan.samples",
                    "xgan.trainer", *ENTRY_POINTS),
    "xgan.config": ("xgan.data", "xgan.evaluation", "xgan.checkpoint", "xgan.trainer", *ENTRY_POINTS),
    "xgan.evaluation": ("xgan.config", "xgan.checkpoint", "xgan.trainer", *ENTRY_POINTS),
    "xgan.checkpoint": ("xgan.trainer", *ENTRY_POINTS),
    "xgan.samples": ("xgan.evaluation", "xgan.checkpoint", "xgan.trainer", *ENTRY_POINTS),
    "xgan.trainer": ENTRY_POINTS,
    "xgan.api": ("xgan.trainer", "xgan.cli", "xgan.serve"),
    "xgan.serve": ("xgan.trainer", "xgan.cli"),
    "xgan.export": ("xgan.trainer", "xgan.cli", "xgan.api", "xgan.serve"),
}


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_layer_imports_one_above_it():
    graph = import_graph()
    assert {layer: upward_imports(graph, layer, forbidden) for layer, forbidden in FORBIDDEN.items()} == \
        {layer: [] for layer in FORBIDDEN}


def test_only_the_data_registry_imports_the_task_files_together():
    graph = import_graph()
    assert [module for module, targets in graph.items() if "xgan.data.registry" in targets
            and within(module, "xgan.data")] == []


def test_the_graph_sees_imports_inside_functions_and_relative_ones(tmp_path, monkeypatch):
    package = tmp_path / "xgan"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from xgan.sub import high\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "high.py").write_text("from .. import low\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    graph = import_graph()
    assert graph["xgan.low"] == {"xgan.sub.high"} and graph["xgan.sub.high"] == {"xgan.low"}
    assert cycles(graph) == [["xgan.low", "xgan.sub.high"]]


def test_the_api_and_the_config_import_no_plotting_library():
    code = "import sys, xgan.api, xgan.config; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
