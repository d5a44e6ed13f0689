"""Reports of a run (markdown, html, json) and the gate's writers (junit, markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.errors import UserError
from audit.report.data import ReportData, ReportOptions, build_report

FORMATS = ("md", "html", "json")

__all__ = ["FORMATS", "ReportData", "ReportOptions", "build_report", "report_files", "write_report"]


def write_report(frames: Any, fmt: str, out: Path, options: ReportOptions | None = None) -> Path:
    """Write the report of `frames` (audit.store.frames.Frames) as md, html or json to `out`."""
    if fmt not in FORMATS:
        raise UserError(
            f"unknown report format '{fmt}'",
            field="format",
            fix=f"use one of: {', '.join(FORMATS)}",
        )
    opts = options or ReportOptions()
    data = build_report(frames, opts)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        from audit.report.html import render_html

        text = render_html(data, opts.thumb_px)
    elif fmt == "md":
        from audit.report.markdown import render_markdown

        text = render_markdown(data, out.parent.resolve())
    else:
        from audit.report.jsonout import render_json

        text = render_json(data)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def report_files(
    source: str | Path, fmt: str, out: str | Path, options: ReportOptions | None = None
) -> Path:
    """What `t2i-audit report` does: load a run directory or an export, write one report."""
    from audit.store.frames import load_frames  # type: ignore[import-not-found,unused-ignore]

    return write_report(load_frames(Path(source)), fmt, Path(out), options)
