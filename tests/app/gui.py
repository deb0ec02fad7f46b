"""Helpers for the window tests: a file manager's drop, waiting for the indexer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def wait_indexed(qtbot, app, timeout=120_000):
    """The job's IndexStats, once its analyses phase is over too (its status would overwrite what a test sees)."""
    with qtbot.waitSignal(app.worker.settled, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def drop_file(window, path: Path, shift: bool = False) -> None:
    """What a file manager's drag does: DragEnter (which the window must accept), then the Drop (Shift: add)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons = Qt.MouseButton.LeftButton
    mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(300, 300), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()


def double_click(widget, pos: QPoint) -> None:
    """A person's double-click: press, release, double-click, release (QTest.mouseDClick sends the double-click
    alone, which an item view ignores: no press on the same tile before it)."""
    at, left, none = QPointF(pos), Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, buttons in ((QEvent.Type.MouseButtonPress, left), (QEvent.Type.MouseButtonRelease, none),
                          (QEvent.Type.MouseButtonDblClick, left), (QEvent.Type.MouseButtonRelease, none)):
        QApplication.sendEvent(widget, QMouseEvent(kind, at, widget.mapToGlobal(at), left, buttons,
                                                    Qt.KeyboardModifier.NoModifier))
