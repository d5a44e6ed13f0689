"""The report as Markdown: the same sections as the HTML, images as relative links."""

from __future__ import annotations

import os
from pathlib import Path

from audit.report.data import ReportData, cell_name
from audit.report.fmt import estimate, num


def render_markdown(data: ReportData, out_dir: Path | None = None) -> str:
    lines = [f"# {data.title}", "", f"generated {data.generated}", ""]
    lines += _leaderboard(data) + _best(data) + _pareto(data) + _speed(data) + _categories(data)
    lines += _safety(data) + _worst(data, out_dir) + _environment(data)
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    marks = [("---" if (align[i : i + 1] or "r") == "l" else "---:") for i in range(len(header))]
    out = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join(marks) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return out + [""]


def _leaderboard(data: ReportData) -> list[str]:
    metrics = data.leaderboard_metrics
    rank = (
        f"ranked by `{data.primary}` ({data.primary_direction} is better)" if data.primary else ""
    )
    rows = [
        [
            str(r["model"]),
            str(r["sampler"]),
            str(r["steps"]),
            num(r["guidance"]),
            str(r["n_images"]),
            num(r["peak_mem_mb"], 5),
        ]
        + [estimate(r.get(m), r.get(f"{m}_lo"), r.get(f"{m}_hi")) for m in metrics]
        for r in data.leaderboard.to_dict("records")
    ]
    header = ["model", "sampler", "steps", "guidance", "images", "peak MB", *metrics]
    out = ["## Leaderboard", "", f"Means with 95% intervals, {rank}.".replace(", .", "."), ""]
    out += _table(header, rows, "ll")
    for r in data.set_labels.to_dict("records"):
        out.append(f"- `{r['metric']}` measured as: {r['label']}")
    return out + ([""] if not data.set_labels.empty else [])


def _best(data: ReportData) -> list[str]:
    if data.best.empty or data.primary is None:
        return []
    p = data.primary
    rows = [
        [
            str(r["model"]),
            str(r["sampler"]),
            str(r["steps"]),
            num(r["guidance"]),
            estimate(r[p], r[f"{p}_lo"], r[f"{p}_hi"]),
            num(r["images_per_second"], 3),
        ]
        for r in data.best.to_dict("records")
    ]
    header = ["model", "sampler", "steps", "guidance", p, "images/s"]
    return ["## Best setting per model", "", *_table(header, rows, "ll")]


def _pareto(data: ReportData) -> list[str]:
    if data.pareto.empty or data.primary is None:
        return []
    rows = [
        [cell_name(r), num(r["seconds"], 3), num(r["quality"]), "yes" if r["on_front"] else ""]
        for r in data.pareto.to_dict("records")
    ]
    return [
        "## Quality against time",
        "",
        f"`{data.primary}` against the median seconds per image of each cell's timing pass; "
        "the Pareto front is the cells no other cell beats on both.",
        "",
        *_table(["cell", "s/image", data.primary, "Pareto front"], rows, "l"),
    ]


def _speed(data: ReportData) -> list[str]:
    table = data.speed
    if table.empty:
        return []
    out = ["## Speed", ""]
    if table["median"].isna().all():
        return [*out, f"{table['label'].iloc[0]}.", ""]
    rows = [
        [
            cell_name(r),
            num(r["median"], 3),
            f"{num(r['min'], 3)} – {num(r['max'], 3)}",
            f"{num(r['spread'] * 100, 3)}%",
            f"{num(r['repeats'])} × {num(r['batch_size'])}",
            num(r["load_avg"], 2),
        ]
        for r in table.to_dict("records")
    ]
    header = ["cell", "median s/image", "min – max", "spread", "batches × size", "load avg"]
    labels = [f"- {label}" for label in dict.fromkeys(table["label"].astype(str))]
    return [
        *out,
        "Seconds per image from the timing pass (timed batches after a warm-up, run on its "
        "own after generation); spread = (max - min) / median.",
        "",
        *_table(header, rows, "l"),
        *labels,
        "",
    ]


def _categories(data: ReportData) -> list[str]:
    table = data.by_category
    if table.empty or data.primary is None:
        return []
    cats = list(dict.fromkeys(table["category"]))
    rows = []
    for cell, group in table.groupby(["model", "sampler", "steps", "guidance"], sort=False):
        by = {
            c: estimate(m, lo, hi)
            for c, m, lo, hi in zip(
                group["category"], group["mean"], group["ci_low"], group["ci_high"], strict=True
            )
        }
        name = cell_name(dict(zip(["model", "sampler", "steps", "guidance"], cell, strict=True)))
        rows.append([name] + [by.get(c, "–") for c in cats])
    return [f"## `{data.primary}` by prompt category", "", *_table(["cell", *cats], rows, "l")]


def _safety(data: ReportData) -> list[str]:
    metrics = data.safety_metrics
    has_c2pa = "c2pa_state" in data.safety.columns
    if not metrics and not has_c2pa:
        return []
    rows = []
    for r in data.safety.to_dict("records"):
        row = [cell_name(r), str(r["n_images"])]
        row += [estimate(r.get(m), r.get(f"{m}_lo"), r.get(f"{m}_hi")) for m in metrics]
        if has_c2pa:
            row.append(str(r.get("c2pa_state") or "–"))
        rows.append(row)
    header = ["cell", "images", *[f"{m} rate" for m in metrics]]
    header += ["c2pa_state"] if has_c2pa else []
    return ["## Safety and provenance", "", *_table(header, rows, "l"), *_robustness(data)]


def _robustness(data: ReportData) -> list[str]:
    curves = data.robustness
    if curves.empty:
        return []
    out = [
        "",
        "### Watermark robustness curves",
        "",
        "Detection rate at the detector's false-positive rate per attack family and strength, "
        "with the quality the attack costs (PSNR, SSIM against the unattacked image).",
        "",
    ]
    header = ["model", "detector", "attack", "strength", "detected", "bit acc.", "PSNR", "SSIM"]
    rows = [
        [
            str(r["model"]),
            str(r["prefix"]),
            str(r["family"]),
            f"{r['strength']:g}",
            estimate(r["rate"], r["ci_low"], r["ci_high"]),
            num(r["bit_accuracy"], 3),
            num(r["psnr"], 3),
            num(r["ssim"], 3),
        ]
        for r in curves.to_dict("records")
    ]
    return [*out, *_table(header, rows, "lll")]


def _worst(data: ReportData, out_dir: Path | None) -> list[str]:
    if not data.worst:
        return []
    out = ["## Worst prompts per metric", ""]
    for metric, table in data.worst.items():
        rows = [
            [
                str(r["prompt_id"]),
                str(r["category"]),
                str(r["prompt"])[:120],
                num(r["mean"]),
                str(r["n"]),
                num(r["worst_value"]),
                _link(str(r["image_path"] or ""), out_dir),
            ]
            for r in table.to_dict("records")
        ]
        out += [f"### `{metric}`", ""]
        out += _table(["prompt", "category", "text", "mean", "n", "worst", "image"], rows, "lll")
    return out


def _environment(data: ReportData) -> list[str]:
    env = dict(data.environment)
    versions = env.pop("versions", {})
    rows = [[str(k), str(v)] for k, v in env.items()]
    out = ["## Environment", "", *_table(["", ""], rows or [["not recorded", ""]], "ll")]
    if versions:
        out += _table(["package", "version"], [[k, v] for k, v in sorted(versions.items())], "ll")
    return out


def _link(path: str, out_dir: Path | None) -> str:
    if not path:
        return ""
    target = path
    if out_dir is not None:
        try:
            target = os.path.relpath(path, out_dir)
        except ValueError:  # another drive on Windows
            target = path
    return f"[image]({Path(target).as_posix().replace(' ', '%20')})"
