"""The fast tests' promise: the modules they exercise load no Qt, no torch and no ONNX runtime."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("PySide6", "shiboken6", "torch", "transformers", "open_clip", "onnxruntime")
CODE = f"""
import sys
import imgsearch_desktop.checks, imgsearch_desktop.config
import imgsearch_desktop.core.dupes, imgsearch_desktop.core.query, imgsearch_desktop.core.scanner
import imgsearch_desktop.core.store, imgsearch_desktop.core.watcher
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})
print(','.join(heavy) or 'none')
"""


def test_the_modules_under_test_import_nothing_heavy():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"
