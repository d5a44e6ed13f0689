"""The one registry implementation (`audit.registry`): lazy targets, entry points, refusals."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from audit import registry as registry_module
from audit.errors import UserError
from audit.registry import Registry
from audit.scorers.base import ImageScorer, SetScorer
from audit.scorers.efficiency import EfficiencyScorer
from audit.scorers.registry import default_registry


def _with_entry_points(monkeypatch: pytest.MonkeyPatch, *pairs: tuple[str, str]) -> None:
    eps = [EntryPoint(name, value, "t2i_audit.test") for name, value in pairs]
    monkeypatch.setattr(
        registry_module, "entry_points", lambda group: [e for e in eps if e.group == group]
    )


def test_lazy_target_is_imported_on_get_only() -> None:
    reg: Registry[Any] = Registry("thing")
    reg.register("eff", "audit.scorers.efficiency:EfficiencyScorer")
    assert reg.target("eff") == "audit.scorers.efficiency:EfficiencyScorer"
    assert reg.module("eff") == "audit.scorers.efficiency"
    assert reg.get("eff") is EfficiencyScorer
    assert reg.target("eff") is EfficiencyScorer  # loaded once, then kept
    assert reg.origin("eff") == "built in"


def test_duplicate_name_is_refused() -> None:
    reg: Registry[Any] = Registry("thing")
    reg.register("a", "x:y")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", "x:z")


def test_unknown_name_lists_the_known_ones() -> None:
    reg: Registry[Any] = Registry("built-in model", field="source", prefix="builtin:")
    reg.register("b", 2)
    reg.register("a", 1)
    with pytest.raises(UserError, match="unknown built-in model 'builtin:c'") as err:
        reg.get("c")
    assert err.value.field == "source"
    assert err.value.fix == "use one of: builtin:a, builtin:b"


def test_entry_points_join_and_clash(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry_points(monkeypatch, ("plug", "audit.scorers.efficiency:EfficiencyScorer"))
    reg: Registry[Any] = Registry("thing", group="t2i_audit.test")
    reg.register("own", "x:y")
    assert reg.names() == ["own", "plug"]
    assert reg.origin("plug") == "entry point t2i_audit.test"
    assert reg.get("plug") is EfficiencyScorer

    _with_entry_points(monkeypatch, ("own", "other:thing"))
    clash: Registry[Any] = Registry("thing", group="t2i_audit.test")
    clash.register("own", "x:y")
    with pytest.raises(UserError, match="two things are named 'own'"):
        clash.names()


def test_same_entry_point_seen_twice_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    pair = ("plug", "audit.scorers.efficiency:EfficiencyScorer")
    _with_entry_points(monkeypatch, pair, pair)  # an editable and an installed copy
    assert Registry("thing", group="t2i_audit.test").names() == ["plug"]


def test_base_class_is_checked_on_load() -> None:
    reg: Registry[Any] = Registry("scorer", base=(ImageScorer, SetScorer))
    reg.register("ok", "audit.scorers.efficiency:EfficiencyScorer")
    reg.register("bad", "audit.scorers.efficiency:Metric")
    reg.register("gone", "audit.scorers.no_such_module:X")
    assert reg.get("ok") is EfficiencyScorer
    with pytest.raises(UserError, match="'bad'.*is not a subclass of ImageScorer or SetScorer"):
        reg.get("bad")
    with pytest.raises(UserError, match="cannot load scorer 'gone'"):
        reg.get("gone")

    instances: Registry[Any] = Registry("number", base=int, instances=True)
    instances.register("one", 1)
    instances.register("text", "audit.scorers.registry:ENTRY_POINT_GROUP")
    assert instances.get("one") == 1  # given objects are taken as they are
    with pytest.raises(UserError, match="not an instance of int"):
        instances.get("text")


def test_scorer_registry_holds_builtins_and_plugins() -> None:
    reg = default_registry()
    assert reg.group == "t2i_audit.scorers"
    assert {"clip", "fid", "efficiency", "toycount"} <= set(reg.names())
    assert reg.origin("clip") == "built in"
    with pytest.raises(UserError, match="unknown scorer 'nope'") as err:
        reg.get("nope")
    assert err.value.field == "scorers" and "toycount" in (err.value.fix or "")
