"""One contract, checked over every registered scorer: built-in or plugin (entry points).

As torchmetrics runs every metric through one tester, this file holds what any scorer must
do to sit in the registry: a declared name and version; options that construct, or a
ValidationError naming the required fields; a cheap `check()` that imports nothing heavy;
metric names unique across all scorers (they share one namespace of frame columns); and,
where the scorer can run here, one row per item whose keys are all declared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from audit.prompts.model import Expectations, ObjectExpectation
from audit.scorers.base import ImageScorer, ScoreItem, ScorerOptions, SetScorer, missing
from audit.scorers.identity import describe
from audit.scorers.registry import default_registry
from audit.vocab import LABEL_SEPARATOR

REGISTRY = default_registry()
NAMES = REGISTRY.names()

# Options that let a scorer run offline in tests, for those whose defaults need weights or a
# reference the test machine lacks. A scorer missing here runs with its defaults when
# `check()` allows, and its behaviour checks are skipped (with the reason) when it does not.
RUNNABLE: dict[str, dict[str, Any]] = {
    "clip": {"model": "toyclip"},
    "clip_set": {"model": "toyclip"},
    "fid": {"reference": "builtin:toyworld", "extractor": "toyclip"},
    "cmmd": {"reference": "builtin:toyworld", "extractor": "toyclip", "resize": "clean"},
    "diversity": {"extractor": "toyclip"},
}
HEAVY = ("torch", "open_clip", "transformers", "diffusers", "onnxruntime", "rapidocr", "cv2")


def _options(cls: Any) -> ScorerOptions | None:
    try:
        return cls.parse_options(RUNNABLE.get(cls.name, {}))
    except Exception:
        return None


def test_the_registry_is_not_empty_and_includes_plugins() -> None:
    assert {"clip", "fid", "quality", "watermark"} <= set(NAMES)
    assert "toycount" in NAMES  # registered by the reference world through an entry point


@pytest.mark.parametrize("name", NAMES)
def test_declares_name_version_and_kind(name: str) -> None:
    cls = REGISTRY.get(name)
    assert cls.name == name
    assert isinstance(cls.version, str) and cls.version
    assert issubclass(cls, ImageScorer | SetScorer)
    assert issubclass(cls.Options, ScorerOptions)
    assert cls.Options.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", NAMES)
def test_options_construct_or_name_their_required_fields(name: str) -> None:
    cls = REGISTRY.get(name)
    try:
        cls.Options()
    except ValidationError as exc:
        required = [f for f, info in cls.Options.model_fields.items() if info.is_required()]
        assert required, f"{name}: Options() fails but declares no required field"
        named = {str(e["loc"][0]) for e in exc.errors()}
        assert named <= set(required)
    with pytest.raises(Exception) as err:  # an unknown option is refused, naming the scorer
        cls.parse_options({"no_such_option": 1})
    assert f"scorers.{name}" in str(err.value)


def test_check_is_cheap_and_imports_nothing_heavy() -> None:
    # One subprocess for all scorers: import each module, then see what check() pulls in.
    code = f"""
import json, sys, time
from audit.scorers.registry import default_registry
registry = default_registry()
out = {{}}
for name in registry.names():
    cls = registry.get(name)
    before = set(sys.modules)
    start = time.perf_counter()
    try:
        options = cls.Options()
    except Exception:
        options = None
    cls.check(options) if options is not None else cls.check()
    seconds = time.perf_counter() - start
    new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {HEAVY!r})
    out[name] = {{"seconds": seconds, "heavy": new}}
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == set(NAMES)
    for name, found in report.items():
        assert not found["heavy"], f"{name}.check() imported {found['heavy'][:3]}"
        assert found["seconds"] < 2.0, f"{name}.check() took {found['seconds']:.2f} s"


def test_metric_names_are_unique_across_scorers() -> None:
    owner: dict[str, str] = {}
    for name in NAMES:
        cls = REGISTRY.get(name)
        options = _options(cls)
        if options is None:
            continue
        for metric in cls(options).metrics():
            assert LABEL_SEPARATOR not in metric.name, f"{name}: '@' is for labels"
            assert metric.name not in owner, f"{metric.name}: {owner.get(metric.name)} and {name}"
            assert metric.direction in ("higher", "lower", "none")
            owner[metric.name] = name


@pytest.mark.parametrize("name", NAMES)
def test_identity_is_stable_and_follows_options(name: str) -> None:
    cls = REGISTRY.get(name)
    options = _options(cls)
    if options is None:
        pytest.skip(f"{name} has required options with no offline value here")
    loads = cls(options).loads()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in loads.items())
    assert describe(cls(options)).identity == describe(cls(options)).identity


def _items(n: int, folder: Path) -> list[ScoreItem]:
    # Real PNG files: some scorers read the bytes (C2PA manifests), not only the pixels.
    rng = np.random.default_rng(0)
    expect = Expectations(objects=(ObjectExpectation(name="circle", count=2),), text=("OPEN",))
    items = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), "RGB").save(path)
        items.append(
            ScoreItem(
                key=f"{i:064x}",
                image_path=path,
                prompt_text="two red circles and a sign that says 'OPEN'",
                prompt_id=f"p{i % 2}",
                expect=expect,
                request={"gen_seconds": 0.5, "peak_mem_mb": 100.0, "prompt_id": f"p{i % 2}"},
            )
        )
    return items


def _declared(scorer: Any) -> set[str]:
    names = {m.name for m in scorer.metrics()}
    return names | {f"{n}{s}" for n in names for s in ("_ci_low", "_ci_high")}


def _runnable(name: str) -> Any:
    cls = REGISTRY.get(name)
    options = _options(cls)
    if options is None or missing(cls.check(options)):
        pytest.skip(f"{name} cannot run here: {[r.what for r in missing(cls.check(options))]}")
    return cls(options)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_one_row_per_item_with_declared_keys_only(name: str, tmp_path: Path) -> None:
    scorer = _runnable(name)
    items: Sequence[ScoreItem] = _items(3, tmp_path)
    if isinstance(scorer, ImageScorer):
        rows = scorer.score_batch(items)
        assert len(rows) == len(items)
        for row in rows:
            assert set(row) <= _declared(scorer), set(row) - _declared(scorer)
            assert all(v is None or isinstance(v, float | int | str) for v in row.values())
    else:
        scorer.reset()
        scorer.update(items)
        values = scorer.compute()
        assert set(values) <= _declared(scorer), set(values) - _declared(scorer)
