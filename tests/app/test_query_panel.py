"""Composed queries in the window: chips (Shift+drop, typing, More/Less like this), back/forward, region drag."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app.query_panel import LESS, MORE
from imgsearch_desktop.core.query import Query, run_query
from tests.app.gui import SCREENSHOTS, drop_file, wait_indexed

WAIT = 30_000


def menu_action(window, row: int, text: str):
    menus = []
    window.grid.popup = lambda menu, pos: menus.append(menu)  # instead of a modal exec()
    window.grid.show_menu(window.model.index(row), QPoint(5, 5))
    return next(a for a in menus[0].actions() if a.text() == text)


def same_as_run_query(app) -> None:
    window = app.window
    fb = window.filter_bar
    expected = run_query(app.worker.embedder, app.worker.store,
                         Query(parts=list(window.composer.parts), k=fb.k, min_score=fb.min_score,
                               filters=fb.filters()))
    assert [h.path for h in window.model.hits] == [h.path for h in expected.hits]
    assert [h.score for h in window.model.hits] == pytest.approx([h.score for h in expected.hits], abs=1e-5)


def test_chips_from_shift_drop_typing_and_the_context_menu(qtbot, make_app, library):
    app = make_app([library])
    wait_indexed(qtbot, app)
    window = app.window
    window.resize(1200, 780)
    composer, first, second = window.composer, library / "2023" / "IMG_0003.jpg", library / "2024" / "IMG_0000.jpg"

    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, first)
    assert [p.path for p in composer.parts] == [str(first)] and len(composer.panel.chips) == 1
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, second, shift=True)  # Shift: one more part
    assert [p.path for p in composer.parts] == [str(first), str(second)]
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, second)  # without Shift: the photo is the query again
    assert [p.path for p in composer.parts] == [str(second)]
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, first, shift=True)

    window.search.setText("a cat on a sofa")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        qtbot.keyClick(window.search, Qt.Key.Key_Return)  # a sentence while a photo is the query: one more part
    assert composer.parts[-1].text == "a cat on a sofa" and len(composer.parts) == 3
    assert window.search.text() == ""
    same_as_run_query(app)

    unwanted = window.model.hits[-1].path
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        menu_action(window, window.model.rowCount() - 1, "Less like this").trigger()
    less = composer.parts[-1]
    assert (less.stored, less.weight) == (unwanted, -1.0)
    chips = composer.panel.chips
    assert len(chips) == 4 and not chips[-1].more and LESS[0] in chips[-1].styleSheet()
    assert chips[0].more and MORE[0] in chips[0].styleSheet()
    assert chips[2].title.text() == "“a cat on a sofa”"
    same_as_run_query(app)
    assert unwanted not in [h.path for h in window.model.hits[:3]]

    liked = window.model.hits[1].path
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        menu_action(window, 1, "More like this").trigger()
    assert (composer.parts[-1].stored, composer.parts[-1].weight) == (liked, 1.0)
    same_as_run_query(app)

    # The weight slider: halfway to "less like", the query runs again once the slider settles.
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.panel.chips[1].slider.setValue(-5)
    assert composer.parts[1].weight == -0.5 and not composer.panel.chips[1].more
    assert window.runner.last.parts[1].weight == -0.5
    same_as_run_query(app)

    qtbot.waitUntil(lambda: all(not c.thumb.pixmap().isNull() for c in composer.panel.chips if c.part.text is None),
                    timeout=WAIT)
    qtbot.waitUntil(window.model.thumbnails_ready, timeout=WAIT)
    qtbot.wait(200)
    SCREENSHOTS.mkdir(exist_ok=True)
    assert window.grab().save(str(SCREENSHOTS / "composed-query.png"))

    # Remove a chip with its button.
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        qtbot.mouseClick(composer.panel.chips[-1].remove, Qt.MouseButton.LeftButton)
    assert len(composer.parts) == 4 and liked not in [p.stored for p in composer.parts]
    assert len(composer.panel.chips) == 4
    same_as_run_query(app)


def test_back_and_forward_restore_parts_and_filters(qtbot, make_app, library):
    app = make_app([library])
    wait_indexed(qtbot, app)
    window, composer = app.window, app.window.composer
    first, second = library / "2023" / "IMG_0001.jpg", library / "2024" / "IMG_0002.jpg"
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, first)
    window.filter_bar.format_combo.setCurrentText("PNG")  # a filter of the first query
    qtbot.waitUntil(lambda: window.runner.last.filters.formats == ["PNG"], timeout=WAIT)
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        pass
    window.filter_bar.format_combo.setCurrentIndex(0)
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        pass
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, second, shift=True)
    assert [p.path for p in composer.parts] == [str(first), str(second)]
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        window.search.setText("ein Hund am Strand")
        window.search_text()
    assert len(composer.parts) == 3

    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert [p.path for p in composer.parts] == [str(first), str(second)]
    assert len(composer.panel.chips) == 2
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.back_action.trigger()
    assert [p.path for p in composer.parts] == [str(first)]
    assert window.filter_bar.format_combo.currentIndex() == 0  # as it was when the first query was left
    same_as_run_query(app)

    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert [p.path for p in composer.parts] == [str(first), str(second)]
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.forward_action.trigger()
    assert [p.text for p in composer.parts][-1] == "ein Hund am Strand" and len(composer.panel.chips) == 3
    same_as_run_query(app)
    assert not composer.history.can_forward()

    # Filters travel with their query: back to the first one with PNG set, then forward and back again.
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.back()
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.back()
    window.filter_bar.format_combo.setCurrentText("PNG")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        pass
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.forward()
    assert window.filter_bar.format_combo.currentIndex() == 0
    with qtbot.waitSignal(window.results_shown, timeout=WAIT) as shown:
        composer.back()
    assert window.filter_bar.format_combo.currentText() == "PNG"
    assert shown.args == [1] and window.model.hits[0].path == str(library / "scan.png")


def test_going_back_to_a_query_with_the_date_filter_shows_its_undated_choice(qtbot, make_app, library):
    """History puts the filter bar back through FilterBar.set_state: with the date filter on, "include photos without
    a date" is shown (and the dates editable) again; forward to a query without it hides them."""
    app = make_app([library])
    wait_indexed(qtbot, app)
    window, composer, bar = app.window, app.window.composer, app.window.filter_bar
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, library / "2023" / "IMG_0001.jpg")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        bar.date_filter.setChecked(True)
    bar.include_undated.setChecked(True)
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        pass
    date_from = bar.date_from.date().toString("yyyy-MM-dd")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, library / "2024" / "IMG_0002.jpg")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        bar.date_filter.setChecked(False)
    assert not bar.include_undated.isVisibleTo(window)

    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.back()
    assert bar.include_undated.isVisibleTo(window) and bar.date_from.isEnabled() and bar.date_to.isEnabled()
    assert bar.date_filter.isChecked() and bar.include_undated.isChecked()
    assert window.runner.last.filters.include_undated and window.runner.last.filters.date_from == date_from
    assert bar.state()["dated"] and bar.state()["from"] == date_from
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.forward()
    assert not bar.date_filter.isChecked() and not bar.include_undated.isVisibleTo(window)
    assert not bar.date_from.isEnabled()


def mouse(label, kind, x, y):
    button = Qt.MouseButton.LeftButton
    buttons = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease else button
    event = QMouseEvent(kind, QPointF(x, y), label.mapToGlobal(QPointF(x, y)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(label, event)


def test_dragging_a_rectangle_on_the_query_photo_searches_by_that_region(qtbot, make_app, library):
    app = make_app([library])
    wait_indexed(qtbot, app)
    window, composer = app.window, app.window.composer
    window.resize(1200, 780)
    photo = library / "2024" / "IMG_0004.jpg"
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, photo)
    whole = [h.path for h in window.model.hits]
    label = window.query_image
    qtbot.waitUntil(lambda: not label.pixmap().isNull(), timeout=WAIT)
    pic = composer.region.picture_rect()
    assert pic.width() > 50 and pic.height() > 50
    x0, y0 = pic.left() + pic.width() // 4, pic.top() + pic.height() // 4
    x1, y1 = pic.left() + 3 * pic.width() // 4, pic.top() + 3 * pic.height() // 4
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        mouse(label, QMouseEvent.Type.MouseButtonPress, x0, y0)
        mouse(label, QMouseEvent.Type.MouseMove, (x0 + x1) / 2, (y0 + y1) / 2)
        mouse(label, QMouseEvent.Type.MouseMove, x1, y1)
        mouse(label, QMouseEvent.Type.MouseButtonRelease, x1, y1)
    [part] = composer.parts
    assert part.path == str(photo)
    assert part.region == pytest.approx((0.25, 0.25, 0.75, 0.75), abs=0.02)
    assert window.runner.last.parts[0].region == part.region
    assert composer.region.band.isVisible()
    assert "(region)" in composer.panel.chips[0].title.text()
    same_as_run_query(app)
    assert [h.path for h in window.model.hits] != whole or window.model.hits[0].score < 0.999

    # A click (no drag) is not a region; Alt+Left goes back to the whole photo.
    mouse(label, QMouseEvent.Type.MouseButtonPress, x0, y0)
    mouse(label, QMouseEvent.Type.MouseButtonRelease, x0 + 1, y0 + 1)
    assert composer.parts[0].region == part.region
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        composer.back()
    assert composer.parts[0].region is None and [h.path for h in window.model.hits] == whole
