"""Inline SVG charts (no JavaScript, no external requests)."""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Plot:
    """A plot area of `width` x `height` px with margins, mapping data to pixels."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    xt: list[float]
    yt: list[float]

    @property
    def pw(self) -> int:
        return self.width - self.left - self.right

    @property
    def ph(self) -> int:
        return self.height - self.top - self.bottom

    def px(self, x: float) -> float:
        x0, x1 = self.xt[0], self.xt[-1]
        return self.left + (x - x0) / ((x1 - x0) or 1.0) * self.pw

    def py(self, y: float) -> float:
        y0, y1 = self.yt[0], self.yt[-1]
        return self.top + self.ph - (y - y0) / ((y1 - y0) or 1.0) * self.ph

    def frame(self, aria: str, x_label: str, y_label: str) -> list[str]:
        """The svg element's opening, the plot box, ticks with grid lines and axis labels."""
        left, top, pw, ph = self.left, self.top, self.pw, self.ph
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" role="img" '
            f'aria-label="{escape(aria)}">',
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>',
        ]
        for t in self.xt:
            out.append(
                f'<line x1="{self.px(t):.1f}" y1="{top + ph}" x2="{self.px(t):.1f}" '
                f'y2="{top + ph + 4}" stroke="#666"/>'
                f'<text x="{self.px(t):.1f}" y="{top + ph + 16}" font-size="11" '
                f'text-anchor="middle">{t:g}</text>'
            )
        for t in self.yt:
            out.append(
                f'<line x1="{left - 4}" y1="{self.py(t):.1f}" x2="{left + pw}" '
                f'y2="{self.py(t):.1f}" stroke="#e3e3e3"/>'
                f'<text x="{left - 6}" y="{self.py(t) + 4:.1f}" font-size="11" '
                f'text-anchor="end">{t:g}</text>'
            )
        out.append(
            f'<text x="{left + pw / 2:.1f}" y="{self.height - 8}" font-size="12" '
            f'text-anchor="middle">{escape(x_label)}</text>'
            f'<text x="14" y="{top + ph / 2:.1f}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 14 {top + ph / 2:.1f})">{escape(y_label)}</text>'
        )
        return out


def pareto_svg(
    points: pd.DataFrame, quality_label: str, width: int = 640, height: int = 380
) -> str:
    """Scatter of quality against seconds per image, the Pareto front joined by a line.

    `points` has columns model, sampler, steps, guidance, seconds, quality, on_front.
    """
    if points.empty:
        return ""
    xs, ys = points["seconds"].astype(float), points["quality"].astype(float)
    xt = nice_ticks(0.0, float(xs.max()))
    yt = nice_ticks(float(ys.min()), float(ys.max()))
    plot = _Plot(width, height, 64, 150, 16, 48, xt, yt)
    px, py, left, top, pw = plot.px, plot.py, plot.left, plot.top, plot.pw
    out = plot.frame("quality against seconds", "seconds per image", quality_label)
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


def curves_svg(
    curves: pd.DataFrame,
    *,
    x: str = "psnr",
    y: str = "rate",
    series: str = "family",
    x_label: str = "PSNR against the unattacked image (dB; lower = stronger attack)",
    y_label: str = "detection rate",
    width: int = 640,
    height: int = 380,
) -> str:
    """Lines of `y` against `x`, one per value of `series`, points in row order (e.g. the
    robustness curves of `audit.stats.safety.robustness_curves`: detection rate against the
    PSNR each attack strength costs, one line per attack family). Rows with a missing x or
    y are left out; y runs from 0 to 1."""
    table = curves.dropna(subset=[x, y]) if not curves.empty else curves
    if table.empty:
        return ""
    xs = table[x].astype(float)
    xt = nice_ticks(float(xs.min()), float(xs.max()))
    plot = _Plot(width, height, 56, 110, 16, 48, xt, [0.0, 0.25, 0.5, 0.75, 1.0])
    px, py, left, top, pw = plot.px, plot.py, plot.left, plot.top, plot.pw
    out = plot.frame(f"{y_label} against {x}", x_label, y_label)
    for i, (name, group) in enumerate(table.groupby(series, sort=False)):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(px(float(a)), py(float(b))) for a, b in zip(group[x], group[y], strict=True)]
        if len(pts) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for a, b in pts:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')
        out.append(
            f'<text x="{left + pw + 8}" y="{top + 14 + 16 * i}" font-size="11" '
            f'fill="{colour}">{escape(str(name))}</text>'
        )
    out.append("</svg>")
    return "".join(out)
