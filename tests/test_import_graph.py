"""Imports run one way: no circle among the package's parts, function-local imports included.

A part is a subpackage (audit/scorers/) or a top-level module (audit/sweep.py). The first
build hid circles (config <-> generate, scorers <-> store <-> toyworld, stats <-> report)
behind imports inside functions; this reads every import statement in the source (AST), so
a deferred import counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import audit

PACKAGE = Path(audit.__file__).resolve().parent
BOTTOM = {"vocab", "errors"}  # import nothing else from the package


def _module_name(path: Path) -> list[str]:
    parts = ["audit", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _targets(path: Path) -> set[str]:
    """Absolute names of the package modules `path` imports (relative imports resolved)."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {t for t in found if t.split(".")[0] == "audit"}


def _part(name: str) -> str | None:
    bits = name.split(".")
    if len(bits) < 2:
        return None
    return (
        bits[1] if (PACKAGE / bits[1]).is_dir() or (PACKAGE / f"{bits[1]}.py").is_file() else None
    )


def part_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        me = _part(".".join(_module_name(path)))
        if me is None:
            continue
        for target in _targets(path):
            other = _part(target)
            if other and other != me:
                edges.setdefault(me, set()).add(other)
    return edges


def circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_graph_reads_function_local_imports() -> None:
    # audit.sweep imports the scorers' runner inside run_sweep; the edge must be there.
    assert "scorers" in part_graph()["sweep"]


def test_no_import_circle_among_the_parts() -> None:
    assert circles(part_graph()) == []


def test_nothing_imports_the_cli_and_the_vocabulary_imports_nothing() -> None:
    edges = part_graph()
    # `python -m audit` (audit/__main__.py) is the CLI's own entry point.
    assert not [p for p, targets in edges.items() if "cli" in targets and p != "__main__"]
    for bottom in BOTTOM:
        assert not edges.get(bottom), f"audit.{bottom} imports {edges.get(bottom)}"
