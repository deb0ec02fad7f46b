"""[W] The library's timeline is a grid like the results: Space / Enter / double-click open the preview, which steps
through the library's photos in timeline order (fetching a page that is not in memory) and Esc returns to the
timeline at the same place; the actions on many photos (Ctrl+A, search with them, trash by the safe rules, copy
paths) work there too. The real window on a real node, real files."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from imgsearch_desktop.core.query import Part
from tests.app.gui import double_click, wait_indexed
from tests.app.test_library_view import dated, screen_ready
from tests.photos import write_photo


def timeline_library(root: Path) -> list[Path]:
    """Twelve photos, one a month of 2023 (newest first in the timeline: December's is row 0)."""
    return [dated(root / f"m{month:02d}.jpg", 3000 + month, f"2023:{month:02d}:15 12:00:00")
            for month in range(12, 0, -1)]


def open_library(qtbot, make_app, root: Path):
    app = make_app([root])
    window = app.window
    window.resize(760, 1000)
    window.show()
    wait_indexed(qtbot, app)
    view = window.library
    qtbot.waitUntil(lambda: view.model.rowCount() == len(list(root.rglob("*.jpg"))) and screen_ready(view),
                    timeout=30_000)
    return app, window, view


def test_the_timeline_opens_the_preview_steps_and_returns_to_the_same_place(qtbot, make_app, tmp_path):
    photos = timeline_library(tmp_path / "Pictures")
    _app, window, view = open_library(qtbot, make_app, tmp_path / "Pictures")
    grid, preview = view.grid, window.preview
    bar = grid.verticalScrollBar()
    assert bar.maximum() > 0  # the timeline scrolls in this window
    bar.setValue(bar.maximum() // 2)
    qtbot.waitUntil(lambda: screen_ready(view), timeout=30_000)
    first, last = grid.visible_rows()
    room = grid.viewport().rect()
    start = next(r for r in range(first, last)
                 if room.contains(grid.tile_rect(r)) and room.contains(grid.tile_rect(r + 1)))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.tile_rect(start).center())
    scroll = bar.value()

    with qtbot.waitSignal(preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert window.pages.currentWidget() is preview and shown.args == [str(photos[start])]
    assert preview.position.text() == f"{start + 1} of 12"
    with qtbot.waitSignal(preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(preview.canvas, Qt.Key.Key_Right)
    assert shown.args == [str(photos[start + 1])]  # the next photo of the timeline (one month older)
    qtbot.keyClick(preview.canvas, Qt.Key.Key_Escape)
    assert window.pages.currentIndex() == 0 and window.stack.currentWidget() is view
    assert bar.value() == scroll and grid.current == start + 1 and grid.hasFocus()

    with qtbot.waitSignal(preview.shown, timeout=30_000) as shown:  # Enter opens the preview too
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert shown.args == [str(photos[start + 1])]
    qtbot.keyClick(preview.canvas, Qt.Key.Key_Escape)
    with qtbot.waitSignal(preview.shown, timeout=30_000) as shown:  # and a double-click
        double_click(grid.viewport(), grid.tile_rect(start).center())
    assert shown.args == [str(photos[start])]
    qtbot.keyClick(preview.canvas, Qt.Key.Key_Escape)

    # Pages of three photos, two held: stepping to the end fetches the page the preview needs, off screen.
    model = view.model
    model.page_size, model.max_pages = 3, 2
    with qtbot.waitSignal(model.loaded, timeout=30_000):
        model.reload()
    bar.setValue(0)
    qtbot.waitUntil(lambda: model.hit(0) is not None and model.hit(11) is None, timeout=30_000)
    grid.show_row(0)
    with qtbot.waitSignal(preview.shown, timeout=30_000):
        qtbot.keyClick(grid, Qt.Key.Key_Space)
    with qtbot.waitSignal(preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(preview.canvas, Qt.Key.Key_End)
    assert shown.args == [str(photos[11])] and preview.title.text() == "m01.jpg"
    qtbot.keyClick(preview.canvas, Qt.Key.Key_Escape)
    assert grid.current == 11 and model.hit(11).path == str(photos[11])  # the grid scrolled to it


def test_many_photos_in_the_timeline_search_copy_and_trash(qtbot, make_app, tmp_path, monkeypatch):
    root = tmp_path / "Pictures"
    photos = timeline_library(root)
    copy = root / "backup" / "m12.jpg"
    copy.parent.mkdir()
    shutil.copy2(photos[0], copy)  # an identical copy, same date: m12.jpg may go, one of the two stays
    _app, window, view = open_library(qtbot, make_app, root)
    grid = view.grid
    grid.show_row(0)

    qtbot.keyClick(grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert grid.selected_rows() == list(range(13))
    menus: list = []
    monkeypatch.setattr(grid, "popup", lambda menu, pos: menus.append(menu))
    qtbot.keyClick(grid, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    entries = {a.text(): a for a in menus[0].actions()}
    assert set(entries) >= {"Search with these 13 photos", "Reveal in folder", "Copy 13 paths",
                            "Move 13 photos to the trash…"}
    in_order = [model_hit.path for r in range(13) if (model_hit := view.model.hit(r)) is not None]
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        entries["Search with these 13 photos"].trigger()
    assert [p.stored for p in window.runner.last.parts] == in_order
    assert window.composer.parts == [Part(stored=p) for p in in_order]

    window.show_library()
    qtbot.waitUntil(lambda: view.model.rowCount() == 13 and screen_ready(view), timeout=30_000)
    rows = {view.model.hit(r).path: r for r in range(13)}
    grid.show_row(rows[str(photos[0])])
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     grid.tile_rect(rows[str(photos[1])]).center())
    qtbot.keyClick(grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert sorted(QGuiApplication.clipboard().mimeData().text().splitlines()) == sorted(map(str, photos[:2]))

    asked: list = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.library_many.trashed, timeout=30_000) as trashed:
        qtbot.keyClick(grid, Qt.Key.Key_Delete)
    report, error = trashed.args
    assert error is None and [o.path for o in report.trashed] == [str(photos[0])]  # m11's is the last copy: kept
    assert "1 selected photo stays: it is the last copy" in asked[0]
    assert not photos[0].exists() and photos[1].exists() and copy.exists()
    qtbot.waitUntil(lambda: view.model.rowCount() == 12, timeout=30_000)  # the timeline without what went


def test_the_count_and_the_library_follow_the_first_indexing(qtbot, make_app, tmp_path):
    """Search answers while the first indexing runs: the status bar's count and the timeline must not stay at 0
    until it ends (they catch up every 2 s at most; here indexing is paused part-way through)."""
    root = tmp_path / "Pictures"
    for i in range(60):
        write_photo(root / f"p{i:02d}.jpg", seed=4000 + i, size=(96, 72))
    app = make_app([root], batch_size=4)
    window = app.window
    window.show()
    control, paused = app.worker.control, []

    def pause_once(done: int, _total: int, _note: str) -> None:
        if done >= 8 and not paused:
            control.pause()
            paused.append(done)

    app.worker.progress.connect(pause_once)
    qtbot.waitUntil(lambda: bool(paused), timeout=120_000)
    view, status = window.library, window.index_status
    qtbot.waitUntil(lambda: view.model.rowCount() > 0 and bool(window.photos), timeout=30_000)
    assert status.indexing and 0 < view.model.rowCount() < 60 and 0 < window.photos < 60
    assert status.count.text() == f"{window.photos} photos"
    with qtbot.waitSignal(app.worker.finished, timeout=120_000):
        control.resume()
    qtbot.waitUntil(lambda: view.model.rowCount() == 60 and status.count.text() == "60 photos", timeout=30_000)
