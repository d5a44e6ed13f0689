"""open_clip's table of pretrained weights, read without importing open_clip.

`check()` must stay cheap, and importing `open_clip.pretrained` imports open_clip and torch
(8 s on a busy 2-core machine). The table is plain data in that module's source (dicts of
``_pcfg(url=..., hf_hub=..., quick_gelu=True)`` calls), so it is read with `ast` instead;
when the source has a shape this reader does not know, open_clip itself is asked.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path
from typing import Any

_UNKNOWN = object()  # an expression this reader does not evaluate


def pretrained_cfg(model: str, tag: str) -> dict[str, Any]:
    """open_clip's `get_pretrained_cfg(model, tag)`: url, hf_hub, quick_gelu ... or {}."""
    table = _table()
    if table is None:
        from open_clip import pretrained

        return dict(pretrained.get_pretrained_cfg(model, tag))
    clean = tag.lower().replace("-", "_")
    if model not in table and model.endswith("-quickgelu"):
        # open_clip adds "-quickgelu" variants of the tags that set quick_gelu.
        cfg = table.get(model.removesuffix("-quickgelu"), {}).get(clean, {})
        return dict(cfg) if cfg.get("quick_gelu") else {}
    return dict(table.get(model, {}).get(clean, {}))


@functools.cache
def _table() -> dict[str, dict[str, dict[str, Any]]] | None:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations))) / "pretrained.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and [type(t) for t in node.targets] == [ast.Name]:
            target = node.targets[0]
            assert isinstance(target, ast.Name)
            names[target.id] = _value(node.value, names)
    table = names.get("_PRETRAINED")
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        return None
    return table


def _value(node: ast.expr, names: dict[str, Any]) -> Any:
    """Constants, names, tuples, dicts and calls with keyword arguments (as dicts)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id, _UNKNOWN)
    if isinstance(node, ast.Tuple):
        return tuple(_value(e, names) for e in node.elts)
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                return _UNKNOWN  # `**other` in a literal
            out[_value(k, names)] = _value(v, names)
        return out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        # dict(tag=...) and the config helpers (_pcfg(url=..., hf_hub=..., **kwargs)) alike:
        # their keyword arguments are the fields that matter here.
        return {kw.arg: _value(kw.value, names) for kw in node.keywords if kw.arg is not None}
    return _UNKNOWN
