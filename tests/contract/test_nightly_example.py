"""examples/nightly-contract.yml runs: its suite step, against a loopback stand-in for the live API."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import faithful

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "nightly-contract.yml"


def suite_step() -> str:
    """The shell script of the step that runs engagelab-contract."""
    text = WORKFLOW.read_text("utf-8")
    match = re.search(r"- name: Run the contract suite.*?run: \|\n(.*?)\n      - name:", text, re.DOTALL)
    assert match, "the workflow lost its suite step"
    lines = match.group(1).splitlines()
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] for line in lines)


def run_step(script: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = script.replace("https://ma-api.engagelab.com", url).replace("${{ secrets.ENGAGELAB_CONTRACT_EUID }}", "77")
    assert "${{" not in script
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, **faithful.environment(), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_nightly_step_runs_and_compares_with_last_night(tmp_path: Path) -> None:
    script = suite_step()
    assert "--allow-writes" in script and "--report-dir reports" in script
    with faithful.serve() as url:
        first = run_step(script, url, tmp_path)
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        assert (tmp_path / "reports" / "report.html").is_file()
        (tmp_path / "baseline").mkdir()
        shutil.copy(tmp_path / "reports" / "drift-report.json", tmp_path / "baseline" / "drift-report.json")
        second = run_step(script, url, tmp_path)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert faithful.SECRET not in first.stdout + second.stdout + first.stderr + second.stderr
