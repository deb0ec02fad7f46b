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
