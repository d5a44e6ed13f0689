"""`t2i-audit gate`: the paired regression gate. Loads both runs, lets `audit.stats.gate`
judge them, has `audit.report` write the JUnit and Markdown files, prints the summary.

Exit 0: nothing regressed; 1: a metric regressed; 2: bad input (runs, gate file, options).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    help = "paired regression gate: exit 1 if the candidate regressed"
    sp = add_command(sub, "gate", cmd_gate, help)
    sp.add_argument("baseline", help="run directory or exported score file")
    sp.add_argument("candidate", help="run directory or exported score file")
    sp.add_argument("--gate", help="gate YAML (default: the shipped audit/gates/default.yaml)")
    sp.add_argument("--junit", help="write a JUnit XML file, one test case per metric")
    sp.add_argument("--markdown", help="write a Markdown summary for a CI job page")
    sp.add_argument("--baseline-model", help="model id to take from BASELINE if it has several")
    sp.add_argument("--candidate-model", help="model id to take from CANDIDATE if it has several")


def cmd_gate(args: argparse.Namespace) -> int:
    from audit.report import gate_markdown, write_gate_markdown, write_junit
    from audit.stats.gate import DEFAULT_GATE_PATH, load_gate_config, run_gate
    from audit.store.frames import load_frames

    # The gate file first: its mistakes are cheaper to find than loading two runs.
    config = load_gate_config(args.gate if args.gate is not None else DEFAULT_GATE_PATH)
    result = run_gate(
        load_frames(args.baseline),
        load_frames(args.candidate),
        config,
        baseline_model=args.baseline_model,
        candidate_model=args.candidate_model,
    )
    if args.junit is not None:
        write_junit(result, Path(args.junit))
    if args.markdown is not None:
        write_gate_markdown(result, Path(args.markdown))
    print(gate_markdown(result))
    return result.exit_code
