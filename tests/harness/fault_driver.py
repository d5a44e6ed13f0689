"""Runs t2i-audit commands as forked children of one warm process (the kill -9 suite).

    python -m tests.harness.fault_driver PLAN.json RESULTS.json

A fresh `t2i-audit` process spends seconds importing torch and diffusers; forty of them
would blow the test budget. This process imports everything once by running `warm` (a
small sweep) in-process, then forks one child per command: each child is a real, separate
process that the fault hook (`audit.faults`) can kill with SIGKILL at any point. torch runs
single-threaded here, warm-up included, so no OpenMP thread pool exists when it forks.

PLAN = {"warm": ARGV, "steps": [STEP, ...]}, a STEP being {"copy": [SRC, DST]} or
{"run": [CMD, ...]} (its commands start together and are waited for), a CMD being {"argv":
[...], "env": {...}, "log": PATH, "delay": SECONDS, "fsize": BYTES or null}. RESULTS holds,
per step, one {"exit": CODE} or {"signal": N} per command, with its seconds.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
import traceback
from typing import Any


def _child(cmd: dict[str, Any]) -> None:
    """In the forked child: never returns."""
    code = 70
    try:
        log = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        time.sleep(cmd.get("delay", 0))
        os.environ.update(cmd.get("env", {}))
        sys.argv = ["t2i-audit", *cmd["argv"]]  # what the writer lock records as the command
        if cmd.get("fsize"):
            resource.setrlimit(resource.RLIMIT_FSIZE, (cmd["fsize"], cmd["fsize"]))
        from audit.cli import main

        code = main(cmd["argv"])
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run(cmds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    started = {}
    for i, cmd in enumerate(cmds):
        pid = os.fork()
        if pid == 0:
            _child(cmd)
        started[pid] = (i, time.monotonic())
    out: list[dict[str, Any]] = [{} for _ in cmds]
    while started:
        pid, status = os.wait()
        i, t0 = started.pop(pid)
        seconds = round(time.monotonic() - t0, 2)
        if os.WIFSIGNALED(status):
            out[i] = {"signal": os.WTERMSIG(status), "seconds": seconds}
        else:
            out[i] = {"exit": os.WEXITSTATUS(status), "seconds": seconds}
    return out


def main(plan_file: str, results_file: str) -> None:
    import torch

    torch.set_num_threads(1)
    from audit.cli import main as cli

    with open(plan_file) as f:
        plan = json.load(f)
    start = time.monotonic()
    assert cli(plan["warm"]) == 0, "the warm-up sweep failed"
    results: list[Any] = [{"warm_seconds": round(time.monotonic() - start, 2)}]
    for step in plan["steps"]:
        if "copy" in step:
            shutil.copytree(*step["copy"])
            results.append(None)
        else:
            results.append(_run(step["run"]))
    with open(results_file, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(*sys.argv[1:3])
