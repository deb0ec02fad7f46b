"""The drop loop under faulthandler: photos dropped one after another on the real window — thumbnails cold, after
a restart and warm, idle and while the window indexes — and the process never crashes (not timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def crash_report(stderr: str) -> str:
    """faulthandler's stacks, the crashing thread's first, without the list of extension modules that follows
    them (thousands of characters that would push the stacks out of a truncated log)."""
    start = stderr.find("Fatal Python error")
    report = stderr[start:] if start >= 0 else stderr[-6000:]
    return report.split("Extension modules:")[0][:12000]


@pytest.mark.slow
def test_a_drop_loop_while_indexing_never_crashes(cli_env, tiny_models, tmp_path):
    drops = 60
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(ROOT / "benchmarks" / "drop_loop.py"), "--drops", str(drops),
         "--image-model", str(tiny_models["clip"]), "--text-model", str(tiny_models["text"]),
         "--photos", "24", "--size", "800x600", "--work", str(tmp_path), "--timeout", "60"],
        cwd=ROOT, env={**cli_env, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + crash_report(proc.stderr)
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{drops} drops, no crash"), summary
    while_indexing = int(summary.split(", ")[2].split(" ")[0]) if "while it indexed" in summary else 0
    assert while_indexing > 0, summary  # some drops really overlapped indexing
