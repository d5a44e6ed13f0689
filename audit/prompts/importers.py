"""One reader per prompt file format. Each turns a file into Records; loader.py makes Prompts.

Every format whose prompts can ask for rendered text (plain text, T2I-CompBench, PartiPrompts,
DrawBench, I2P) takes the words inside the prompt's quotes as `expect.text`
(`audit.prompts.quotes`); GenEval and our YAML format state their expectations themselves.

A Record keeps where a prompt came from ("file:line" and a field path) so that every later
check (validation, duplicate ids, positions) can name the exact spot in the user's file.
Readers never skip a bad row: blank lines (and `#` comments in .txt) are the only lines they
pass over; anything else either becomes a prompt or raises UserError.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from audit.errors import UserError
from audit.prompts.model import ObjectExpectation
from audit.prompts.quotes import quoted_words

__all__ = ["quoted_words"]  # ingest reads targets of external images with the same rule

FORMAT_DOC = "prompts/README.md"

# T2I-CompBench ships color_val.txt, non_spatial_train.txt, complex_val_action.txt, ...: a
# file name is CompBench's when it is a category, alone or followed by _train, _val or _test
# (and anything after that), so color_signs.txt stays plain text.
COMPBENCH_CATEGORIES = (
    "3d_spatial",
    "non_spatial",
    "spatial",
    "color",
    "shape",
    "texture",
    "complex",
    "numeracy",
)

_COMPBENCH_SPLITS = ("train", "val", "test")

M = TypeVar("M", bound=BaseModel)
_SAME: Mapping[str, str] = MappingProxyType({})  # no renaming of field names


@dataclass(frozen=True)
class Record:
    where: str  # "path" or "path:line", used as UserError.file
    fields: dict[str, Any]  # keyword arguments for Prompt (id optional)
    path: str = ""  # field path prefix in the file, e.g. "prompts[3]"


def field_path(prefix: str, loc: tuple[Any, ...], rename: Mapping[str, str] = _SAME) -> str:
    """('expect', 'objects', 0, 'name') under 'p[2]' -> 'p[2].expect.objects[0].name'."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = rename.get(str(part), str(part))
            text = f"{text}.{name}" if text else name
    return text


def validated(
    model: type[M], data: Any, where: str, prefix: str, rename: Mapping[str, str] = _SAME
) -> M:
    """Build `model` from `data`, turning pydantic's error into a UserError naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        problem = first["msg"]
        if first["type"] not in ("missing", "extra_forbidden"):
            problem = f"invalid value {first.get('input')!r}: {problem}"
        raise UserError(
            problem + more,
            file=where,
            field=field_path(prefix, tuple(first["loc"]), rename) or None,
            fix=f"correct this field; the prompt format is described in {FORMAT_DOC}",
        ) from None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"not UTF-8 text (byte {exc.start})", file=path, fix="save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise UserError(
            f"cannot read the file: {exc.strerror}", file=path, fix="check the path and permissions"
        ) from None


def compbench_category(path: Path, *, strict: bool = True) -> str | None:
    """color_val.txt -> color, complex_val_action.txt -> complex, color_signs.txt -> None
    (strict, for telling the format from the name) or color (not strict: the format was
    given, so a leading category is enough)."""
    parts = path.stem.lower().split("_")
    for name in COMPBENCH_CATEGORIES:
        size = name.count("_") + 1  # non_spatial and 3d_spatial are two parts
        if "_".join(parts[:size]) != name:
            continue
        if not strict or len(parts) == size or parts[size] in _COMPBENCH_SPLITS:
            return name
    return None


def with_text(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` plus expect.text from the quoted words of its prompt, when there are any."""
    words = quoted_words(fields["text"])
    return {**fields, "expect": {"text": words}} if words else fields


def _lines(path: Path, comments: bool) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if line and not (comments and line.startswith("#")):
            yield number, line


# ---- plain text, T2I-CompBench ------------------------------------------------------------


def read_txt(path: Path) -> list[Record]:
    """One prompt per line; blank lines and `#` comments skipped; 'quoted' words -> expect.text."""
    return [
        Record(f"{path}:{number}", with_text({"text": line}))
        for number, line in _lines(path, comments=True)
    ]


def read_compbench(path: Path) -> list[Record]:
    """T2I-CompBench: one prompt per line, category from the file name (color_val.txt -> color)."""
    category = compbench_category(path, strict=False)
    if category is None:
        raise UserError(
            "cannot tell the T2I-CompBench category from the file name",
            file=path,
            fix="name the file after its category, e.g. color_val.txt or spatial_train.txt "
            f"({', '.join(COMPBENCH_CATEGORIES)}), or use format 'txt'",
        )
    return [
        Record(
            f"{path}:{number}", with_text({"text": line, "category": category, "tags": [category]})
        )
        for number, line in _lines(path, comments=False)
    ]


# ---- tables: PartiPrompts, DrawBench, I2P ---------------------------------------------------


def _table(
    path: Path,
    *,
    delimiter: str,
    required: tuple[str | tuple[str, ...], ...],
    header_hint: str,
    raw: bool = False,
) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows of a CSV/TSV as ("path:line", {lowercased column: stripped cell}).

    A tuple in `required` names columns of which exactly one must be there (DrawBench copies
    head their prompts `Prompts` or `Prompt`). `raw` reads without quote handling:
    PartiPrompts is plain TSV whose prompts contain double quotes that are part of the text.
    """
    stream = io.StringIO(read_text(path))
    if raw:
        reader = csv.reader(stream, delimiter=delimiter, quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(stream, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UserError("the file is empty", file=path, fix=f"add the header {header_hint}")
        columns = [name.strip().lower() for name in header]
        _check_header(columns, required, header, f"{path}:1", header_hint)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row:
                continue  # blank line
            if len(row) > len(columns):
                raise UserError(
                    f"{len(row)} cells but the header has {len(columns)} columns",
                    file=where,
                    fix="remove the extra cells or quote the cell that contains the delimiter",
                )
            cells = [cell.strip() for cell in row] + [""] * (len(columns) - len(row))
            yield where, dict(zip(columns, cells, strict=True))
    except csv.Error as exc:
        raise UserError(
            f"malformed table: {exc}", file=f"{path}:{reader.line_num}", fix="check the quoting"
        ) from None


def _check_header(
    columns: list[str],
    required: tuple[str | tuple[str, ...], ...],
    header: list[str],
    where: str,
    hint: str,
) -> None:
    missing = []
    for need in required:
        names = (need,) if isinstance(need, str) else need
        found = [name for name in names if name.lower() in columns]
        if not found:
            missing.append(" or ".join(names))
        elif len(found) > 1:
            raise UserError(
                f"header has both columns {' and '.join(found)}; found {header}",
                file=where,
                field="header",
                fix=f"keep one of them; the first line must be the header {hint}",
            )
    if missing:
        raise UserError(
            f"header lacks column(s) {', '.join(missing)}; found {header}",
            file=where,
            field="header",
            fix=f"the first line must be the header {hint}",
        )


def _required_cell(row: dict[str, str], column: str, where: str) -> str:
    value = row[column.lower()]
    if not value:
        raise UserError(
            f"empty '{column}' cell",
            file=where,
            field=column,
            fix="write a prompt there or delete the line",
        )
    return value


def read_parti(path: Path) -> list[Record]:
    """PartiPrompts TSV: Prompt, Category, Challenge, Note. Challenge becomes a tag."""
    hint = "'Prompt<TAB>Category<TAB>Challenge<TAB>Note'"
    records = []
    for where, row in _table(
        path, delimiter="\t", required=("Prompt", "Category"), header_hint=hint, raw=True
    ):
        fields: dict[str, Any] = {"text": _required_cell(row, "Prompt", where)}
        if row["category"]:
            fields["category"] = row["category"]
        if row.get("challenge"):
            fields["tags"] = [row["challenge"]]
        records.append(Record(where, with_text(fields)))
    return records


def read_drawbench(path: Path) -> list[Record]:
    """DrawBench CSV: Prompts (or Prompt), Category; extra columns are allowed and not used."""
    records = []
    for where, row in _table(
        path,
        delimiter=",",
        required=(("Prompts", "Prompt"), "Category"),
        header_hint="'Prompts,Category' or 'Prompt,Category'",
    ):
        column = "Prompts" if "prompts" in row else "Prompt"
        fields: dict[str, Any] = {"text": _required_cell(row, column, where)}
        if row["category"]:
            fields["category"] = row["category"]
        records.append(Record(where, with_text(fields)))
    return records


_FLAG = {"1": True, "1.0": True, "true": True, "0": False, "0.0": False, "false": False, "": False}


def read_i2p(path: Path) -> list[Record]:
    """I2P CSV: prompt, categories ("sexual, shocking"), hard, ... .

    The first category becomes the prompt's category, all of them its tags, plus "hard" for
    the hard subset. The per-prompt seeds and guidance of I2P are not used: the sweep sets them.
    """
    hint = "'prompt,categories,hard,inappropriate_percentage,...'"
    records = []
    for where, row in _table(
        path, delimiter=",", required=("prompt", "categories"), header_hint=hint
    ):
        text = _required_cell(row, "prompt", where)
        categories = [c.strip() for c in row["categories"].split(",") if c.strip()]
        hard = row.get("hard", "").lower()
        if hard not in _FLAG:
            raise UserError(
                f"'hard' must be 0 or 1, not {row['hard']!r}",
                file=where,
                field="hard",
                fix="write 1 for the hard subset, 0 (or nothing) otherwise",
            )
        tags = categories + (["hard"] if _FLAG[hard] else [])
        fields: dict[str, Any] = {"text": text, "tags": tags}
        if categories:
            fields["category"] = categories[0]
        records.append(Record(where, with_text(fields)))
    return records


# ---- GenEval -------------------------------------------------------------------------------

# GenEval calls an object's name "class"; errors speak the file's language.
_GENEVAL_NAMES = {"name": "class"}


def _geneval_objects(items: Any, key: str, where: str) -> list[ObjectExpectation]:
    if not isinstance(items, list):
        raise UserError(
            f"must be a list of objects, not {type(items).__name__}",
            file=where,
            field=key,
            fix='write e.g. [{"class": "dog", "count": 1}]',
        )
    objects = []
    for index, item in enumerate(items):
        data = dict(item) if isinstance(item, dict) else item
        if isinstance(data, dict) and "class" in data:
            data["name"] = data.pop("class")
        objects.append(validated(ObjectExpectation, data, where, f"{key}[{index}]", _GENEVAL_NAMES))
    return objects


def read_geneval(path: Path) -> list[Record]:
    """GenEval evaluation_metadata.jsonl: one {"tag", "prompt", "include", "exclude"} per line.

    include/exclude map 1:1 onto expect.objects/expect.exclude (class -> name). GenEval's
    "exactly n" (include n plus exclude n+1) and its positions (["right of", 0]: this object
    is right of include[0]) read the same in our model; see prompts/README.md.
    """
    records = []
    for number, line in _lines(path, comments=False):
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"not valid JSON ({exc.msg} at column {exc.colno})",
                file=where,
                fix="each line must hold one JSON object",
            ) from None
        except RecursionError:
            raise UserError("JSON nested too deeply", file=where, fix="flatten the line") from None
        if not isinstance(row, dict):
            raise UserError(
                f"each line must hold one JSON object, not a {type(row).__name__}",
                file=where,
                fix='write e.g. {"tag": "single_object", "prompt": "a dog", "include": [...]}',
            )
        for key in ("tag", "prompt", "include"):
            if key not in row:
                raise UserError(
                    f"missing key '{key}'",
                    file=where,
                    field=key,
                    fix='GenEval lines look like {"tag": ..., "prompt": ..., "include": [...]}',
                )
        if not isinstance(row["prompt"], str) or not row["prompt"].strip():
            raise UserError(
                "must be non-empty text", file=where, field="prompt", fix="write the prompt there"
            )
        if not isinstance(row["tag"], str) or not row["tag"]:
            raise UserError(
                "must be non-empty text",
                file=where,
                field="tag",
                fix="use GenEval's task name, e.g. counting or position",
            )
        expect = {
            "objects": _geneval_objects(row["include"], "include", where),
            "exclude": _geneval_objects(row.get("exclude", []), "exclude", where),
        }
        fields = {
            "text": row["prompt"].strip(),
            "category": row["tag"],
            "tags": [row["tag"]],
            "expect": expect,
        }
        records.append(Record(where, fields))
    return records


# ---- our YAML suite format -----------------------------------------------------------------

_SUITE_KEYS = ("name", "description", "prompts")


def _item_lines(text: str) -> list[int]:
    """1-based line of each entry under `prompts:`, so errors can point into the file."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "prompts" and isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def read_yaml(path: Path) -> tuple[str | None, list[Record]]:
    """Our suite format (see prompts/README.md). Returns (suite name or None, records)."""
    text = read_text(path)
    try:
        lines = _item_lines(text)
        data = yaml.safe_load(text)
    except RecursionError:  # hostile nesting ([[[[...]]]]): the parser would overflow
        raise UserError("bad YAML: nested too deeply", file=path, fix="flatten it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        position = getattr(exc, "position", None)  # a ReaderError: a character YAML refuses
        if line is None and isinstance(position, int):
            line = text[:position].count("\n") + 1
        where = f"{path}:{line}" if line else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"bad YAML: {problem}", file=where, fix="fix the YAML syntax") from None
    fix = f"a suite is a mapping with 'name', 'description' and 'prompts'; see {FORMAT_DOC}"
    if not isinstance(data, dict):
        raise UserError("the top level must be a mapping", file=path, fix=fix)
    for key in data:
        if key not in _SUITE_KEYS:
            raise UserError("unknown key", file=path, field=str(key), fix=fix)
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise UserError("must be text", file=path, field="name", fix=fix)
    if not isinstance(data.get("description", ""), str):
        raise UserError("must be text", file=path, field="description", fix=fix)
    prompts = data.get("prompts")
    if not isinstance(prompts, list) or not prompts:
        raise UserError("must be a non-empty list of prompts", file=path, field="prompts", fix=fix)
    records = []
    for index, item in enumerate(prompts):
        where = f"{path}:{lines[index]}" if index < len(lines) else str(path)
        prefix = f"prompts[{index}]"
        if isinstance(item, str):
            item = {"text": item}  # shorthand: a bare string is a prompt without extras
        if not isinstance(item, dict):
            raise UserError(
                "each prompt must be a mapping or a string",
                file=where,
                field=prefix,
                fix="write e.g. - {text: a red car, category: color}",
            )
        records.append(Record(where, dict(item), path=prefix))
    return name, records
