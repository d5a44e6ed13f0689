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
from audit.prompts.model import ObjectExpectation, Question
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


# ---- JSON helpers --------------------------------------------------------------------------


def _json_lines(path: Path, example: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """("path:line", object) for each non-blank line of a JSON-lines file."""
    for number, line in _lines(path, comments=False):
        where = f"{path}:{number}"
        row = _parse_json(line, where, "each line must hold one JSON object")
        if not isinstance(row, dict):
            raise UserError(
                f"each line must hold one JSON object, not a {type(row).__name__}",
                file=where,
                fix=f"write e.g. {example}",
            )
        yield where, row


def _parse_json(text: str, where: str, fix: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno} column {exc.colno}" if "\n" in text else f"column {exc.colno}"
        raise UserError(f"not valid JSON ({exc.msg} at {at})", file=where, fix=fix) from None
    except RecursionError:
        raise UserError("JSON nested too deeply", file=where, fix="flatten it") from None


def _json_file(path: Path) -> Any:
    return _parse_json(read_text(path), str(path), "the file must hold one JSON document")


def _text_value(row: Mapping[str, Any], key: str, where: str, fix: str) -> str:
    """row[key] as stripped non-empty text, or UserError naming the key."""
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        problem = f"missing key '{key}'" if key not in row else "must be non-empty text"
        raise UserError(problem, file=where, field=key, fix=fix)
    return value.strip()


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
    example = '{"tag": "single_object", "prompt": "a dog", "include": [...]}'
    for where, row in _json_lines(path, example):
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


# ---- suites that carry questions: GenEval 2, TIFA v1.0, DPG-Bench, OneIG-Bench ------------
#
# Each question becomes an `expect.questions` entry (id, question, expected answer, the atom
# it tests, dependencies). Question ids are the file's own where it has them (DPG-Bench's
# proposition_id, OneIG-Bench's keys), else 1, 2, ... in file order.


def _question(data: dict[str, Any], where: str, field: str) -> Question:
    return validated(Question, data, where, field)


def read_geneval2(path: Path) -> list[Record]:
    """GenEval 2 geneval2_data.jsonl (facebookresearch/GenEval2): one {"prompt", "atom_count",
    "vqa_list": [[question, answer], ...], "skills": [skill per question]} per line.

    Each [question, answer] pair is a question whose atom is its skill (object, count,
    attribute, position, verb); the category is the prompt's atomicity (`atoms_3`), which
    GenEval 2's per-atomicity analysis groups by, and the skills are its tags.
    """
    example = (
        '{"prompt": "...", "atom_count": 3, "vqa_list": [["Is ...?", "Yes"]], "skills": [...]}'
    )
    fix = f"GenEval 2 lines look like {example}"
    records = []
    for where, row in _json_lines(path, example):
        text = _text_value(row, "prompt", where, fix)
        pairs, skills = row.get("vqa_list"), row.get("skills")
        if not isinstance(pairs, list) or not pairs:
            raise UserError(
                "must be a non-empty list of [question, answer] pairs",
                file=where,
                field="vqa_list",
                fix=fix,
            )
        if not isinstance(skills, list) or len(skills) != len(pairs):
            got = len(skills) if isinstance(skills, list) else type(skills).__name__
            raise UserError(
                f"must list one skill per question ({len(pairs)}), found {got}",
                file=where,
                field="skills",
                fix="give each vqa_list pair its skill, in the same order",
            )
        atoms = row.get("atom_count")
        if atoms is not None and (not isinstance(atoms, int) or isinstance(atoms, bool)):
            raise UserError("must be a whole number", file=where, field="atom_count", fix=fix)
        questions = []
        for index, (pair, skill) in enumerate(zip(pairs, skills, strict=True)):
            field = f"vqa_list[{index}]"
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
            ):
                raise UserError(
                    "must be a [question, answer] pair of texts", file=where, field=field, fix=fix
                )
            if not isinstance(skill, str) or not skill:
                raise UserError("must be text", file=where, field=f"skills[{index}]", fix=fix)
            data = {"id": str(index + 1), "question": pair[0], "answer": pair[1], "atom": skill}
            questions.append(_question(data, where, field))
        fields: dict[str, Any] = {
            "text": text,
            "tags": sorted(set(skills)),
            "expect": {"questions": questions},
        }
        if atoms is not None:
            fields["category"] = f"atoms_{atoms}"
        records.append(Record(where, fields))
    return records


def _json_list(path: Path, hint: str) -> list[tuple[str, dict[str, Any]]]:
    """A JSON file holding a list of objects, as ("path[index]", object) pairs."""
    data = _json_file(path)
    if not isinstance(data, list):
        raise UserError(f"must hold a JSON list, not a {type(data).__name__}", file=path, fix=hint)
    out = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise UserError(
                f"must be a JSON object, not a {type(item).__name__}",
                file=path,
                field=f"[{index}]",
                fix=hint,
            )
        out.append((f"{path}[{index}]", item))
    return out


def _entry(
    prompts: dict[str, dict[str, Any]], pid: str, text: str, where: str, field: str, **extra: Any
) -> dict[str, Any]:
    """The prompt of id `pid` gathered from rows that each carry one question: the first row
    makes it, a later row of another text is an error naming both."""
    entry = prompts.get(pid)
    if entry is None:
        entry = prompts[pid] = {"where": where, "id": pid, "text": text, "questions": [], **extra}
    elif entry["text"] != text:
        raise UserError(
            f"id {pid!r} has another {field} at {entry['where']}",
            file=where,
            field=field,
            fix=f"rows of one id must share its {field}",
        )
    return entry


def read_tifa(path: Path) -> list[Record]:
    """TIFA v1.0 (Yushi-Hu/tifa, tifa_v1.0/): tifa_v1.0_question_answers.json, a list of
    {"id", "caption", "question", "choices", "answer", "element_type", "element"} (one entry
    per question, entries of one caption sharing its id), or tifa_v1.0_text_inputs.json, a
    list of {"id", "caption"} (prompts without questions).

    The TIFA id is the prompt id; its source prefix (coco, drawbench, partiprompt, ...) the
    category; element_type the question's atom; quoted words in a caption its expected text.
    """
    hint = (
        'TIFA files are lists of {"id": "coco_301091", "caption": "...", "question": "...", '
        '"choices": [...], "answer": "..."} (or of {"id", "caption"} for text inputs)'
    )
    prompts: dict[str, dict[str, Any]] = {}
    for where, item in _json_list(path, hint):
        pid = _text_value(item, "id", where, hint)
        caption = _text_value(item, "caption", where, hint)
        source = pid.rsplit("_", 1)[0] if "_" in pid else "tifa"
        entry = _entry(prompts, pid, caption, where, "caption", category=source)
        if "question" not in item:
            continue
        choices = item.get("choices", [])
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise UserError("must be a list of texts", file=where, field="choices", fix=hint)
        answer = _text_value(item, "answer", where, hint)
        if choices and answer not in choices:
            raise UserError(
                f"answer {answer!r} is not one of the choices {choices}",
                file=where,
                field="answer",
                fix="the answer must be one of the question's choices",
            )
        data = {
            "id": str(len(entry["questions"]) + 1),
            "question": _text_value(item, "question", where, hint),
            "answer": answer,
            "atom": item.get("element_type") or None,
            "choices": choices,
        }
        entry["questions"].append(_question(data, where, "question"))
    records = []
    for entry in prompts.values():
        fields = with_text({k: entry[k] for k in ("id", "text", "category")})
        if entry["questions"]:
            expect = dict(fields.get("expect", {}))
            fields = {**fields, "expect": {**expect, "questions": entry["questions"]}}
        records.append(Record(entry["where"], fields))
    return records


def read_dpg(path: Path) -> list[Record]:
    """DPG-Bench dpg_bench.csv (TencentQQGYLab/ELLA, dpg_bench/): one row per question,
    item_id, text, keywords, proposition_id, dependency, category_broad, category_detailed,
    tuple, question_natural_language.

    Rows of one item_id make one prompt (the item id is the prompt id); each row a question
    with the expected answer "yes", its id the proposition_id, its dependencies the parent
    ids ("0" means none), its atom category_broad (entity, attribute, relation, global,
    other). DPG-Bench's compute_dpg_bench.py skips the file's first data row (its `i == 0`);
    every row is read here.
    """
    hint = (
        "'item_id,text,keywords,proposition_id,dependency,category_broad,category_detailed,"
        "tuple,question_natural_language'"
    )
    required = ("item_id", "text", "proposition_id", "dependency", "category_broad",
                "question_natural_language")  # fmt: skip
    prompts: dict[str, dict[str, Any]] = {}
    for where, row in _table(path, delimiter=",", required=required, header_hint=hint):
        pid = _required_cell(row, "item_id", where)
        text = _required_cell(row, "text", where)
        entry = _entry(prompts, pid, text, where, "text", atoms=[])
        qid = _required_cell(row, "proposition_id", where)
        parents = [d.strip() for d in row["dependency"].split(",") if d.strip()]
        if not all(d.isdigit() for d in parents):
            raise UserError(
                f"dependency {row['dependency']!r} is not a list of proposition ids",
                file=where,
                field="dependency",
                fix="write the parent proposition ids separated by commas, or 0 for none",
            )
        atom = _required_cell(row, "category_broad", where)
        data = {
            "id": qid,
            "question": _required_cell(row, "question_natural_language", where),
            "answer": "yes",
            "atom": atom,
            "dependencies": [d for d in parents if d != "0"],
        }
        entry["questions"].append(_question(data, where, "question_natural_language"))
        entry["atoms"].append(atom)
    records = []
    for pid, entry in prompts.items():
        fields = with_text({"id": pid, "text": entry["text"]})
        expect = {**fields.get("expect", {}), "questions": entry["questions"]}
        tags = sorted(set(entry["atoms"]))
        records.append(Record(entry["where"], {**fields, "tags": tags, "expect": expect}))
    return records


# t2v_metrics' genai_image_eval.py groups GenAI-Bench's skills into basic and advanced.
GENAI_ADVANCED = ("counting", "comparison", "differentiation", "negation", "universal")
GENAI_SKILLS_FILE = "genai_skills.json"


def read_genai(path: Path) -> list[Record]:
    """GenAI-Bench genai_image.json (as t2v_metrics' GenAIBench_Image reads it from the
    GenAI-Bench-527 / -1600 datasets): {prompt_idx: {"prompt": text, "models": {...}}}.

    The prompt index is the prompt id. When genai_skills.json ({skill: [prompt_idx, ...]})
    sits beside the file, a prompt's skills become its tags and its category is "advanced"
    when it has an advanced skill (counting, comparison, differentiation, negation,
    universal), else "basic". The human ratings under "models" are not read.
    """
    hint = 'GenAI-Bench files map prompt ids to entries: {"00001": {"prompt": "...", ...}}'
    data = _json_file(path)
    if not isinstance(data, dict):
        raise UserError(
            f"must hold a JSON object, not a {type(data).__name__}", file=path, fix=hint
        )
    skills = _genai_skills(path.parent / GENAI_SKILLS_FILE, set(data))
    records = []
    for pid, item in data.items():
        where = f"{path}[{json.dumps(pid)}]"
        if not isinstance(item, dict):
            raise UserError(
                f"must be a JSON object, not a {type(item).__name__}", file=where, fix=hint
            )
        fields: dict[str, Any] = {"id": pid, "text": _text_value(item, "prompt", where, hint)}
        tags = skills.get(pid)
        if tags is not None:
            fields["tags"] = tags
            fields["category"] = "advanced" if set(tags) & set(GENAI_ADVANCED) else "basic"
        records.append(Record(where, with_text(fields)))
    return records


def _genai_skills(path: Path, ids: set[str]) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    fix = 'genai_skills.json maps skills to prompt ids: {"counting": ["00001", ...], ...}'
    data = _json_file(path)
    if not isinstance(data, dict):
        raise UserError("must hold a JSON object", file=path, fix=fix)
    out: dict[str, list[str]] = {}
    for skill, members in data.items():
        if not isinstance(members, list):
            raise UserError("must be a list of prompt ids", file=path, field=skill, fix=fix)
        for pid in members:
            key = str(pid)
            if key not in ids:
                raise UserError(
                    f"prompt id {key!r} is not in genai_image.json", file=path, field=skill, fix=fix
                )
            out.setdefault(key, []).append(skill)
    return out


# OneIG-Bench's image folders and question files are named after its categories thus.
ONEIG_CLASSES = {
    "Anime_Stylization": "anime",
    "Portrait": "human",
    "General_Object": "object",
    "Text_Rendering": "text",
    "Knowledge_Reasoning": "reasoning",
    "Multilingualism": "multilingualism",
}
ONEIG_QUESTIONS = Path("scripts") / "alignment" / "Q_D"


def read_oneig(path: Path) -> list[Record]:
    """OneIG-Bench OneIG-Bench.csv / OneIG-Bench-ZH.csv (OneIG-Bench/OneIG-Benchmark):
    category, id, prompt_en (prompt_cn in the ZH file), type, prompt_length, class.

    Ids repeat across categories, so the prompt id is `<folder>_<id>` (anime_000), as
    OneIG-Bench's alignment script names its rows. When the file sits in that repository's
    layout, the questions of scripts/alignment/Q_D/<folder>.json (<folder>_zh.json for the
    ZH file: {id: {"question": '{"1": ...}', "dependency": '{"1": [0], ...}'}}) become each
    prompt's questions, expected answer "yes"; type, prompt_length and class become tags.
    """
    hint = "'category,id,prompt_en,type,prompt_length,class' (or prompt_cn)"
    columns = ("category", "id", ("prompt_en", "prompt_cn"))
    zh = False
    records = []
    questions: dict[str, dict[str, Any] | None] = {}
    for where, row in _table(path, delimiter=",", required=columns, header_hint=hint):
        zh = "prompt_cn" in row
        category = _required_cell(row, "category", where)
        folder = ONEIG_CLASSES.get(category, category.lower())
        if folder not in questions:
            questions[folder] = _oneig_questions(path, folder, zh)
        number = _required_cell(row, "id", where)
        text = _required_cell(row, "prompt_cn" if zh else "prompt_en", where)
        fields: dict[str, Any] = {"id": f"{folder}_{number}", "text": text, "category": category}
        tags = [row.get(c, "") for c in ("type", "prompt_length", "class")]
        fields["tags"] = [t for t in tags if t]
        fields = with_text(fields)
        found = (questions[folder] or {}).get(number)
        if found is not None:
            fields["expect"] = {**fields.get("expect", {}), "questions": found}
        records.append(Record(where, fields))
    return records


def _oneig_questions(csv_path: Path, folder: str, zh: bool) -> dict[str, Any] | None:
    """id -> questions from OneIG-Bench's Q_D file beside the CSV; None when there is none."""
    path = csv_path.parent / ONEIG_QUESTIONS / f"{folder}{'_zh' if zh else ''}.json"
    if not path.is_file():
        return None
    data = _json_file(path)
    fix = 'Q_D files map ids to {"question": "{\\"1\\": ...}", "dependency": "{\\"1\\": [0]}"}'
    if not isinstance(data, dict):
        raise UserError("must hold a JSON object", file=path, fix=fix)
    out: dict[str, Any] = {}
    for number, item in data.items():
        field = str(number)
        if not isinstance(item, dict):
            raise UserError("must be a JSON object", file=path, field=field, fix=fix)
        asked = _oneig_mapping(item, "question", path, field, fix)
        parents = _oneig_mapping(item, "dependency", path, field, fix)
        found = []
        for qid, question in asked.items():
            deps = parents.get(qid, [])
            if not isinstance(deps, list):
                deps = [deps]
            data_q = {
                "id": str(qid),
                "question": question,
                "answer": "yes",
                "dependencies": [str(d) for d in deps if str(d) != "0"],
            }
            found.append(validated(Question, data_q, str(path), f"{field}.question.{qid}"))
        out[field] = found
    return out


def _oneig_mapping(
    item: dict[str, Any], key: str, path: Path, field: str, fix: str
) -> dict[str, Any]:
    value = item.get(key)
    if isinstance(value, str):  # OneIG-Bench stores these as JSON inside a string
        value = _parse_json(value, f"{path} ({field}.{key})", fix)
    if not isinstance(value, dict):
        raise UserError("must be a JSON object (or one written as text)", file=path,
                        field=f"{field}.{key}", fix=fix)  # fmt: skip
    return value


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
