"""load_suite: a suite reference (built-in name or file path) -> a validated PromptSuite.

The format comes from the `fmt` argument (a spec's `{path: FILE, format: NAME}`) when given,
else it is picked from the file, and the suite records what it was picked from
(`PromptSuite.format_from`, see `format_note`):

  .yaml/.yml  our suite format (prompts/README.md)
  .tsv        PartiPrompts
  .csv        I2P (header has `prompt` and `categories`), DPG-Bench (`item_id` and
              `question_natural_language`), OneIG-Bench (`category`, `id` and `prompt_en` or
              `prompt_cn`), else DrawBench (header has `Prompts`, or `Prompt` and `Category`)
  .jsonl      GenEval 2 geneval2_data.jsonl when its first line has `vqa_list`, else GenEval
              evaluation_metadata.jsonl
  .json       TIFA v1.0 (a list: tifa_v1.0_question_answers.json, tifa_v1.0_text_inputs.json)
              or GenAI-Bench genai_image.json (an object of prompt ids)
  .txt        T2I-CompBench when the file name is one of its categories, alone or followed by
              _train/_val/_test (color_val.txt, complex_val_action.txt, ...), else plain text
              (MARIO-Eval style); pass fmt="txt" or fmt="compbench" to overrule the name.

Prompts without an id get `<suite>-00001`, `<suite>-00002`, ... in file order, so the ids of
an unedited file never change. Duplicate ids are an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast, get_args

from audit.errors import UserError
from audit.prompts.builtin import builtin_path, builtin_suite_names
from audit.prompts.importers import (
    FORMAT_DOC,
    Record,
    compbench_category,
    read_compbench,
    read_dpg,
    read_drawbench,
    read_genai,
    read_geneval,
    read_geneval2,
    read_i2p,
    read_oneig,
    read_parti,
    read_text,
    read_tifa,
    read_txt,
    read_yaml,
    validated,
)
from audit.prompts.model import SAFE_ID, Prompt, PromptFormat, PromptSuite, SuiteRef

Format = PromptFormat
FORMATS: tuple[str, ...] = get_args(Format)

_READERS: dict[str, Callable[[Path], list[Record]]] = {
    "parti": read_parti,
    "drawbench": read_drawbench,
    "geneval": read_geneval,
    "compbench": read_compbench,
    "i2p": read_i2p,
    "txt": read_txt,
    "geneval2": read_geneval2,
    "tifa": read_tifa,
    "dpg": read_dpg,
    "genai": read_genai,
    "oneig": read_oneig,
}
_BY_SUFFIX = {".yaml": "yaml", ".yml": "yaml", ".tsv": "parti"}
BUILTIN_PREFIX = "builtin:"


def load_suite(ref: str | SuiteRef, base_dir: Path | str, fmt: str | None = None) -> PromptSuite:
    """Load a built-in suite by name (`counting` or `builtin:counting`) or a prompt file.

    Relative paths resolve against `base_dir` (the folder of the sweep spec). A `SuiteRef`
    carries its own format; `fmt` then must be None or the same.
    """
    if isinstance(ref, SuiteRef):
        if fmt is not None and ref.format is not None and fmt != ref.format:
            raise ValueError(f"format {fmt!r} given for a suite entry of format {ref.format!r}")
        fmt = fmt or ref.format
        ref = ref.path
    if fmt is not None and fmt not in FORMATS:
        raise UserError(
            f"unknown prompt format '{fmt}'",
            field="format",
            fix=f"use one of: {', '.join(FORMATS)}",
        )
    name = ref.removeprefix(BUILTIN_PREFIX)
    builtin = builtin_path(name)
    if builtin is not None:
        if fmt not in (None, "yaml"):
            raise UserError(
                f"'{name}' is a built-in suite, in our YAML format, not {fmt}",
                field="format",
                fix="drop `format` for a built-in suite, or name a file path",
            )
        source = BUILTIN_PREFIX + name
        return _load(builtin, "yaml", "built-in", source=source, builtin_name=name)
    if ref.startswith(BUILTIN_PREFIX):
        raise _unknown_suite(ref)
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.exists():
        raise _unknown_suite(ref, path)
    if path.is_dir():
        raise UserError(
            "is a folder, not a prompt file", file=path, fix="name one file of the folder"
        )
    if fmt is not None:
        return _load(path, fmt, "given", source=str(path))
    return _load(path, *sniff_format(path), source=str(path))


def _unknown_suite(ref: str, path: Path | None = None) -> UserError:
    names = ", ".join(builtin_suite_names()) or "none found"
    where = f" and there is no file {path}" if path else ""
    return UserError(
        f"'{ref}' is not a built-in suite{where}",
        field="prompts",
        fix=f"use a built-in suite ({names}) or the path of a prompt file",
    )


def detect_format(path: Path) -> str:
    """The format a file without a stated format is read in (see the module docstring)."""
    return sniff_format(path)[0]


def sniff_format(path: Path) -> tuple[str, str]:
    """(format, what it was picked from) for a file whose format was not given."""
    suffix = path.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix], f"the file suffix {suffix}"
    if suffix == ".txt":
        if compbench_category(path):
            return "compbench", "the file name (a T2I-CompBench category)"
        return "txt", "the file suffix .txt (the name is no T2I-CompBench category)"
    if suffix == ".jsonl":
        return _sniff_jsonl(path)
    if suffix == ".json":
        return _sniff_json(path)
    if suffix == ".csv":
        first = read_text(path).partition("\n")[0]
        columns = {cell.strip().strip('"').lower() for cell in first.split(",")}
        if {"prompt", "categories"} <= columns:
            return "i2p", "its CSV header (prompt, categories)"
        if {"item_id", "question_natural_language"} <= columns:
            return "dpg", "its CSV header (item_id, question_natural_language)"
        if {"category", "id"} <= columns and columns & {"prompt_en", "prompt_cn"}:
            return "oneig", "its CSV header (category, id, prompt_en or prompt_cn)"
        if "prompts" in columns or {"prompt", "category"} <= columns:
            return "drawbench", "its CSV header (Prompts or Prompt, and Category)"
        raise UserError(
            f"cannot tell the CSV format from its header {first.strip()!r}",
            file=f"{path}:1",
            field="header",
            fix="DrawBench files start 'Prompts,Category' or 'Prompt,Category'; I2P files "
            "have the columns 'prompt' and 'categories'; DPG-Bench files 'item_id' and "
            "'question_natural_language'; OneIG-Bench files 'category', 'id' and 'prompt_en'; "
            "or give the format in the spec: {path: FILE, format: NAME}",
        )
    raise UserError(
        f"unknown prompt file type '{suffix or '(none)'}'",
        file=path,
        fix="use .yaml, .tsv (PartiPrompts), .csv (DrawBench, I2P, DPG-Bench, OneIG-Bench), "
        ".jsonl (GenEval, GenEval 2), .json (TIFA, GenAI-Bench) or .txt, "
        f"or name the format ({', '.join(FORMATS)})",
    )


def _sniff_jsonl(path: Path) -> tuple[str, str]:
    """GenEval 2 lines carry `vqa_list`; GenEval's carry `include`. The first line decides (a
    line that does not parse is left for the reader to report)."""
    for line in read_text(path).splitlines():
        if line.strip():
            if '"vqa_list"' in line:
                return "geneval2", "its first line (a GenEval 2 `vqa_list`)"
            break
    return "geneval", "the file suffix .jsonl (no GenEval 2 `vqa_list` in its first line)"


def _sniff_json(path: Path) -> tuple[str, str]:
    """TIFA files are JSON lists, GenAI-Bench's genai_image.json an object: the first
    character that is not a space decides."""
    text = read_text(path).lstrip()
    if text.startswith("["):
        return "tifa", "its content (a JSON list, as TIFA's files are)"
    if text.startswith("{"):
        return "genai", "its content (a JSON object of prompt ids, as genai_image.json is)"
    raise UserError(
        "cannot tell the JSON format: neither a list (TIFA) nor an object (GenAI-Bench)",
        file=path,
        fix="give a TIFA v1.0 file or GenAI-Bench's genai_image.json, or name the format in "
        "the spec: {path: FILE, format: NAME}",
    )


def _load(
    path: Path, fmt: str, picked_from: str, *, source: str, builtin_name: str | None = None
) -> PromptSuite:
    if fmt == "yaml":
        name, records = read_yaml(path)
    else:
        name, records = None, _READERS[fmt](path)
    if name is None:
        name = _safe_name(path.stem)
    elif not SAFE_ID.match(name) or len(name) > 100:
        raise UserError(
            f"suite name {name!r} is not usable as an id prefix",
            file=path,
            field="name",
            fix="use up to 100 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    if builtin_name is not None and name != builtin_name:
        raise UserError(
            f"built-in suite is named {name!r}",
            file=path,
            field="name",
            fix=f"set name: {builtin_name} (the file name)",
        )
    if not records:
        raise UserError(
            "no prompts found",
            file=path,
            fix=f"add at least one prompt; the formats are described in {FORMAT_DOC}",
        )
    prompts = _prompts(records, name)
    # fmt is one of FORMATS: checked by load_suite or picked by sniff_format.
    return PromptSuite(
        name=name,
        source=source,
        prompts=prompts,
        format=cast(PromptFormat, fmt),
        format_from=picked_from,
    )


def _safe_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-_.")[:100]
    return name or "suite"


def _prompts(records: list[Record], prefix: str) -> tuple[Prompt, ...]:
    prompts: list[Prompt] = []
    first_seen: dict[str, str] = {}
    for number, record in enumerate(records, start=1):
        data = {"id": f"{prefix}-{number:05d}", **record.fields}
        prompt = validated(Prompt, data, record.where, record.path)
        _check_expectations(prompt, record)
        if prompt.id in first_seen:
            raise UserError(
                f"duplicate prompt id '{prompt.id}' (first used at {first_seen[prompt.id]})",
                file=record.where,
                field=f"{record.path}.id" if record.path else "id",
                fix="give every prompt in the suite its own id",
            )
        first_seen[prompt.id] = record.where
        prompts.append(prompt)
    return tuple(prompts)


def _check_expectations(prompt: Prompt, record: Record) -> None:
    """What the model alone cannot check: positions point back; exclusions make sense."""
    base = f"{record.path}.expect" if record.path else "expect"
    objects = prompt.expect.objects
    for index, obj in enumerate(objects):
        if obj.position is not None and not 0 <= obj.position[1] < index:
            raise UserError(
                f"position refers to object {obj.position[1]}, which is not an earlier object "
                f"of this list (0..{index - 1})",
                file=record.where,
                field=f"{base}.objects[{index}].position",
                fix="list the reference object first and give its index (from 0), "
                "e.g. [{name: bench}, {name: dog, position: [left of, 0]}]",
            )
    for index, obj in enumerate(prompt.expect.exclude):
        if obj.position is not None or obj.count == 0:
            raise UserError(
                "an excluded object takes no position and a count of at least 1",
                file=record.where,
                field=f"{base}.exclude[{index}]",
                fix="exclude {name: X} means no X at all; {name: X, count: n} means fewer than n",
            )


def format_note(suite: PromptSuite) -> str | None:
    """A line saying which format a suite was read in, when it was picked from the file;
    None when the spec gave it or the suite is built in."""
    if suite.format_from in ("given", "built-in"):
        return None
    return (
        f"suite {suite.name} ({suite.source}): read as {suite.format}, picked from "
        f"{suite.format_from}; write {{path: ..., format: ...}} in the spec to choose"
    )


def suite_formats(refs: Sequence[str | SuiteRef], base_dir: Path | str) -> list[dict[str, str]]:
    """Per suite of a spec: its name, source, format, how the format was chosen and, when it
    was picked from the file, the `format_note` a run prints and records."""
    out = []
    for ref in refs:
        suite = load_suite(ref, base_dir)
        row = {
            "name": suite.name,
            "source": suite.source,
            "format": suite.format,
            "format_from": suite.format_from,
        }
        note = format_note(suite)
        out.append(row if note is None else {**row, "note": note})
    return out


def describe(suite: PromptSuite) -> tuple[str, int, str]:
    """(name, number of prompts, categories in order of first appearance) for listings."""
    categories = dict.fromkeys(prompt.category for prompt in suite.prompts)
    return suite.name, len(suite.prompts), ", ".join(categories)


def list_suites() -> list[tuple[str, int, str]]:
    """One describe() row per built-in suite, for `t2i-audit suites`."""
    return [describe(load_suite(name, Path.cwd())) for name in builtin_suite_names()]
