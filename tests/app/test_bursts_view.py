"""The Bursts window (the Duplicates window on the burst tier) on real photographs: each burst around its pick
(★, the undamaged frame), the reasons on hover, the rest checked and moved to the trash by the safe-trash path; a
frame the user keeps instead is remembered by the next window."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from imgsearch_desktop.app.dupes_view import DupesView
from imgsearch_desktop.app.dupes_widgets import MemberRole
from imgsearch_desktop.config import AppDirs, Settings
from imgsearch_desktop.core.dupes import Tier
from imgsearch_desktop.core.pipeline import Indexer
from tests import burst_frames as bf
from tests.app.gui import SCREENSHOTS

pytestmark = pytest.mark.skipif(not bf.PHOTOS[0].exists(), reason="mate-backgrounds not installed")


def test_bursts_view_stars_the_pick_explains_it_and_trashes_the_rest(qtbot, store, embedder, isolated_home,
                                                                    tmp_path, monkeypatch):
    rng = np.random.default_rng(9)
    root = tmp_path / "Camera"
    clean = {}
    for k, (name, damages) in enumerate((("Garden.jpg", ["blur σ2.5", "motion 9 px", "+1.5 EV"]),
                                         ("LadyBird.jpg", ["noise σ20", "−1.5 EV"]))):
        _frames, clean[k] = bf.write_burst(root / f"burst{k}", bf.load(bf.BACKGROUNDS / "nature" / name),
                                          datetime(2024, 8, 1, 10, 0, 2 * k), damages, rng, clean_at=k)
    Indexer(store, embedder).run([root])
    dirs = AppDirs.resolve(isolated_home)
    settings = Settings(folders=[str(root)], index=store.alias)
    view = DupesView(store, settings, dirs, level=Tier.BURST)
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    assert view.level.currentData() == "burst" and "Bursts" in view.windowTitle()
    with qtbot.waitSignal(view.scanned, timeout=120_000) as scanned:
        view.scan()
    assert scanned.args == [2]
    keepers = [item for item in view.tree.file_items() if item.text(0) == "★"]
    assert sorted(item.data(0, MemberRole).photo.path for item in keepers) == sorted(map(str, clean.values()))
    for item in keepers:
        assert "sharp" in item.toolTip(2) and item.text(2).startswith("keeper\n")
    for item in view.tree.file_items():
        if item.text(0) != "★":
            assert item.text(2).startswith("burst\n") and item.text(2).split("\n", 1)[1] == item.toolTip(2)
    others = [item for item in view.tree.file_items() if item.text(0) != "★"]
    assert len(others) == 5 and all(item.toolTip(2) for item in others)  # what each frame lacks, on hover
    with qtbot.waitSignal(view.compare.shown, timeout=30_000):
        view.tree.setCurrentItem(others[0])
    qtbot.waitUntil(lambda: view.thumbnails_ready() and view.compare.pictures_ready(), timeout=30_000)
    qtbot.wait(200)
    SCREENSHOTS.mkdir(exist_ok=True)
    assert view.grab().save(str(SCREENSHOTS / "bursts.png"))

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"  # the test session's: other tests trash too
    before = set(os.listdir(trash)) if trash.exists() else set()
    with qtbot.waitSignal(view.trashed, timeout=60_000) as trashed:
        view.trash_button.click()
    assert trashed.args == [5] and "moves 5 files" in asked[0]
    assert all(p.exists() for p in clean.values())
    assert sorted(p.name for p in (root).rglob("*.jpg")) == sorted(p.name for p in clean.values())
    assert len(set(os.listdir(trash)) - before) == 5


def test_the_frame_the_user_keeps_is_remembered(qtbot, store, embedder, isolated_home, tmp_path):
    rng = np.random.default_rng(4)
    _frames, clean = bf.write_burst(tmp_path / "b", bf.load(bf.BACKGROUNDS / "nature" / "Dune.jpg"),
                                   datetime(2024, 9, 1, 8, 0, 0), ["blur σ1.5", "noise σ10"], rng)
    Indexer(store, embedder).run([tmp_path / "b"])
    dirs = AppDirs.resolve(isolated_home)
    settings = Settings(folders=[str(tmp_path / "b")], index=store.alias)

    def open_and_scan() -> DupesView:
        view = DupesView(store, settings, dirs, level="burst")
        qtbot.addWidget(view)
        view.show()
        with qtbot.waitSignal(view.scanned, timeout=120_000):
            view.scan()
        return view

    view = open_and_scan()
    assert view.groups[0].keep.path == str(clean)
    other = next(i for i in view.tree.file_items() if i.data(0, MemberRole).photo.path != str(clean))
    chosen = other.data(0, MemberRole).photo.path  # (the rows are redrawn by the regroup)
    view.tree.setCurrentItem(other)
    with qtbot.waitSignal(view.regrouped, timeout=60_000):
        view.keep_current()
    assert view.groups[0].keep.path == chosen
    view.close()
    again = open_and_scan()  # a new window: its choices start empty, the burst picks file remembers
    assert again.groups[0].keep.path == chosen and again.groups[0].keep_why.startswith("chosen by you")
