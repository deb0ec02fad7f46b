"""GUI fixtures: the real App (window + worker thread + instance server) on the session's node, offscreen."""

from __future__ import annotations

import argparse
import uuid

import pytest

from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context
from tests.photos import exif_rotated, write_photo


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "Pictures"
    for i in range(8):
        write_photo(root / ("2023" if i % 2 else "2024") / f"IMG_{i:04d}.jpg", seed=700 + i, size=(480, 360))
    write_photo(root / "scan.png", seed=777, size=(400, 300))
    exif_rotated(root / "2024" / "portrait.jpg", seed=778, orientation=6, size=(480, 360))  # shown upright
    return root


@pytest.fixture
def make_app(qtbot, es_url, tiny_models, isolated_home, es_client):
    apps = []

    def make(folders, batch_size=8, photos=(), index=None, managed=False, excluded=(), text=False):
        """``managed``: no URL, so the window starts (and restarts) the node installed under the test's home.
        ``text``: the window reads the text in photos too (off by default: RapidOCR costs each test seconds)."""
        args = argparse.Namespace(home=str(isolated_home), es_url=None if managed else es_url, es_user=None,
                                  es_ca_cert=None, index=index or f"gui-{uuid.uuid4().hex[:8]}",
                                  image_model=str(tiny_models["clip"]), text_model=str(tiny_models["text"]),
                                  device="cpu", batch_size=batch_size)
        ctx = Context(args)
        ctx.settings.folders = [str(f) for f in folders]
        ctx.settings.excluded = list(excluded)
        ctx.settings.text = text
        app = App(ctx, list(photos), welcome=False)
        qtbot.addWidget(app.window)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()
        app.window.close()
        for name in es_client.indices.get(index=f"{app.ctx.settings.index}-*"):
            es_client.indices.delete(index=name)
