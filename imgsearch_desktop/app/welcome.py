"""The first run's question: which folder of photos to index.

"Use Pictures" is offered only when that folder exists: choosing it never makes one (an empty folder the app made
looked like a library with nothing in it). The box stays centred on the window: it is shown right after the window,
before the window manager has placed it, and a box centred on where the window was then ends up off to one side.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


class WelcomeBox(QMessageBox):
    def __init__(self, parent: QWidget | None, pictures: str | None) -> None:
        super().__init__(parent)
        self.pictures = pictures if pictures and os.path.isdir(pictures) else None
        self.setWindowTitle("Welcome to imgsearch-desktop")
        self.setText("Which photos should be searchable?")
        info = "Your photos are indexed on this computer only."
        self.use = None
        if self.pictures:
            info += f"\nSuggested: {self.pictures}"
            self.use = self.addButton("Use Pictures", QMessageBox.ButtonRole.AcceptRole)
        self.setInformativeText(info)
        self.choose = self.addButton("Choose folder…", QMessageBox.ButtonRole.ActionRole)
        self.later = self.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.use or self.choose)
        # Wide enough for its title: without the Pictures line the box shrank to its buttons, the title cut.
        self.setStyleSheet("QLabel { min-width: 360px; }")
        if parent is not None:
            parent.installEventFilter(self)  # the window placed or resized by the window manager: follow it

    def centre(self) -> None:
        """On the window's middle (its frame, as the window manager shows it); on the screen's with no window."""
        parent = self.parentWidget()
        if parent is not None and parent.isVisible():
            middle = parent.frameGeometry().center()
        else:
            screen = self.screen() or QGuiApplication.primaryScreen()
            middle = screen.availableGeometry().center()
        frame = self.frameGeometry()
        frame.moveCenter(middle)
        self.move(frame.topLeft())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.centre()
        QTimer.singleShot(0, self, self.centre)  # once its own size is final

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and self.isVisible() and event.type() in (QEvent.Type.Move,
                                                                                     QEvent.Type.Resize):
            QTimer.singleShot(0, self, self.centre)
        return super().eventFilter(watched, event)

    def folder(self) -> str | None:
        """After it closed: the folder chosen, or None ("Later")."""
        clicked = self.clickedButton()
        if clicked is not None and clicked is self.use:
            return self.pictures
        if clicked is self.choose:
            return QFileDialog.getExistingDirectory(self.parentWidget(), "Photo folder",
                                                    os.path.expanduser("~")) or None
        return None
