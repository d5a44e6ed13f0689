"""`t2i-audit ingest`: make a run from images generated elsewhere (closed models, APIs).

Files are kept byte for byte: re-encoding would strip C2PA manifests and weaken invisible
watermarks, which the scorers must see exactly as the user's files have them. Every input
is validated before anything is written, so a bad line leaves the run untouched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.errors import UserError
from audit.progress import progress, say
from audit.prompts.importers import quoted_words, read_geneval, validated
from audit.prompts.model import SAFE_ID, Expectations
from audit.store.images import probe, read_bounded
from audit.store.run_store import RunStore
from audit.vocab import request_row

FORMAT_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
JSONL_FIELDS = {
    "file", "prompt", "prompt_id", "model", "seed", "sampler", "steps", "guidance",
    "expected_text", "negative_prompt", "category", "questions",
}  # fmt: skip
QUESTIONS_FIX = (
    '"questions" is a list of questions asked of the image (vqascore, Soft-TIFA): each a text '
    '("Is there a dog?", expected answer yes) or {"question": ..., "answer": ..., "atom": ..., '
    '"id": ..., "dependencies": [ids]} as in prompts/README.md'
)


@dataclass
class IngestItem:
    file: Path
    data: bytes
    ext: str
    width: int
    height: int
    row: dict[str, Any]

    @property
    def key(self) -> str:
        identity = {k: self.row[k] for k in ("model", "prompt_id", "prompt", "seed", "sampler")}
        identity |= {
            "steps": self.row["steps"],
            "guidance": self.row["guidance"],
            "file_sha256": hashlib.sha256(self.data).hexdigest(),
            "origin": "ingest",
        }
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _read_image(path: Path, where: str) -> tuple[bytes, str, int, int]:
    if not path.is_file():
        raise UserError("image file not found", file=where, field="file", fix=f"check {path}")
    data = read_bounded(path)
    # Decoded fully, with a pixel limit: a truncated file or a decompression bomb fails here,
    # naming the file, before anything is written, not in a scorer later.
    info = probe(data, path, formats=tuple(FORMAT_EXT))
    fmt, width, height = info.format, info.width, info.height
    if info.frames > 1:
        raise UserError(
            f"an animated image ({info.frames} frames); runs hold still images",
            file=path,
            fix="export the frame to audit as PNG, JPEG or WebP",
        )
    return data, FORMAT_EXT[fmt], width, height


def _inside(root: Path, relative: str, where: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise UserError(
            "the path leaves the ingest directory",
            file=where,
            field="file",
            fix="give image paths relative to the directory that holds metadata.jsonl",
        )
    return path


def _check_id(value: str, where: str, field: str) -> None:
    if not SAFE_ID.match(value):
        raise UserError(
            f"{value!r} is not a safe id",
            file=where,
            field=field,
            fix="use letters, digits, '_', '.' or '-' (at most 128 characters)",
        )


def read_jsonl_layout(src: Path, model: str | None) -> list[IngestItem]:
    meta = src / "metadata.jsonl"
    if not meta.is_file():
        raise UserError(
            "metadata.jsonl not found",
            file=src,
            fix='write one JSON object per image: {"file": "...", "prompt": "..."}',
        )
    items: list[IngestItem] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        lines = meta.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 text file", file=meta, fix="save it as UTF-8") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{meta}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"not valid JSON ({exc.msg})", file=where, fix="one JSON object per line"
            ) from None
        except RecursionError:
            raise UserError("JSON nested too deeply", file=where, fix="flatten the line") from None
        if not isinstance(row, dict):
            raise UserError("each line must be a JSON object", file=where)
        unknown = sorted(set(row) - JSONL_FIELDS)
        if unknown:
            raise UserError(
                f"unknown field(s) {unknown}",
                file=where,
                field=unknown[0],
                fix=f"use only {sorted(JSONL_FIELDS)}",
            )
        for required in ("file", "prompt"):
            if not isinstance(row.get(required), str) or not row[required].strip():
                raise UserError(f"'{required}' is required text", file=where, field=required)
        for text_field in ("prompt_id", "model", "sampler", "negative_prompt", "category"):
            if text_field in row and not isinstance(row[text_field], str):
                raise UserError(
                    f"'{text_field}' must be text, not {type(row[text_field]).__name__}",
                    file=where,
                    field=text_field,
                )
        prompt = row["prompt"]
        pid = row.get("prompt_id") or "p-" + hashlib.sha1(prompt.encode()).hexdigest()[:12]
        mid = row.get("model") or model or "external"
        _check_id(pid, where, "prompt_id")
        _check_id(mid, where, "model")
        for field, typ in (("seed", int), ("steps", int), ("guidance", (int, float))):
            if field in row and (not isinstance(row[field], typ) or isinstance(row[field], bool)):
                raise UserError(f"'{field}' must be a number", file=where, field=field)
        # Without a seed, the n-th image of a (model, prompt) gets seed n, so pairs still match.
        nth = seen.get((mid, pid), 0)
        seen[(mid, pid)] = nth + 1
        expected = row.get("expected_text")
        if expected is None:
            expected = quoted_words(prompt)
        elif isinstance(expected, str):
            expected = expected.split()
        elif not (isinstance(expected, list) and all(isinstance(w, str) for w in expected)):
            raise UserError(
                "'expected_text' must be text or a list of words", file=where, field="expected_text"
            )
        path = _inside(src, row["file"], where)
        data, ext, width, height = _read_image(path, where)
        items.append(
            IngestItem(
                path,
                data,
                ext,
                width,
                height,
                {
                    "prompt": prompt,
                    "prompt_id": pid,
                    "model": mid,
                    "seed": int(row.get("seed", nth)),
                    "sampler": str(row.get("sampler", "external")),
                    "steps": int(row.get("steps", 0)),
                    "guidance": float(row.get("guidance", 0.0)),
                    "negative": str(row.get("negative_prompt", "")),
                    "category": str(row.get("category", "uncategorized")),
                    "expect_json": _expectations(
                        expected, row.get("questions", []), where
                    ).model_dump_json(exclude_defaults=True),
                },
            )
        )
    if not items:
        raise UserError("metadata.jsonl lists no images", file=meta, fix="add one line per image")
    return items


def _expectations(words: list[str], questions: Any, where: str) -> Expectations:
    """A row's expectations: its words, and its questions (a bare text is a yes-question;
    ids default to q1, q2, ... in order)."""
    if not isinstance(questions, list):
        raise UserError(
            "'questions' must be a list", file=where, field="questions", fix=QUESTIONS_FIX
        )
    given = []
    for i, q in enumerate(questions):
        if isinstance(q, str):
            q = {"question": q}
        if not isinstance(q, dict):
            raise UserError(
                "must be a text or an object",
                file=where,
                field=f"questions[{i}]",
                fix=QUESTIONS_FIX,
            )
        given.append({"id": f"q{i + 1}", **q})
    data = {"text": list(words), "questions": given}
    try:
        return validated(Expectations, data, where, "")
    except UserError as exc:
        exc.fix = QUESTIONS_FIX if str(exc.field or "").startswith("questions") else exc.fix
        raise


def read_geneval_layout(src: Path, model: str | None) -> list[IngestItem]:
    """GenEval's layout: <dir>/<%05d>/metadata.jsonl and <dir>/<%05d>/samples/<%04d>.png."""
    folders = sorted(p for p in src.iterdir() if p.is_dir() and p.name.isdigit())
    if not folders:
        raise UserError(
            "no numbered prompt folders (00000/, 00001/, ...)",
            file=src,
            fix="point at GenEval's output directory, or use --layout jsonl",
        )
    items: list[IngestItem] = []
    for folder in folders:
        meta = folder / "metadata.jsonl"
        if not meta.is_file():
            raise UserError("metadata.jsonl not found", file=folder, fix="GenEval writes one")
        records = read_geneval(meta)
        if len(records) != 1:
            raise UserError("expected exactly one JSON line", file=meta)
        fields = records[0].fields
        expect = Expectations(
            objects=tuple(fields["expect"]["objects"]), exclude=tuple(fields["expect"]["exclude"])
        )
        samples = sorted((folder / "samples").glob("*.*"))
        if not samples:
            raise UserError("no images under samples/", file=folder)
        for sample in samples:
            if not sample.stem.isdigit():
                continue
            data, ext, width, height = _read_image(sample, str(sample))
            items.append(
                IngestItem(
                    sample,
                    data,
                    ext,
                    width,
                    height,
                    {
                        "prompt": fields["text"],
                        "prompt_id": f"geneval-{folder.name}",
                        "model": model or "external",
                        "seed": int(sample.stem),
                        "sampler": "external",
                        "steps": 0,
                        "guidance": 0.0,
                        "negative": "",
                        "category": fields["category"],
                        "expect_json": expect.model_dump_json(exclude_defaults=True),
                    },
                )
            )
    return items


def read_source(src: Path, layout: str, model: str | None) -> list[IngestItem]:
    """Every image of an ingest folder, validated and decoded (nothing is written)."""
    if not src.is_dir():
        raise UserError("not a directory", file=src, fix="give the folder that holds the images")
    if model is not None:
        _check_id(model, "--model", "model")
    readers = {"jsonl": read_jsonl_layout, "geneval": read_geneval_layout}
    if layout not in readers:
        raise UserError(f"unknown layout {layout!r}", field="--layout", fix="use jsonl or geneval")
    return readers[layout](src, model)


def request_rows(items: list[IngestItem], src: Path, suite: str) -> list[dict[str, Any]]:
    """The ledger request rows of ingested images (also what `verify --repair` re-reads)."""
    return [
        request_row(
            key=it.key,
            model=it.row["model"],
            source=f"ingest:{src}",
            fingerprint="external",
            dtype="unknown",
            sampler=it.row["sampler"],
            steps=it.row["steps"],
            guidance=it.row["guidance"],
            width=it.width,
            height=it.height,
            seed=it.row["seed"],
            suite=suite,
            prompt_id=it.row["prompt_id"],
            prompt=it.row["prompt"],
            negative=it.row["negative"],
            category=it.row["category"],
            expect_json=it.row["expect_json"],
        )  # fmt: skip
        for it in items
    ]


def ingest(
    src: Path,
    run_dir: Path,
    *,
    layout: str = "jsonl",
    model: str | None = None,
    suite: str = "ingested",
    quiet: bool = False,
    wait: float | None = None,
) -> tuple[int, int]:
    """Returns (images in the source, images newly added). `wait`: seconds to wait for
    another writer of the run (None: fail at once, naming it)."""
    items = read_source(src, layout, model)
    store = RunStore(run_dir, create=True, wait=wait)
    try:
        store.ledger.upsert_requests(request_rows(items, src, suite), deactivate_others=False)
        have = store.ledger.image_paths()
        new = [
            it for it in items if it.key not in have or not store.image_path(have[it.key]).is_file()
        ]
        bar = progress(len(new), "ingesting", quiet=quiet)
        for it in new:
            store.save_image(
                it.key,
                it.data,
                ext=it.ext,
                gen_seconds=None,
                peak_mem_mb=None,
                nan_or_black=False,
                safety_flag=None,
                origin="ingested",
            )
            bar.update(1)
        bar.close()
        store.write_info(
            status="complete",
            ingested_from=str(src.resolve()),
            layout=layout,
            ingest_options={"model": model, "suite": suite},  # `verify --repair` reads again
        )
    finally:
        store.close()
    say(f"ingested {len(new)} new of {len(items)} images into {run_dir}", quiet=quiet)
    return len(items), len(new)
