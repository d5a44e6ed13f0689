"""JUnit XML for the gate: one testcase per metric, regressions as <failure>.

CI systems (GitLab, Jenkins, GitHub test-report actions) read this format; skipped metrics
are <skipped>, inconclusive ones pass with the reason in <system-out>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from audit.report.fmt import interval, num, pvalue
from audit.stats.gate import GateResult, MetricVerdict

CLASSNAME = "t2i_audit.gate"


def junit_xml(result: GateResult) -> str:
    failures = len(result.regressed)
    skipped = sum(v.verdict == "skipped" for v in result.verdicts)
    counts = {
        "tests": str(len(result.verdicts)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": "0",
    }
    root = ET.Element("testsuites", {"name": "t2i-audit gate", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": f"gate: {result.candidate} vs {result.baseline}", **counts},
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("baseline", result.baseline),
        ("candidate", result.candidate),
        ("alpha", num(result.alpha)),
        ("pairs", str(result.n_pairs)),
        ("exit_code", str(result.exit_code)),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for v in result.verdicts:
        case = ET.SubElement(
            suite, "testcase", {"classname": CLASSNAME, "name": v.name, "time": "0"}
        )
        text = _details(v, result.confidence)
        if v.verdict == "regressed":
            failure = ET.SubElement(
                case, "failure", {"message": _headline(v, result.confidence), "type": "regression"}
            )
            failure.text = text
        elif v.verdict == "skipped":
            ET.SubElement(case, "skipped", {"message": v.note or "skipped"})
        else:
            ET.SubElement(case, "system-out").text = f"{v.verdict}: {text}"
    if result.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(result.notes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(result: GateResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")
    return path


def _headline(v: MetricVerdict, confidence: float) -> str:
    return (
        f"{v.name} regressed: effect {num(v.effect)} {interval(v.ci_low, v.ci_high)} "
        f"({confidence:.0%} CI) is below -margin {num(v.margin)}; "
        f"Holm-adjusted p = {pvalue(v.p_regress_adj)}"
    )


def _details(v: MetricVerdict, confidence: float) -> str:
    lines = [
        f"direction: {v.direction} is better; margin {num(v.margin)}",
        f"kind {v.kind}, test {v.test}, pairs {v.n}",
        f"baseline mean {num(v.base_mean)}, candidate mean {num(v.cand_mean)}",
        f"effect (candidate - baseline, + = better) {num(v.effect)} "
        f"{interval(v.ci_low, v.ci_high)} ({confidence:.0%} CI)",
        f"p regress {pvalue(v.p_regress)} (Holm {pvalue(v.p_regress_adj)}), "
        f"p improve {pvalue(v.p_improve)} (Holm {pvalue(v.p_improve_adj)})",
    ]
    if v.note:
        lines.append(v.note)
    return "\n".join(lines)
