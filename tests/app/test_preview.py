"""Issue [W]: the preview (Space / double-click opens a photo large in the window, arrows step, EXIF beside it,
fit / 100%, Esc back to the grid at the same place) and acting on many tiles at once (search with them, trash them
by the duplicates' rules, copy their paths). The real window on a real node, real files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox

from imgsearch_desktop.app.main_window import file_url
from imgsearch_desktop.app.results_model import index_path
from imgsearch_desktop.core.query import Part
from tests.app.gui import double_click, wait_indexed
from tests.photos import exif_tagged, write_photo


def shown_path(window) -> str:
    return window.preview.picture.path if window.preview.picture else ""


def row_of(window, path: Path) -> int:
    return next(r for r, h in enumerate(window.model.hits) if h.path == str(path))


def search(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.search_path(str(path))
    qtbot.waitUntil(window.model.thumbnails_ready, timeout=30_000)


def test_the_preview_opens_steps_shows_exif_zooms_and_returns_to_the_same_place(qtbot, make_app, tmp_path,
                                                                               monkeypatch):
    root = tmp_path / "Pictures"
    for i in range(40):
        write_photo(root / f"IMG_{i:04d}.jpg", seed=1000 + i, size=(320, 240))
    tagged = exif_tagged(root / "camera.jpg", seed=999, size=(1600, 1200))
    app = make_app([root])
    wait_indexed(qtbot, app)
    window, grid = app.window, app.window.grid
    window.resize(1000, 640)
    window.show()
    search(qtbot, window, tagged)
    assert window.model.rowCount() == 41

    # Somewhere down the grid, a tile in the middle of the screen is the current one.
    bar = grid.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)
    bar.setValue(bar.maximum() // 2)
    on_screen = [window.model.index(r) for r in range(41)
                 if grid.viewport().rect().contains(grid.visualRect(window.model.index(r)))]
    start = on_screen[len(on_screen) // 2]
    assert on_screen[0].row() > 0 and start.row() < 40  # scrolled: the first tiles are off screen
    grid.setCurrentIndex(start)
    grid.setFocus()
    scroll = bar.value()

    with qtbot.waitSignal(window.preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert window.pages.currentWidget() is window.preview and shown.args == [index_path(start)]
    assert window.preview.title.text() == Path(index_path(start)).name
    assert window.preview.position.text() == f"{start.row() + 1} of 41"
    assert not window.preview.canvas.label.pixmap().isNull()
    canvas = window.preview.canvas
    with qtbot.waitSignal(window.preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert shown.args == [window.model.hits[start.row() + 1].path]
    with qtbot.waitSignal(window.preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert shown.args == [index_path(start)]

    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert window.pages.currentIndex() == 0
    assert bar.value() == scroll and grid.currentIndex().row() == start.row() and grid.hasFocus()

    # The photo with EXIF: its facts beside it; fit, then 100%, then fit again; Enter opens the system viewer.
    row = row_of(window, tagged)
    grid.setCurrentIndex(window.model.index(row))
    grid.scrollTo(grid.currentIndex())
    with qtbot.waitSignal(window.preview.shown, timeout=30_000):
        double_click(grid.viewport(), grid.visualRect(grid.currentIndex()).center())
    assert shown_path(window) == str(tagged)
    facts = {k: v.text() for k, v in window.preview.facts.items()}
    assert facts["Camera"] == "Canon EOS 80D" and facts["Lens"] == "EF-S 18-55mm f/3.5-5.6 IS STM"
    assert facts["Taken"] == "2021-07-14 09:30" and facts["Exposure"] == "f/2.8 · 1/250 s · ISO 200 · 35 mm"
    assert facts["Size"].startswith("1600 × 1200 px · 1.9 MP · ") and facts["Size"].endswith(" MB")
    assert facts["Place"] == "48.85822° N, 2.29450° E"
    assert window.preview.form.isRowVisible(window.preview.facts["Place"])
    label = canvas.label
    fitted = label.pixmap().width()
    assert fitted < 1600 and label.pixmap().height() <= canvas.viewport().height()
    assert window.preview.zoom_label.text() == f"fit · {fitted / 1600:.0%} of the photo"
    qtbot.keyClick(canvas, Qt.Key.Key_Z)
    assert label.pixmap().size().toTuple() == (1600, 1200) and window.preview.zoom_label.text().startswith("100%")
    assert canvas.horizontalScrollBar().maximum() > 0  # scrolls at 100%
    window.preview.zoom_button.click()
    assert label.pixmap().width() == fitted

    opened: list = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    assert opened == [file_url(str(tagged))]
    window.preview.open_button.click()
    assert len(opened) == 2

    # A photo without EXIF says so instead of keeping the last photo's facts; no place row at all.
    with qtbot.waitSignal(window.preview.shown, timeout=30_000):
        qtbot.keyClick(canvas, Qt.Key.Key_Right if row == 0 else Qt.Key.Key_Left)
    assert window.preview.facts["Camera"].text() == "—"
    assert not window.preview.form.isRowVisible(window.preview.facts["Place"])

    # "Find similar" leaves the preview and searches with the photo shown.
    similar = shown_path(window)
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.preview.similar_button.click()
    assert window.pages.currentIndex() == 0 and [p.path for p in window.runner.last.parts] == [similar]


def test_many_tiles_at_once_search_trash_and_copy(qtbot, make_app, tmp_path, monkeypatch):
    root = tmp_path / "Pictures"
    photos = [write_photo(root / f"{name}.jpg", seed=1100 + i) for i, name in enumerate(("a", "b", "c"))]
    (root / "backup").mkdir()
    copy = root / "backup" / "a.jpg"
    shutil.copyfile(photos[0], copy)  # an identical copy: a.jpg may go, one of the two stays
    app = make_app([root])
    wait_indexed(qtbot, app)
    window, grid = app.window, app.window.grid
    search(qtbot, window, photos[1])
    assert window.model.rowCount() == 4

    # Ctrl+A, then the selection's menu: "Search with these 4 photos" → one query whose parts are the photos.
    grid.setFocus()
    grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(grid.selectionModel().selectedIndexes()) == 4
    in_order = [h.path for h in window.model.hits]
    menus: list = []
    monkeypatch.setattr(grid, "popup", lambda menu, pos: menus.append(menu))
    qtbot.keyClick(grid, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    entries = {a.text(): a for a in menus[0].actions()}
    assert set(entries) >= {"Search with these 4 photos", "Reveal in folder", "Copy 4 paths",
                            "Move 4 photos to the trash…"}
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        entries["Search with these 4 photos"].trigger()
    assert window.composer.parts == [Part(stored=p) for p in in_order]
    assert [p.stored for p in window.runner.last.parts] == in_order
    assert len(window.composer.panel.chips) == 4

    # Copy paths: a path a line, and file URLs for a file manager.
    select(grid, window, [photos[0], photos[2]])
    qtbot.keyClick(grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    mime = QGuiApplication.clipboard().mimeData()
    assert sorted(mime.text().splitlines()) == sorted([str(photos[0]), str(photos[2])])
    assert sorted(u.toLocalFile() for u in mime.urls()) == sorted([str(photos[0]), str(photos[2])])

    # Trash a.jpg (its copy stays) and b.jpg (the last copy: refused) after the confirmation.
    asked: list = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    select(grid, window, [photos[0], photos[1]])
    before = [h.path for h in window.model.hits]
    with qtbot.waitSignal(window.many.trashed, timeout=30_000) as trashed:
        qtbot.keyClick(grid, Qt.Key.Key_Delete)
    report, error = trashed.args
    assert error is None and [o.path for o in report.trashed] == [str(photos[0])]
    assert "moves 1 file (" in asked[0] and "1 selected photo stays: it is the last copy" in asked[0]
    assert not photos[0].exists() and photos[1].exists() and copy.exists()
    assert "a.jpg" in os.listdir(Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files")
    journal = [json.loads(line) for line in (app.ctx.dirs.data / "trash-journal.jsonl").read_text().splitlines()]
    went = next(e for e in journal if e["action"] == "trashed")
    assert went["path"] == str(photos[0]) and went["keeper"] == str(copy)
    refused = next(e for e in journal if e["action"] == "refused")
    assert refused["path"] == str(photos[1]) and "last copy" in refused["reason"]
    assert window.banner.text().startswith("Moved 1 file (") and "kept 1 file" in window.banner.text()
    assert [h.path for h in window.model.hits] == [p for p in before if p != str(photos[0])]  # the rest stay put

    # Now backup/a.jpg is the last copy of its picture: nothing is asked, nothing moves.
    select(grid, window, [copy])
    qtbot.keyClick(grid, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: window.banner.text().startswith("Nothing was moved to the trash"), timeout=30_000)
    assert "last copy" in window.banner.text() and copy.exists() and len(asked) == 1


def select(grid, window, paths: list[Path]) -> None:
    grid.clearSelection()
    rows = [row_of(window, p) for p in paths]
    grid.setCurrentIndex(window.model.index(rows[0]))
    for row in rows:
        grid.selectionModel().select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    grid.setFocus()
