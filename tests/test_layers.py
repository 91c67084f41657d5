"""The house plan: shopguide's modules sit in layers and import downwards only.

Every module under shopguide/ is parsed (not imported), and every import counts, the lazy ones
inside functions included. A module may import its own layer or any layer below, never one above,
and the module graph has no cycle. A new module must be placed in a layer (LAYERS) or this fails.

    ml           pure ML: numpy and torch, no Django, nothing else of shopguide
    foundation   models, settings, the adapter, signals, data access (vectors, snapshots,
                 search documents, filters, products, uploads), the event vocabulary's users
    spaces       the embedding spaces (image, text, behaviour) and their artifacts
    ranking      shopguide.ranking: plan choice, fusion, shopper vectors, reasons
    selectors    the read side
    services     the write side and the pipelines
    tasks        Celery tasks and the signal receivers that queue them
    interface    the API, the admin, template tags, management commands, integrations, app config
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shopguide.services import incremental

PACKAGE = Path(__file__).resolve().parent.parent / "shopguide"

ORDER = ["ml", "foundation", "spaces", "ranking", "selectors", "services", "tasks", "interface"]

# Module name (or package prefix, ending in ".") -> layer. The longest match wins.
LAYERS = {
    "shopguide": "ml",  # the package itself: imports nothing, so every layer may load it
    "shopguide.ml": "ml",
    "shopguide.ml.": "ml",
    "shopguide.adapter": "foundation",
    "shopguide.celery": "foundation",
    "shopguide.charts": "foundation",
    "shopguide.clients": "foundation",
    "shopguide.conf": "foundation",
    "shopguide.exceptions": "foundation",
    "shopguide.filters": "foundation",
    "shopguide.models": "foundation",
    "shopguide.products": "foundation",
    "shopguide.search_documents": "foundation",
    "shopguide.signals": "foundation",
    "shopguide.snapshot": "foundation",
    "shopguide.uploads": "foundation",
    "shopguide.validators": "foundation",
    "shopguide.vectors": "foundation",
    "shopguide.vector_categories": "foundation",
    "shopguide.spaces": "spaces",
    "shopguide.spaces.": "spaces",
    "shopguide.ranking": "ranking",
    "shopguide.selectors": "selectors",
    "shopguide.selectors.": "selectors",
    "shopguide.services": "services",
    "shopguide.services.": "services",
    "shopguide.tasks": "tasks",
    "shopguide.receivers": "tasks",
    "shopguide.api": "interface",
    "shopguide.api.": "interface",
    "shopguide.admin": "interface",
    "shopguide.apps": "interface",
    "shopguide.auth": "interface",
    "shopguide.checks": "interface",
    "shopguide.contrib": "interface",
    "shopguide.contrib.": "interface",
    "shopguide.management": "interface",
    "shopguide.management.": "interface",
    "shopguide.middleware": "interface",
    "shopguide.migration_operations": "interface",
    "shopguide.migrations": "interface",
    "shopguide.migrations.": "interface",
    "shopguide.templatetags": "interface",
    "shopguide.templatetags.": "interface",
    # Kept for the import paths the README documents (they re-export shopguide.services.*).
    "shopguide.events": "interface",
    "shopguide.incremental": "interface",
    "shopguide.segments": "interface",
}

FORBIDDEN_IN_ML = ("django", "celery", "rest_framework", "shopguide")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def is_module(name: str) -> bool:
    return is_package(name) or (PACKAGE.parent / (name.replace(".", "/") + ".py")).exists()


def imports_of(name: str, source: str) -> set[str]:
    """Every module ``source`` (the module ``name``) imports, at any depth of the code: shopguide's
    own modules as module names (``from pkg import mod`` counts as ``pkg.mod``), others by their
    top-level package. A module also imports the packages above the modules it imports (Python
    runs their __init__ first); its own packages are left out (Python runs them before it)."""
    package = name if is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module]
            targets += [f"{module}.{alias.name}" for alias in node.names if is_module(f"{module}.{alias.name}")]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "shopguide":
                found.add(target.split(".")[0])
                continue
            while not is_module(target):  # ``import shopguide.x.y`` names a module; keep the module part
                target = target.rpartition(".")[0]
            found.add(target)
            # The packages between shopguide and the target run too.
            parent = target.rpartition(".")[0]
            while parent.count(".") >= 1:
                found.add(parent)
                parent = parent.rpartition(".")[0]
    own = {name.rsplit(".", depth)[0] for depth in range(name.count(".") + 1)}
    return found - own


def read_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        graph[name] = imports_of(name, path.read_text())
    return graph


def layer_of(name: str) -> str | None:
    matches = [key for key in LAYERS if name == key or (key.endswith(".") and name.startswith(key))]
    return LAYERS[max(matches, key=len)] if matches else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for name, targets in sorted(graph.items()):
        layer = layer_of(name)
        for target in sorted(targets):
            if not target.startswith("shopguide"):
                if layer == "ml" and target in FORBIDDEN_IN_ML:
                    problems.append(f"{name} (ml) imports {target}")
                continue
            if layer == "ml" and layer_of(target) == "ml" and target == "shopguide":
                continue
            if layer == "ml" and name != "shopguide" and not target.startswith("shopguide.ml"):
                problems.append(f"{name} (ml) imports {target}: the ML code imports nothing else of shopguide")
            elif layer_of(target) and ORDER.index(layer_of(target)) > ORDER.index(layer):
                problems.append(f"{name} ({layer}) imports {target} ({layer_of(target)}), a layer above")
    return problems


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of shopguide modules (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if state.get(target) is None and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if state.get(name) is None and (cycle := visit(name)):
            return cycle
    return None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return read_graph()


def test_every_module_has_a_layer(graph):
    assert [name for name in graph if layer_of(name) is None] == []
    assert len(graph) > 80  # the walk found the package


def test_imports_point_down_only(graph):
    assert upward_imports(graph) == []


def test_the_module_graph_has_no_cycle(graph):
    assert find_cycle(graph) is None


def test_the_check_catches_an_upward_import_even_inside_a_function(graph):
    fabricated = "from shopguide.models import ModelVersion\n\ndef later():\n    from shopguide.tasks import train\n"
    bad = {**graph, "shopguide.vectors": imports_of("shopguide.vectors", fabricated)}
    assert upward_imports(bad) == ["shopguide.vectors (foundation) imports shopguide.tasks (tasks), a layer above"]
    # ... a relative one, and a package imported for one of its modules ...
    bad = {**graph, "shopguide.ranking": imports_of("shopguide.ranking", "from .selectors import stored\n")}
    assert [p.split(" imports ")[1] for p in upward_imports(bad)] == [
        "shopguide.selectors (selectors), a layer above",
        "shopguide.selectors.stored (selectors), a layer above",
    ]
    # ... Django in the ML code ...
    bad = {**graph, "shopguide.ml.metrics": imports_of("shopguide.ml.metrics", "def f():\n    import django.db\n")}
    assert upward_imports(bad) == ["shopguide.ml.metrics (ml) imports django"]


def test_the_check_catches_a_cycle_within_a_layer(graph):
    assert "shopguide.models" in graph["shopguide.vectors"]
    bad = {**graph, "shopguide.models": graph["shopguide.models"] | {"shopguide.vectors"}}
    assert upward_imports(bad) == []  # same layer: allowed, but ...
    cycle = find_cycle(bad)
    assert cycle is not None and {"shopguide.models", "shopguide.vectors"} <= set(cycle)


def test_services_queue_tasks_by_the_names_the_tasks_have():
    # The services never import shopguide.tasks (a layer above): they queue by name.
    from shopguide import tasks

    assert tasks.embed_product_task.name == incremental.EMBED_PRODUCT_TASK
    assert tasks.refresh_user_task.name == incremental.REFRESH_USER_TASK
    assert tasks.refresh_visitor_task.name == incremental.REFRESH_VISITOR_TASK
