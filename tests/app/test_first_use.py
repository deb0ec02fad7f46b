"""What a new user hit on first use ([W]): the keyboard in the search bar, the clipboard, drops, a photo that
cannot be read, and the messages and counts around a query. Real key events on the focused widgets."""

from __future__ import annotations

import os
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app.main_window import file_url
from tests.app.gui import drop_file, wait_indexed

WAIT = 30_000
CTRL = Qt.KeyboardModifier.ControlModifier


def focused_search(qtbot, window):
    """The search bar with the keyboard focus, as at launch."""
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5_000)
    qtbot.waitUntil(window.search.hasFocus, timeout=5_000)  # nobody put it there: the window's first focus
    return window.search


def clipboard(urls=(), gnome=(), text: str | None = None) -> None:
    """What an app puts on the clipboard (the clipboard owns the data, so it is made anew each time)."""
    mime = QMimeData()
    if urls:
        mime.setUrls([file_url(str(p)) for p in urls])  # a file manager's Copy
    if gnome:  # Nautilus, Caja, Nemo: their own format
        lines = [b"copy", *(file_url(str(p)).toEncoded().data() for p in gnome)]
        mime.setData("x-special/gnome-copied-files", QByteArray(b"\n".join(lines)))
    if text is not None:
        mime.setText(text)
    QGuiApplication.clipboard().setMimeData(mime)


def test_ctrl_v_in_the_search_bar_searches_a_pasted_photo_and_still_pastes_text(qtbot, make_app, library):
    app = make_app([library])
    window, composer = app.window, app.window.composer
    search = focused_search(qtbot, window)
    assert QApplication.focusWidget() is search

    QGuiApplication.clipboard().setImage(QImage(str(library / "scan.png")))  # a screenshot tool, a browser
    qtbot.keyClick(search, Qt.Key.Key_V, CTRL)
    [part] = composer.parts
    assert part.image_bytes and QImage.fromData(part.image_bytes).size() == QImage(str(library / "scan.png")).size()
    assert search.text() == ""

    photo = library / "2024" / "IMG_0002.jpg"
    clipboard(urls=[photo])
    qtbot.keyClick(search, Qt.Key.Key_V, CTRL)
    assert [p.path for p in composer.parts] == [str(photo)]

    other = library / "2023" / "IMG_0001.jpg"
    clipboard(gnome=[other])
    qtbot.keyClick(search, Qt.Key.Key_V, CTRL)
    assert [p.path for p in composer.parts] == [str(other)]

    clipboard(text=f"{photo}\n")  # a path copied from a terminal
    qtbot.keyClick(search, Qt.Key.Key_V, CTRL)
    assert [p.path for p in composer.parts] == [str(photo)]

    clipboard(text="a red car")  # no image, no file: the text goes into the bar as text
    qtbot.keyClick(search, Qt.Key.Key_V, CTRL)
    assert search.text() == "a red car" and [p.path for p in composer.parts] == [str(photo)]
    clipboard(text=str(library / "not-there.jpg"))
    search.clear()
    qtbot.keyClick(search, Qt.Key.Key_V, CTRL)
    assert search.text() == str(library / "not-there.jpg")

    # The menu's Paste photo (the grid focused) reads the same formats, and says so when there is nothing.
    clipboard(gnome=[other])
    window.paste()
    assert [p.path for p in composer.parts] == [str(other)]
    clipboard(text="a red car")
    window.paste()
    assert window.status_label.text() == "The clipboard holds no image or photo file"


def type_and_enter(qtbot, widget, text: str) -> None:
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def test_old_search_text_never_runs_into_the_next_sentence(qtbot, make_app, library):
    app = make_app([library])
    window, composer = app.window, app.window.composer
    search = focused_search(qtbot, window)

    type_and_enter(qtbot, search, "yellow flower")
    assert [p.text for p in composer.parts] == ["yellow flower"] and search.text() == "yellow flower"
    qtbot.keyClick(search, Qt.Key.Key_L, CTRL)  # the bar already has the focus: Ctrl+L selects what is there
    assert search.selectedText() == "yellow flower"
    type_and_enter(qtbot, search, "snowy mountains")
    assert [p.text for p in composer.parts] == ["snowy mountains"]

    drop_file(window, library / "2024" / "IMG_0000.jpg")  # a photo replaces the query: its sentence is gone
    assert [p.path for p in composer.parts] == [str(library / "2024" / "IMG_0000.jpg")]
    assert search.text() == ""
    qtbot.keyClick(search, Qt.Key.Key_L, CTRL)
    type_and_enter(qtbot, search, "yellow flower")  # joins the photo as a part of its own
    assert [p.text for p in composer.parts] == [None, "yellow flower"] and search.text() == ""

    window.grid.setFocus()  # from elsewhere, Ctrl+L brings the focus back with the text selected
    search.setText("left over")
    qtbot.keyClick(window.grid, Qt.Key.Key_L, CTRL)
    assert search.hasFocus() and search.selectedText() == "left over"
    with qtbot.waitSignal(window.results_shown, timeout=120_000):  # answered once the index is ready
        type_and_enter(qtbot, search, "snowy mountains")
    assert [p.text for p in composer.parts] == [None, "yellow flower", "snowy mountains"]
    assert [p.text for p in window.last_result.query.parts] == [None, "yellow flower", "snowy mountains"]


def drag(window, paths, actions, shift: bool = False):
    """A drag from another app over the window, then its drop: (enter event, drop event)."""
    mime = QMimeData()
    mime.setUrls([file_url(str(p)) for p in paths])
    mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(300, 300), actions, mime, Qt.MouseButton.LeftButton, mods)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return enter, None
    drop = QDropEvent(QPointF(300, 300), actions, mime, Qt.MouseButton.LeftButton, mods)
    QApplication.sendEvent(window, drop)
    return enter, drop


def test_drops_are_copies_never_moves_and_every_file_is_a_part(qtbot, make_app, library):
    app = make_app([library])
    window, composer = app.window, app.window.composer
    first, second, third = library / "2023" / "IMG_0001.jpg", library / "2024" / "IMG_0002.jpg", library / "scan.png"
    any_action = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction

    enter, drop = drag(window, [first, second], any_action)  # two files from a file manager: two parts
    assert enter.isAccepted() and drop.isAccepted()
    assert [p.path for p in composer.parts] == [str(first), str(second)]
    # Shift (add a part) is what a drag source reads as "move": the window still takes a copy, so the source
    # never deletes its original.
    enter, drop = drag(window, [third], any_action, shift=True)
    assert enter.proposedAction() == Qt.DropAction.MoveAction
    assert enter.dropAction() == Qt.DropAction.CopyAction and drop.dropAction() == Qt.DropAction.CopyAction
    assert drop.isAccepted() and [p.path for p in composer.parts] == [str(first), str(second), str(third)]
    enter, drop = drag(window, [first], Qt.DropAction.MoveAction | Qt.DropAction.LinkAction)
    assert enter.isAccepted() and drop.dropAction() == Qt.DropAction.LinkAction
    assert [p.path for p in composer.parts] == [str(first)]
    enter, drop = drag(window, [second], Qt.DropAction.MoveAction)  # a move only: refused, nothing asked
    assert not enter.isAccepted() and drop is None and [p.path for p in composer.parts] == [str(first)]


def test_a_photo_that_cannot_be_read_leaves_the_query(qtbot, make_app, library, tmp_path, monkeypatch):
    app = make_app([library])
    wait_indexed(qtbot, app)
    window, composer = app.window, app.window.composer
    good = library / "2024" / "IMG_0000.jpg"
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is a text file, not a photo\n")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, good)
    assert window.model.rowCount() == 10

    with qtbot.waitSignal(window.query_failed, timeout=WAIT) as failed:
        window.search_path(str(fake))  # what Open photo… does with the file chosen
    assert composer.parts == [] and window.runner.last is None
    assert window.model.rowCount() == 0 and window.stack.currentWidget() is window.hint  # no stale grid
    assert str(fake) in failed.args[0] and "not an image" in failed.args[0]
    assert failed.args[0].endswith("It was taken out of the query.") and window.banner.isVisibleTo(window)
    assert window.query_image.text() == "No query yet" and str(fake) not in window.query_caption.text()
    with qtbot.assertNotEmitted(window.query_failed, wait=500):
        window.filter_bar.format_combo.setCurrentText("PNG")  # nothing to rerun: the bad photo is gone
    window.filter_bar.format_combo.setCurrentIndex(0)

    search = window.search
    search.setFocus()
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        type_and_enter(qtbot, search, "a dog on the beach")  # the next sentence works
    assert [p.text for p in composer.parts] == ["a dog on the beach"] and window.model.rowCount() == 10
    assert not window.banner.isVisibleTo(window)  # a new query: the old message went

    # One bad part among good ones: only it leaves; the rest is searched again, and the message stays.
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, good)
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, fake, shift=True)
    assert [p.path for p in composer.parts] == [str(good)]
    assert [p.path for p in window.last_result.query.parts] == [str(good)]
    assert "fake.jpg" in window.banner.text() and window.banner.isVisibleTo(window)
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)  # back: the sentence
    assert [p.text for p in composer.parts] == ["a dog on the beach"]
    assert not window.banner.isVisibleTo(window)

    # A message from an earlier action (no viewer for a tile) does not stay across the next query either.
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    window.open_external(str(good))
    assert window.banner.text().startswith("No app is set up to open")
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, good)
    assert not window.banner.isVisibleTo(window)


def test_after_search_similar_enter_previews_the_first_tile(qtbot, make_app, library, monkeypatch):
    app = make_app([library])
    wait_indexed(qtbot, app)
    window, grid = app.window, app.window.grid
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        drop_file(window, library / "2023" / "IMG_0001.jpg")
    grid.setFocus()
    grid.setCurrentIndex(window.model.index(3))
    similar = window.model.hits[3].path
    menus = []
    monkeypatch.setattr(grid, "popup", lambda menu, pos: menus.append(menu))  # instead of a modal exec()
    qtbot.keyClick(grid, Qt.Key.Key_Menu)  # the keyboard's way to the tile's menu
    with qtbot.waitSignal(window.results_shown, timeout=WAIT):
        next(a for a in menus[0].actions() if a.text() == "Search similar to this").trigger()
    assert window.model.hits[0].path == similar and grid.hasFocus()
    with qtbot.waitSignal(window.preview.shown, timeout=WAIT) as shown:  # Enter on a tile: the preview
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert window.pages.currentWidget() is window.preview and shown.args == [similar]
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.keyClick(window.preview.canvas, Qt.Key.Key_Return)  # Enter again: the system viewer
    assert opened == [file_url(similar)]


def test_a_photo_reaches_the_system_opener_as_a_file_url_of_its_exact_bytes(qtbot):
    """What a shell would run or a URL would cut (; $(…) quotes, #, ?, %, a newline, non-UTF-8 bytes) is all
    escaped: the opener gets one file URL whose path is the photo's exact bytes, never a command line."""
    for name in (b"a b;$(touch x) `y` 'q\".jpg", b"#1?x=2&y.jpg", b"100%.jpg", b"new\nline.jpg", b"caf\xe9.jpg"):
        path = os.fsdecode(b"/photos/" + name)
        url = file_url(path)
        assert url.isValid() and url.isLocalFile() and not url.hasQuery() and not url.hasFragment()
        assert unquote_to_bytes(url.toEncoded().data().removeprefix(b"file://")) == os.fsencode(path)
