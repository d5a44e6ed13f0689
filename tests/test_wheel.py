"""The package is the product: a wheel built from this tree and installed outside the checkout
lists its built-in suites, audits the built-in model and serves a working dashboard.

Everything runs in subprocesses from a folder outside the checkout, with the installed copy
first on sys.path, so a file the wheel leaves out fails here rather than for a user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Built from a copy: an in-tree build writes build/ and *.egg-info into the checkout.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "reports", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)

SPEC = """\
name: wheel
models:
  - {id: toy, source: "builtin:toy-shapes", dtype: float32}
samplers: [ddim]
steps: [2]
guidance: [1.0]
seeds: [0]
suites: [toy]
size: 64
batch_size: 34
scorers: [efficiency, toycount]
"""

HEALTH = """\
import json, sys
from audit.dashboard.health import check
h = check(sys.argv[1])
print(json.dumps({"ok": h.ok, "app": str(h.app), "findings": [vars(f) for f in h.findings]}))
"""


def _pip(*args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "src", ignore=NOT_COPIED)
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(work / "src"))
    (wheel,) = (work / "dist").glob("t2i_audit-*.whl")
    _pip("install", "--no-deps", "--target", str(work / "site"), str(wheel))
    return work / "site"


def _run(site: Path, cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(site),  # before site-packages, where the editable install sits
        "HF_HUB_OFFLINE": "1",
        "T2I_AUDIT_CACHE": str(cwd / "cache"),
    }
    env.pop("T2I_AUDIT_REPORTS", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_wheel_carries_the_package_data(site: Path) -> None:
    # Read beside their modules: the default gate, the default specs, the reference world.
    for data in (
        "gates/default.yaml", "specs/toy.yaml", "specs/smoke.yaml", "prompts/suites/toy.yaml",
        "toyworld/weights/toy-shapes/model_index.json", "toyworld/weights/toyclip/config.json",
        "dashboard/app.py", "dashboard/views/safety_page.py", "py.typed",
    ):  # fmt: skip
        assert (site / "audit" / data).is_file(), data


def test_installed_wheel_runs_outside_the_checkout(site: Path, tmp_path: Path) -> None:
    where = _run(site, tmp_path, "-c", "import audit; print(audit.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(site.resolve())

    suites = _run(site, tmp_path, "-m", "audit", "suites")
    assert suites.returncode == 0, suites.stderr
    listed = [line.split()[0] for line in suites.stdout.splitlines() if line.strip()]
    assert {"counting", "text", "composition", "general", "toy"} <= set(listed)

    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "reports"
    run = _run(site, tmp_path, "-m", "audit", "run", "spec.yaml", "--out", str(out), "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    # The built-in suite (34 prompts) and the reference world's plugin scorer, from the wheel.
    assert len(list((out / "wheel" / "images").rglob("*.png"))) == 34
    assert "toycount: scored 34" in run.stdout
    assert (out / "wheel" / "report.html").is_file()

    health = _run(site, tmp_path, "-c", HEALTH, str(out))
    assert health.returncode == 0, health.stderr
    result = json.loads(health.stdout.strip().splitlines()[-1])
    assert result["ok"], result["findings"]
    assert Path(result["app"]).resolve().is_relative_to(site.resolve())
    pages = [f for f in result["findings"] if f["what"].startswith("page ")]
    assert len(pages) == 7 and all("1 run(s)" in f["detail"] for f in pages)
    cli_check = _run(site, tmp_path, "-m", "audit", "dashboard", str(out), "--check")
    assert cli_check.returncode == 0, cli_check.stdout + cli_check.stderr
