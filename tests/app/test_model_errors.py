"""The window when a model cannot be loaded: the user gets the same plain sentence as the CLI."""

from __future__ import annotations

import argparse
import sys
import uuid

from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context


def test_unusable_model(
        qtbot, es_url, tiny_models, onnx_models, isolated_home, monkeypatch):
    """The window shows the plain sentence for a model the lean bundle (no torch stack) has no ONNX export of.
    (A short test name: the instance socket lives under the tmp home, and a socket path is limited to 107 bytes.)"""
    monkeypatch.setenv("IMGSEARCH_MODEL_DIR", str(onnx_models["fp32"]["image"].parent))
    for name in ("torch", "sentence_transformers"):  # a None entry makes `import name` fail: as in the lean bundle
        monkeypatch.setitem(sys.modules, name, None)
    args = argparse.Namespace(home=str(isolated_home), es_url=es_url, es_user=None, es_ca_cert=None,
                              index=f"gui-{uuid.uuid4().hex[:8]}", image_model=str(tiny_models["clip"]),
                              text_model=str(tiny_models["text16"]), device="cpu", batch_size=8)
    app = App(Context(args), [], welcome=False)
    qtbot.addWidget(app.window)
    try:
        with qtbot.waitSignal(app.window.query_failed, timeout=60_000) as failed:
            pass
        message = failed.args[0]
        assert message.startswith("This build runs only ONNX exports") and "\n" not in message, message
        assert repr(str(tiny_models["text16"])) in message and "packaging/export_onnx.py" in message
        assert app.window.status_label.text() == message
    finally:
        app.shutdown()
        app.window.close()
