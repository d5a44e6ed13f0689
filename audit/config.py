"""Sweep spec: pydantic models and YAML loading with errors that name file, field and fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from audit.errors import UserError, error_from_validation
from audit.prompts.model import SuiteRef
from audit.provenance.trust import TrustSettings, check_pem

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
DType = Literal["float32", "float16", "bfloat16"]


def _check_safe(value: str, what: str) -> str:
    # Run names and model ids become directory and file names: keep them plain.
    if not SAFE_NAME.match(value) or value in {".", ".."}:
        raise ValueError(
            f"{what} {value!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source: str = Field(min_length=1)  # hub id, local diffusers directory, or builtin:NAME
    dtype: DType = "float32"
    revision: str | None = None  # hub revision; part of the model's fingerprint

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        return _check_safe(value, "model id")


class SignSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cert: Path  # PEM chain: leaf first, then intermediates / root
    key: Path  # PEM private key of the leaf
    alg: Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"] = "es256"
    claim_generator: str = "t2i-audit"
    xmp: bool = False  # also write the IPTC DigitalSourceType into the file's XMP


class TreeRingKeySpec(BaseModel):
    """A Tree-Ring key (Wen et al., 2023): rings written into the centred Fourier transform
    of the initial noise, inside a disc of `radius` frequencies, in one latent channel or
    all (-1). The same fields configure the `treering` scorer that detects it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["treering"] = "treering"
    key_seed: int = Field(default=0, ge=0, lt=2**63)
    radius: int = Field(default=10, ge=1, le=64)  # must be under half the latent's side
    channel: int = Field(default=-1, ge=-1, le=63)  # -1: every latent channel
    pattern: Literal["ring"] = "ring"


class WatermarkSpec(TreeRingKeySpec):
    """`provenance.watermark`: embed the key in every image of the listed models (all when
    `models` is omitted); the others are the unmarked images a false-positive rate is
    measured on."""

    models: list[str] | None = None


class ProvenanceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sign: SignSpec | None = None
    # Trust anchors and policy for reading C2PA (audit.provenance.trust); the default of
    # every c2pa scorer entry that sets no trust of its own. Paths are relative to the spec.
    trust: TrustSettings | None = None
    watermark: WatermarkSpec | None = None


class RuntimeSpec(BaseModel):
    """How to run the pipelines; none of this changes what an image should look like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: Literal["auto", "cuda", "cpu"] = "auto"
    cpu_offload: bool = False
    attention_slicing: bool = False
    vae_tiling: bool = False
    compile: bool = False
    channels_last: bool = False  # the UNet's weights in NHWC layout (often faster on GPUs)
    reuse_text_embeddings: bool = True


class TimingSpec(BaseModel):
    """`timing:` the timing pass that measures each cell's speed after generation, before
    scoring: `warmup` untimed batches, then `repeats` timed batches of `batch_size` images
    (the cell's own prompts and seeds; the images are discarded). `timing: false` skips it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repeats: int = Field(default=3, ge=1, le=100)
    batch_size: int = Field(default=1, ge=1, le=1024)
    warmup: int = Field(default=1, ge=0, le=100)


LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$")


class ScorerEntry(BaseModel):
    """One scorer instance: `- clip`, `- clip: {model: ...}`, or with `as: LABEL` inside the
    options to run a second instance whose columns are `<metric>@LABEL`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    label: str | None = Field(default=None, alias="as")
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("label")
    @classmethod
    def _plain_label(cls, value: str | None) -> str | None:
        if value is not None and not LABEL.match(value):
            raise ValueError(
                f"label {value!r} must be 1-32 letters, digits, '_' or '-' (it becomes part "
                "of column names such as clip_score@LABEL)"
            )
        return value

    @property
    def instance(self) -> str:
        """The name its scores are stored under: the label, or the scorer's own name."""
        return self.label or self.name


def normalize_scorer_entries(values: Any) -> Any:
    """Accept `- clip`, `- clip: {model: ..., as: LABEL}` and `- {name: clip, options: ...}`."""
    if not isinstance(values, list):
        return values
    out: list[Any] = []
    for item in values:
        if isinstance(item, str):
            out.append({"name": item})
        elif isinstance(item, dict) and len(item) == 1 and "name" not in item:
            ((name, options),) = item.items()
            options = dict(options) if isinstance(options, dict) else options
            entry = {"name": name, "options": options or {}}
            if isinstance(options, dict) and "as" in options:
                entry["as"] = options.pop("as")
            out.append(entry)
        else:
            out.append(item)
    return out


def check_distinct_instances(entries: list[ScorerEntry]) -> list[ScorerEntry]:
    """Two entries may share a scorer only when labels tell their columns apart."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.instance in seen:
            first = seen[entry.instance]
            if entry.label is None:
                raise ValueError(
                    f"scorers.{first} and scorers.{i} are both unlabelled '{entry.name}' "
                    f"entries: give one of them a label, e.g. `- {entry.name}: {{as: "
                    f"{entry.name}2, ...}}`"
                )
            raise ValueError(
                f"scorers.{i}: label '{entry.label}' is already used by scorers.{first}"
            )
        seen[entry.instance] = i
    return entries


def parse_scorer_entries(raw: Any, *, file: str | Path) -> list[ScorerEntry]:
    """A `scorers:` list outside a spec (options files, the Python API), checked as in one."""
    from pydantic import TypeAdapter

    try:
        entries = TypeAdapter(list[ScorerEntry]).validate_python(normalize_scorer_entries(raw))
        return check_distinct_instances(entries)
    except ValidationError as exc:
        raise error_from_validation(exc, file=file, prefix="scorers") from None
    except ValueError as exc:
        raise UserError(str(exc), file=file, field="scorers", fix="label the entries") from None


# A suite is a built-in name or a file path (its format picked from the file), or
# `{path: FILE, format: NAME}` to state the format. The tag keeps errors to the mapping form.
SuiteEntry = Annotated[
    Annotated[str, Tag("name")] | Annotated[SuiteRef, Tag("file")],
    Discriminator(lambda v: "name" if isinstance(v, str) else "file"),
]


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    models: list[ModelSpec] = Field(min_length=1)
    samplers: list[str] = Field(min_length=1)
    steps: list[int] = Field(min_length=1)
    guidance: list[float] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    suites: list[SuiteEntry] = Field(min_length=1)
    size: int | None = Field(default=None, ge=8, le=4096)
    width: int | None = Field(default=None, ge=8, le=4096)
    height: int | None = Field(default=None, ge=8, le=4096)
    batch_size: int = Field(default=4, ge=1, le=1024)
    negative_prompt: str = ""
    scorers: list[ScorerEntry] = Field(default_factory=list)
    provenance: ProvenanceSpec = ProvenanceSpec()
    runtime: RuntimeSpec = RuntimeSpec()
    timing: TimingSpec | None = TimingSpec()  # None: no timing pass

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return _check_safe(value, "run name")

    @field_validator("steps")
    @classmethod
    def _positive_steps(cls, values: list[int]) -> list[int]:
        for v in values:
            if v < 1 or v > 1000:
                raise ValueError(f"step count {v} must be between 1 and 1000")
        return values

    @field_validator("guidance")
    @classmethod
    def _guidance_range(cls, values: list[float]) -> list[float]:
        for v in values:
            if v < 0 or v > 100:
                raise ValueError(f"guidance scale {v} must be between 0 and 100")
        return values

    @field_validator("seeds")
    @classmethod
    def _seed_range(cls, values: list[int]) -> list[int]:
        for v in values:
            if v < 0 or v >= 2**63:
                raise ValueError(f"seed {v} must be in [0, 2**63)")
        return values

    @field_validator("timing", mode="before")
    @classmethod
    def _timing_switch(cls, value: Any) -> Any:
        # `timing: false` skips the pass, `timing: true` keeps the defaults.
        if value is True:
            return {}
        return None if value is False else value

    @field_validator("scorers", mode="before")
    @classmethod
    def _scorer_shorthand(cls, values: Any) -> Any:
        return normalize_scorer_entries(values)

    @model_validator(mode="after")
    def _one_size(self) -> SweepSpec:
        if self.size is not None and (self.width is not None or self.height is not None):
            raise ValueError("give either size or width/height, not both")
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height go together")
        for field in ("samplers", "steps", "guidance", "seeds", "suites"):
            values = getattr(self, field)
            if len(set(values)) != len(values):
                raise ValueError(f"{field} lists a value twice: {values}")
        ids = [m.id for m in self.models]
        if len(set(ids)) != len(ids):
            raise ValueError(f"model ids must be unique, got {ids}")
        return self

    @model_validator(mode="after")
    def _watermarked_models_exist(self) -> SweepSpec:
        mark = self.provenance.watermark
        ids = {m.id for m in self.models}
        unknown = [m for m in (mark.models or []) if m not in ids] if mark is not None else []
        if unknown:
            raise ValueError(
                f"provenance.watermark.models names {unknown}, which are not model ids of "
                f"this spec; use some of {[m.id for m in self.models]}"
            )
        return self

    @field_validator("scorers")
    @classmethod
    def _distinct_instances(cls, entries: list[ScorerEntry]) -> list[ScorerEntry]:
        return check_distinct_instances(entries)

    @property
    def explicit_size(self) -> tuple[int, int] | None:
        """(width, height) when the spec gives a size; None: each model's native size
        (`audit.generate.native_size`), as diffusers pipelines default to."""
        if self.width is not None and self.height is not None:
            return self.width, self.height
        return (self.size, self.size) if self.size is not None else None


def parse_spec(data: Any, *, file: str | Path = "<spec>") -> SweepSpec:
    if not isinstance(data, dict):
        raise UserError(
            f"a sweep spec must be a YAML mapping, not {type(data).__name__}",
            file=file,
            field="(top level)",
            fix="see README for an example spec",
        )
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise error_from_validation(exc, file=file) from None


def read_yaml(path: Path, *, what: str) -> Any:
    if not path.exists():
        raise UserError(f"{what} not found", file=path, fix="check the path")
    if not path.is_file():
        raise UserError(f"{what} is not a file", file=path, fix="give the path of a YAML file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses: say where
            before = path.read_text(encoding="utf-8")[: exc.position]
            line, column = before.count("\n") + 1, exc.position - before.rfind("\n")
            where = f" at line {line}, column {column}"
        raise UserError(
            f"not valid YAML{where}: {getattr(exc, 'problem', exc)}",
            file=path,
            fix="fix the syntax",
        ) from None
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 text file", file=path, fix="save it as UTF-8") from None
    except RecursionError:  # hostile nesting ([[[[...]]]]): the parser would overflow
        raise UserError(
            "not valid YAML: nested too deeply", file=path, field="(top level)", fix="flatten it"
        ) from None


def load_spec(path: str | Path) -> tuple[SweepSpec, Path]:
    """Load and validate a spec; returns it with the folder that relative paths resolve from."""
    path = Path(path)
    spec = parse_spec(read_yaml(path, what="sweep spec"), file=path)
    base = path.resolve().parent
    _check_files(spec, base, path)
    return with_trust_defaults(spec, base), base


def with_trust_defaults(spec: SweepSpec, base: Path) -> SweepSpec:
    """`spec` with `provenance.trust` (paths taken from `base`) given to every c2pa scorer
    entry that sets no trust of its own, so that run.json records what each one used."""
    trust = spec.provenance.trust
    if trust is None:
        return spec
    resolved = trust.resolved(base).model_dump(mode="json", exclude_none=True)
    entries = [
        e.model_copy(update={"options": {**e.options, "trust": resolved}})
        if e.name == "c2pa" and not {"trust", "trust_anchors"} & set(e.options)
        else e
        for e in spec.scorers
    ]
    return spec.model_copy(update={"scorers": entries})


def _check_files(spec: SweepSpec, base: Path, file: Path) -> None:
    from audit.prompts import load_suite

    for i, suite in enumerate(spec.suites):
        try:
            load_suite(suite, base)
        except UserError as exc:
            name = suite if isinstance(suite, str) else suite.path
            exc.problem = f"suites.{i} ({name!r}): {exc.problem}"
            exc.file = exc.file or str(file)
            raise
    if spec.provenance.sign is not None:
        for field in ("cert", "key"):
            p = getattr(spec.provenance.sign, field)
            if not (base / p).is_file():
                raise UserError(
                    "file not found",
                    file=file,
                    field=f"provenance.sign.{field}",
                    fix=f"give a PEM file path relative to {base}",
                )
    trust = spec.provenance.trust
    for field in ("anchors", "cawg_anchors") if trust is not None else ():
        p = getattr(trust, field)
        if p is None:
            continue
        try:
            check_pem(p if p.is_absolute() else base / p)
        except ValueError as exc:
            raise UserError(
                str(exc),
                file=file,
                field=f"provenance.trust.{field}",
                fix=f"give a PEM certificate file path relative to {base}",
            ) from None
    # Model sources are checked by `audit.generate.models.check_model_sources` (from
    # `sweep.plan`): built-in names are generate's to know, and config imports nothing of it.
