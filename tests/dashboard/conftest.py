"""Fixture runs for the dashboard tests, made once per session with the real CLI.

* `sweep`: the tiny random model, 2 samplers x 2 step counts x 2 guidance scales x 2 prompts
  (two categories), one seed: 16 images at 32 px with efficiency, quality, nsfw and
  watermark scores (the watermark scorer finds 32 px too small: no values, as in life).
* `base` / `cand`: ingested 256 px images, 6 prompts x 2 seeds. The baseline carries the SDXL
  invisible watermark in every image and a signed C2PA manifest on seed 0; the candidate
  has neither. Scored with watermark (robustness, four attacks), c2pa and nsfw.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from audit.cli import main
from audit.dashboard.navigation import app_file, page

APP = app_file()  # the packaged app, as `t2i-audit dashboard` serves it

SUITE = """\
name: dash
prompts:
  - {id: red-cube, text: a red cube on a table, category: objects}
  - {id: two-dogs, text: two dogs in a park, category: animals}
"""

SWEEP = """\
name: sweep
models:
  - id: tiny
    source: builtin:tiny-random-sd
    dtype: float32
samplers: [ddim, euler]
steps: [1, 2]
guidance: [1.0, 5.0]
seeds: [0]
suites: [dash.yaml]
size: 32
batch_size: 8
scorers: [efficiency, quality, nsfw, watermark]
"""

SCORER_OPTIONS = """\
watermark: {robustness: true, attacks: [jpeg90, jpeg50, resize05, png]}
"""

INGEST_PROMPTS = [
    ("cat", "a cat on a sofa", "animals"),
    ("dog", "a dog in the snow", "animals"),
    ("cup", "a cup of tea", "objects"),
    ("car", "a red car", "objects"),
    ("tree", "a tree on a hill", "scenes"),
    ("boat", "a boat on a lake", "scenes"),
]


@dataclass(frozen=True)
class Reports:
    root: Path

    @property
    def sweep(self) -> Path:
        return self.root / "sweep"

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def cand(self) -> Path:
        return self.root / "cand"


def _picture(seed: int, size: int = 256) -> np.ndarray:
    """Smooth colour waves with grain: texture for a watermark to hide in."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    waves = np.stack(
        [
            128 + 80 * np.sin(2 * np.pi * (x * rng.uniform(1, 3) + rng.uniform())),
            128 + 80 * np.cos(2 * np.pi * (y * rng.uniform(1, 3) + rng.uniform())),
            128 + 60 * np.sin(2 * np.pi * (x + y) * rng.uniform(1, 2)),
        ],
        axis=-1,
    )
    return np.clip(waves + rng.normal(0, 20, waves.shape), 0, 255).astype(np.uint8)


def _ingest_folder(folder: Path, model: str, *, marked: bool, signed: bool, chain: Path) -> Path:
    from imwatermark import WatermarkEncoder
    from PIL import Image

    from audit.provenance.sign import sign_image

    folder.mkdir(parents=True)
    lines = []
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", [int(b) for b in f"{0xB3EC907BB19E:048b}"])
    for index, (pid, text, category) in enumerate(INGEST_PROMPTS):
        for seed in (0, 1):
            rgb = _picture(100 * index + seed)
            if marked:
                bgr = encoder.encode(rgb[:, :, ::-1].copy(), "dwtDct")
                rgb = bgr[:, :, ::-1]
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buffer, format="PNG")
            data = buffer.getvalue()
            if signed and seed == 0:
                cert, key = (chain / "chain.pem").read_bytes(), (chain / "signer.key").read_bytes()
                data = sign_image(data, "image/png", cert, key, "es256", "t2i-audit tests")
            name = f"{pid}-{seed}.png"
            (folder / name).write_bytes(data)
            row = {"file": name, "prompt": text, "prompt_id": pid, "seed": seed,
                   "model": model, "category": category}  # fmt: skip
            lines.append(json.dumps(row))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def make_reports(work: Path, root: Path) -> Reports:
    from audit.provenance.testchain import write_test_chain

    (work / "dash.yaml").write_text(SUITE)
    (work / "sweep.yaml").write_text(SWEEP)
    assert main(["run", str(work / "sweep.yaml"), "--out", str(root), "--quiet"]) == 0
    chain_dir = work / "chain"
    write_test_chain(chain_dir)
    options = work / "scorers.yaml"
    options.write_text(SCORER_OPTIONS)
    for name, marked in (("base", True), ("cand", False)):
        src = _ingest_folder(
            work / f"src-{name}", f"model-{name}", marked=marked, signed=marked, chain=chain_dir
        )
        run = root / name
        assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
        scorers = "watermark,c2pa,nsfw"
        assert main(["score", str(run), "--scorers", scorers, "--options", str(options), "-q"]) == 0
    return Reports(root)


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    return make_reports(
        tmp_path_factory.mktemp("dash-src"), tmp_path_factory.mktemp("dash-reports")
    )


@pytest.fixture
def reports_env(reports: Reports, monkeypatch: pytest.MonkeyPatch) -> Reports:
    """The reports directory as the app finds it: through $T2I_AUDIT_REPORTS."""
    monkeypatch.setenv("T2I_AUDIT_REPORTS", str(reports.root))
    return reports


def app_test(url: str | None = None, **query: str):  # type: ignore[no-untyped-def]
    """An AppTest of the whole app (navigation included), switched to page `url`, run once."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if url is not None:
        at.switch_page(page(url).script)
        at.run()
    return at


def no_errors(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
