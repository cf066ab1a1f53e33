"""How the modules depend on each other: no import cycles, and the layers reviews ask for.

The graph is read from the source (every ``import`` statement, also those inside functions,
which hide a dependency rather than remove it): ``from a.b import c`` is an edge to ``a.b``
(its namespace is read), and also to the module ``a.b.c`` when there is one. Parent packages
that Python initialises on the way are not edges (``qbarr.policy.rules`` importing
``qbarr.policy.facts`` does not depend on ``qbarr/policy/__init__.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = {"qbarr": REPO / "lib" / "qbarr", "qbarr_programs": REPO / "programs"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, root in ROOTS.items():
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, except under ``if TYPE_CHECKING:`` (never run)."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo += ast.iter_child_nodes(node)
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        out.add(base)
        out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _reaches(edges: dict[str, set[str]], start: str, prefix: str) -> list[str]:
    """Modules under ``prefix`` that ``start`` imports, directly or not."""
    seen, todo = set(), [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return sorted(m for m in seen if m == prefix or m.startswith(prefix + "."))


# The web UI's pages import two helpers of its app inside functions (the session cookie and
# the template folder); that cycle is left to the web UI work going on at the same time. This
# list may only shrink: a new cycle, or this one broken, fails the test.
KNOWN_CYCLES = [["qbarr.webui.app", "qbarr.webui.pages"]]


def test_there_is_no_import_cycle() -> None:
    assert _cycles(graph()) == KNOWN_CYCLES


def test_the_config_loader_does_not_depend_on_the_search_package() -> None:
    assert _reaches(graph(), "qbarr.config", "qbarr.search") == []


def test_the_library_never_imports_a_program() -> None:
    edges = graph()
    assert [
        m for m in edges if m.startswith("qbarr.") and _reaches(edges, m, "qbarr_programs")
    ] == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
