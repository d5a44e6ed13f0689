"""Inline SVG charts (no JavaScript, no external requests)."""

from __future__ import annotations

import math
from html import escape

import pandas as pd

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + (abs(low) * 0.1 or 1.0)
    raw = (high - low) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def pareto_svg(
    points: pd.DataFrame, quality_label: str, width: int = 640, height: int = 380
) -> str:
    """Scatter of quality against seconds per image, the Pareto front joined by a line.

    `points` has columns model, sampler, steps, guidance, seconds, quality, on_front.
    """
    if points.empty:
        return ""
    left, right, top, bottom = 64, 150, 16, 48
    xs, ys = points["seconds"].astype(float), points["quality"].astype(float)
    xt = nice_ticks(0.0, float(xs.max()))
    yt = nice_ticks(float(ys.min()), float(ys.max()))
    x0, x1 = xt[0], xt[-1]
    y0, y1 = yt[0], yt[-1]
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1.0) * pw

    def py(y: float) -> float:
        return top + ph - (y - y0) / ((y1 - y0) or 1.0) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="quality against seconds">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>',
    ]
    for t in xt:
        out.append(
            f'<line x1="{px(t):.1f}" y1="{top + ph}" x2="{px(t):.1f}" y2="{top + ph + 4}" '
            'stroke="#666"/>'
            f'<text x="{px(t):.1f}" y="{top + ph + 16}" font-size="11" '
            f'text-anchor="middle">{t:g}</text>'
        )
    for t in yt:
        out.append(
            f'<line x1="{left - 4}" y1="{py(t):.1f}" x2="{left + pw}" y2="{py(t):.1f}" '
            'stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{py(t) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{t:g}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 8}" font-size="12" text-anchor="middle">'
        "seconds per image</text>"
        f'<text x="14" y="{top + ph / 2:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2:.1f})">{escape(quality_label)}</text>'
    )
    front = points[points["on_front"]].sort_values("seconds")
    if len(front) > 1:
        path = " ".join(
            f"{px(x):.1f},{py(y):.1f}"
            for x, y in zip(front["seconds"], front["quality"], strict=True)
        )
        out.append(f'<polyline points="{path}" fill="none" stroke="#444" stroke-dasharray="4 3"/>')
    models = list(dict.fromkeys(points["model"].astype(str)))
    colour = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    for row in points.itertuples(index=False):
        r = 6 if row.on_front else 4
        tip = (
            f"{row.model} · {row.sampler} · {row.steps} steps · cfg {row.guidance:g}: "
            f"{row.quality:.4g} at {row.seconds:.3g} s/image"
        )
        out.append(
            f'<circle cx="{px(row.seconds):.1f}" cy="{py(row.quality):.1f}" r="{r}" '
            f'fill="{colour[str(row.model)]}" fill-opacity="0.8" '
            f'stroke="{"#000" if row.on_front else "none"}"><title>{escape(tip)}</title></circle>'
        )
    for i, m in enumerate(models):
        y = top + 12 + i * 18
        out.append(
            f'<circle cx="{left + pw + 16}" cy="{y}" r="5" fill="{colour[m]}"/>'
            f'<text x="{left + pw + 26}" y="{y + 4}" font-size="12">{escape(m)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
