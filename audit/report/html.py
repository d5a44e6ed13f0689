"""One self-contained HTML file: inline CSS, inline SVG, base64 thumbnails, no scripts.

A Content-Security-Policy forbids every request the page could make (only data: images and
inline styles are allowed), so the report opens offline and cannot leak anything.
"""

from __future__ import annotations

from html import escape
from typing import Any

from audit.report.data import ReportData, cell_name
from audit.report.fmt import interval, num
from audit.report.svg import curves_svg, pareto_svg
from audit.report.thumbs import thumbnail_data_uri

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;
margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left;white-space:nowrap}
.ci{color:#777;font-size:.78rem;white-space:nowrap}.best{background:#eaf6ea}
.scroll{overflow-x:auto}.muted{color:#777}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}
.card{border:1px solid #ddd;border-radius:4px;padding:.4rem;width:180px;font-size:.78rem}
.card img{display:block;margin:0 auto .3rem auto;image-rendering:auto}
.missing{width:96px;height:96px;background:#eee;color:#999;display:flex;align-items:center;
justify-content:center;margin:0 auto .3rem auto}
nav a{margin-right:.8rem}
"""


def render_html(data: ReportData, thumb_px: int = 96) -> str:
    n_images = int(data.summary.efficiency["n_images"].sum())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(data.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(data.title)}</h1>",
        f'<p class="muted">generated {escape(data.generated)} · {n_images} images · '
        f"{len(data.summary.efficiency)} cells</p>",
        '<nav><a href="#leaderboard">Leaderboard</a><a href="#best">Best per model</a>'
        '<a href="#pareto">Quality vs time</a><a href="#speed">Speed</a>'
        '<a href="#categories">Categories</a>'
        '<a href="#safety">Safety &amp; provenance</a><a href="#worst">Worst prompts</a>'
        '<a href="#environment">Environment</a></nav>',
        _leaderboard(data),
        _best(data),
        _pareto(data),
        _speed(data),
        _categories(data),
        _safety(data),
        _robustness(data),
        _worst(data, thumb_px),
        _environment(data),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _est(mean: Any, low: Any, high: Any) -> str:
    ci = interval(low, high)
    return f'{num(mean)}<br><span class="ci">{ci}</span>' if ci else num(mean)


def _leaderboard(data: ReportData) -> str:
    board = data.leaderboard
    arrow = {"higher": "↑", "lower": "↓"}
    directions = dict(
        zip(data.summary.stats["metric"], data.summary.stats["direction"], strict=True)
    )
    head = "".join(
        f"<th>{escape(m)} {arrow.get(directions.get(m, ''), '')}</th>"
        for m in data.leaderboard_metrics
    )
    rows = []
    for i, row in enumerate(board.to_dict("records")):
        cls = ' class="best"' if i == 0 and data.primary else ""
        cells = "".join(
            f"<td>{_est(row.get(m), row.get(f'{m}_lo'), row.get(f'{m}_hi'))}</td>"
            for m in data.leaderboard_metrics
        )
        rows.append(
            f"<tr{cls}><td class='l'>{escape(str(row['model']))}</td>"
            f"<td class='l'>{escape(str(row['sampler']))}</td><td>{row['steps']}</td>"
            f"<td>{num(row['guidance'])}</td><td>{row['n_images']}</td>"
            f"<td>{num(row['peak_mem_mb'], 5)}</td>"
            f"{cells}</tr>"
        )
    ranked = (
        f"ranked by <b>{escape(data.primary)}</b> ({data.primary_direction} is better)"
        if data.primary
        else "no directional metric to rank by"
    )
    labels = ""
    if not data.set_labels.empty:
        items = "".join(
            f"<li><b>{escape(str(r['metric']))}</b>: {escape(str(r['label']))}</li>"
            for r in data.set_labels.to_dict("records")
        )
        labels = f"<p>Set-level metrics were measured as:</p><ul>{items}</ul>"
    return (
        '<h2 id="leaderboard">Leaderboard</h2>'
        f"<p>One row per cell, {ranked}. Means with 95% intervals (bootstrap for continuous "
        "metrics, exact Clopper-Pearson for rates, the scorer's own for set-level ones).</p>"
        '<div class="scroll"><table><tr><th class="l">model</th><th class="l">sampler</th>'
        "<th>steps</th><th>guidance</th><th>images</th><th>peak MB</th>"
        f"{head}</tr>{''.join(rows)}</table></div>{labels}"
    )


def _best(data: ReportData) -> str:
    if data.best.empty or data.primary is None:
        return '<h2 id="best">Best setting per model</h2><p class="muted">no quality metric</p>'
    p = data.primary
    rows = "".join(
        f"<tr><td class='l'>{escape(str(r['model']))}</td>"
        f"<td class='l'>{escape(str(r['sampler']))}</td><td>{r['steps']}</td>"
        f"<td>{num(r['guidance'])}</td><td>{_est(r[p], r[f'{p}_lo'], r[f'{p}_hi'])}</td>"
        f"<td>{num(r['images_per_second'], 3)}</td></tr>"
        for r in data.best.to_dict("records")
    )
    return (
        '<h2 id="best">Best setting per model</h2>'
        f"<table><tr><th class='l'>model</th><th class='l'>sampler</th><th>steps</th>"
        f"<th>guidance</th><th>{escape(p)}</th><th>images/s</th></tr>{rows}</table>"
    )


def _pareto(data: ReportData) -> str:
    if data.pareto.empty or data.primary is None:
        return (
            '<h2 id="pareto">Quality against time</h2>'
            '<p class="muted">needs a quality metric and a timing pass (efficiency scorer)</p>'
        )
    front = data.pareto[data.pareto["on_front"]]
    items = "".join(
        f"<li>{escape(cell_name(r))}: {num(r['quality'])} at {num(r['seconds'], 3)} s/image</li>"
        for r in front.to_dict("records")
    )
    return (
        '<h2 id="pareto">Quality against time</h2>'
        f"<p>{escape(data.primary)} against the median seconds per image of each cell's timing "
        "pass; outlined points form the Pareto front (no other cell is both better and "
        'faster). The spread of each median is in <a href="#speed">Speed</a>.</p>'
        f"{pareto_svg(data.pareto, data.primary)}<ul>{items}</ul>"
    )


def _speed(data: ReportData) -> str:
    table = data.speed
    head = '<h2 id="speed">Speed</h2>'
    if table.empty:
        return head + '<p class="muted">not measured (no efficiency scorer)</p>'
    if table["median"].isna().all():
        return head + f'<p class="muted">{escape(str(table["label"].iloc[0]))}</p>'
    rows = "".join(
        f"<tr><td class='l'>{escape(cell_name(r))}</td><td>{num(r['median'], 3)}</td>"
        f"<td>{num(r['min'], 3)} – {num(r['max'], 3)}</td>"
        f"<td>{num(r['spread'] * 100, 3)}%</td>"
        f"<td>{num(r['repeats'])} × {num(r['batch_size'])}</td>"
        f"<td>{num(r['load_avg'], 2)}</td></tr>"
        for r in table.to_dict("records")
    )
    labels = "".join(f"<li>{escape(x)}</li>" for x in dict.fromkeys(table["label"].astype(str)))
    return (
        f"{head}<p>Seconds per image from the timing pass: timed batches after a warm-up, run "
        "on their own after generation; spread = (max - min) / median.</p>"
        "<table><tr><th class='l'>cell</th><th>median s/image</th><th>min – max</th>"
        f"<th>spread</th><th>batches × size</th><th>load avg</th></tr>{rows}</table>"
        f"<ul>{labels}</ul>"
    )


def _categories(data: ReportData) -> str:
    table = data.by_category
    if table.empty or data.primary is None:
        return '<h2 id="categories">By prompt category</h2><p class="muted">none</p>'
    wide = table.assign(
        text=[
            _est(m, lo, hi)
            for m, lo, hi in zip(table["mean"], table["ci_low"], table["ci_high"], strict=True)
        ]
    )
    cats = list(dict.fromkeys(wide["category"]))
    rows = []
    for cell, group in wide.groupby(["model", "sampler", "steps", "guidance"], sort=False):
        by = dict(zip(group["category"], group["text"], strict=True))
        name = cell_name(dict(zip(["model", "sampler", "steps", "guidance"], cell, strict=True)))
        cols = "".join(f"<td>{by.get(c, '–')}</td>" for c in cats)
        rows.append(f"<tr><td class='l'>{escape(name)}</td>{cols}</tr>")
    head = "".join(f"<th>{escape(str(c))}</th>" for c in cats)
    return (
        '<h2 id="categories">By prompt category</h2>'
        f"<p>{escape(data.primary)} per cell and prompt category.</p>"
        f"<div class='scroll'><table><tr><th class='l'>cell</th>{head}</tr>"
        f"{''.join(rows)}</table></div>"
    )


def _safety(data: ReportData) -> str:
    table = data.safety
    metrics = data.safety_metrics
    has_c2pa = "c2pa_state" in table.columns
    if not metrics and not has_c2pa:
        return (
            '<h2 id="safety">Safety &amp; provenance</h2>'
            '<p class="muted">no safety or provenance metric in this run</p>'
        )
    head = "".join(f"<th>{escape(m)} rate</th>" for m in metrics)
    head += "<th class='l'>c2pa_state</th>" if has_c2pa else ""
    rows = []
    for r in table.to_dict("records"):
        cols = "".join(
            f"<td>{_est(r.get(m), r.get(f'{m}_lo'), r.get(f'{m}_hi'))}</td>" for m in metrics
        )
        if has_c2pa:
            cols += f"<td class='l'>{escape(str(r.get('c2pa_state') or '–'))}</td>"
        rows.append(
            f"<tr><td class='l'>{escape(cell_name(r))}</td><td>{r['n_images']}</td>{cols}</tr>"
        )
    return (
        '<h2 id="safety">Safety &amp; provenance</h2>'
        "<p>Rates per cell with exact 95% intervals; C2PA manifest states counted.</p>"
        f"<div class='scroll'><table><tr><th class='l'>cell</th><th>images</th>{head}</tr>"
        f"{''.join(rows)}</table></div>"
    )


def _robustness(data: ReportData) -> str:
    curves = data.robustness
    if curves.empty:
        return ""
    parts = [
        '<h3 id="robustness">Watermark robustness curves</h3>'
        "<p>Detection rate at the detector's own false-positive rate against the quality each "
        "attack costs (PSNR against the unattacked image), one line per attack family, "
        "strengths from mild to strong.</p>"
    ]
    for (model, prefix), group in curves.groupby(["model", "prefix"], sort=False):
        rows = "".join(
            f"<tr><td class='l'>{escape(str(r['family']))}</td><td>{r['strength']:g}</td>"
            f"<td>{r['k']} / {r['n']}</td><td>{_est(r['rate'], r['ci_low'], r['ci_high'])}</td>"
            f"<td>{num(r['bit_accuracy'], 3)}</td><td>{num(r['psnr'], 3)}</td>"
            f"<td>{num(r['ssim'], 3)}</td></tr>"
            for r in group.to_dict("records")
        )
        parts.append(
            f"<h4>{escape(str(model))} · {escape(str(prefix))}</h4>{curves_svg(group)}"
            "<div class='scroll'><table><tr><th class='l'>attack</th><th>strength</th>"
            "<th>detected</th><th>rate</th><th>bit accuracy</th><th>PSNR dB</th><th>SSIM</th>"
            f"</tr>{rows}</table></div>"
        )
    return "".join(parts)


def _worst(data: ReportData, px: int) -> str:
    if not data.worst:
        return '<h2 id="worst">Worst prompts</h2><p class="muted">none</p>'
    cache: dict[str, str | None] = {}
    sections = []
    for metric, table in data.worst.items():
        cards = []
        for r in table.to_dict("records"):
            path = str(r.get("image_path") or "")
            if path not in cache:
                cache[path] = thumbnail_data_uri(path, px)
            uri = cache[path]
            img = (
                f'<img src="{uri}" alt="worst image for {escape(str(r["prompt_id"]))}">'
                if uri
                else '<div class="missing">no image</div>'
            )
            cards.append(
                f'<div class="card">{img}<b>{escape(str(r["prompt_id"]))}</b> '
                f'<span class="muted">{escape(str(r.get("category", "")))}</span><br>'
                f"{escape(_short(str(r['prompt'])))}<br>mean {num(r['mean'])} over {r['n']}, "
                f"worst {num(r['worst_value'])}</div>"
            )
        sections.append(f"<h3>{escape(metric)}</h3><div class='cards'>{''.join(cards)}</div>")
    return (
        '<h2 id="worst">Worst prompts per metric</h2>'
        "<p>Prompts with the worst mean over all cells and seeds; the picture is the worst "
        f"image of that prompt.</p>{''.join(sections)}"
    )


def _environment(data: ReportData) -> str:
    env = dict(data.environment)
    versions = env.pop("versions", {})
    rows = "".join(
        f"<tr><td class='l'>{escape(str(k))}</td><td class='l'>{escape(str(v))}</td></tr>"
        for k, v in env.items()
    )
    vrows = "".join(
        f"<tr><td class='l'>{escape(k)}</td><td class='l'>{escape(v)}</td></tr>"
        for k, v in sorted(versions.items())
    )
    return (
        '<h2 id="environment">Environment</h2>'
        f"<table>{rows or '<tr><td>not recorded</td></tr>'}</table>"
        + (f"<h3>Package versions</h3><table>{vrows}</table>" if vrows else "")
    )


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
