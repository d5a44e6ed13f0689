"""Reports from synthetic frames: content checked against the frames, HTML self-contained."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.errors import UserError
from audit.report import ReportOptions, build_report, write_report
from audit.vocab import Metric
from tests.synthetic import SyntheticFrames, synthetic_frames


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> SyntheticFrames:
    return synthetic_frames(image_dir=tmp_path_factory.mktemp("images"), n_prompts=12, timing=True)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report")


class _Collect(HTMLParser):
    VOID = {
        "meta",
        "img",
        "br",
        "link",
        "input",
        "hr",
        "source",
        "circle",
        "rect",
        "line",
        "polyline",
        "path",
    }

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained(frames: SyntheticFrames, out_dir: Path) -> None:
    path = write_report(frames, "html", out_dir / "report.html")
    html = path.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(html)
    assert parser.stack == [], "unclosed tags"
    tags = parser.tags
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed")]
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    imgs = [a["src"] or "" for t, a in tags if t == "img"]
    assert imgs and all(src.startswith("data:image/jpeg;base64,") for src in imgs)
    for _, attrs in tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(https?:)?//", value), f"external {name}: {value}"
    assert "<svg" in html and "Pareto front" in html
    text = " ".join(parser.text)
    for heading in (
        "Leaderboard",
        "Best setting per model",
        "Safety",
        "Worst prompts",
        "Environment",
        "nsfw_flag",
        "c2pa_state",
        "torch",
    ):
        assert heading in text


def test_json_matches_the_frames(frames: SyntheticFrames, out_dir: Path) -> None:
    path = write_report(frames, "json", out_dir / "report.json")
    doc = json.loads(path.read_text(encoding="utf-8"))  # strict: NaN would not parse as null
    im = frames.images
    assert doc["schema"] == "t2i-audit-report/1" and doc["primary_metric"] == "clip_score"
    board = pd.DataFrame(doc["leaderboard"])
    assert len(board) == im.groupby(["model", "sampler", "steps", "guidance"]).ngroups
    # Ranked best first by the primary metric, whose values are the cell means.
    assert board["clip_score"].is_monotonic_decreasing
    ref = im.groupby(["model", "sampler", "steps", "guidance"])["clip_score"].mean()
    got = board.set_index(["model", "sampler", "steps", "guidance"])["clip_score"]
    assert np.allclose(got.loc[ref.index].to_numpy(), ref.to_numpy())
    assert all(
        row["clip_score_lo"] < row["clip_score"] < row["clip_score_hi"]
        for row in doc["leaderboard"]
    )
    best = {row["model"]: row for row in doc["best_per_model"]}
    for model, group in board.groupby("model"):
        assert best[model]["clip_score"] == pytest.approx(group["clip_score"].max())
    assert doc["environment"]["device"] == "cpu" and "torch" in doc["environment"]["versions"]
    nsfw = pd.DataFrame(doc["safety"]).set_index(["model", "sampler", "steps", "guidance"])
    ref_nsfw = im.groupby(["model", "sampler", "steps", "guidance"])["nsfw_flag"].mean()
    assert np.allclose(nsfw.loc[ref_nsfw.index, "nsfw_flag"].to_numpy(), ref_nsfw.to_numpy())
    assert "Valid" in nsfw["c2pa_state"].iloc[0] or "Invalid" in nsfw["c2pa_state"].iloc[0]


def test_worst_prompts_are_the_lowest_means(frames: SyntheticFrames) -> None:
    data = build_report(frames, ReportOptions(worst_k=3))
    worst = data.worst["clip_score"]
    means = frames.images.groupby("prompt_id")["clip_score"].mean().sort_values()
    assert list(worst["prompt_id"]) == list(means.index[:3])
    first = frames.images[frames.images["prompt_id"] == worst["prompt_id"][0]]
    assert worst["worst_value"][0] == pytest.approx(first["clip_score"].min())
    assert Path(worst["image_path"][0]).exists()
    # Lower-is-better metrics pick the highest values.
    brisque = frames.images.groupby("prompt_id")["brisque"].mean().sort_values(ascending=False)
    assert list(data.worst["brisque"]["prompt_id"]) == list(brisque.index[:3])


def test_pareto_front() -> None:
    rows, sets = [], []
    cells = {  # name: (seconds, quality)
        "fast-low": (0.1, 20.0),
        "slow-high": (1.0, 30.0),
        "slow-low": (1.0, 19.0),
        "mid-mid": (0.5, 25.0),
        "mid-worse": (0.6, 24.0),
    }
    for i, (name, (sec, q)) in enumerate(cells.items()):
        # The front is drawn on the timing pass's median (set scores of the efficiency
        # scorer); the sweep's batch shares (gen_seconds, here reversed) play no part.
        cell = {"model": name, "sampler": "ddim", "steps": 10 + i, "guidance": 5.0}
        cell |= {"width": 0, "height": 0, "prompt_id": "", "scorer": "efficiency", "n": 1}
        for metric, value in (("seconds_per_image", sec), ("timing_spread", 0.05)):
            sets.append({**cell, "metric": metric, "value": value, "label": "timing pass"})
        for s in range(4):
            rows.append(
                {
                    "model": name,
                    "sampler": "ddim",
                    "steps": 10 + i,
                    "guidance": 5.0,
                    "seed": s,
                    "prompt_id": f"p{s}",
                    "prompt": "x",
                    "category": "c",
                    "image_path": "",
                    "width": 0,
                    "height": 0,
                    "gen_seconds": 2.0 - sec,
                    "clip_score": q + 0.01 * s,
                }
            )
    frames = SyntheticFrames(images=pd.DataFrame(rows), sets=pd.DataFrame(sets))
    data = build_report(frames)
    pareto = data.pareto.set_index("model")
    assert set(pareto.index[pareto["on_front"]]) == {"fast-low", "mid-mid", "slow-high"}
    assert pareto.loc["mid-mid", "seconds"] == 0.5
    speed = data.speed.set_index("model")
    assert speed.loc["mid-mid", "median"] == 0.5 and speed.loc["mid-mid", "spread"] == 0.05
    # Without a timing pass there is no front: speed was not measured.
    no_timing = SyntheticFrames(images=pd.DataFrame(rows))
    assert build_report(no_timing).pareto.empty


def test_markdown_links_images_relative_to_the_report(
    frames: SyntheticFrames, out_dir: Path
) -> None:
    path = write_report(frames, "md", out_dir / "sub" / "report.md")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# t2i-audit report")
    for heading in (
        "## Leaderboard",
        "## Best setting per model",
        "## Quality against time",
        "## Safety and provenance",
        "## Worst prompts per metric",
        "## Environment",
    ):
        assert heading in text
    links = re.findall(r"\[image\]\(([^)]+)\)", text)
    assert links and all(not link.startswith("/") for link in links)
    assert (path.parent / links[0]).resolve().exists()
    # Every table row has as many cells as its header.
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M):
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in block.strip().splitlines()}
        assert len(widths) == 1, block


def test_frames_without_scores_or_images_still_report(tmp_path: Path) -> None:
    images = pd.DataFrame(
        {
            "model": ["m"] * 3,
            "sampler": "ddim",
            "steps": 5,
            "guidance": 1.0,
            "seed": [0, 1, 2],
            "prompt_id": "p",
            "prompt": "a cat",
            "category": "animals",
            "image_path": "/gone.png",
            "gen_seconds": np.nan,
        }
    )
    bare = SyntheticFrames(images=images, catalog={})
    for fmt in ("md", "html", "json"):
        assert write_report(bare, fmt, tmp_path / f"r.{fmt}").stat().st_size > 200
    # Directions come from the scorers' declarations (the catalogue), never from a gate file.
    declared = {"clip_score": Metric("clip_score", "higher")}
    with_score = dataclasses.replace(
        bare, images=images.assign(clip_score=[20.0, 21.0, 22.0]), catalog=declared
    )
    html = write_report(with_score, "html", tmp_path / "s.html").read_text()
    assert "no image" in html  # missing file: a placeholder, not a broken request


def test_bad_format_and_primary_metric(frames: SyntheticFrames, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown report format"):
        write_report(frames, "pdf", tmp_path / "r.pdf")
    with pytest.raises(UserError, match="primary metric 'fid_inf'"):
        build_report(frames, ReportOptions(primary_metric="fid_inf"))
    data = build_report(frames, ReportOptions(primary_metric="brisque"))
    assert data.primary_direction == "lower"
    assert data.leaderboard["brisque"].is_monotonic_increasing
