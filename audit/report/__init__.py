"""Reports of a run (markdown, html, json) and the gate's writers (junit, markdown).

Everything that writes a file about results lives here; `audit.stats` only computes (the gate
returns a `GateResult`, which `write_junit` and `write_gate_markdown` lay out).
"""

from __future__ import annotations

from pathlib import Path

from audit.errors import UserError
from audit.report.data import ReportData, ReportOptions, build_report
from audit.report.gate_markdown import gate_markdown, write_gate_markdown
from audit.report.junit import junit_xml, write_junit
from audit.stats.columns import FramesLike

FORMATS = ("md", "html", "json")

__all__ = [
    "FORMATS",
    "ReportData",
    "ReportOptions",
    "build_report",
    "gate_markdown",
    "junit_xml",
    "write_gate_markdown",
    "write_junit",
    "write_report",
]


def write_report(
    frames: FramesLike, fmt: str, out: Path, options: ReportOptions | None = None
) -> Path:
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
    # A temporary file of its own: two processes writing one report (two `run`s of one
    # spec finishing together) must not rename each other's half-written file.
    from audit.store.run_store import write_atomic

    write_atomic(out, text.encode("utf-8"))
    return out
