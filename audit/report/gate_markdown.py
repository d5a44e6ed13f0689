"""The gate's summary as Markdown, fit for a CI job page (e.g. $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from pathlib import Path

from audit.report.fmt import interval, num, pvalue
from audit.stats.gate import GateResult

_MARK = {
    "regressed": "❌ regressed",
    "improved": "⬆️ improved",
    "pass": "✅ pass",
    "inconclusive": "❔ inconclusive",
    "skipped": "➖ skipped",
}
_ARROW = {"higher": "↑", "lower": "↓"}


def gate_markdown(result: GateResult) -> str:
    n_reg = len(result.regressed)
    head = f"❌ {n_reg} metric(s) regressed" if n_reg else "✅ no metric regressed"
    tested = sum(v.verdict not in ("skipped",) for v in result.verdicts)
    lines = [
        f"## t2i-audit gate: {head}",
        "",
        f"Candidate **{result.candidate}** against baseline **{result.baseline}**: "
        f"{result.n_pairs} image pairs, alpha {num(result.alpha)} one-sided, Holm-corrected "
        f"over {tested} metric(s); exit code {result.exit_code}.",
        "",
        f"| metric | verdict | baseline | candidate | effect ({result.confidence:.0%} CI) "
        "| margin | p regress (Holm) | pairs | test |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for v in result.verdicts:
        effect = f"{num(v.effect)} {interval(v.ci_low, v.ci_high)}".strip()
        # No arrow for a skipped metric that neither run declares.
        metric = f"`{v.name}` {_ARROW.get(v.direction, '')}".rstrip()
        lines.append(
            f"| {metric} | {_MARK[v.verdict]} | {num(v.base_mean)} | "
            f"{num(v.cand_mean)} | {effect} | {num(v.margin)} | {pvalue(v.p_regress_adj)} "
            f"| {v.n} | {v.test} |"
        )
    lines += [
        "",
        "effect = candidate − baseline, signed so that positive means the candidate is "
        "better (↑ higher is better, ↓ lower is better). A metric regresses when the "
        "candidate is worse by more than its margin with Holm-adjusted p < alpha.",
    ]
    notes = [f"- `{v.name}`: {v.note}" for v in result.verdicts if v.note]
    notes += [f"- {n}" for n in result.notes]
    if notes:
        lines += ["", "<details><summary>Notes</summary>", "", *notes, "", "</details>"]
    return "\n".join(lines) + "\n"


def write_gate_markdown(result: GateResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(gate_markdown(result), encoding="utf-8")
    return path
