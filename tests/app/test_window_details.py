"""Filters that re-run the query, watcher-driven indexing under Pause/Cancel and exclusions, the skipped list, and
the rough edges: Enter and Shift+F10 on a tile, no system viewer, a narrow window, a non-UTF-8 name, an empty folder."""

from __future__ import annotations

import os
import shutil

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QDesktopServices

from imgsearch_desktop.app.main_window import file_url
from imgsearch_desktop.app.skipped import SkippedDialog
from tests.app.gui import SCREENSHOTS, drop_file, wait_indexed
from tests.photos import write_photo


def test_filters_rerun_the_current_query(qtbot, make_app, library):
    app = make_app([library])
    wait_indexed(qtbot, app)
    window, bar = app.window, app.window.filter_bar
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        drop_file(window, library / "2023" / "IMG_0001.jpg")
    assert window.model.rowCount() == 10

    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        bar.format_combo.setCurrentText("PNG")  # no new search: the grid follows the filter
    assert shown.args == [1] and window.model.hits[0].path == str(library / "scan.png")
    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        bar.threshold.setValue(100)
    assert shown.args == [0]
    assert "lower the minimum similarity" in window.hint.text() and "All formats" in window.hint.text()
    bar.threshold.setValue(0)
    bar.format_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=30_000)

    # Only the portrait has an EXIF date: the filter says how many have none, and can take them in.
    portrait = str(library / "2024" / "portrait.jpg")
    bar.date_from.setDate(QDate(2021, 7, 1))
    bar.date_to.setDate(QDate(2021, 7, 31))
    bar.date_filter.setChecked(True)
    qtbot.waitUntil(lambda: [h.path for h in window.model.hits] == [portrait], timeout=30_000)
    qtbot.waitUntil(lambda: bar.include_undated.text() == "include 9 photos without a date", timeout=30_000)
    bar.include_undated.setChecked(True)
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=30_000)
    bar.include_undated.setChecked(False)
    bar.date_from.setDate(QDate(2019, 1, 1))
    bar.date_to.setDate(QDate(2019, 12, 31))
    qtbot.waitUntil(lambda: window.model.rowCount() == 0 and window.stack.currentWidget() is window.hint,
                    timeout=30_000)
    assert "9 photos have no date taken" in window.hint.text() and "minimum similarity" not in window.hint.text()


def test_watcher_indexing_obeys_pause_cancel_and_exclusions(qtbot, make_app, tmp_path):
    root = tmp_path / "lib"
    write_photo(root / "first.jpg", 300)
    app = make_app([root], batch_size=2, excluded=["private"])
    wait_indexed(qtbot, app)
    window, worker = app.window, app.worker

    write_photo(root / "private" / "secret.jpg", 301)
    write_photo(root / "new.jpg", 302)
    stats = wait_indexed(qtbot, app, 60_000)
    assert stats.indexed == 1
    indexed = worker.store.indexed_files([str(root)])
    assert str(root / "new.jpg") in indexed and str(root / "private" / "secret.jpg") not in indexed

    staging = tmp_path / "staging" / "burst"  # written elsewhere, then moved in at once: one change set
    for i in range(16):
        write_photo(staging / f"b{i:02d}.jpg", 400 + i, size=(200, 150))
    shutil.move(staging, root / "burst")
    with qtbot.waitSignal(worker.progress, timeout=60_000, check_params_cb=lambda d, t, n: 0 < d < t):
        pass
    assert window.status_label.text().startswith("Indexing ")  # the same status as a scan
    window.toggle_pause()
    qtbot.wait(300)
    assert window.status_label.text().endswith("· paused")
    seen: list[int] = []
    worker.progress.connect(lambda d, t, n: seen.append(d))
    qtbot.wait(1500)
    assert len(seen) <= 1  # at most the batch that was running when Pause was pressed
    window.cancel_indexing()
    stats = wait_indexed(qtbot, app, 60_000)
    assert stats.cancelled and stats.indexed < 16
    assert window.status_label.text().startswith("Indexing cancelled")


def test_skipped_files_are_counted_and_listed_with_reasons(qtbot, make_app, library):
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (library / "2023" / "empty.png").write_bytes(b"")
    app = make_app([library])
    wait_indexed(qtbot, app)
    window = app.window
    status = window.index_status
    qtbot.waitUntil(lambda: status.skipped_link.isVisibleTo(status), timeout=30_000)
    assert status.count.text() == "10 photos" and "2 skipped" in status.skipped_link.text()
    status.skipped_link.linkActivated.emit("skipped")  # what a click on "2 skipped" does
    (dialog,) = window.findChildren(SkippedDialog)
    rows = {dialog.tree.topLevelItem(i).text(0): dialog.tree.topLevelItem(i).text(1)
            for i in range(dialog.tree.topLevelItemCount())}
    assert set(rows) == {str(library / "broken.jpg"), str(library / "2023" / "empty.png")}
    assert all(rows.values())
    SCREENSHOTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOTS / "skipped-files.png"))


def test_tiles_by_keyboard_no_viewer_narrow_window_and_odd_names(qtbot, make_app, library, monkeypatch):
    odd = os.fsdecode(os.fsencode(str(library)) + b"/caf\xe9.jpg")  # a Latin-1 name from an old camera card
    write_photo(library / "source.jpg", 901)
    os.rename(library / "source.jpg", odd)
    app = make_app([library])
    wait_indexed(qtbot, app)
    window = app.window
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.search_path(odd)
    assert window.model.hits[0].path == odd
    qtbot.waitUntil(window.model.thumbnails_ready, timeout=30_000)
    assert window.model.pixmaps[odd] is not window.model._broken  # a real thumbnail, not a blank tile

    opened: list = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or False)  # no viewer set up
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    with qtbot.waitSignal(window.preview.shown, timeout=30_000):
        qtbot.keyClick(window.grid, Qt.Key.Key_Return)  # Enter on a tile: the preview; Enter again: the viewer
    assert window.preview.title.text() == "caf\ufffd.jpg" and not window.preview.pixmap.isNull()
    qtbot.keyClick(window.preview.canvas, Qt.Key.Key_Return)
    assert opened == [file_url(odd)] and opened[0].toEncoded().endsWith(b"/caf%E9.jpg")
    assert window.banner.text().startswith("No app is set up to open “caf\ufffd.jpg”")
    qtbot.keyClick(window.preview.canvas, Qt.Key.Key_Escape)

    menus: list = []
    monkeypatch.setattr(window.grid, "popup", lambda menu, pos: menus.append([a.text() for a in menu.actions()]))
    qtbot.keyClick(window.grid, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    assert menus and menus[0][:2] == ["Preview", "Open in viewer"] and "Search similar to this" in menus[0]

    window.index_status.show_message("A very long status line " * 30)
    window.resize(560, 640)
    qtbot.waitUntil(lambda: window.width() <= 600, timeout=5_000)
    assert window.minimumSizeHint().width() <= 600


def test_an_empty_folder_says_what_to_do(qtbot, make_app, tmp_path):
    empty = tmp_path / "Pictures"
    empty.mkdir()
    app = make_app([empty])
    wait_indexed(qtbot, app)
    qtbot.waitUntil(lambda: app.window.status_label.text().startswith("No photos found in Pictures"),
                    timeout=30_000)
    assert "Settings" in app.window.hint.text()
