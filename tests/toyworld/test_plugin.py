"""The reference world is a plugin: it registers through entry points, the core never imports it.

If either half breaks, the toy world has become special again: a third-party model, scorer or
CLIP would no longer be able to do everything it does.
"""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import audit
from audit.generate.builtin import MODELS, builtin_available, resolve_builtin
from audit.registry import Registry
from audit.scorers.clip import CLIP_MODELS, ClipOptions, ClipScorer
from audit.scorers.features import EXTRACTORS
from audit.scorers.reference import BUILTIN_REFERENCES, reference_digest
from audit.scorers.registry import default_registry

PACKAGE = Path(audit.__file__).parent
TOY_WORDS = ("toyworld", "toyclip", "toycount")
# The CLI may import every part (its `toyworld validate` command is wired there until commands
# become plugins too); nothing else may.
ALLOWED = ("cli.py", "cli_more.py", "cli/")

ENTRIES = [
    ("t2i_audit.scorers", "toycount"),
    ("t2i_audit.extractors", "toyclip"),
    ("t2i_audit.references", "toyworld"),
    ("t2i_audit.models", "toy-shapes"),
    ("t2i_audit.models", "toy-shapes-weak"),
    ("t2i_audit.clip_models", "toyclip"),
]
REGISTRIES: dict[str, Registry] = {  # type: ignore[type-arg]
    "t2i_audit.scorers": default_registry(),
    "t2i_audit.extractors": EXTRACTORS,
    "t2i_audit.references": BUILTIN_REFERENCES,
    "t2i_audit.models": MODELS,
    "t2i_audit.clip_models": CLIP_MODELS,
}


@pytest.mark.parametrize(("group", "name"), ENTRIES)
def test_toyworld_entries_come_from_entry_points(group: str, name: str) -> None:
    declared = {ep.name: ep.value for ep in entry_points(group=group)}
    assert declared.get(name, "").startswith("audit.toyworld."), f"pyproject.toml: {group}"
    registry = REGISTRIES[group]
    assert registry.group == group
    assert name in registry.names()
    assert registry.origin(name) == f"entry point {group}"
    assert registry.get(name) is not None  # loads, and passes the registry's base check
    assert registry.module(name).startswith("audit.toyworld.")  # also once loaded


def test_user_visible_names_still_work() -> None:
    assert default_registry().get("toycount").__module__ == "audit.toyworld.toycount"
    assert builtin_available("toy-shapes") and builtin_available("toy-shapes-weak")
    assert resolve_builtin("toy-shapes") == PACKAGE / "toyworld" / "weights" / "toy-shapes"
    clip = ClipScorer(ClipOptions(model="toyclip"))
    assert clip.model_identity == "toyclip"
    assert all(r.ok for r in ClipScorer.check(clip.options))
    assert clip.loads()["weights"].startswith("sha256:")
    assert reference_digest("builtin:toyworld", Path(".")) == "builtin:toyworld-v1"


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (prose may name the toy world)."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.add(id(value))
    return out


def _core_modules() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if not p.relative_to(PACKAGE).as_posix().startswith(("toyworld/", *ALLOWED))
    ]


def test_no_core_module_imports_or_names_the_toy_world() -> None:
    found = []
    for path in _core_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in docs and any(w in node.value for w in TOY_WORDS):
                    found.append(f"{where}:{node.lineno}: string {node.value!r}")
                continue
            else:
                continue
            found += [f"{where}:{node.lineno}: import {n}" for n in names if "toyworld" in n]
    assert not found, "\n".join(found)


def test_the_layering_check_sees_imports() -> None:
    """The check above would catch an import (it is not vacuous)."""
    tree = ast.parse("from audit.toyworld import world\nimport audit.toyworld.reader\n")
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert len(imports) == 2 and len(_core_modules()) > 50
