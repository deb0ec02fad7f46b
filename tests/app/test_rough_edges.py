"""The minor rough edges a new user hit ([W] issue 23), each on the real window or widget: the date range, the
status line's durations, the engine's restart, Details, the welcome, Settings' folder priority, names and titles
that are cut, the Tab order, Ctrl+A in the timeline."""

from __future__ import annotations

from PySide6.QtCore import QDate, QPoint, Qt

from tests.app.gui import wait_indexed

WAIT = 30_000


def library_loaded(qtbot, window, total: int) -> None:
    model = window.library.model
    qtbot.waitUntil(lambda: model.timeline is not None and model.rowCount() == total, timeout=WAIT)


def test_the_date_range_starts_as_the_librarys_span_and_takes_a_typed_year(qtbot, make_app, library):
    app = make_app([library])
    window, bar = app.window, app.window.filter_bar
    wait_indexed(qtbot, app)
    library_loaded(qtbot, window, 10)
    # The portrait was taken in July 2021 (EXIF); the others have only today's file time.
    today = QDate.currentDate()
    assert bar.date_from.date() == QDate(2021, 7, 1)
    assert bar.date_to.date() == QDate(today.year(), today.month(), today.daysInMonth())
    bar.date_filter.setChecked(True)
    assert bar.filters().date_from == "2021-07-01"  # switched on, it hides none of the dated photos

    # A click on the year, then a year typed: it replaces the year (Qt's own edit refused it unchanged).
    edit = bar.date_from
    qtbot.mouseClick(edit.lineEdit(), Qt.MouseButton.LeftButton, pos=QPoint(8, edit.lineEdit().height() // 2))
    qtbot.waitUntil(lambda: edit.lineEdit().selectedText() == "2021", timeout=5_000)
    with qtbot.waitSignal(bar.changed, timeout=5_000):
        qtbot.keyClicks(edit, "2019")
    assert edit.date() == QDate(2019, 7, 1) and bar.filters().date_from == "2019-07-01"
    assert bar.dates_edited
    window.library.model.loaded.emit()  # the library loaded again: the user's dates stay
    assert edit.date() == QDate(2019, 7, 1)


def test_after_the_engine_is_restarted_only_the_store_changes_and_times_read_in_seconds(qtbot, make_app, library):
    import dataclasses

    app = make_app([library])
    window, worker = app.window, app.worker
    wait_indexed(qtbot, app)
    said, loads, readies = [], [], []
    worker.status.connect(said.append)
    worker.ready.connect(readies.append)
    load_both = worker.embedder.load_both
    worker.embedder.load_both = lambda: (loads.append(1), load_both())[1]

    # What the health watch does once the stopped node is running again: a store connected to it, index checked.
    fresh = app.ctx.store()
    fresh.use_index(worker.embedder.model_id, worker.embedder.dims, create=False)
    window.health._restarted(window.health._generation, fresh)
    qtbot.waitUntil(lambda: worker.store is fresh and worker.sync.indexer.store is fresh, timeout=WAIT)
    assert window.runner.store is fresh and window.library.model.store is fresh
    qtbot.wait(500)  # anything queued behind it on the worker's thread has run
    assert not loads and not readies and "Loading the models…" not in said, said
    assert window.ready and window.status_label.text() == "The search engine is running again."

    with qtbot.waitSignal(window.results_shown, timeout=WAIT):  # searching goes on through the new store
        window.search_path(str(library / "scan.png"))
    assert window.model.hits[0].path == str(library / "scan.png")
    assert window.status_label.text().endswith(" ms")  # a fast query: milliseconds
    # A query that waited half a minute for the engine reads as a person says it.
    window._on_results(dataclasses.replace(window.last_result, seconds=31.445))
    assert window.status_label.text() == "10 results in 31 s"
    assert window.query_caption.text().endswith("10 similar photos · 31 s")
    window._on_results(dataclasses.replace(window.last_result, seconds=125.2))
    assert window.status_label.text() == "10 results in 2 min 5 s"


def tab_stops(qtbot, window) -> list:
    """Where Tab goes from the search bar, stop by stop, until it is back there."""
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    window.search.setFocus()
    qtbot.waitUntil(window.search.hasFocus, timeout=5_000)
    stops = []
    for _ in range(40):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        stops.append(QApplication.focusWidget())
        if stops[-1] is window.search:
            return stops
    raise AssertionError(f"Tab never came back to the search bar: {stops}")


def test_tab_goes_from_the_search_bar_through_the_filters_to_the_grid_then_the_parts(qtbot, make_app, library):
    app = make_app([library])
    window, bar = app.window, app.window.filter_bar
    wait_indexed(qtbot, app)
    library_loaded(qtbot, window, 10)
    from PySide6.QtWidgets import QPushButton

    buttons = {b.text(): b for b in window.findChildren(QPushButton)}
    open_photo, library_button = buttons["Open photo…"], buttons["Library"]
    filters = [bar.k_spin, bar.threshold, bar.folder_combo, bar.format_combo, bar.date_filter]
    assert tab_stops(qtbot, window) == [open_photo, library_button, *filters, window.library.grid,
                                        window.folder_tree, window.search]
    assert window.library.grid.current == 0  # the grid reached by Tab shows where the focus is

    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        window.search_path(str(library / "scan.png"))
    [chip] = window.composer.panel.chips
    assert tab_stops(qtbot, window) == [open_photo, library_button, *filters, window.grid, chip.slider,
                                        chip.remove, window.folder_tree, window.search]



def test_ctrl_a_in_the_timeline_takes_the_whole_library_through_the_store(qtbot, make_app, tmp_path, monkeypatch):
    from PySide6.QtGui import QGuiApplication

    from tests.photos import write_photo

    root = tmp_path / "Pictures"
    photos = [write_photo(root / ("trip" if i < 12 else "home") / f"p{i:02d}.jpg", seed=5100 + i, size=(64, 48))
              for i in range(30)]
    app = make_app([root])
    window, view = app.window, app.window.library
    window.resize(900, 600)
    view.model.page_size, view.model.max_pages = 4, 2  # small pages: the photos off screen are never loaded
    wait_indexed(qtbot, app)
    library_loaded(qtbot, window, 30)
    grid = view.grid
    grid.show_row(0)
    qtbot.waitUntil(lambda: view.model.hit(0) is not None, timeout=WAIT)

    first, last = grid.visible_rows()
    qtbot.waitUntil(lambda: all(view.model.hit(r) for r in range(first, last + 1)) and not view.model.inflight,
                    timeout=WAIT)
    loaded = view.model.loaded_rows()
    assert loaded < 30
    qtbot.keyClick(grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    menus: list = []
    monkeypatch.setattr(grid, "popup", lambda menu, pos: menus.append(menu))
    qtbot.keyClick(grid, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    entries = {a.text() for a in menus[0].actions()}
    assert {"Copy 30 paths", "Move 30 photos to the trash…", "Search with these 30 photos"} <= entries
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(QGuiApplication.clipboard().text().splitlines()) == 30, timeout=WAIT)
    assert sorted(QGuiApplication.clipboard().text().splitlines()) == sorted(map(str, photos))
    assert view.model.loaded_rows() == loaded  # listed by the store, not loaded into the grid

    # Narrowed by the folder tree: Ctrl+A takes the folder's photos.
    window.folder_tree.folder_chosen.emit(str(root / "trip"))
    library_loaded(qtbot, window, 12)
    grid.show_row(0)
    qtbot.keyClick(grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(QGuiApplication.clipboard().text().splitlines()) == 12, timeout=WAIT)
    assert sorted(QGuiApplication.clipboard().text().splitlines()) == sorted(map(str, photos[:12]))
    grid.show_row(1)  # a click or an arrow ends "everything": the actions take the tiles again
    assert grid.whole_selection() is None and window.library_many.count() == 1
