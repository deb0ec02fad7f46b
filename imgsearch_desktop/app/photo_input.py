"""Where queries come from besides the search bar: a drop, the clipboard, the Open dialog (a mixin of the window).

What a drop or the clipboard can carry, read in one place (``photo_files``, ``photo_image``): file URLs (a file
manager's drag or copy), GNOME's ``x-special/gnome-copied-files`` (Nautilus, Caja, Nemo), a plain-text path or
``file://`` URL of an existing file (a terminal, a text editor), or raw image data (a browser, a screenshot tool).
"""

from __future__ import annotations

import os
from urllib.parse import unquote_to_bytes, urlsplit

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLineEdit

from imgsearch_desktop.core import images
from imgsearch_desktop.core.query import Part

GNOME_COPIED = "x-special/gnome-copied-files"  # "copy" or "cut", then one file URL a line
SAFE_DROPS = Qt.DropAction.CopyAction | Qt.DropAction.LinkAction  # never a move: the source could delete its file


def url_path(url: str) -> str | None:
    """The local path of a ``file://`` URL, its exact bytes (a non-UTF-8 name stays intact); None for others."""
    parts = urlsplit(url.strip())
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path:
        return None
    return os.fsdecode(unquote_to_bytes(parts.path))


def photo_files(mime: QMimeData) -> list[str]:
    """The local files the data names, in order (none when it names none)."""
    if mime.hasUrls():
        paths = [url_path(bytes(u.toEncoded()).decode("ascii")) for u in mime.urls() if u.isLocalFile()]
        if any(paths):
            return [p for p in paths if p]
    if mime.hasFormat(GNOME_COPIED):
        lines = bytes(mime.data(GNOME_COPIED).data()).decode("ascii", "replace").splitlines()[1:]
        paths = [p for p in map(url_path, lines) if p]
        if paths:
            return paths
    if mime.hasText():
        # Text is a photo only when every line is a file that exists: a typed sentence never becomes a path.
        lines = [line.strip() for line in mime.text().splitlines() if line.strip()]
        paths = [url_path(line) if line.startswith("file:") else line for line in lines]
        if paths and all(p and os.path.isabs(p) and os.path.isfile(p) for p in paths):
            return paths
    return []


def photo_image(mime: QMimeData) -> QImage | None:
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return image
    return None


def holds_photo(mime: QMimeData) -> bool:
    return bool(photo_files(mime)) or photo_image(mime) is not None


class SearchBar(QLineEdit):
    """The search line. Ctrl+V with a photo on the clipboard asks for a photo query instead of pasting text: the
    bar has the focus at launch, and a line edit takes Ctrl+V for itself before the window's shortcut sees it."""

    photo_pasted = Signal()

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Paste) and holds_photo(QGuiApplication.clipboard().mimeData()):
            event.accept()
            self.photo_pasted.emit()
            return
        super().keyPressEvent(event)

    def focus_all(self) -> None:
        """Ctrl+L: the whole line selected, so what is typed next replaces it (as a browser's address bar)."""
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()


class PhotoInput:
    """Needs ``composer``, ``search_image_data``, ``settings`` and ``index_status`` from the window."""

    def dragEnterEvent(self, event) -> None:
        if holds_photo(event.mimeData()) and self._safe_action(event):
            event.accept()

    def dragMoveEvent(self, event) -> None:
        if self._safe_action(event):
            event.accept()

    def dropEvent(self, event) -> None:
        add = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)  # Shift: one more part of the query
        if self._safe_action(event) and self.accept_mime(event.mimeData(), add):
            event.accept()

    @staticmethod
    def _safe_action(event) -> bool:
        """Accept a drop as a copy (or link), never as a move: a source acting on a move deletes its original."""
        if event.proposedAction() & SAFE_DROPS:
            event.setDropAction(event.proposedAction())
        elif event.possibleActions() & Qt.DropAction.CopyAction:
            event.setDropAction(Qt.DropAction.CopyAction)
        elif event.possibleActions() & Qt.DropAction.LinkAction:
            event.setDropAction(Qt.DropAction.LinkAction)
        else:
            return False
        return True

    def accept_mime(self, mime: QMimeData, add: bool = False) -> bool:
        """Every named file is one part (the first replaces the query unless ``add``), else raw image data; True
        if a search started."""
        paths = photo_files(mime)
        if paths:
            self.composer.ask_parts([Part(path=p) for p in paths], add)
            return True
        image = photo_image(mime)
        if image is not None:
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
            self.composer.ask_parts([Part(path=path)])
