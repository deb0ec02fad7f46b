"""Where queries come from besides the search bar: a drop, the clipboard, the Open dialog (a mixin of the window)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog

from imgsearch_desktop.core import images


class PhotoInput:
    """Needs ``search_path``, ``search_image_data``, ``settings`` and ``index_status`` from the window."""

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        add = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)  # Shift: one more part of the query
        if self.accept_mime(event.mimeData(), add):
            event.acceptProposedAction()

    def accept_mime(self, mime, add: bool = False) -> bool:
        """A file URL (the first local image) or raw image data; True if a search started."""
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile():
                self.search_path(url.toLocalFile(), add)
                return True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.search_image_data(image, add)
                return True
        return False

    def paste(self) -> None:
        if not self.accept_mime(QGuiApplication.clipboard().mimeData()):
            self.index_status.show_message("The clipboard holds no image or photo file")

    def open_photo(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(images.EXTENSIONS))
        start = self.settings.folders[0] if self.settings.folders else os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", start, f"Images ({exts});;All files (*)")
        if path:
            self.search_path(path)
