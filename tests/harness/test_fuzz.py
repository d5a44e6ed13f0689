"""Property-based fuzzing (hypothesis) of every file a user hands the tool: sweep specs,
prompt files, gate files, scorer option files and ingest metadata.

Each case goes through the real CLI (`main`), with only the expensive step stubbed out
(generation, per-image scoring), so validation runs exactly as for a user. The property:
exit 0 (or 1 for a gate), or exit 2 with a message that names the file and where in it
(a field, or a line), and never a traceback. Examples are derandomized: the same cases
every run, so a failure in CI reproduces locally.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.cli import main
from tests import hostile
from tests.synthetic import synthetic_frames

CASES = {"spec": 80, "prompts": 60, "gate": 50, "options": 50, "ingest": 60}  # per `make test`
FUZZ = settings(
    max_examples=1,  # replaced per test below
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**66), 2**66)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            0,
            1,
            -1,
            2,
            7,
            1001,
            0.5,
            -3.0,
            1e9,
            "",
            "x" * 300,
            "../escape",
            "a/b",
            "/etc/passwd",
            "ddim",
            "euler",
            "flow_euler",
            "nope",
            "builtin:tiny-random-sd",
            "builtin:toy-shapes",
            "builtin:nope",
            "prompts.txt",
            "missing.txt",
            "counting",
            "float16",
            "int8",
            "auto",
            "quality",
            "higher",
            "lower",
            "binary",
            "mcnemar",
            "skip",
            "error",
            "clip_score",
        ]
    )  # fmt: skip
)
VALUE = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a nested document: dict keys and list indexes."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any, extra_keys: tuple[str, ...] = ()) -> Any:
    """`base` with 1-3 edits: a value replaced, a key deleted, or a key (known or new) added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                return draw(VALUE)  # the whole document replaced
            path = (draw(st.sampled_from([*extra_keys, "colour"])),)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        op = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if op == "delete" and isinstance(parent, dict | list):
            with contextlib.suppress(KeyError, IndexError):
                del parent[path[-1]]
        elif op == "add" and isinstance(parent, list):
            parent.append(draw(VALUE))
        elif isinstance(parent, dict):
            parent[path[-1] if op == "set" else draw(st.text(min_size=1, max_size=8))] = draw(VALUE)
        elif isinstance(parent, list) and path[-1] < len(parent):
            parent[path[-1]] = draw(VALUE)
    return doc


@st.composite
def file_text(draw: st.DrawFn, base: Any, extra_keys: tuple[str, ...] = ()) -> str:
    """A YAML document: usually a mutation of a valid one, sometimes raw text."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(max_size=80))
    if kind == 1:
        text = yaml.safe_dump(base, sort_keys=False)
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=10)) + text[cut + draw(st.integers(0, 10)) :]
    return yaml.safe_dump(draw(mutated(base, extra_keys)), sort_keys=False, allow_unicode=True)


WHERE = re.compile(r"field '|line \d+|:\d+\b")
WHOLE = re.compile(r"UTF-8|file is empty|no prompts|top level")  # problems of the file as a whole


def check(code: int, err: str, file: Path, ok: set[int]) -> None:
    """The property: a clean exit, or exit 2 naming the file and where in it."""
    assert "Traceback" not in err, err
    assert code in ok | {2}, (code, err)
    if code == 2:
        assert err.startswith("error: "), err
        assert file.name in err, err
        # Where in the file: a field, a line, or the whole of it (empty, not a mapping).
        assert WHERE.search(err) or WHOLE.search(err), err


@pytest.fixture
def no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation runs for real; the images are not made (nor timed, nor scored)."""
    import audit.sweep

    monkeypatch.setattr(audit.sweep, "_generate", lambda *args, **kwargs: None)
    monkeypatch.setattr(audit.sweep, "_time_cells", lambda *args, **kwargs: 0)


BASE_SPEC: dict[str, Any] = {
    "name": "fuzz",
    "models": [{"id": "tiny", "source": "builtin:tiny-random-sd", "dtype": "float32"}],
    "samplers": ["ddim", "euler"],
    "steps": [2],
    "guidance": [1.0, 5.0],
    "seeds": [0],
    "suites": ["prompts.txt"],
    "size": 64,
    "batch_size": 2,
    "negative_prompt": "",
    "scorers": ["efficiency", {"watermark": {"as": "wm2"}}],
    "runtime": {"device": "cpu"},
}
SPEC_KEYS = ("width", "height", "provenance", "description")


def _run_spec(folder: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    spec = folder / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    code = main(["run", str(spec), "--out", str(folder / "out"), "--quiet", "--no-report"])
    return code, capsys.readouterr().err


@settings(FUZZ, max_examples=CASES["spec"])
@given(text=file_text(BASE_SPEC, SPEC_KEYS))
def test_fuzzed_sweep_specs(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_generation: None
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "prompts.txt").write_text("a red cube\n")
    code, err = _run_spec(folder, text, capsys)
    check(code, err, folder / "spec.yaml", {0})


PROMPT_SEEDS = {
    "prompts.txt": "a red cube on a table\na sign that says 'OPEN'\n",
    "color_val.txt": "a red apple and a green leaf\n",
    "suite.yaml": yaml.safe_dump(
        {
            "name": "mine",
            "prompts": [
                {
                    "id": "a",
                    "text": "two cats",
                    "expect": {"objects": [{"name": "cat", "count": 2}]},
                },
                {"id": "b", "text": "a sign", "expect": {"text": ["OPEN"]}},
            ],
        }
    ),
    "parti.tsv": "Prompt\tCategory\tChallenge\tNote\na cat\tAnimals\tBasic\t\n",
    "drawbench.csv": "Prompts,Category\na cat on a mat,Colors\n",
    "i2p.csv": "prompt,categories,hard\na scene,violence,1\n",
    "evaluation_metadata.jsonl": json.dumps(
        {"tag": "counting", "prompt": "two cats", "include": [{"class": "cat", "count": 2}]}
    )
    + "\n",
}


@st.composite
def prompt_file(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(PROMPT_SEEDS)))
    seed = PROMPT_SEEDS[name]
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return name, draw(st.text(max_size=60))
    if kind == 1 and name.endswith(".yaml"):
        return name, draw(file_text(yaml.safe_load(seed), ("description", "format")))
    # Splice: cut the valid file somewhere and put random text (tabs, quotes, commas...) in.
    cut = draw(st.integers(0, len(seed)))
    junk = draw(st.text(alphabet=st.sampled_from("\t,\"'{}[]:#\n x1é\x00\\"), max_size=12))
    return name, seed[:cut] + junk + seed[cut + draw(st.integers(0, 8)) :]


@settings(FUZZ, max_examples=CASES["prompts"])
@given(case=prompt_file())
def test_fuzzed_prompt_files(
    case: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_generation: None
) -> None:
    name, text = case
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / name).write_text(text, encoding="utf-8")
    spec = {**BASE_SPEC, "suites": [name], "scorers": []}
    code, err = _run_spec(folder, yaml.safe_dump(spec), capsys)
    assert "Traceback" not in err, err
    assert code in (0, 2), err
    if code == 2:  # named as the prompt file itself, or as the spec's suites.0 entry
        assert name in err and (WHERE.search(err) or WHOLE.search(err)), err


BASE_GATE: dict[str, Any] = {
    "alpha": 0.05,
    "min_pairs": 10,
    "missing_metrics": "error",
    "n_resamples": 200,
    "seed": 0,
    "metrics": [
        {"name": "clip_score", "direction": "higher", "margin": 0.25, "kind": "continuous"},
        {"name": "ocr_exact", "direction": "higher", "margin": 0.05, "test": "mcnemar"},
    ],
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("exports")
    both = synthetic_frames(models=("base", "cand"), n_prompts=12, seeds=(0, 1)).images
    paths = []
    for model in ("base", "cand"):
        path = folder / f"{model}.csv"
        both[both["model"] == model].to_csv(path, index=False)
        paths.append(path)
    return paths[0], paths[1]


@settings(FUZZ, max_examples=CASES["gate"])
@given(text=file_text(BASE_GATE, ("allow_unpaired",)))
def test_fuzzed_gate_files(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], exports: tuple[Path, Path]
) -> None:
    gate = Path(tempfile.mkdtemp(dir=tmp_path)) / "gate.yaml"
    gate.write_text(text, encoding="utf-8")
    code = main(["gate", str(exports[0]), str(exports[1]), "--gate", str(gate)])
    check(code, capsys.readouterr().err, gate, {0, 1})


BASE_OPTIONS: dict[str, Any] = {
    "watermark": {"message": "0123456789ab", "attacks": ["jpeg75"]},
    "text": {"upscale": 2},
    "quality": {},
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    (folder / "src").mkdir()
    (folder / "src" / "a.png").write_bytes(hostile.encode(hostile.rgb(32)))
    (folder / "src" / "metadata.jsonl").write_text('{"file": "a.png", "prompt": "a cat"}\n')
    assert main(["ingest", str(folder / "src"), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


@st.composite
def options_case(draw: st.DrawFn) -> tuple[str, list[str]]:
    if draw(st.booleans()):  # the spec-style form
        listed = [{"watermark": {"as": "w2"}}, "quality", {"text": {"upscale": 2}}]
        text = draw(file_text({"scorers": listed}))
    else:
        text = draw(file_text(BASE_OPTIONS, ("clip", "fid", "nsfw", "c2pa", "bogus")))
    names = draw(
        st.lists(st.sampled_from(["quality", "watermark", "text", "fid", "nope"]), max_size=3)
    )
    return text, names


@settings(FUZZ, max_examples=CASES["options"])
@given(case=options_case())
def test_fuzzed_scorer_option_files(
    case: tuple[str, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    small_run: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import audit.scorers.runner as runner

    monkeypatch.setattr(runner, "_score_images", lambda *args, **kwargs: (0, 1))
    monkeypatch.setattr(runner, "_score_sets", lambda *args, **kwargs: (0, 1))
    text, names = case
    options = Path(tempfile.mkdtemp(dir=tmp_path)) / "options.yaml"
    options.write_text(text, encoding="utf-8")
    argv = ["score", str(small_run), "--options", str(options), "--quiet"]
    if names:
        argv += ["--scorers", ",".join(names)]
    code = main(argv)
    err = capsys.readouterr().err
    check(code, err, options, {0})


INGEST_FILES = {
    "ok.png": lambda: hostile.encode(hostile.rgb(32)),
    "ok.jpg": lambda: hostile.encode(hostile.rgb(32), "JPEG"),
    "cmyk.jpg": hostile.cmyk_jpeg,
    "alpha.png": hostile.rgba_png,
    **hostile.BROKEN,
    "animated.png": hostile.animated_png,
}
LINE = st.fixed_dictionaries(
    {"file": st.sampled_from([*INGEST_FILES, "missing.png", "../ok.png", "/etc/hosts", "sub"])},
    optional={
        "prompt": st.one_of(st.text(max_size=20), VALUE),
        "prompt_id": st.one_of(st.sampled_from(["p1", "p 2", "../x", ""]), VALUE),
        "model": st.one_of(st.sampled_from(["m1", "bad/model"]), VALUE),
        "seed": VALUE,
        "steps": VALUE,
        "guidance": VALUE,
        "sampler": VALUE,
        "expected_text": VALUE,
        "negative_prompt": VALUE,
        "category": VALUE,
        "colour": VALUE,
    },
)


@st.composite
def metadata(draw: st.DrawFn) -> str:
    lines = []
    for row in draw(st.lists(LINE, min_size=1, max_size=4)):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.text(max_size=20)))  # not JSON at all
        else:
            lines.append(json.dumps(row, allow_nan=True))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def ingest_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ingest") / "src"
    (folder / "sub").mkdir(parents=True)
    for name, make in INGEST_FILES.items():
        (folder / name).write_bytes(make())
    return folder


@settings(FUZZ, max_examples=CASES["ingest"])
@given(text=metadata())
def test_fuzzed_ingest_metadata(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], ingest_src: Path
) -> None:
    (ingest_src / "metadata.jsonl").write_text(text, encoding="utf-8")
    run = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    code = main(["ingest", str(ingest_src), "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert code in (0, 2), err
    if code == 2:
        # A line's problem names metadata.jsonl:LINE; an image's names the image file.
        assert "metadata.jsonl:" in err or any(name in err for name in INGEST_FILES), err
        assert not run.exists(), "a rejected ingest wrote something"


def test_the_fuzz_budget_is_a_few_hundred_cases() -> None:
    assert 250 <= sum(CASES.values()) <= 400


DEEP_YAML = "a: " + "[" * 1000 + "]" * 1000 + "\n"
ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [{','.join('*' + p for _ in range(9))}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
HOSTILE = {"deep.yaml": DEEP_YAML, "bomb.yaml": ALIAS_BOMB, "binary.yaml": "\udcff\x00\x01"}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("kind", ["spec", "gate", "options", "suite"])
def test_hostile_documents_are_refused_not_crashed_on(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_generation: None,
    exports: tuple[Path, Path],
    small_run: Path,
    name: str,
    kind: str,
) -> None:
    """Nesting that would overflow the parser, an alias bomb, bytes that are not UTF-8."""
    path = tmp_path / name
    text = HOSTILE[name]
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    (tmp_path / "prompts.txt").write_text("a cat\n")
    if kind == "spec":
        argv = ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]
    elif kind == "gate":
        argv = ["gate", str(exports[0]), str(exports[1]), "--gate", str(path)]
    elif kind == "options":
        argv = ["score", str(small_run), "--options", str(path), "--quiet"]
    else:
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump({**BASE_SPEC, "suites": [name]}))
        argv = ["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and name in err, err


def test_hostile_json_lines_are_refused_not_crashed_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ingest_src: Path, no_generation: None
) -> None:
    deep = "[" * 100000 + "]" * 100000
    (ingest_src / "metadata.jsonl").write_text(deep + "\n")
    assert main(["ingest", str(ingest_src), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "metadata.jsonl:1" in capsys.readouterr().err
    (ingest_src / "metadata.jsonl").write_bytes(b'{"file": "ok.png", "prompt": "\xff\xfe"}\n')
    assert main(["ingest", str(ingest_src), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "UTF-8" in capsys.readouterr().err
    suite = tmp_path / "evaluation_metadata.jsonl"
    suite.write_text(deep + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**BASE_SPEC, "suites": [suite.name]}))
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "evaluation_metadata.jsonl:1" in capsys.readouterr().err
