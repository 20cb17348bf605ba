"""The import graph of ``analyzer/`` has no cycle, and readers never reach into the shapes.

Every ``import`` / ``from ... import`` statement is read from the source (module level and
inside functions alike, via ``ast``), resolved to the ``analyzer`` module it names; modules
loaded by name at run time (``importlib``: readers, rule modules, engines) are not edges, which
is the point of loading them that way. See docs/design.md ("The flow").
"""
from __future__ import annotations

import ast
from pathlib import Path


from conftest import ROOT

PACKAGE = ROOT / "analyzer"
#: The Keras readers once imported each other's helpers; both now use
#: formats/keras_container.py, and this pair is checked on its own below.
KERAS_READERS = frozenset({"analyzer.formats.keras_h5", "analyzer.formats.keras_zip"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def import_edges() -> dict[str, set[str]]:
    """module -> the analyzer modules its import statements name."""
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                subs = [f"{stem}.{a.name}" for a in node.names if f"{stem}.{a.name}" in modules]
                targets = subs if subs and len(subs) == len(node.names) else [stem] + subs
            for t in targets:
                if t in modules and t != name:
                    edges[name].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.add(m)
                    if m == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_walker_sees_imports_inside_functions() -> None:
    edges = import_edges()
    # analysis.py imports formats at module level; formats/__init__ imports savedmodel
    # inside a detector function: both are edges.
    assert "analyzer.formats" in edges["analyzer.analysis"]
    assert "analyzer.formats.savedmodel" in edges["analyzer.formats"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_cycle() -> None:
    found = cycles(import_edges())
    assert not found, f"import cycles: {[sorted(c) for c in found]}"


def test_keras_readers_do_not_import_each_other() -> None:
    assert KERAS_READERS not in cycles(import_edges())


def test_readers_never_import_shapes() -> None:
    """Nothing under formats/ imports the op registry, a rule module or a shape engine."""
    bad = {m: sorted(t for t in targets if t.startswith("analyzer.shapes"))
           for m, targets in import_edges().items() if m.startswith("analyzer.formats")}
    offenders = {m: t for m, t in bad.items() if t}
    assert not offenders, f"readers importing shapes: {offenders}"
