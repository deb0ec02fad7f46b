"""The first run's welcome ([W] issue 23): centred on the window wherever the window manager puts the window, and
"Use Pictures" only for a Pictures folder that exists — choosing it never makes one."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

from imgsearch_desktop.app.welcome import WelcomeBox


def centre_gap(box, window) -> int:
    return (box.frameGeometry().center() - window.frameGeometry().center()).manhattanLength()


def test_the_welcome_is_centred_on_the_window_and_follows_where_it_is_placed(qtbot, tmp_path):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 780)
    window.move(0, 0)
    window.show()
    box = WelcomeBox(window, str(tmp_path))
    box.show()
    qtbot.waitUntil(lambda: centre_gap(box, window) <= 2, timeout=5_000)
    window.move(200, 110)  # what the window manager does once the window is mapped: the box goes with it
    qtbot.waitUntil(lambda: centre_gap(box, window) <= 2, timeout=5_000)
    window.resize(900, 600)
    qtbot.waitUntil(lambda: centre_gap(box, window) <= 2, timeout=5_000)
    box.close()


def test_use_pictures_is_offered_only_for_a_folder_that_exists_and_makes_none(qtbot, tmp_path):
    missing = tmp_path / "Pictures"
    box = WelcomeBox(None, str(missing))
    qtbot.addWidget(box)
    names = [b.text() for b in box.buttons()]
    assert "Use Pictures" not in names and "Choose folder…" in names and "Later" in names
    assert str(missing) not in box.informativeText()
    QTimer.singleShot(0, box.later.click)
    box.exec()
    assert box.folder() is None and not missing.exists()

    missing.mkdir()
    box = WelcomeBox(None, str(missing))
    qtbot.addWidget(box)
    assert box.use is not None and box.defaultButton() is box.use
    assert f"Suggested: {missing}" in box.informativeText()
    QTimer.singleShot(0, box.use.click)
    box.exec()
    assert box.folder() == str(missing)
